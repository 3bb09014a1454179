"""End to end, through a real uvicorn server with real OIDC tokens and the loopback
DataCite: reserve a DOI, cite it (it resolves and shows reserved), change the selection,
publish; the selected datasets turn public for an anonymous caller at that moment, the
rest stay hidden. A DataCite outage answers UPSTREAM_UNAVAILABLE and the same call again
completes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.schema.node import global_id
from gateway.settings import Settings
from tests.e2e.test_authorization import Caller, caller
from tests.support.datacite_server import DataCiteServer
from tests.support.doi_catalogue import LANDING, PiSessions, pi_sessions, remove_doi_rows
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


@pytest.fixture(scope="module")
def datacite(catalogue: AsyncEngine) -> Iterator[DataCiteServer]:
    """One DataCite per catalogue: the same seed gives the same ids, so the same DOIs."""
    with DataCiteServer() as running:
        yield running


@pytest.fixture(scope="module")
def gateway(
    catalogue: AsyncEngine, settings: Settings, provider: OIDCProvider, datacite: DataCiteServer
) -> Iterator[str]:
    configured = replace(
        settings,
        oidc_issuer=provider.issuer,
        oidc_audience=DEFAULT_AUDIENCE,
        oidc_user_prefix="esrf/",
        staff_users=frozenset({"esrf/staff1"}),
        doi_registrar="datacite",
        doi_prefix=datacite.prefix,
        doi_landing_url=LANDING,
        datacite_api_url=datacite.base_url,
        datacite_repository_id=datacite.repository_id,
        datacite_password=datacite.password,
    )
    with GatewayServer(configured) as server:
        yield server.base_url


@pytest.fixture
async def pi(catalogue: AsyncEngine) -> Any:
    await remove_doi_rows(catalogue)
    yield await pi_sessions(catalogue)
    await remove_doi_rows(catalogue)


RESERVE = """mutation($input: ReserveDoiInput!) { reserveDoi(input: $input) {
  doi state registered replayed dataPublication { id title isPublished } } }"""
UPDATE = """mutation($input: UpdateDoiReservationInput!) { updateDoiReservation(input: $input) {
  doi state } }"""
PUBLISH = """mutation($input: PublishDoiInput!) { publishDoi(input: $input) {
  doi state replayed dataPublication { isPublished publicationDate
    contributors { fullName orderKey } } } }"""
RESOLVE = """query($doi: String!) { doi(doi: $doi) { __typename
  ... on DataPublication { id doi title isPublished datasets { totalCount } } } }"""
DATASET = "query($id: ID!) { dataset(id: $id) { id name } }"

CREATORS = [
    {
        "name": "Anna Kowalczyk",
        "givenName": "Anna",
        "familyName": "Kowalczyk",
        "orcid": "https://orcid.org/0000-0002-1825-0097",
        "affiliations": [{"name": "ESRF", "ror": "02550n020"}],
    },
    {"name": "Zoë Ångström-Ñúñez"},  # no ORCID, not in the catalogue
]


def ids(datasets: list[int]) -> list[str]:
    return [global_id("Dataset", d) for d in datasets]


def sees(anonymous: Caller, dataset: int) -> bool:
    """Whether the anonymous caller can read the dataset (asked twice: on PostgreSQL the
    second is answered by its operation plan, the compiled path)."""
    answers = []
    for _ in range(2):
        body = anonymous.run(DATASET, {"id": global_id("Dataset", dataset)})
        answers.append(body.get("data") is not None and body["data"]["dataset"] is not None)
    assert answers[0] == answers[1]
    return answers[0]


def test_reserve_cite_change_publish(
    gateway: str, provider: OIDCProvider, datacite: DataCiteServer, pi: PiSessions
) -> None:
    pi1, anonymous = caller(gateway, provider, "pi1"), caller(gateway, provider, None)
    # Datasets of two sessions (not the embargoed session's first two: a DOI of the demo
    # has published them).
    first = [pi.bm29[-1], pi.embargoed[-1]]
    final = [pi.bm29[-1], pi.embargoed[-2]]
    untouched = [d for d in pi.bm29 + pi.embargoed[2:] if d not in final]
    reserved = pi1.data(
        RESERVE, {"input": {"idempotencyKey": "e2e-r", "datasetIds": ids(first), "title": "T"}}
    )["reserveDoi"]
    assert reserved["state"] == "RESERVED" and reserved["registered"] is True
    doi = reserved["doi"]
    assert datacite.dois() == {doi: "draft"}

    # Cite it: it resolves in every spelling, and shows reserved to its team only.
    for spelling in (doi.upper(), f"doi:{doi}", f"https://doi.org/{doi}"):
        found = pi1.data(RESOLVE, {"doi": spelling})["doi"]
        assert found["__typename"] == "DataPublication" and found["isPublished"] is False
    assert anonymous.data(RESOLVE, {"doi": doi})["doi"] is None

    changed = pi1.data(
        UPDATE, {"input": {"idempotencyKey": "e2e-u", "doi": doi, "datasetIds": ids(final)}}
    )["updateDoiReservation"]
    assert changed["state"] == "RESERVED"
    assert not any(sees(anonymous, d) for d in final + untouched)

    publish = {
        "idempotencyKey": "e2e-p",
        "doi": doi,
        "title": "Data for: a paper",
        "abstract": "What the data show.",
        "creators": CREATORS,
        "keywords": ["proteins"],
        "licence": {"name": "CC BY 4.0", "uri": "https://creativecommons.org/licenses/by/4.0/"},
        "related": [{"identifier": "10.1107/S2052252519001234"}],
    }
    published = pi1.data(PUBLISH, {"input": publish})["publishDoi"]
    assert published["state"] == "PUBLISHED"
    assert [c["fullName"] for c in published["dataPublication"]["contributors"]] == [
        "Anna Kowalczyk",
        "Zoë Ångström-Ñúñez",
    ]
    held = datacite.doi(doi)
    assert held is not None and held.state == "findable"
    assert held.attributes["url"] == LANDING.format(doi=doi)
    assert [s["subject"] for s in held.attributes["subjects"]] == ["proteins"]

    assert all(sees(anonymous, d) for d in final)
    assert not any(sees(anonymous, d) for d in untouched)
    assert anonymous.data(RESOLVE, {"doi": doi})["doi"]["datasets"]["totalCount"] == 2
    # The same call again reports the first; the same key for another call is refused.
    again = pi1.data(PUBLISH, {"input": publish})["publishDoi"]
    assert again["replayed"] is True and again["state"] == "PUBLISHED"
    reused = pi1.run(PUBLISH, {"input": {**publish, "title": "Another"}})
    assert reused["errors"][0]["extensions"]["code"] == "CONFLICT"


def test_who_may_and_a_datacite_outage_over_http(
    gateway: str, provider: OIDCProvider, datacite: DataCiteServer, pi: PiSessions
) -> None:
    selection = {"idempotencyKey": "e2e-w", "datasetIds": ids([pi.bm29[-1]]), "title": "T"}
    for login, code in ((None, "UNAUTHENTICATED"), ("outsider1", "NOT_FOUND")):
        refused = caller(gateway, provider, login).run(RESERVE, {"input": selection})
        assert refused["errors"][0]["extensions"]["code"] == code
        assert "Traceback" not in str(refused)
    staff = caller(gateway, provider, "staff1")
    datacite.fail("PUT", 503, times=1)
    down = staff.run(RESERVE, {"input": selection})
    assert down["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    up = staff.data(RESERVE, {"input": selection})["reserveDoi"]
    assert up["state"] == "RESERVED" and up["replayed"] is True
    assert datacite.dois()[up["doi"]] == "draft"
    assert datacite.calls("PUT", up["doi"]) == 2  # the one answered 503, the one that did it


async def test_the_gateway_finishes_at_start_up_what_an_outage_left(
    catalogue: AsyncEngine, settings: Settings, datacite: DataCiteServer, pi: PiSessions
) -> None:
    """A mint that DataCite's outage stopped before publishing is published by the next
    gateway to start (its lifespan reconciles), with the same DOI."""
    from gateway.doi.datacite import DataCiteRegistrar
    from gateway.errors import GatewayError
    from tests.support.doi_catalogue import (
        PI1,
        description,
        sagas_for,
        use_cases,
        visible_dataset_ids,
    )
    from tests.support.doi_catalogue import (
        caller as policy_caller,
    )

    registrar = DataCiteRegistrar(
        api_url=datacite.base_url,
        prefix=datacite.prefix,
        repository_id=datacite.repository_id,
        password=datacite.password,
    )
    dois = use_cases(sagas_for(catalogue, registrar), settings)
    datacite.fail("PUT", 500, times=3)
    with pytest.raises(GatewayError):
        await dois.mint(
            policy_caller(PI1, settings),
            key="startup",
            dataset_ids=[pi.bm29[-1]],
            description=description(),
        )
    datacite.clear_faults()
    assert await visible_dataset_ids(catalogue, [pi.bm29[-1]]) == set()
    configured = replace(
        settings,
        doi_registrar="datacite",
        doi_prefix=datacite.prefix,
        doi_landing_url=LANDING,
        datacite_api_url=datacite.base_url,
        datacite_repository_id=datacite.repository_id,
        datacite_password=datacite.password,
    )
    with GatewayServer(configured) as server:
        assert server.app.state.doi_reconciled.wait(20)
    assert await visible_dataset_ids(catalogue, [pi.bm29[-1]]) == {pi.bm29[-1]}
    assert set(datacite.dois().values()) >= {"findable"}
    assert await dois.sagas.unfinished() == []


MINT = """mutation($input: MintDoiInput!) { mintDoi(input: $input) {
  doi state replayed dataPublication { isPublished } } }"""
GRANT = """mutation($input: GrantAccessInput!) { grantAccess(input: $input) {
  grantee { name } } }"""
REVOKE = """mutation($input: RevokeAccessInput!) { revokeAccess(input: $input) {
  __typename } }"""
SESSION_OF = "query($id: ID!) { dataset(id: $id) { investigation { id } } }"


def test_a_collaborator_cannot_end_the_embargo_of_a_proprietary_session(
    gateway: str, provider: OIDCProvider, datacite: DataCiteServer, pi: PiSessions
) -> None:
    """outsider1, granted read access to pi1's proprietary session by pi1, minted a DOI
    for one of its datasets and made it public at once. Publishing is a right of its own:
    a proprietary session's data are published by staff only (FORBIDDEN to the
    collaborator and to pi1 alike); staff may, and the payload says what happened."""
    pi1, staff = caller(gateway, provider, "pi1"), caller(gateway, provider, "staff1")
    outsider, anonymous = caller(gateway, provider, "outsider1"), caller(gateway, provider, None)
    dataset = pi.proprietary[0]
    session = pi1.data(SESSION_OF, {"id": global_id("Dataset", dataset)})["dataset"]
    grant = {
        "investigationIds": [session["investigation"]["id"]],
        "grantee": {"userName": "esrf/outsider1"},
    }
    pi1.data(GRANT, {"input": grant})
    try:
        assert outsider.data(DATASET, {"id": global_id("Dataset", dataset)})["dataset"]
        mint = {
            "datasetIds": ids([dataset]),
            "title": "Industrial data",
            "creators": [{"name": "Outsider One"}],
        }
        for who, key in ((outsider, "prop-o"), (pi1, "prop-p")):
            refused = who.run(MINT, {"input": {**mint, "idempotencyKey": key}})
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
            assert not sees(anonymous, dataset)
        minted = staff.data(MINT, {"input": {**mint, "idempotencyKey": "prop-s"}})["mintDoi"]
        assert minted["state"] == "PUBLISHED"
        assert minted["dataPublication"]["isPublished"] is True
        assert sees(anonymous, dataset)
        again = staff.data(MINT, {"input": {**mint, "idempotencyKey": "prop-s"}})["mintDoi"]
        assert again["replayed"] and again["dataPublication"]["isPublished"] is True
    finally:
        revoke = {"investigationId": session["investigation"]["id"], "grantee": grant["grantee"]}
        pi1.data(REVOKE, {"input": revoke})
