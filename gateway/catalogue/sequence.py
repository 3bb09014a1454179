"""ICAT ids: allocated from EclipseLink's SEQUENCE table, as icat.server does.

icat.server keeps one counter (``SEQ_NAME = 'SEQ_GEN'``) and takes ids from it in blocks.
The gateway takes its ids the same way, inside the writing transaction: the UPDATE locks
the row on PostgreSQL and MariaDB, so concurrent writers (other replicas, icat.server
itself) never receive the same id.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.models import Sequence

SEQ_GEN = "SEQ_GEN"


async def allocate_ids(connection: AsyncConnection, count: int) -> list[int]:
    """Reserve ``count`` fresh ids for rows inserted in this transaction."""
    if count <= 0:
        return []
    result = await connection.execute(
        update(Sequence)
        .where(Sequence.seq_name == SEQ_GEN)
        .values(seq_count=Sequence.seq_count + count)
    )
    if result.rowcount == 0:
        raise RuntimeError("ICAT's SEQUENCE table has no SEQ_GEN row: is this an ICAT database?")
    counted = await connection.execute(
        select(Sequence.seq_count).where(Sequence.seq_name == SEQ_GEN)
    )
    last = int(counted.scalar_one() or 0)
    return list(range(last - count + 1, last + 1))
