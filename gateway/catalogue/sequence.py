"""ICAT ids, allocated as icat.server allocates them on the connected database.

icat.server's ``EntityBaseBean`` declares ``@Id @GeneratedValue(strategy =
GenerationType.SEQUENCE)`` with no generator of its own, so EclipseLink's native sequencing
decides, per platform (``NativeSequence.onConnect``):

* **MariaDB/MySQL** (no sequence objects in EclipseLink's platform, identity supported):
  identity, i.e. ``ID BIGINT AUTO_INCREMENT``, one counter per table (ICAT 4.5 and later).
  No id can be reserved before its row exists: the gateway inserts the row without an id
  and reads the one the database gave (:func:`insert_rows`).
* **PostgreSQL and Oracle**: the sequence object ``SEQ_GEN_SEQUENCE`` (JPA's default
  generator name), shared by every table, with ``allocationSize`` 50 (JPA's default).
  EclipseLink creates it ``INCREMENT BY 50 START WITH 50`` (``SequenceObjectDefinition``:
  start = initial value 1 + size - 1) and preallocates: one ``nextval`` answering ``v``
  hands out the block ``v - 49 .. v`` (``StandardSequence.createVector``: "given sequence
  = 10, size = 5 will create (6,7,8,9,10)"). Its preallocation size must equal the
  sequence's INCREMENT BY (``NativeSequence``'s own documentation). The gateway does the
  same with the increment the database reports: ``nextval`` = ``v`` is the block
  ``v - increment + 1 .. v``; the rest of a block serves the engine's next inserts, and
  what is left when it stops stays unused (as a stopping icat.server leaves its own). No
  block is ever handed out twice, so icat.server's blocks and the gateway's never meet.
* **The SEQUENCE table** (``SEQ_NAME``, ``SEQ_COUNT``: EclipseLink's table generator, which
  ICAT used before 4.5) only where neither exists: a database the gateway made itself in
  embedded mode. The UPDATE locks the ``SEQ_GEN`` row, so concurrent writers never receive
  the same id. A stale SEQUENCE table in a database upgraded from ICAT 4.4 is ignored.

The scheme is read from the database's catalogue once per engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Sequence as SequenceObject
from sqlalchemy import insert, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.models import Sequence
from gateway.catalogue.names import names_of

SEQ_GEN = "SEQ_GEN"
SEQ_GEN_SEQUENCE = "SEQ_GEN_SEQUENCE"


class IdScheme(enum.Enum):
    SEQUENCE_OBJECT = "sequence object SEQ_GEN_SEQUENCE"
    AUTO_INCREMENT = "AUTO_INCREMENT"
    SEQUENCE_TABLE = "SEQUENCE table"


@dataclass(frozen=True)
class IdAllocation:
    scheme: IdScheme
    sequence_name: str = SEQ_GEN_SEQUENCE
    """The sequence object as the database spells it (``seq_gen_sequence`` on PostgreSQL)."""
    increment: int = 1
    """The sequence's INCREMENT BY: the size of the block one ``nextval`` hands out."""


class NoIdScheme(RuntimeError):
    """The database has none of the ways icat.server allocates ids."""


_SEQUENCE_QUERIES = {
    "postgresql": (
        "SELECT sequencename, increment_by FROM pg_sequences "
        "WHERE schemaname = current_schema() AND upper(sequencename) = :name"
    ),
    # Oracle (untested).
    "oracle": "SELECT sequence_name, increment_by FROM user_sequences WHERE sequence_name = :name",
}

_AUTO_INCREMENT_QUERY = (
    "SELECT extra FROM information_schema.columns WHERE table_schema = DATABASE() "
    "AND upper(table_name) = 'INVESTIGATION' AND upper(column_name) = 'ID'"
)


async def _detect(connection: AsyncConnection) -> IdAllocation:
    dialect = connection.dialect.name
    query = _SEQUENCE_QUERIES.get(dialect)
    if query is not None:
        row = (await connection.execute(text(query), {"name": SEQ_GEN_SEQUENCE})).first()
        if row is not None:
            return IdAllocation(IdScheme.SEQUENCE_OBJECT, str(row[0]), int(row[1]))
    if dialect in ("mysql", "mariadb"):
        extra = (await connection.execute(text(_AUTO_INCREMENT_QUERY))).scalar()
        if extra is not None and "auto_increment" in str(extra).lower():
            return IdAllocation(IdScheme.AUTO_INCREMENT)
    has_table = await connection.run_sync(
        lambda sync: sync.dialect.has_table(sync, names_of(sync.dialect).real("SEQUENCE"))
    )
    if has_table:
        return IdAllocation(IdScheme.SEQUENCE_TABLE)
    raise NoIdScheme(
        "ICAT's database has neither the sequence SEQ_GEN_SEQUENCE (PostgreSQL, Oracle), "
        "nor AUTO_INCREMENT ids (MariaDB/MySQL), nor a SEQUENCE table: the gateway cannot "
        "allocate ids there (set ICAT_GATEWAY_READ_ONLY=true to serve it read-only)"
    )


async def id_allocation(connection: AsyncConnection) -> IdAllocation:
    """How ids are allocated on the connected database (read once per engine)."""
    names = names_of(connection.dialect)
    if names.ids is None:
        names.ids = await _detect(connection)
    allocation: IdAllocation = names.ids
    return allocation


async def allocate_ids(connection: AsyncConnection, count: int) -> list[int]:
    """Reserve ``count`` fresh ids for rows inserted in this transaction, where ids can be
    reserved before the rows exist (not with AUTO_INCREMENT: use :func:`insert_rows`)."""
    if count <= 0:
        return []
    allocation = await id_allocation(connection)
    if allocation.scheme is IdScheme.SEQUENCE_OBJECT:
        return await _from_sequence_object(connection, allocation, count)
    if allocation.scheme is IdScheme.AUTO_INCREMENT:
        raise NoIdScheme("ids of AUTO_INCREMENT tables come from the insert itself")
    return await _from_sequence_table(connection, count)


async def _from_sequence_object(
    connection: AsyncConnection, allocation: IdAllocation, count: int
) -> list[int]:
    # The block's unused ids are kept for the engine's next allocation, as EclipseLink
    # keeps its preallocated ids: the sequence grows by a block per 50 ids, not per
    # insert. Taking them needs no await, so two tasks never take the same one.
    spare = names_of(connection.dialect).spare_ids
    step = max(1, allocation.increment)
    sequence = SequenceObject(allocation.sequence_name)
    while len(spare) < count:
        last = int((await connection.execute(select(sequence.next_value()))).scalar_one())
        spare.extend(range(last - step + 1, last + 1))
    ids = spare[:count]
    del spare[:count]
    return ids


async def _from_sequence_table(connection: AsyncConnection, count: int) -> list[int]:
    result = await connection.execute(
        update(Sequence)
        .where(Sequence.seq_name == SEQ_GEN)
        .values(seq_count=Sequence.seq_count + count)
    )
    if result.rowcount == 0:
        raise NoIdScheme("ICAT's SEQUENCE table has no SEQ_GEN row: is this an ICAT database?")
    counted = await connection.execute(
        select(Sequence.seq_count).where(Sequence.seq_name == SEQ_GEN)
    )
    last = int(counted.scalar_one() or 0)
    return list(range(last - count + 1, last + 1))


async def insert_rows(
    connection: AsyncConnection, model: type[Any], rows: list[dict[str, Any]]
) -> list[int]:
    """Insert ICAT rows (values by the model's attribute names, without ``id``) with ids
    allocated as icat.server would on this database; answers their ids, in order."""
    if not rows:
        return []
    mapper = inspect(model)
    keys = {prop.key: prop.columns[0].key for prop in mapper.column_attrs}
    table = mapper.local_table
    by_column = [{keys[name]: value for name, value in row.items()} for row in rows]
    allocation = await id_allocation(connection)
    if allocation.scheme is IdScheme.AUTO_INCREMENT:
        ids = []
        for row in by_column:  # one by one: the id of each is the insert's own
            # NULL into an AUTO_INCREMENT column takes the counter's next value.
            result = await connection.execute(insert(table).values({keys["id"]: None, **row}))
            ids.append(int(result.lastrowid))
        return ids
    ids = await allocate_ids(connection, len(rows))
    with_ids = [{keys["id"]: i, **row} for i, row in zip(ids, by_column, strict=True)]
    await connection.execute(insert(table), with_ids)
    return ids


async def insert_row(connection: AsyncConnection, model: Any, **values: Any) -> int:
    """:func:`insert_rows` for one row."""
    (row_id,) = await insert_rows(connection, model, [values])
    return row_id
