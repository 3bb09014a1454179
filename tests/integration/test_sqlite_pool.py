"""SQLite as an embedded default: pooled connections, readers beside one writer.

The engine keeps its connections (no connection, thread and PRAGMAs per statement), reads
in autocommit go on while a transaction writes, and writers that read first and then
write (the pattern SQLite refuses at once as "database is locked" when its transactions
begin deferred) queue on the write lock instead of failing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import AsyncAdaptedQueuePool

from gateway.catalogue.database import create_engine
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
    """Readers (autocommit, as the gateway's read pool) and writers that read a counter
    and then write it back, all at once: no "database is locked", no lost update."""
    settings = _settings(tmp_path)
    writes = create_engine(settings)
    reads = create_engine(settings, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
    try:
        async with writes.begin() as connection:
            await connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            await connection.execute(text("INSERT INTO counter VALUES (0)"))
        started = asyncio.Event()
        seen: list[int] = []

        async def writer() -> None:
            await started.wait()
            for _ in range(5):
                async with writes.begin() as connection:
                    n = await connection.scalar(text("SELECT n FROM counter"))
                    await asyncio.sleep(0)  # let the others read the same value meanwhile
                    await connection.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

        async def reader() -> None:
            await started.wait()
            for _ in range(10):
                async with reads.connect() as connection:
                    seen.append(await connection.scalar(text("SELECT n FROM counter")))

        tasks = [asyncio.ensure_future(writer()) for _ in range(WRITERS)]
        tasks += [asyncio.ensure_future(reader()) for _ in range(READERS)]
        started.set()
        await asyncio.gather(*tasks)
        async with reads.connect() as connection:
            assert await connection.scalar(text("SELECT n FROM counter")) == WRITERS * 5
        assert len(seen) == READERS * 10
        # Several readers were open at once: the read pool holds more than one connection.
        assert reads.pool.checkedin() > 1  # type: ignore[attr-defined]
    finally:
        await reads.dispose()
        await writes.dispose()


@pytest.mark.parametrize("isolation", [None, "AUTOCOMMIT"])
async def test_only_transactions_take_the_write_lock(tmp_path: Path, isolation: str | None) -> None:
    """A read in autocommit goes on while another connection holds the write lock; a
    transaction begins by taking it (BEGIN IMMEDIATE)."""
    settings = _settings(tmp_path)
    engine = create_engine(settings)
    began: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: began.append(statement) if "BEGIN" in statement else None,
    )
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        assert began == ["BEGIN IMMEDIATE"]
        began.clear()
        options = {"isolation_level": isolation} if isolation else {}
        async with engine.begin() as holder:
            await holder.execute(text("INSERT INTO t VALUES (1)"))
            if isolation == "AUTOCOMMIT":
                async with engine.connect() as reader:
                    reader = await reader.execution_options(**options)
                    assert await reader.scalar(text("SELECT count(*) FROM t")) == 0
        assert began == ["BEGIN IMMEDIATE"]
    finally:
        await engine.dispose()
