"""Keyset pages stay on the index on every dialect, whatever the cursor.

A dataset's file listing is paged by (NAME, ID). The page after a cursor must be one
index range in the listing's order (``GW_DATAFILE_LISTING``), not a scan of the dataset's
files and a sort of those after the cursor:

- PostgreSQL plans a prepared statement once for every cursor after five executions (a
  generic plan): the row-value comparison ``(NAME, ID) > ($1, $2)`` is the index
  condition of that plan, and no Sort node is above it;
- SQLite seeks the row value on the index too (EXPLAIN QUERY PLAN names the index and
  the comparison, and no temporary B-tree sorts the files; the compiled path's page, read
  once, may sort its own first + 1 rows for its aggregate);
- MariaDB scans and sorts a row-value comparison; the expanded predicate (``NAME >= $1
  AND (NAME > $1 OR NAME = $1 AND ID > $2)``) is a range on the index, in order: no
  filesort (the compiled path's page, read once in a derived table, sorts its own
  first + 1 rows to number them, never the files).

The statements are the gateway's own (captured from the standard path and the compiled
path); the dataset is grown inside a transaction that is rolled back, so the planners
see a listing worth an index.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.models import Datafile
from gateway.compiled.operations import Operations
from gateway.schema.node import global_id
from tests.conftest import STAFF, Client

QUERY = """query($id: ID!, $after: String) { dataset(id: $id) {
  datafiles(first: 20, after: $after) { pageInfo { endCursor } nodes { name } } } }"""
INDEX = "GW_DATAFILE_LISTING"
GROWN = 400


async def _grow(connection: AsyncConnection, dataset: int) -> None:
    """``GROWN`` more files in the dataset (in the caller's transaction)."""
    start = (
        await connection.scalar(select(Datafile.id).order_by(Datafile.id.desc()).limit(1))
    ) or 0
    now = datetime(2026, 1, 1)
    audit = {"CREATE_ID": "test", "CREATE_TIME": now, "MOD_ID": "test", "MOD_TIME": now}
    rows = [
        {"ID": start + 1 + n, "DATASET_ID": dataset, "NAME": f"zz_grown_{n:05d}.h5", **audit}
        for n in range(GROWN)
    ]
    await connection.execute(insert(cast(Table, Datafile.__table__)), rows)


async def _page_statements(client: Client, dataset: int, path: str) -> list[tuple[str, Any]]:
    """The statements (text, parameters) that read the second page of the listing: the
    standard path's, the compiled path's, or an operation plan's (learnt, then asked)."""
    using = client.using(compiled_sql=path != "standard")
    variables: dict[str, Any] = {"id": global_id("Dataset", dataset)}
    first = await using.data(QUERY, variables, user=STAFF)
    variables["after"] = first["dataset"]["datafiles"]["pageInfo"]["endCursor"]
    access = await client.access(STAFF)
    operations = Operations(client.schema, client.settings, client.engine.dialect)
    if path == "planned":
        outcome = await operations.answer(client.engine, QUERY, None, variables, access)
        assert outcome.learn, outcome
        operations.learn(QUERY, None, variables, access)
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "DATAFILE" in statement and ">" in statement:
            captured.append((statement, parameters))

    event.listen(client.engine.sync_engine, "before_cursor_execute", capture)
    try:
        if path == "planned":
            outcome = await operations.answer(client.engine, QUERY, None, variables, access)
            assert outcome.text is not None, "the plan did not answer"
        else:
            await using.data(QUERY, variables, user=STAFF)
    finally:
        event.remove(client.engine.sync_engine, "before_cursor_execute", capture)
    return captured


def _reading_the_files(plan: str) -> str:
    """The part of a SQLite plan that reads the files: all of it, or where the compiled
    path reads the page once (``render._page_once``), the co-routine that reads its rows
    (at most ``first`` + 1, in the listing's order) up to their first scan. What follows
    may sort those rows (they are numbered for the page's aggregate), never the files."""
    lines = plan.splitlines()
    if "CO-ROUTINE page_rows" not in lines:
        return plan
    start = lines.index("CO-ROUTINE page_rows")
    end = lines.index("SCAN page_rows")
    assert any(INDEX in line for line in lines[start:end]), plan
    return "\n".join(lines[:end])


def _blocks_reading_the_files(plan: str) -> list[str]:
    """The query blocks of a MariaDB plan (JSON) that read the files, each without the
    blocks nested in it: all of the plan, or where the compiled path reads the page once
    (``render._page_once``), the derived table's block that reads its rows, at most
    ``first`` + 1 in the listing's order. The blocks above it may sort those rows (they
    are numbered), never the files."""

    def own(node: Any, top: bool = True) -> Any:
        """A block without the blocks nested in it."""
        if isinstance(node, dict):
            if "select_id" in node and not top:
                return "(a block of its own)"
            return {key: own(value, False) for key, value in node.items()}
        if isinstance(node, list):
            return [own(value, False) for value in node]
        return node

    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "select_id" in node:
                text = json.dumps(own(node), indent=1)
                if '"table_name": "DATAFILE"' in text:
                    found.append(text)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(plan))
    assert found, plan
    return found


async def _plan(connection: AsyncConnection, statement: str, parameters: Any) -> str:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql(f"PREPARE gw_keyset AS {statement}")
        values = ", ".join(_literal(value) for value in parameters)
        rows = await connection.exec_driver_sql(f"EXPLAIN EXECUTE gw_keyset({values})")
        plan = "\n".join(row[0] for row in rows)
        await connection.exec_driver_sql("DEALLOCATE gw_keyset")
        return plan
    if dialect == "sqlite":
        rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(str(row[-1]) for row in rows)
    rows = await connection.exec_driver_sql(f"EXPLAIN FORMAT=JSON {statement}", parameters)
    return json.dumps(json.loads(rows.scalar_one()), indent=1)


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


@pytest.mark.parametrize("path", ["standard", "compiled", "planned"])
async def test_the_page_after_a_cursor_is_an_index_range_in_order(
    client: Client, path: str
) -> None:
    async with client.engine.connect() as connection:
        dataset = await connection.scalar(select(Datafile.dataset_id).limit(1))
    assert dataset is not None
    statements = await _page_statements(client, dataset, path)
    assert statements, "no statement read the page after the cursor"
    async with client.engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await _grow(connection, dataset)
            if connection.dialect.name == "postgresql":
                await connection.exec_driver_sql('ANALYZE "DATAFILE"')
            for statement, parameters in statements:
                plan = await _plan(connection, statement, parameters)
                dialect = connection.dialect.name
                assert INDEX in plan, plan
                if dialect == "postgresql":
                    assert "Sort" not in plan, plan
                    assert re.search(r"Index Cond: .*ROW\(.*NAME.*ID.*\) > ROW\(", plan), plan
                elif dialect == "sqlite":
                    assert "(NAME,ID)>(?,?)" in plan, plan
                    assert "TEMP B-TREE" not in _reading_the_files(plan), plan
                else:
                    for reading in _blocks_reading_the_files(plan):
                        assert "filesort" not in reading, plan
                        assert '"access_type": "range"' in reading, plan
                        assert INDEX in reading, plan
        finally:
            await transaction.rollback()
