"""Every registrar keeps DataCite's rules: the DataCite client against the loopback
DataCite, the local registrar on each database, and the tests' fake answer alike, so the
saga behaves the same on each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.database import create_engine
from gateway.catalogue.gateway_tables import LocalDoi
from gateway.catalogue.migrate import upgrade
from gateway.doi.configured import configured_registrar, landing_url
from gateway.doi.datacite import DataCiteRegistrar
from gateway.doi.local import LocalRegistrar
from gateway.doi.metadata import Creator, DoiRecord, Publisher, publication_metadata
from gateway.doi.registrar import DoiState, PermanentRegistrarError, Registrar
from gateway.settings import Settings
from tests.support.datacite_server import TEST_PREFIX, DataCiteServer
from tests.support.fake_registrar import FakeRegistrar

DOI = f"{TEST_PREFIX}/esrf-dc-9"
URL = "https://data.esrf.fr/doi/10.80001/esrf-dc-9"


def _attributes(title: str = "Lysozyme at 100 K") -> dict[str, Any]:
    record = DoiRecord(DOI, title, (Creator(full_name="Ada Lovelace"),), Publisher("ESRF"), 2026)
    return publication_metadata(record)


class RegistrarContract:
    """The rules; each subclass supplies a ``registrar``."""

    async def test_a_draft_is_made_once_and_updated_by_a_repeat(self, registrar: Registrar) -> None:
        first = await registrar.put_draft(DOI.upper(), _attributes())
        assert (first.doi, first.state) == (DOI, DoiState.DRAFT)
        again = await registrar.put_draft(DOI, _attributes("Lysozyme at 90 K"))
        assert again.state is DoiState.DRAFT
        held = await registrar.get(DOI)
        assert held is not None and held.attributes["titles"] == [{"title": "Lysozyme at 90 K"}]

    async def test_an_attribute_left_out_keeps_its_value(self, registrar: Registrar) -> None:
        await registrar.put_draft(DOI, {**_attributes(), "language": "en"})
        await registrar.put_draft(DOI, {"titles": [{"title": "Only the title"}]})
        held = await registrar.get(DOI)
        assert held is not None
        assert held.attributes["language"] == "en"
        assert held.attributes["titles"] == [{"title": "Only the title"}]

    async def test_publishing_makes_it_findable_and_again_changes_nothing(
        self, registrar: Registrar
    ) -> None:
        await registrar.put_draft(DOI, _attributes())
        published = await registrar.publish(DOI, _attributes(), URL)
        assert (published.state, published.url) == (DoiState.FINDABLE, URL)
        again = await registrar.publish(DOI, _attributes(), URL)
        assert (again.state, again.url) == (DoiState.FINDABLE, URL)
        held = await registrar.get(DOI)
        assert held is not None and (held.state, held.url) == (DoiState.FINDABLE, URL)

    async def test_a_draft_for_a_findable_doi_updates_it_and_it_stays_findable(
        self, registrar: Registrar
    ) -> None:
        await registrar.publish(DOI, _attributes(), URL)
        updated = await registrar.put_draft(DOI, _attributes("Corrected"))
        assert updated.state is DoiState.FINDABLE

    async def test_invalid_metadata_is_not_published(self, registrar: Registrar) -> None:
        incomplete = {"doi": DOI, "titles": [{"title": "No creators yet"}]}
        assert (await registrar.put_draft(DOI, incomplete)).state is DoiState.DRAFT
        with pytest.raises(PermanentRegistrarError) as refused:
            await registrar.publish(DOI, incomplete, URL)
        assert refused.value.status == 422
        held = await registrar.get(DOI)
        assert held is not None and held.state is DoiState.DRAFT

    async def test_a_draft_is_deleted_once_and_gone_after(self, registrar: Registrar) -> None:
        await registrar.put_draft(DOI, _attributes())
        await registrar.delete_draft(DOI)
        assert await registrar.get(DOI) is None
        await registrar.delete_draft(DOI)

    async def test_a_findable_doi_is_not_deleted(self, registrar: Registrar) -> None:
        await registrar.publish(DOI, _attributes(), URL)
        with pytest.raises(PermanentRegistrarError) as refused:
            await registrar.delete_draft(DOI)
        assert refused.value.status == 405
        held = await registrar.get(DOI)
        assert held is not None and held.state is DoiState.FINDABLE

    async def test_a_doi_outside_the_prefix_is_refused(self, registrar: Registrar) -> None:
        assert registrar.prefix == TEST_PREFIX
        with pytest.raises(PermanentRegistrarError):
            await registrar.put_draft("10.99999/esrf-dc-9", _attributes())
        with pytest.raises(PermanentRegistrarError):
            await registrar.get("10.99999/esrf-dc-9")

    async def test_an_unknown_doi_is_none(self, registrar: Registrar) -> None:
        assert await registrar.get(f"{TEST_PREFIX}/never") is None


class TestFake(RegistrarContract):
    @pytest.fixture
    def registrar(self) -> Registrar:
        return FakeRegistrar(TEST_PREFIX)


class TestDataCite(RegistrarContract):
    @pytest.fixture
    def registrar(self) -> Iterator[Registrar]:
        with DataCiteServer() as server:
            yield DataCiteRegistrar(
                api_url=server.base_url,
                prefix=server.prefix,
                repository_id=server.repository_id,
                password=server.password,
            )


@pytest.fixture
async def gateway_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The gateway's own tables on each database, without the local registrar's rows."""
    engine = create_engine(Settings(database_url=database_url))
    await upgrade(engine)
    clear = delete(LocalDoi).where(LocalDoi.doi.like(f"{TEST_PREFIX}/%"))
    async with engine.begin() as connection:
        await connection.execute(clear)
    yield engine
    async with engine.begin() as connection:
        await connection.execute(clear)
    await engine.dispose()


class TestLocal(RegistrarContract):
    @pytest.fixture
    def registrar(self, gateway_engine: AsyncEngine) -> Registrar:
        return LocalRegistrar(gateway_engine, TEST_PREFIX)

    async def test_it_says_its_dois_are_registered_nowhere(
        self, gateway_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="gateway.doi.local"):
            registrar = configured_registrar(Settings(doi_prefix=TEST_PREFIX), gateway_engine)
        assert isinstance(registrar, LocalRegistrar)
        assert registrar.registers is False
        (warning,) = [r for r in caplog.records if r.name == "gateway.doi.local"]
        assert warning.levelno == logging.WARNING
        assert "registered nowhere" in warning.getMessage() and TEST_PREFIX in warning.getMessage()

    async def test_another_worker_sees_the_same_dois(
        self, registrar: Registrar, database_url: str
    ) -> None:
        await registrar.publish(DOI, _attributes(), URL)
        other_engine = create_engine(Settings(database_url=database_url))
        try:
            other = LocalRegistrar(other_engine, TEST_PREFIX)
            held = await other.get(DOI)
            assert held is not None and held.state is DoiState.FINDABLE
            await other.put_draft(DOI, _attributes("From the other worker"))
        finally:
            await other_engine.dispose()
        held = await registrar.get(DOI)
        assert held is not None and held.attributes["titles"] == [
            {"title": "From the other worker"}
        ]

    async def test_workers_making_the_same_draft_at_once_make_one(
        self, gateway_engine: AsyncEngine, database_url: str
    ) -> None:
        engines = [create_engine(Settings(database_url=database_url)) for _ in range(4)]
        try:
            registrars = [LocalRegistrar(engine, TEST_PREFIX) for engine in engines]
            results = await asyncio.gather(
                *(r.put_draft(DOI, _attributes(f"Worker {i}")) for i, r in enumerate(registrars))
            )
        finally:
            for engine in engines:
                await engine.dispose()
        assert {result.state for result in results} == {DoiState.DRAFT}
        async with gateway_engine.connect() as connection:
            rows = await connection.scalar(select(func.count()).where(LocalDoi.doi == DOI))
        assert rows == 1


def test_the_settings_choose_the_registrar_and_the_landing_url() -> None:
    datacite = Settings(
        doi_registrar="datacite",
        doi_prefix=TEST_PREFIX,
        doi_landing_url="https://data.esrf.fr/doi/{doi}",
        datacite_repository_id="ESRF.TEST",
        datacite_password="pw",
    )
    engine = create_engine(Settings(database_url="sqlite+aiosqlite:///unused.sqlite3"))
    assert isinstance(configured_registrar(datacite, engine), DataCiteRegistrar)
    assert landing_url(datacite, "doi:10.80001/ESRF-DC-9") == URL
    assert landing_url(Settings(), "10.5072/X") == "https://doi.org/10.5072/x"
