"""Text compared in SQL as Python compares it (gateway.catalogue.sql_text), as SQL text;
``tests/integration/test_policy_agreement.py`` runs it on each database."""

from __future__ import annotations

from sqlalchemy import column
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect

from gateway.catalogue.sql_text import _WHITESPACE, same_name, stripped


def postgresql() -> Dialect:
    return PGDialect()  # type: ignore[no-untyped-call]  # its __init__ is unannotated


def test_every_character_str_strip_removes_is_stripped() -> None:
    assert "".join(chr(code) for code in range(0x110000) if chr(code).isspace()) == _WHITESPACE


def test_stripped_per_dialect() -> None:
    role = stripped(column("ROLE"))
    assert str(role.compile(dialect=postgresql())).startswith('btrim("ROLE", E\'\\u0009')
    assert str(role.compile(dialect=sqlite.dialect())).startswith('trim("ROLE", char(9, 10,')
    on_mariadb = str(role.compile(dialect=mysql.dialect(is_mariadb=True)))
    assert on_mariadb.startswith("regexp_replace(convert(`ROLE` using utf8mb4), '^[\\\\x{0009}-")


def test_a_name_is_compared_exactly_on_mariadb_and_by_index_everywhere() -> None:
    condition = same_name(column("NAME"), "esrf/jdoe")
    assert str(condition.compile(dialect=postgresql())) == '"NAME" = %(param_1)s'
    assert str(condition.compile(dialect=sqlite.dialect())) == '"NAME" = ?'
    assert str(condition.compile(dialect=mysql.dialect(is_mariadb=True))) == (
        "(`NAME` = %s AND cast(convert(`NAME` using utf8mb4) as binary)"
        " = cast(convert(%s using utf8mb4) as binary))"
    )


def test_oracle_has_a_branch_of_its_own() -> None:
    """Oracle is designed for, not tested: its SQL is at least Oracle's (no SQLite form)."""
    from sqlalchemy import literal_column, select
    from sqlalchemy.engine import make_url

    from gateway.catalogue.sql_text import stripped

    dialect = make_url("oracle+oracledb://").get_dialect()()
    sql = str(select(stripped(literal_column("x"))).compile(dialect=dialect))
    assert sql.startswith("SELECT ltrim(rtrim(x, unistr('\\0009") and "char(" not in sql
