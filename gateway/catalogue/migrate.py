"""The gateway's own tables come from its own Alembic migrations, never from ICAT's schema.

The tables (``GATEWAY_`` prefix, models in gateway_tables.py) live beside ICAT's by
default, or in a schema of their own (``ICAT_GATEWAY_GATEWAY_SCHEMA``: a PostgreSQL schema,
a MariaDB database on the same server), so that a real ICAT's schema is never touched and
one transaction still spans ICAT's rows and the gateway's (a grant and its audit row).

The models name the placeholder schema ``OWN_SCHEMA``; every engine the gateway makes
translates it to the configured schema (or to none), so queries need not know. Migrations
name the real schema through ``own_schema()``.

``upgrade`` runs at start-up and from ``icat-gateway migrate``; several workers or replicas
starting at once take a lock first (PostgreSQL advisory lock, MariaDB GET_LOCK, SQLite's
write lock), so one migrates and the others find the work done. A database whose tables
an earlier version made without Alembic is adopted: the first revision creates only what
is missing.
"""

from __future__ import annotations

import logging

from alembic import command
from alembic import context as alembic_context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.gateway_tables import OWN_SCHEMA, VERSION_TABLE

log = logging.getLogger(__name__)

_LOCK_NAME = "icat_gateway_migrate"
_LOCK_KEY = 0x1CA7_6A7E  # PostgreSQL's advisory lock key for the migration


def own_schema() -> str | None:
    """The real schema of the gateway's tables, inside a migration (None: ICAT's)."""
    schema: str | None = alembic_context.config.attributes.get("schema")
    return schema


def _config(connection: Connection | None, schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", "gateway.catalogue:migrations")
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def heads() -> tuple[str, ...]:
    """The newest revisions the code knows."""
    return tuple(ScriptDirectory.from_config(_config(None, None)).get_heads())


def _current(connection: Connection, schema: str | None) -> tuple[str, ...]:
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "version_table_schema": schema}
    )
    return tuple(context.get_current_heads())


def _lock(connection: Connection) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    elif dialect in ("mysql", "mariadb"):
        got = connection.execute(text("SELECT GET_LOCK(:name, 120)"), {"name": _LOCK_NAME}).scalar()
        if got != 1:
            raise RuntimeError("another process held the migration lock for two minutes")
    elif dialect == "sqlite":
        # Take SQLite's write lock now: a second process waits here (busy timeout), then
        # finds the tables made.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _unlock(connection: Connection) -> None:
    if connection.dialect.name in ("mysql", "mariadb"):
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})


def _create_own_schema(connection: Connection, schema: str | None) -> None:
    if schema is None:
        return
    dialect = connection.dialect.name
    quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
    if dialect == "postgresql":
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    elif dialect in ("mysql", "mariadb"):
        connection.execute(text(f"CREATE DATABASE IF NOT EXISTS {quoted}"))
    else:
        raise ValueError(f"a schema of the gateway's own is not supported on {dialect}")


def _upgrade(connection: Connection, schema: str | None) -> tuple[str, ...]:
    """Migrate under the lock, and commit before letting go of it: MariaDB's lock is the
    session's (``GET_LOCK``), so released before the commit, the next process would read
    the revision this one has not yet committed and migrate it a second time."""
    _create_own_schema(connection, schema)
    _lock(connection)
    try:
        before = _current(connection, schema)
        after = before
        if set(before) != set(heads()):
            command.upgrade(_config(connection, schema), "heads")
            after = _current(connection, schema)
        connection.commit()  # PostgreSQL's transaction-level lock ends here
    finally:
        _unlock(connection)
        connection.commit()
    if after != before:
        log.info("gateway tables migrated: %s -> %s", ", ".join(before) or "none", ", ".join(after))
    return after


def schema_of(engine: AsyncEngine) -> str | None:
    """The schema the engine puts the gateway's tables in (gateway.catalogue.database)."""
    mapping = engine.get_execution_options().get("schema_translate_map") or {}
    schema: str | None = mapping.get(OWN_SCHEMA)
    return schema


async def upgrade(engine: AsyncEngine) -> tuple[str, ...]:
    """Bring the gateway's own tables to the newest revisions; answers them."""
    from gateway.catalogue.search_documents import forget_index_states

    async with engine.connect() as connection:
        done = await connection.run_sync(_upgrade, schema_of(engine))
    forget_index_states()  # a migration may have made the documents or their indexes
    return done


async def current(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions the database is at (empty before the first migration)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current, schema_of(engine))


def table_exists(name: str) -> bool:
    """Inside a migration: whether the gateway's table ``name`` exists already (adopting a
    database whose tables an earlier version made without migrations)."""
    return bool(inspect(alembic_context.get_bind()).has_table(name, schema=own_schema()))


def column_names(table: str) -> set[str]:
    """Inside a migration: the columns the gateway's table ``table`` has now."""
    inspector = inspect(alembic_context.get_bind())
    return {column["name"] for column in inspector.get_columns(table, schema=own_schema())}


def qualified(name: str) -> str:
    """Inside a migration: a table's (or index's) name in the gateway's schema, quoted for
    the database, for DDL written as text."""
    preparer = alembic_context.get_bind().dialect.identifier_preparer
    schema = own_schema()
    quoted = preparer.quote_identifier(name)
    return f"{preparer.quote_identifier(schema)}.{quoted}" if schema else quoted


async def migrate_database(settings: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``icat-gateway migrate``: the revisions before and after migrating."""
    from gateway.catalogue.database import create_engine
    from gateway.settings import Settings

    assert isinstance(settings, Settings)
    engine = create_engine(settings)
    try:
        before = await current(engine)
        return before, await upgrade(engine)
    finally:
        await engine.dispose()
