"""The demo catalogue generator (gateway.catalogue.demo) on a scratch SQLite file."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.catalogue.database import create_engine
from gateway.catalogue.demo import DemoSize, seed_demo, seed_if_empty
from gateway.catalogue.models import (
    DataCollectionDataset,
    Datafile,
    DataPublication,
    Dataset,
    DatasetParameter,
    IcatBase,
    Instrument,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
    Sequence,
    User,
)
from gateway.settings import Settings

ANCHOR = datetime(2025, 6, 1)
SIZE = DemoSize.for_sessions(40, datasets_per_session=3, files_per_dataset=2)
PI = "Principal investigator"


def sqlite_settings(directory: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{directory}/demo.sqlite3")


async def digest(settings: Settings) -> str:
    """A hash of every row of every ICAT table, in primary-key order."""
    engine = create_engine(settings)
    sha = hashlib.sha256()
    try:
        async with engine.connect() as connection:
            for table in IcatBase.metadata.sorted_tables:
                result = await connection.execute(
                    select(table).order_by(*table.primary_key.columns)
                )
                sha.update(table.name.encode())
                for row in result:
                    sha.update(repr(tuple(row)).encode())
    finally:
        await engine.dispose()
    return sha.hexdigest()


@pytest.fixture(scope="module")
async def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Settings, dict[str, int], AsyncEngine]]:
    """One demo catalogue shared by the read-only tests of this module."""
    settings = sqlite_settings(tmp_path_factory.mktemp("demo"))
    counts = await seed_demo(settings, seed=3, size=SIZE, anchor=ANCHOR)
    engine = create_engine(settings)
    yield settings, counts, engine
    await engine.dispose()


@pytest.fixture
async def connection(
    seeded: tuple[Settings, dict[str, int], AsyncEngine],
) -> AsyncIterator[AsyncConnection]:
    async with seeded[2].connect() as connection:
        yield connection


async def count(connection: AsyncConnection, model: type[IcatBase]) -> int:
    return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


async def test_counts_match_the_size(
    seeded: tuple[Settings, dict[str, int], AsyncEngine], connection: AsyncConnection
) -> None:
    counts = seeded[1]
    assert counts["sessions"] == await count(connection, Investigation) == 40
    assert counts["datasets"] == await count(connection, Dataset) == 40 * 3
    assert counts["datafiles"] == await count(connection, Datafile) == 40 * 3 * 2
    assert counts["users"] == await count(connection, User) >= 60
    assert 15 <= counts["instruments"] == await count(connection, Instrument) <= 25
    # Totals are the sums over the datafiles, for datasets and sessions alike.
    sums = select(
        Datafile.dataset_id, func.count().label("n"), func.sum(Datafile.file_size).label("size")
    ).group_by(Datafile.dataset_id)
    for dataset_id, n, size in await connection.execute(sums):
        totals = select(Dataset.file_count, Dataset.file_size).where(Dataset.id == dataset_id)
        assert tuple((await connection.execute(totals)).one()) == (n, size)
    session_totals = select(
        Investigation.file_count,
        Investigation.file_size,
        select(func.sum(Dataset.file_count))
        .where(Dataset.investigation_id == Investigation.id)
        .scalar_subquery(),
        select(func.sum(Dataset.file_size))
        .where(Dataset.investigation_id == Investigation.id)
        .scalar_subquery(),
    )
    for file_count, file_size, dataset_count, dataset_size in await connection.execute(
        session_totals
    ):
        assert (file_count, file_size) == (dataset_count, dataset_size)
    per_dataset = (
        select(func.count()).select_from(DatasetParameter).group_by(DatasetParameter.dataset_id)
    )
    parameter_counts = set((await connection.scalars(per_dataset)).all())
    assert min(parameter_counts) >= 4 and max(parameter_counts) <= 10


async def test_same_seed_and_anchor_give_the_same_catalogue(
    seeded: tuple[Settings, dict[str, int], AsyncEngine], tmp_path: Path
) -> None:
    again, other = sqlite_settings(tmp_path / "again"), sqlite_settings(tmp_path / "other")
    (tmp_path / "again").mkdir()
    (tmp_path / "other").mkdir()
    await seed_demo(again, seed=3, size=SIZE, anchor=ANCHOR)
    await seed_demo(other, seed=4, size=SIZE, anchor=ANCHOR)
    first = await digest(seeded[0])
    assert await digest(again) == first
    assert await digest(other) != first


async def test_sessions_mix_released_embargoed_and_proprietary(
    connection: AsyncConnection,
) -> None:
    async def sessions(condition: ColumnElement[bool]) -> int:
        return int(await connection.scalar(select(func.count()).where(condition)) or 0)

    release = Investigation.release_date
    released = await sessions(release < ANCHOR)
    embargoed = await sessions(release >= ANCHOR)
    proprietary = await sessions(release.is_(None))
    assert released and embargoed and proprietary
    assert released + embargoed + proprietary == 40
    assert await sessions(Investigation.start_date > ANCHOR)  # scheduled ones


async def test_every_session_has_one_principal_investigator_and_a_doi(
    connection: AsyncConnection,
) -> None:
    pis = (
        select(func.count())
        .where(InvestigationUser.investigation_id == Investigation.id)
        .where(InvestigationUser.role == PI)
        .scalar_subquery()
    )
    rows = (await connection.execute(select(Investigation.doi, pis))).all()
    assert len(rows) == 40
    assert all(n == 1 for _doi, n in rows)
    assert all(doi and doi.startswith("10.5072/ESRF-ES-") for doi, _n in rows)


async def roles_of(connection: AsyncConnection, login: str) -> list[tuple[int, str]]:
    statement = (
        select(InvestigationUser.investigation_id, InvestigationUser.role)
        .join(User, User.id == InvestigationUser.user_id)
        .where(User.name == f"esrf/{login}")
    )
    return [(row[0], row[1]) for row in await connection.execute(statement)]


async def beamlines_of(connection: AsyncConnection, login: str) -> set[str]:
    statement = (
        select(Instrument.name)
        .join(InstrumentScientist, InstrumentScientist.instrument_id == Instrument.id)
        .join(User, User.id == InstrumentScientist.user_id)
        .where(User.name == f"esrf/{login}")
    )
    return set((await connection.scalars(statement)).all())


async def test_the_well_known_users(connection: AsyncConnection) -> None:
    assert await beamlines_of(connection, "staff1") == {"ID30A-1"}
    assert await beamlines_of(connection, "scientist1") == {"ID30A-1"}
    for login in ("staff1", "scientist1", "outsider1"):
        assert await roles_of(connection, login) == []
    assert await beamlines_of(connection, "outsider1") == set()

    led = {session for session, role in await roles_of(connection, "pi1") if role == PI}
    kinds = select(Investigation.release_date).where(Investigation.id.in_(led))
    release_dates = list((await connection.scalars(kinds)).all())
    assert None in release_dates  # proprietary
    assert any(d is not None and d < ANCHOR for d in release_dates)  # released
    assert any(d is not None and d >= ANCHOR for d in release_dates)  # embargoed

    member = await roles_of(connection, "member1")
    assert member and all(role == "Participant" for _session, role in member)
    assert {session for session, _role in member} < led


async def test_data_publications(connection: AsyncConnection) -> None:
    covered = (
        select(
            DataPublication.pid,
            DataPublication.publication_date,
            Investigation.id,
            Investigation.release_date,
        )
        .join(
            DataCollectionDataset,
            DataCollectionDataset.data_collection_id == DataPublication.data_collection_id,
        )
        .join(Dataset, Dataset.id == DataCollectionDataset.dataset_id)
        .join(Investigation, Investigation.id == Dataset.investigation_id)
    )
    rows = (await connection.execute(covered)).all()
    # A published DOI makes datasets of a session still under embargo public early.
    assert any(
        published is not None and published < ANCHOR and release is not None and release > ANCHOR
        for _pid, published, _session, release in rows
    )
    sessions_per_doi: dict[str, set[int]] = {}
    for pid, _published, session, _release in rows:
        sessions_per_doi.setdefault(pid, set()).add(session)
    assert max(len(sessions) for sessions in sessions_per_doi.values()) >= 2
    assert all(pid.startswith("10.5072/ESRF-DC-") for pid in sessions_per_doi)

    led = {session for session, role in await roles_of(connection, "pi1") if role == PI}
    own = [row for row in rows if row[2] in led]
    assert any(
        published is not None and published < ANCHOR and release is not None and release > ANCHOR
        for _pid, published, _session, release in own
    )
    assert any(published is None for _pid, published, _session, _release in own)


async def test_sequence_is_beyond_every_id(connection: AsyncConnection) -> None:
    seq_gen = await connection.scalar(
        select(Sequence.seq_count).where(Sequence.seq_name == "SEQ_GEN")
    )
    assert seq_gen is not None and seq_gen % 50 == 0
    for table in IcatBase.metadata.sorted_tables:
        if "ID" in table.c:
            highest = await connection.scalar(select(func.max(table.c.ID)))
            assert highest is None or highest < seq_gen, table.name


async def test_seeding_twice_needs_a_reset(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    small = DemoSize.for_sessions(6, datasets_per_session=1, files_per_dataset=1)
    await seed_demo(settings, size=small, anchor=ANCHOR)
    with pytest.raises(RuntimeError, match="already has sessions"):
        await seed_demo(settings, size=small, anchor=ANCHOR)
    assert not await seed_if_empty(settings, small)
    counts = await seed_demo(settings, size=small, anchor=ANCHOR, reset=True)
    assert counts["sessions"] == 6


async def test_seed_if_empty_seeds_an_empty_catalogue(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    assert await seed_if_empty(settings, DemoSize.for_sessions(5, 1, 0))
    assert not await seed_if_empty(settings, DemoSize.for_sessions(5, 1, 0))


async def test_one_big_dataset_for_listing_benchmarks(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    size = DemoSize(sessions=8, datasets_per_session=2, files_per_dataset=3, big_dataset_files=500)
    counts = await seed_demo(settings, size=size, anchor=ANCHOR)
    assert counts["datafiles"] == 8 * 2 * 3 + 500
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            biggest = (
                await connection.execute(
                    select(Dataset.file_count, Investigation.release_date)
                    .join(Investigation, Investigation.id == Dataset.investigation_id)
                    .order_by(Dataset.file_count.desc())
                    .limit(1)
                )
            ).one()
    finally:
        await engine.dispose()
    assert biggest[0] == 503
    assert biggest[1] is not None and biggest[1] < ANCHOR
