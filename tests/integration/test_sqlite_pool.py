"""SQLite as an embedded default: pooled connections, readers beside one writer.

The engine keeps its connections (no connection, thread and PRAGMAs per statement), reads
in autocommit go on while a transaction writes, and transactions that read first and then
write (the pattern SQLite refuses at once as "database is locked" when a read began the
transaction) queue on the write lock instead of failing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.pool import AsyncAdaptedQueuePool

from gateway.catalogue.database import create_engine, is_database_unavailable
from gateway.settings import Settings

WRITERS = 6
READERS = 12


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'pool.sqlite3'}")


async def test_connections_are_pooled_and_kept(tmp_path: Path) -> None:
    engine = create_engine(_settings(tmp_path))
    opened: list[Any] = []
    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))
    try:
        assert isinstance(engine.pool, AsyncAdaptedQueuePool)
        for _ in range(20):
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
        assert len(opened) == 1  # one connection, reused, not one per statement
        async with engine.connect() as connection:
            mode = await connection.scalar(text("PRAGMA journal_mode"))
        assert mode == "wal"
    finally:
        await engine.dispose()


async def test_concurrent_reads_and_read_then_write_transactions(tmp_path: Path) -> None:
    """Readers (autocommit, as the gateway's read pool) and transactions that read and
    then write, all at once: no "database is locked", every write is there."""
    settings = _settings(tmp_path)
    writes = create_engine(settings)
    reads = create_engine(settings, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
    try:
        async with writes.begin() as connection:
            await connection.execute(text("CREATE TABLE seen (writer INTEGER, n INTEGER)"))
        started = asyncio.Event()
        counts: list[int] = []

        async def writer(number: int) -> None:
            await started.wait()
            for _ in range(5):
                async with writes.begin() as connection:
                    n = await connection.scalar(text("SELECT count(*) FROM seen"))
                    await asyncio.sleep(0)  # let the others read and commit meanwhile
                    await connection.execute(
                        text("INSERT INTO seen VALUES (:w, :n)"), {"w": number, "n": n}
                    )

        async def reader() -> None:
            await started.wait()
            for _ in range(10):
                async with reads.connect() as connection:
                    counts.append(await connection.scalar(text("SELECT count(*) FROM seen")))

        tasks = [asyncio.ensure_future(writer(n)) for n in range(WRITERS)]
        tasks += [asyncio.ensure_future(reader()) for _ in range(READERS)]
        started.set()
        await asyncio.gather(*tasks)
        async with reads.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM seen")) == WRITERS * 5
        assert len(counts) == READERS * 10
        # Several readers were open at once: the read pool holds more than one connection.
        assert reads.pool.checkedin() > 1  # type: ignore[attr-defined]
    finally:
        await reads.dispose()
        await writes.dispose()


async def test_a_writer_takes_the_lock_and_a_reader_never_does(tmp_path: Path) -> None:
    """A transaction that has written holds SQLite's write lock until it ends (another
    writer waits for it, then goes on); one that has only read holds nothing, however
    long it is kept open."""
    engine = create_engine(_settings(tmp_path))
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        async with engine.connect() as idle_reader:
            assert await idle_reader.scalar(text("SELECT count(*) FROM t")) == 0
            async with engine.begin() as first:
                await first.execute(text("INSERT INTO t VALUES (1)"))
                second = asyncio.ensure_future(_insert(engine, 2))
                await asyncio.sleep(0.3)
                assert not second.done()  # waiting for the lock, not refused
            await second
        async with engine.connect() as connection:
            assert (await connection.scalars(text("SELECT n FROM t ORDER BY n"))).all() == [1, 2]
    finally:
        await engine.dispose()


async def _insert(engine: Any, n: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})


async def test_a_writer_that_waits_out_the_lock_is_told_who_held_it(tmp_path: Path) -> None:
    """The write lock is taken outside the statement's own error handling: waited out, it
    raised sqlite3's bare error, which is_database_unavailable did not know (an internal
    error, not DATABASE_UNAVAILABLE) and which said nothing of who held the lock. Now it
    is SQLAlchemy's OperationalError, naming the transaction that held it."""
    engine = create_engine(_settings(tmp_path), connect_args={"timeout": 0.2})
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE seen (n INTEGER)"))
        held, release = asyncio.Event(), asyncio.Event()

        async def hold_the_lock() -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO seen VALUES (1)"))
                held.set()
                await release.wait()

        holder = asyncio.create_task(hold_the_lock(), name="the-holder")
        await held.wait()
        try:
            with pytest.raises(exc.OperationalError) as waited:
                async with engine.begin() as connection:
                    await connection.execute(text("INSERT INTO seen VALUES (2)"))
        finally:
            release.set()
            await holder
        assert is_database_unavailable(waited.value)
        message = str(waited.value)
        assert "database is locked" in message
        assert "held by task the-holder at test_sqlite_pool.py:" in message
        assert "hold_the_lock" in message
        async with engine.begin() as connection:  # committed: the lock is free again
            await connection.execute(text("INSERT INTO seen VALUES (3)"))
            assert await connection.scalar(text("SELECT count(*) FROM seen")) == 2
    finally:
        await engine.dispose()
