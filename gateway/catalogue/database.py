"""The catalogue's database engine: one per process, created from settings.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) and MariaDB (asyncmy)
are the production targets. In embedded mode the gateway creates ICAT's schema; in every
mode its own migrations (migrate.py) make its own tables (prefixed ``GATEWAY_``), beside
ICAT's or in a schema of their own; it writes ICAT's tables only through its mutations.
"""

from __future__ import annotations

import base64
import time
from contextvars import ContextVar
from typing import Any

import orjson
from sqlalchemy import Column, Connection, MetaData, String, Table, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_only

from gateway.catalogue.gateway_tables import OWN_SCHEMA, VERSION_TABLE, GatewayBase, translate_map
from gateway.catalogue.indexes import create_gateway_indexes
from gateway.catalogue.models import IcatBase
from gateway.settings import Settings

STATEMENT_DEADLINE: ContextVar[float | None] = ContextVar("statement_deadline", default=None)
"""The ``time.monotonic()`` by which the current request's statements must end (set by
the request gate; SQLite's progress handler reads it)."""

_DEADLINE = "gateway_deadline"


def create_engine(
    settings: Settings, *, statement_timeout: float | None = None, **options: Any
) -> AsyncEngine:
    """The async engine for the configured catalogue, tuned per dialect.

    ``statement_timeout`` (seconds) bounds every statement of the engine on the server:
    ``statement_timeout`` on PostgreSQL, ``max_statement_time`` on MariaDB
    (``max_execution_time`` on MySQL), a progress handler on SQLite that interrupts a
    statement past the request's deadline (:data:`STATEMENT_DEADLINE`, else the timeout
    from the statement's start).
    """
    url = make_url(settings.database_url)
    kwargs: dict[str, Any] = {
        "pool_pre_ping": settings.database_pre_ping,
        # JSON the database renders (gateway.compiled) is decoded by orjson, not json.
        "json_deserializer": orjson.loads,
        # The gateway's own tables name a placeholder schema: the configured one, or none.
        "execution_options": {"schema_translate_map": translate_map(settings.gateway_schema)},
    }
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ValueError("an in-memory SQLite catalogue is not shared between connections")
        # aiosqlite runs each connection in its own thread; a fresh connection per checkout
        # avoids sharing one across event loops (tests run several loops).
        kwargs["poolclass"] = NullPool
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = settings.database_pool_size
        kwargs["max_overflow"] = settings.database_max_overflow
        kwargs["pool_recycle"] = 1800
    if statement_timeout is not None and url.get_backend_name() == "postgresql":
        server_settings = {"statement_timeout": str(max(1, round(statement_timeout * 1000)))}
        kwargs["connect_args"] = {"server_settings": server_settings}
    kwargs.update(options)
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", sqlite_functions)
    if statement_timeout is not None:
        _bound_statements(engine, url.get_backend_name(), statement_timeout)
    return engine


def _bound_statements(engine: AsyncEngine, backend: str, timeout: float) -> None:
    if backend == "mysql":

        def session_limit(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"SET SESSION max_statement_time = {timeout:.3f}")
            except Exception:  # MySQL: its own name, in milliseconds, for SELECTs
                cursor.execute(f"SET SESSION max_execution_time = {round(timeout * 1000)}")
            cursor.close()

        event.listen(engine.sync_engine, "connect", session_limit)
    elif backend == "sqlite":

        def progress_handler(dbapi_connection: Any, record: Any) -> None:
            deadline: list[float] = [0.0]
            record.info[_DEADLINE] = deadline

            def interrupt() -> int:
                return 1 if deadline[0] and time.monotonic() > deadline[0] else 0

            await_only(dbapi_connection._connection.set_progress_handler(interrupt, 10_000))

        def deadline(conn: Any, *_: Any) -> None:
            holder = conn.connection.info.get(_DEADLINE)
            if holder is not None:
                holder[0] = STATEMENT_DEADLINE.get() or time.monotonic() + timeout

        event.listen(engine.sync_engine, "connect", progress_handler)
        event.listen(engine.sync_engine, "before_cursor_execute", deadline)


def is_statement_timeout(error: BaseException) -> bool:
    """Whether a database error is a statement cancelled by its time limit."""
    if not isinstance(error, exc.DBAPIError):
        return False
    text = f"{type(error.orig).__name__} {error.orig}".lower()
    return (
        "querycancelederror" in text  # PostgreSQL: statement_timeout, or a cancel request
        or "max_statement_time" in text  # MariaDB: 1969
        or "max_execution_time" in text  # MySQL: 3024
        or "interrupted" in text  # SQLite's progress handler
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while a mutation writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


SQLITE_BASE64 = "gw_base64"
SQLITE_FLOAT = "gw_float"


def _base64(text: str | None) -> str | None:
    return None if text is None else base64.b64encode(text.encode()).decode()


def _float(value: float | None) -> str | None:
    return None if value is None else orjson.dumps(float(value)).decode()


def sqlite_functions(dbapi_connection: Any, _record: Any = None) -> None:
    """Functions SQLite lacks that the compiled renderer needs (``gateway.compiled``):
    base64 (global ids) and a float written as the response's JSON writes it (SQLite's
    own JSON keeps 15 digits)."""
    dbapi_connection.create_function(SQLITE_BASE64, 1, _base64, deterministic=True)
    dbapi_connection.create_function(SQLITE_FLOAT, 1, _float, deterministic=True)


async def create_schema(engine: AsyncEngine, *, embedded: bool) -> None:
    """Create ICAT's tables and the gateway's indexes on them (embedded mode only), and
    migrate the gateway's own tables to the newest revision."""
    if embedded:
        async with engine.begin() as conn:
            await conn.run_sync(IcatBase.metadata.create_all)
            await conn.run_sync(create_gateway_indexes)
    from gateway.catalogue.migrate import upgrade  # Alembic: loaded by those who migrate

    await upgrade(engine)


async def drop_schema(engine: AsyncEngine) -> None:
    """Drop every table the gateway may have created (tests and `demo --reset`)."""
    await drop_gateway_tables(engine)
    async with engine.begin() as conn:
        await conn.run_sync(IcatBase.metadata.drop_all)


async def drop_gateway_tables(engine: AsyncEngine) -> None:
    """Drop the gateway's own tables and its migrations' record of them."""
    async with engine.begin() as conn:
        await conn.run_sync(GatewayBase.metadata.drop_all)
        await conn.run_sync(_drop_version_table)


def _drop_version_table(connection: Connection) -> None:
    # The placeholder schema is translated by the connection, like the models'.
    version = Table(VERSION_TABLE, MetaData(schema=OWN_SCHEMA), Column("version_num", String(32)))
    version.drop(connection, checkfirst=True)
