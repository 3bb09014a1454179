"""ICAT's schema created from the models on each database, and one Investigation round trip.

SQLite always (a file of the test's own); PostgreSQL and MariaDB when a server answers at
``ICAT_GATEWAY_TEST_POSTGRESQL_URL`` / ``ICAT_GATEWAY_TEST_MARIADB_URL`` (defaults below),
skipped with the reason otherwise (a failure if ``ICAT_GATEWAY_TEST_REQUIRE_ALL=1``). On the
servers the tables go into a schema (PostgreSQL) or database (MariaDB) made for the test
and dropped afterwards, so the shared ``test`` database, where other tests keep their demo
catalogue, is left alone. On MariaDB this is also the check that every unique key fits
InnoDB's key length limit under utf8mb4.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from gateway.catalogue.models import (
    Facility,
    Investigation,
    InvestigationType,
    icat_metadata,
)
from tests.conftest import REQUIRE_ALL, SERVER_URLS, create_worker_database

AUDIT = {
    "create_id": "test/creator",
    "create_time": datetime(2024, 1, 2, 3, 4, 5),
    "mod_id": "test/modifier",
    "mod_time": datetime(2024, 1, 2, 3, 4, 6),
}


@dataclass
class Target:
    """An engine and the schema (None: the default one) the ICAT tables go into."""

    engine: AsyncEngine
    schema: str | None

    @property
    def options(self) -> dict[str, Any]:
        return {"schema_translate_map": {None: self.schema}} if self.schema else {}


async def _server_engine(backend: str) -> AsyncEngine:
    url = SERVER_URLS[backend]
    if url == "off":
        pytest.skip(f"{backend}: switched off")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with asyncio.timeout(5):
            await create_worker_database(url)
            async with engine.connect():
                pass
    except Exception as error:
        await engine.dispose()
        reason = f"{backend} unreachable at {url}: {type(error).__name__}: {error}"
        reason = reason.splitlines()[0][:300]
        if REQUIRE_ALL:
            pytest.fail(reason)
        pytest.skip(reason)
    return engine


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    backend = request.param
    if backend == "sqlite":
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / 'icat.sqlite3'}", poolclass=NullPool
        )
        try:
            yield Target(engine, None)
        finally:
            await engine.dispose()
        return

    engine = await _server_engine(backend)
    schema = f"icat_models_{uuid.uuid4().hex[:12]}"
    # A PostgreSQL schema; on MariaDB a "schema" is a database.
    kind = "SCHEMA" if backend == "postgresql" else "DATABASE"
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE {kind} {schema}"))
        yield Target(engine, schema)
    finally:
        try:
            async with engine.begin() as conn:
                cascade = " CASCADE" if backend == "postgresql" else ""
                await conn.execute(text(f"DROP {kind} IF EXISTS {schema}{cascade}"))
        finally:
            await engine.dispose()


def _table_names(connection: Connection, schema: str | None) -> set[str]:
    return set(inspect(connection).get_table_names(schema=schema))


async def test_create_all_and_round_trip(target: Target) -> None:
    async with target.engine.connect() as raw:
        conn = await raw.execution_options(**target.options)
        await conn.run_sync(icat_metadata.create_all)
        await conn.commit()
        try:
            created = await conn.run_sync(_table_names, target.schema)
            assert created == set(icat_metadata.tables)

            async with AsyncSession(conn, expire_on_commit=False) as session:
                # IDs are the caller's to give (no autoincrement); parents first, as
                # there are no relationships for the unit of work to order by.
                session.add(Facility(id=1, name="ESRF", full_name="ESRF", **AUDIT))
                await session.flush()
                session.add(InvestigationType(id=2, facility_id=1, name="experiment", **AUDIT))
                await session.flush()
                session.add(
                    Investigation(
                        id=3,
                        facility_id=1,
                        type_id=2,
                        name="MX-2345",
                        visit_id="id30a1-20240102",
                        title="Crystal structures of things",
                        summary="x" * 4000,
                        start_date=datetime(2024, 1, 2, 8, 0, 0),
                        end_date=datetime(2024, 1, 4, 8, 0, 0),
                        release_date=datetime(2027, 1, 4, 8, 0, 0),
                        doi="10.15151/ESRF-ES-1",
                        file_size=123_456_789_012,
                        file_count=42,
                        **AUDIT,
                    )
                )
                await session.commit()
                session.expunge_all()

                row = (
                    await session.execute(select(Investigation).where(Investigation.id == 3))
                ).scalar_one()
                assert (row.name, row.visit_id, row.title) == (
                    "MX-2345",
                    "id30a1-20240102",
                    "Crystal structures of things",
                )
                assert row.summary == "x" * 4000
                assert row.start_date == datetime(2024, 1, 2, 8, 0, 0)
                assert row.release_date == datetime(2027, 1, 4, 8, 0, 0)
                assert (row.file_size, row.file_count) == (123_456_789_012, 42)
                assert (row.facility_id, row.type_id) == (1, 2)
                assert (row.create_id, row.mod_time) == ("test/creator", AUDIT["mod_time"])

                # UNQ_INVESTIGATION_0 (FACILITY_ID, NAME, VISIT_ID) is enforced.
                session.add(
                    Investigation(
                        id=4,
                        facility_id=1,
                        type_id=2,
                        name="MX-2345",
                        visit_id="id30a1-20240102",
                        title="The same session again",
                        **AUDIT,
                    )
                )
                with pytest.raises(IntegrityError):
                    await session.flush()
                await session.rollback()
        finally:
            await conn.rollback()
            await conn.run_sync(icat_metadata.drop_all)
            await conn.commit()
            assert await conn.run_sync(_table_names, target.schema) == set()
