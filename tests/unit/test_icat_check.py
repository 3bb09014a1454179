"""The start-up check of ICAT's schema (gateway/catalogue/icat_check.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.catalogue import models
from gateway.catalogue.icat_check import READ, message, missing_from
from gateway.catalogue.names import assumed, read_from

PACKAGE = Path(__file__).resolve().parents[2] / "gateway"
EVERY_ENTITY = {"models.py", "demo.py", "ingest.py", "sequence.py", "icat_check.py", "names.py"}
"""Modules that handle every table (the models, the demo, dump files, the check itself)."""


def _models_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.catalogue.models":
            used |= {alias.name for alias in node.names}
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "models"
        ):
            used.add(node.attr)
    return used


def test_every_icat_table_a_module_reads_is_checked_at_start_up() -> None:
    checked = {model.__name__ for model in READ}
    tables = {mapper.class_.__name__ for mapper in models.IcatBase.registry.mappers}
    unchecked = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name in EVERY_ENTITY:
            continue
        used = (_models_used(path) & tables) - checked
        if used:
            unchecked[str(path.relative_to(PACKAGE))] = sorted(used)
    assert unchecked == {}, "add these models to icat_check.READ"


def test_what_is_missing_is_named_once_with_the_icat_version_that_added_it() -> None:
    found = {model.__tablename__: {str(c.name) for c in model.__table__.columns} for model in READ}
    assert missing_from(found) == ([], [])
    del found["SUBJECT"]
    found["INSTRUMENT"] -= {"STARTDATE", "ENDDATE"}
    tables, columns = missing_from(found)
    assert message(tables, columns) == (
        "ICAT's database lacks what the gateway reads: table SUBJECT; columns "
        "INSTRUMENT.STARTDATE, INSTRUMENT.ENDDATE (ICAT 6.2 added them: the gateway needs "
        "ICAT 6.2 or later)."
    )
    del found["DATAFILEFORMAT"]
    tables, columns = missing_from(found)
    assert message(tables, columns).startswith(
        "ICAT's database lacks what the gateway reads: tables DATAFILEFORMAT, SUBJECT;"
    )
    assert message(tables, columns).endswith(
        "(is this ICAT's database, and its schema the connection's default one?)."
    )


def test_names_read_from_a_lower_case_catalogue() -> None:
    pairs = [("investigation", "id"), ("investigation", "releasedate"), ("shift", "COMMENT")]
    names = read_from(pairs)
    assert names.real("INVESTIGATION") == "investigation"
    assert names.real("RELEASEDATE") == "releasedate"
    assert names.real("COMMENT") == "COMMENT"
    assert names.real("GATEWAY_ACCESS_EVENT") == "GATEWAY_ACCESS_EVENT"
    assert names.conflicts == ()
    assert read_from([("INVESTIGATION", "ID"), ("DATASET", "ID")]).spelling == {}
    assert read_from([("investigation", "name"), ("dataset", "NAME")]).conflicts == ("NAME",)
    assert assumed("lower").real("USER_") == "user_"
    assert assumed("lower").real("COMMENT") == "COMMENT"
    assert assumed("upper").spelling == {}
