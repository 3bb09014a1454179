"""New versions and amendments of published DOIs on each database, against the loopback
DataCite: a chain of three versions linked both ways under a concept DOI that resolves to
the newest, an amendment re-sent once under faults, the sessions' records re-sent after a
publication, and the refusals (not published, not the newest version)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.catalogue import doi_versions
from gateway.catalogue.gateway_tables import DoiSaga, SessionDoi
from gateway.catalogue.models import DataPublication, Investigation
from gateway.doi.datacite import DataCiteRegistrar
from gateway.errors import GatewayError
from gateway.settings import Settings
from gateway.usecases.doi_metadata import publication_attributes
from gateway.usecases.doi_saga import Step
from gateway.usecases.session_dois import SessionRegistration
from tests.conftest import Client
from tests.support.datacite_server import DataCiteServer
from tests.support.doi_catalogue import (
    LANDING,
    PI1,
    PiSessions,
    caller,
    description,
    pi_sessions,
    remove_doi_rows,
    sagas_for,
    use_cases,
)


@pytest.fixture
def datacite() -> Iterator[DataCiteServer]:
    with DataCiteServer() as server:
        yield server


def registrar_of(server: DataCiteServer) -> DataCiteRegistrar:
    return DataCiteRegistrar(
        api_url=server.base_url,
        prefix=server.prefix,
        repository_id=server.repository_id,
        password=server.password,
        connect_timeout=2.0,
        read_timeout=5.0,
    )


@pytest.fixture
async def pi(catalogue: AsyncEngine) -> AsyncIterator[PiSessions]:
    await remove_doi_rows(catalogue)
    yield await pi_sessions(catalogue)
    await remove_doi_rows(catalogue)
    async with catalogue.begin() as connection:
        await connection.execute(delete(SessionDoi))


def related(attributes: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["relationType"], r["relatedIdentifier"]) for r in attributes["relatedIdentifiers"]}


def held(server: DataCiteServer, doi: str) -> dict[str, Any]:
    stored = server.doi(doi)
    assert stored is not None, doi
    return stored.attributes


VERSIONS = """query($doi: String!, $after: String) { doi(doi: $doi) {
  ... on DataPublication { versions(first: 1, after: $after) { totalCount
    pageInfo { hasNextPage endCursor } edges { node { doi version isLatest } } } } } }"""


async def test_a_chain_of_three_versions_linked_both_ways_under_a_concept(
    catalogue: AsyncEngine,
    settings: Settings,
    schema: Any,
    pi: PiSessions,
    datacite: DataCiteServer,
) -> None:
    dois = use_cases(sagas_for(catalogue, registrar_of(datacite)), settings)
    pi1 = caller(PI1, settings)
    first = await dois.mint(
        pi1, key="v1", dataset_ids=pi.released[:2], description=description("Data, first")
    )
    second = await dois.new_version(pi1, key="v2", doi=first.doi, dataset_ids=pi.released[:3])
    assert second.step == Step.PUBLISHED and second.doi != first.doi
    third = await dois.new_version(
        pi1,
        key="v3",
        doi=second.doi,
        description=description("Data, third"),
    )
    concept = doi_versions.concept_doi_of(first.doi)
    v1, v2, v3 = (held(datacite, d) for d in (first.doi, second.doi, third.doi))
    assert (v1["version"], v2["version"], v3["version"]) == ("1", "2", "3")
    assert {("IsVersionOf", concept), ("IsPreviousVersionOf", second.doi)} <= related(v1)
    assert ("IsNewVersionOf", first.doi) in related(v2)
    assert ("IsPreviousVersionOf", third.doi) in related(v2)
    assert {("IsVersionOf", concept), ("IsNewVersionOf", second.doi)} <= related(v3)
    assert not any(kind == "IsPreviousVersionOf" for kind, _ in related(v3))
    # The concept: findable, every version, resolving to the newest.
    stored = datacite.doi(concept)
    assert stored is not None and stored.state == "findable"
    assert {("HasVersion", d) for d in (first.doi, second.doi, third.doi)} <= related(
        stored.attributes
    )
    assert "version" not in stored.attributes
    assert stored.attributes["url"] == LANDING.format(doi=third.doi)
    assert stored.attributes["titles"] == [{"title": "Data, third"}]
    # The second version took the first's description, with its own selection.
    assert v2["titles"] == [{"title": "Data, first"}]
    async with catalogue.connect() as connection:
        rows = await connection.execute(
            select(DataPublication.pid, DataPublication.publication_date).where(
                DataPublication.pid.in_([first.doi, second.doi, third.doi])
            )
        )
        assert all(date is not None for _, date in rows)
        chain = await doi_versions.chain_of(connection, concept)
    assert chain is not None and [v.number for v in chain.versions] == [1, 2, 3]
    latest = chain.latest()
    assert latest is not None and latest.doi == third.doi
    # The API's metadata is what DataCite holds, version links included.
    api = await api_metadata(catalogue, settings, second.data_publication_id)
    assert related(api) == related(v2) and api["version"] == "2"
    # The API lists them oldest first, a page at a time, for anyone (all are published).
    client = Client(catalogue, settings, schema)
    paged: list[Any] = []
    after = None
    while True:
        data = await client.data(VERSIONS, {"doi": second.doi, "after": after})
        versions = data["doi"]["versions"]
        assert versions["totalCount"] == 3 and len(versions["edges"]) == 1
        paged += [edge["node"] for edge in versions["edges"]]
        after = versions["pageInfo"]["endCursor"]
        if not versions["pageInfo"]["hasNextPage"]:
            break
    assert paged == [
        {"doi": doi, "version": number, "isLatest": number == 3}
        for number, doi in enumerate((first.doi, second.doi, third.doi), start=1)
    ]
    refused = await client.execute(VERSIONS, {"doi": second.doi, "after": "not a cursor"})
    assert [e.extensions["code"] for e in refused.errors] == ["BAD_USER_INPUT"]

    # Only the newest published version gets a next one; a replay answers the same.
    with pytest.raises(GatewayError) as stale:
        await dois.new_version(pi1, key="v2b", doi=first.doi)
    assert stale.value.extensions["reason"] == "NOT_NEWEST_VERSION"
    again = await dois.new_version(pi1, key="v2", doi=first.doi, dataset_ids=pi.released[:3])
    assert again.replayed and again.doi == second.doi
    assert datacite.created == 4  # three versions and the concept, each once


async def api_metadata(engine: AsyncEngine, settings: Settings, publication_id: int) -> Any:
    """``dataCiteMetadata`` as the API computes it (the loader and the saga agree)."""
    from gateway.catalogue.visibility import Access
    from gateway.resolvers.loaders import Loaders

    loaders = Loaders(engine, Access(caller=caller(None, settings), now=now_utc()), settings)
    record, request = await loaders.publication_record.load(publication_id)
    url = LANDING.format(doi=record.doi)
    return publication_attributes(record, request, url)


async def test_a_reservation_and_a_missing_doi_get_no_new_version(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, datacite: DataCiteServer
) -> None:
    dois = use_cases(sagas_for(catalogue, registrar_of(datacite)), settings)
    pi1 = caller(PI1, settings)
    reserved = await dois.reserve(pi1, key="r", dataset_ids=pi.released[:1], title="T")
    with pytest.raises(GatewayError) as refused:
        await dois.new_version(pi1, key="n", doi=reserved.doi)
    assert refused.value.extensions["reason"] == "NOT_PUBLISHED"
    with pytest.raises(GatewayError) as amended:
        await dois.amend(pi1, key="a", doi=reserved.doi, title="New")
    assert amended.value.extensions["reason"] == "NOT_PUBLISHED"
    with pytest.raises(GatewayError) as missing:
        await dois.new_version(pi1, key="m", doi=f"{datacite.prefix}/nothing-here")
    assert missing.value.extensions["code"] == "NOT_FOUND"
    published = await dois.mint(
        pi1, key="p", dataset_ids=pi.released[:1], description=description()
    )
    with pytest.raises(GatewayError) as other:
        await dois.new_version(caller("esrf/outsider1", settings), key="o", doi=published.doi)
    assert other.value.extensions["code"] in ("FORBIDDEN", "NOT_FOUND")
    assert datacite.doi(doi_versions.concept_doi_of(published.doi)) is None


async def test_an_amendment_is_resent_once_under_faults(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, datacite: DataCiteServer
) -> None:
    dois = use_cases(sagas_for(catalogue, registrar_of(datacite)), settings)
    pi1 = caller(PI1, settings)
    first = await dois.mint(pi1, key="m", dataset_ids=pi.released[:1], description=description())
    second = await dois.new_version(pi1, key="v", doi=first.doi)
    concept = doi_versions.concept_doi_of(first.doi)
    puts_before = datacite.calls("PUT", second.doi)
    concept_puts = datacite.calls("PUT", concept)

    # DataCite takes the change and the answer is lost, then it is down once more.
    datacite.fail("PUT", 500, doi=second.doi, after_applying=True)
    datacite.fail("PUT", 503, doi=second.doi)
    for _ in range(2):
        with pytest.raises(GatewayError) as unavailable:
            await dois.amend(pi1, key="a", doi=second.doi, title="Better title", abstract="")
        assert unavailable.value.extensions["code"] == "UPSTREAM_UNAVAILABLE"
    async with catalogue.connect() as connection:
        step = (
            await connection.execute(select(DoiSaga.step).where(DoiSaga.doi == second.doi))
        ).scalar_one()
    assert step == Step.AMENDED
    done = await dois.amend(pi1, key="a", doi=second.doi, title="Better title", abstract="")
    assert done.step == Step.PUBLISHED
    assert datacite.calls("PUT", second.doi) == puts_before + 3  # two faulty, one answered
    v2 = held(datacite, second.doi)
    assert v2["titles"] == [{"title": "Better title"}] and v2["descriptions"] == []
    assert ("IsNewVersionOf", first.doi) in related(v2)  # the links stay
    # The newest version's amendment reaches its concept too, once.
    assert datacite.calls("PUT", concept) == concept_puts + 1
    assert held(datacite, concept)["titles"] == [{"title": "Better title"}]
    # Replayed: nothing sent again.
    again = await dois.amend(pi1, key="a", doi=second.doi, title="Better title", abstract="")
    assert again.replayed and datacite.calls("PUT", second.doi) == puts_before + 3
    # The older version's amendment leaves the concept alone.
    await dois.amend(pi1, key="b", doi=first.doi, keywords=["older"])
    assert datacite.calls("PUT", concept) == concept_puts + 1
    assert {"subject": "older"} in held(datacite, first.doi)["subjects"]


async def test_a_publication_resends_its_sessions_records(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, datacite: DataCiteServer
) -> None:
    registrar = registrar_of(datacite)
    sessions = SessionRegistration(
        engine=catalogue,
        registrar=registrar,
        landing_url=lambda doi: LANDING.format(doi=doi),
        main_proposer_roles=settings.main_proposer_roles,
        facility=settings.facility,
        clock=now_utc,
    )
    sagas = sagas_for(catalogue, registrar)
    sagas.sessions_changed = sessions.refresh
    dois = use_cases(sagas, settings)
    pi1 = caller(PI1, settings)
    session_id = await _session_id(catalogue, pi.released[0])
    own = f"{datacite.prefix}/esrf-es-{session_id}"
    async with catalogue.begin() as connection:
        old = (
            await connection.execute(
                select(Investigation.doi).where(Investigation.id == session_id)
            )
        ).scalar()
        await connection.execute(
            update(Investigation).where(Investigation.id == session_id).values(doi=own)
        )
    try:
        await sessions.refresh([session_id])
        assert datacite.doi(own) is None  # never registered: left to register-sessions
        await sessions.run()
        registered = datacite.calls("PUT", own)
        assert registered == 1
        minted = await dois.mint(
            pi1, key="s", dataset_ids=pi.released[:1], description=description()
        )
        assert datacite.calls("PUT", own) == registered + 1
        assert ("HasPart", minted.doi) in related(held(datacite, own))
        # Nothing new to say: not sent again.
        await sessions.refresh([session_id])
        assert datacite.calls("PUT", own) == registered + 1
    finally:
        async with catalogue.begin() as connection:
            await connection.execute(
                update(Investigation).where(Investigation.id == session_id).values(doi=old)
            )


async def _session_id(engine: AsyncEngine, dataset: int) -> int:
    async with engine.connect() as connection:
        return await _session_of(connection, dataset)


async def _session_of(connection: Any, dataset: int) -> int:
    from gateway.catalogue.models import Dataset

    return int(
        (
            await connection.execute(select(Dataset.investigation_id).where(Dataset.id == dataset))
        ).scalar_one()
    )
