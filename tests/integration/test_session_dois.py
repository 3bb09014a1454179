"""A DOI for every session (``icat-gateway doi register-sessions``) against the loopback
DataCite: each session's DOI findable at its landing page, registered once; a registrar
outage leaves sessions for the next run, which registers only those; an interrupted run
over 10,000 sessions resumes where it stopped, and no DOI is sent twice."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.catalogue.database import create_engine
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.catalogue.gateway_tables import SessionDoi
from gateway.catalogue.models import Investigation
from gateway.doi.datacite import DataCiteRegistrar
from gateway.settings import Settings
from gateway.usecases.session_dois import SessionRegistration
from tests.support.datacite_server import DataCiteServer

PREFIX = "10.5072"
"""The demo catalogue's sessions' prefix (the stand-in plays an account holding it)."""
LANDING = "https://data.example.eu/doi/"
SESSIONS = int(os.environ.get("ICAT_GATEWAY_TEST_SESSION_DOIS", "600"))


@pytest.fixture
def datacite() -> Iterator[DataCiteServer]:
    with DataCiteServer(prefix=PREFIX) as running:
        yield running


def registration_of(
    engine: AsyncEngine, datacite: DataCiteServer, settings: Settings
) -> SessionRegistration:
    registrar = DataCiteRegistrar(
        api_url=datacite.base_url,
        prefix=PREFIX,
        repository_id=datacite.repository_id,
        password=datacite.password,
    )
    return SessionRegistration(
        engine=engine,
        registrar=registrar,
        landing_url=lambda doi: LANDING + doi,
        main_proposer_roles=settings.main_proposer_roles,
        facility=settings.facility,
        clock=now_utc,
    )


async def session_dois(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Investigation.doi).where(Investigation.doi.is_not(None))
        )
        return sorted(str(doi).lower() for doi in rows.scalars())


@pytest.fixture
async def clean(catalogue: AsyncEngine) -> AsyncIterator[None]:
    async with catalogue.begin() as connection:
        await connection.execute(delete(SessionDoi))
    yield
    async with catalogue.begin() as connection:
        await connection.execute(delete(SessionDoi))


async def test_every_session_doi_once_and_an_outage_left_for_the_next_run(
    catalogue: AsyncEngine, settings: Settings, datacite: DataCiteServer, clean: None
) -> None:
    registration = registration_of(catalogue, datacite, settings)
    dois = await session_dois(catalogue)
    assert dois and await registration.total() == len(dois)
    datacite.fail("PUT", 503, times=3)
    first = await registration.run()
    assert (first.registered, first.unavailable, first.refused) == (len(dois) - 3, 3, 0)
    datacite.clear_faults()
    second = await registration.run()
    assert (second.registered, second.unchanged, second.unavailable) == (3, len(dois) - 3, 0)
    third = await registration.run()
    assert (third.registered, third.unchanged) == (0, len(dois))
    retried = 0
    for doi in dois:
        held = datacite.doi(doi)
        assert held is not None and held.state == "findable", doi
        assert held.attributes["url"] == LANDING + doi
        retried += datacite.calls("PUT", doi) - 1  # the 503s, each sent once more
    assert retried == 3
    # A session a published DOI draws on lists it (HasPart).
    assert any(
        r["relationType"] == "HasPart"
        for doi in dois
        for r in (datacite.doi(doi).attributes.get("relatedIdentifiers") or [])  # type: ignore[union-attr]
    )


async def test_many_sessions_interrupted_and_resumed(
    tmp_path: Path, settings: Settings, datacite: DataCiteServer
) -> None:
    """On SQLite only (the statements are the same on every backend; this is about the
    resumption): sessions without DOIs are allocated theirs and registered, stopped after
    a page and resumed. 600 sessions in the suite (fast);
    ``ICAT_GATEWAY_TEST_SESSION_DOIS=10000`` for the issue's 10,000."""
    if settings.dialect != "sqlite":
        pytest.skip("the many-session run is SQLite's (the other test covers each backend)")
    scratch = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sessions.sqlite3'}")
    await seed_demo(
        scratch,
        seed=3,
        size=DemoSize.for_sessions(4, datasets_per_session=1, files_per_dataset=1),
        reset=True,
    )
    engine = create_engine(scratch)
    try:
        async with engine.begin() as connection:
            template = (
                await connection.execute(
                    select(Investigation.facility_id, Investigation.type_id).limit(1)
                )
            ).one()
            first = int((await connection.execute(select(func.max(Investigation.id)))).scalar_one())
            now = datetime(2026, 1, 1)
            await connection.execute(
                insert(Investigation.__table__),  # type: ignore[arg-type]
                [
                    {  # ICAT's column names: the table's keys
                        "ID": first + 1 + i,
                        "FACILITY_ID": template[0],
                        "TYPE_ID": template[1],
                        "NAME": f"BULK-{i}",
                        "VISIT_ID": "v1",
                        "TITLE": f"Bulk session {i}",
                        "CREATE_ID": "test",
                        "CREATE_TIME": now,
                        "MOD_ID": "test",
                        "MOD_TIME": now,
                    }
                    for i in range(SESSIONS)
                ],
            )
        registration = registration_of(engine, datacite, scratch)
        assert await registration.allocate_missing() == SESSIONS
        total = await registration.total()
        pages = 0

        class Interrupted(Exception):
            pass

        def stop_after_a_page(_: int) -> None:
            nonlocal pages
            pages += 1
            if pages == 1:
                raise Interrupted

        with pytest.raises(Interrupted):
            await registration.run(progress=stop_after_a_page)
        async with engine.connect() as connection:
            done = (
                await connection.execute(select(func.count()).select_from(SessionDoi))
            ).scalar_one()
        assert 0 < done < total
        resumed = await registration.run()
        assert resumed.unchanged == done and resumed.registered == total - done
        dois = await session_dois(engine)
        assert len(dois) == total
        assert all(datacite.calls("PUT", doi) == 1 for doi in dois)
        assert all(datacite.doi(doi).state == "findable" for doi in dois)  # type: ignore[union-attr]
    finally:
        await engine.dispose()
