"""The gateway's own tables come from its migrations, match its models, and can live in a
schema of their own; several processes starting at once migrate once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.database import create_engine, drop_gateway_tables
from gateway.catalogue.gateway_tables import (
    VERSION_TABLE,
    GatewayBase,
    SearchDocument,
    StoredSecret,
)
from gateway.catalogue.migrate import _config as migration_config
from gateway.catalogue.migrate import current, heads, upgrade
from gateway.catalogue.search_documents import SEARCH_INDEXES, STORED_VECTORS, VECTOR_COLUMNS
from gateway.settings import Settings

NOW = datetime(2026, 12, 1, 12, 0)


def _own_settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings whose gateway tables are this module's alone: a schema (PostgreSQL) or a
    database (MariaDB) of their own beside the session's catalogue, a file on SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'own.sqlite3'}")
    return Settings(database_url=database_url, gateway_schema=f"{url.database}_gw_migrations")


@pytest.fixture
async def own(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(_own_settings(database_url, tmp_path))
    await drop_gateway_tables(engine)
    yield engine
    await drop_gateway_tables(engine)
    await engine.dispose()


def _differences(connection: Connection, schema: str | None) -> list[object]:
    models = MetaData()
    for table in GatewayBase.metadata.sorted_tables:
        table.to_metadata(models, schema=schema)  # type: ignore[arg-type]  # None: none
    names = {table.name for table in models.tables.values()}

    def include(name: str | None, kind: str, _parent: object) -> bool:
        if kind == "schema":
            return name == schema
        if kind == "index" and name in SEARCH_INDEXES:
            return False  # each database's own full-text index: test_search EXPLAINs them
        if kind == "column" and name in VECTOR_COLUMNS:
            return False  # PostgreSQL's stored vectors, generated: tested below
        return kind != "table" or name in names

    context = MigrationContext.configure(
        connection,
        opts={"include_schemas": schema is not None, "include_name": include, "compare_type": True},
    )
    return list(compare_metadata(context, models))


def test_the_revisions_form_one_line() -> None:
    """Each revision revises the one before it: two that revise the same one (two
    branches' migrations merged without chaining them) leave two heads, which every other
    test here would upgrade to alike, in an order alembic picks."""
    assert len(heads()) == 1, heads()


async def test_a_fresh_database_migrates_to_the_models(own: AsyncEngine) -> None:
    schema = own.get_execution_options()["schema_translate_map"]
    assert await current(own) == ()
    assert await upgrade(own) == heads()
    assert await upgrade(own) == heads()  # a second start finds nothing to do
    (real_schema,) = schema.values()
    async with own.connect() as connection:
        differences = await connection.run_sync(_differences, real_schema)
    assert differences == []


async def test_tables_made_before_migrations_are_adopted_with_their_rows(
    own: AsyncEngine,
) -> None:
    async with own.begin() as connection:
        await connection.run_sync(GatewayBase.metadata.create_all)
        await connection.execute(
            insert(StoredSecret).values(name="kept", value="v", created_at=NOW)
        )
    assert await upgrade(own) == heads()
    async with own.connect() as connection:
        kept = (await connection.execute(select(StoredSecret.value))).scalars().all()
    assert kept == ["v"]


async def test_workers_starting_at_once_migrate_once(
    own: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    engines = [create_engine(_own_settings(database_url, tmp_path)) for _ in range(4)]
    try:
        results = await asyncio.gather(*(upgrade(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert results == [heads()] * 4
    async with own.connect() as connection:
        rows = (
            await connection.execute(text(f"SELECT COUNT(*) FROM {_qualified(own, VERSION_TABLE)}"))
        ).scalar()
    assert rows == len(heads())


async def test_the_own_schema_holds_the_tables_and_the_models_write_there(
    own: AsyncEngine, database_url: str
) -> None:
    schema = own.get_execution_options()["schema_translate_map"]
    (real_schema,) = schema.values()
    if real_schema is None:
        pytest.skip("SQLite keeps the gateway's tables in the catalogue's file")
    await upgrade(own)
    async with own.begin() as connection:
        await connection.execute(
            insert(StoredSecret).values(name="where", value="v", created_at=NOW)
        )
        tables = await connection.run_sync(
            lambda sync: set(inspect(sync).get_table_names(schema=real_schema))
        )
        count = (
            await connection.execute(
                text(f"SELECT COUNT(*) FROM {_qualified(own, 'GATEWAY_SECRET')}")
            )
        ).scalar()
        through_models = (await connection.execute(select(func.count(StoredSecret.name)))).scalar()
    assert {table.name for table in GatewayBase.metadata.sorted_tables} | {VERSION_TABLE} <= tables
    assert count == through_models == 1


def _qualified(engine: AsyncEngine, table: str) -> str:
    (schema,) = engine.get_execution_options()["schema_translate_map"].values()
    quote = engine.dialect.identifier_preparer.quote_identifier
    return f"{quote(schema)}.{quote(table)}" if schema else quote(table)


def _vectors(connection: Connection, schema: str | None) -> dict[str, Any]:
    """PostgreSQL: the documents' vector columns and the definitions of their indexes."""
    found: dict[str, Any] = {}
    inspector = inspect(connection)
    for table, texts in STORED_VECTORS.items():
        found[table] = sorted(
            c["name"]
            for c in inspector.get_columns(table, schema=schema)
            if c["name"] in VECTOR_COLUMNS
        )
        definitions = connection.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :schema"),
            {"schema": schema},
        )
        for name, definition in definitions:
            if name in texts.values():
                found[name] = definition.split(" USING ")[1]
    return found


def _downgrade(connection: Connection, schema: str | None, revision: str) -> None:
    command.downgrade(migration_config(connection, schema), revision)
    connection.commit()


async def test_the_stored_vectors_migrate_up_and_down(own: AsyncEngine) -> None:
    """PostgreSQL's stored ``tsvector`` columns (``10_h21_stored_vectors``): made with
    their GIN indexes from the documents already there, dropped again by a downgrade (the
    indexes back over the expressions), made again; the other databases are unchanged."""
    (schema,) = own.get_execution_options()["schema_translate_map"].values()
    await upgrade(own)
    async with own.connect() as connection:
        await connection.run_sync(_downgrade, schema, "09_h21q_session_techniques")
    async with own.begin() as connection:
        await connection.execute(
            insert(SearchDocument).values(
                investigation_id=1, landing="hydrogen study", data="sample", refreshed_at=NOW
            )
        )
    async with own.connect() as connection:
        before = await connection.run_sync(_vectors, schema) if _postgresql(own) else None
    assert await upgrade(own) == heads()
    async with own.connect() as connection:
        after = await connection.run_sync(_vectors, schema) if _postgresql(own) else None
        vector = (
            (
                await connection.execute(
                    text(
                        f'SELECT "LANDING_VECTOR" FROM {_qualified(own, "GATEWAY_SEARCH_DOCUMENT")}'
                    )
                )
            ).scalar()
            if _postgresql(own)
            else None
        )
        await connection.run_sync(_downgrade, schema, "09_h21q_session_techniques")
        again = await connection.run_sync(_vectors, schema) if _postgresql(own) else None
    assert await upgrade(own) == heads()
    if not _postgresql(own):
        return
    expression = "gin (to_tsvector('simple'::regconfig, {}))"
    assert (
        before
        == again
        == {
            "GATEWAY_SEARCH_DOCUMENT": [],
            "GATEWAY_SD_LANDING_FTS": expression.format('"LANDING"'),
            "GATEWAY_SD_DATA_FTS": expression.format('"DATA"'),
            "GATEWAY_DATASET_DOCUMENT": [],
            "GATEWAY_DD_WORDS_FTS": expression.format('"WORDS"'),
        }
    )
    assert after == {
        "GATEWAY_SEARCH_DOCUMENT": ["DATA_VECTOR", "LANDING_VECTOR"],
        "GATEWAY_SD_LANDING_FTS": 'gin ("LANDING_VECTOR")',
        "GATEWAY_SD_DATA_FTS": 'gin ("DATA_VECTOR")',
        "GATEWAY_DATASET_DOCUMENT": ["WORDS_VECTOR"],
        "GATEWAY_DD_WORDS_FTS": 'gin ("WORDS_VECTOR")',
    }
    assert vector == "'hydrogen':1 'study':2"  # made from the row already there


def _postgresql(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
