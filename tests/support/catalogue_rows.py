"""Every row of ICAT's tables, without ids: references by the referenced row's natural key.

Two catalogues that hold the same content under other ids give the same snapshot: a row
is its columns (audit columns and ID left out), each reference replaced by the referenced
row's natural key (its uniqueness constraint, references resolved the same way; for the
few tables without one, all its columns), and each table a sorted list of such rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.dumpfiles import icat_schema

_AUDIT = frozenset({"ID", "CREATE_ID", "CREATE_TIME", "MOD_ID", "MOD_TIME"})

Snapshot = dict[str, Counter[tuple[Any, ...]]]


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return repr(value)
    return value


async def snapshot(engine: AsyncEngine) -> Snapshot:
    """Each ICAT table's rows, as a multiset of id-free tuples."""
    schema = icat_schema()
    tables = {info.table.name: info for info in schema.values()}
    rows: dict[str, dict[int, Any]] = {}
    async with engine.connect() as connection:
        for name, info in tables.items():
            held = await connection.execute(select(info.table))
            rows[name] = {int(row.ID): row._mapping for row in held}

    keys: dict[tuple[str, int], tuple[Any, ...]] = {}

    def key(table: Table, row_id: int) -> tuple[Any, ...]:
        """The natural key of a row."""
        known = keys.get((table.name, row_id))
        if known is not None:
            return known
        info = tables[table.name]
        row = rows[table.name][row_id]
        if info.constraint:
            fields = {f.name: f for f in (*info.attributes.values(), *info.relations.values())}
            columns = [fields[name].column.key for name in info.constraint]
        else:
            columns = [c.key for c in table.columns if c.key not in _AUDIT]
        made = (table.name, *(column_value(table, row, column) for column in columns))
        keys[table.name, row_id] = made
        return made

    def column_value(table: Table, row: Any, column: str) -> Any:
        value = row[column]
        foreign = table.c[column].foreign_keys
        if value is None or not foreign:
            return _value(value)
        (foreign_key,) = foreign
        return key(foreign_key.column.table, int(value))

    result: Snapshot = {}
    for name, info in tables.items():
        table = info.table
        columns = [c.key for c in table.columns if c.key not in _AUDIT]
        result[name] = Counter(
            tuple((column, column_value(table, row, column)) for column in columns)
            for row in rows[name].values()
        )
    return result


def differences(first: Snapshot, second: Snapshot) -> dict[str, tuple[int, int]]:
    """Tables whose rows differ: (rows only in the first, rows only in the second)."""
    found = {}
    for table in sorted(set(first) | set(second)):
        a, b = first.get(table, Counter()), second.get(table, Counter())
        if a != b:
            found[table] = (sum((a - b).values()), sum((b - a).values()))
    return found
