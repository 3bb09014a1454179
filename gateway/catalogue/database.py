"""The catalogue's database engine: one per process, created from settings.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) and MariaDB (asyncmy)
are the production targets. In embedded mode the gateway creates ICAT's schema; in every
mode its own migrations (migrate.py) make its own tables (prefixed ``GATEWAY_``), beside
ICAT's or in a schema of their own; it writes ICAT's tables only through its mutations.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Column, Connection, MetaData, String, Table, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from gateway.catalogue.gateway_tables import OWN_SCHEMA, VERSION_TABLE, GatewayBase, translate_map
from gateway.catalogue.indexes import create_gateway_indexes
from gateway.catalogue.models import IcatBase
from gateway.settings import Settings


def create_engine(settings: Settings, **options: Any) -> AsyncEngine:
    """The async engine for the configured catalogue, tuned per dialect."""
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
    kwargs.update(options)
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while a mutation writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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
