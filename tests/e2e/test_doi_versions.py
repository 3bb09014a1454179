"""DOI versions, amendments and the landing pages' own refusals through a real uvicorn
server with the loopback DataCite, on every database: a chain of three versions made
with GraphQL, what DataCite was sent, the pages listing the versions and the concept DOI
resolving to the newest; landing pages counted by the gate's rate limit and cost budget
like /graphql; a session DataCite would refuse answered with a page saying so."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.models import Dataset, Investigation
from gateway.schema.node import global_id
from gateway.settings import Settings
from tests.e2e.test_authorization import caller
from tests.support.datacite_server import DataCiteServer
from tests.support.doi_catalogue import PiSessions, pi_sessions, remove_doi_rows
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

PUBLIC_URL = "https://data.example.eu"

MINT = """mutation($input: MintDoiInput!) { mintDoi(input: $input) { doi state } }"""
VERSION = """mutation($input: CreateDoiVersionInput!) {
  createDoiVersion(input: $input) {
    doi state
    dataPublication { doi version conceptDoi versions { nodes { doi version isLatest } } }
  }
}"""
AMEND = """mutation($input: UpdatePublishedDoiInput!) {
  updatePublishedDoi(input: $input) { doi state dataPublication { title } }
}"""
VERSIONS = """query($doi: String!) { doi(doi: $doi) { ... on DataPublication {
  doi version conceptDoi versions { nodes { doi version isLatest } } dataCiteMetadata
} } }"""
COUNT = "{ facilities { totalCount } }"


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


@pytest.fixture(scope="module")
def datacite(catalogue: AsyncEngine) -> Iterator[DataCiteServer]:
    with DataCiteServer() as running:
        yield running


def configured(
    settings: Settings, provider: OIDCProvider, datacite: DataCiteServer, **changes: Any
) -> Settings:
    return replace(
        settings,
        oidc_issuer=provider.issuer,
        oidc_audience=DEFAULT_AUDIENCE,
        oidc_user_prefix="esrf/",
        staff_users=frozenset({"esrf/staff1"}),
        doi_registrar="datacite",
        doi_prefix=datacite.prefix,
        public_url=PUBLIC_URL,
        datacite_api_url=datacite.base_url,
        datacite_repository_id=datacite.repository_id,
        datacite_password=datacite.password,
        **changes,
    )


@pytest.fixture(scope="module")
def gateway(
    catalogue: AsyncEngine, settings: Settings, provider: OIDCProvider, datacite: DataCiteServer
) -> Iterator[str]:
    quiet = configured(
        settings,
        provider,
        datacite,
        rate_limit_requests="",
        rate_limit_address="",
        rate_limit_cost="",
    )
    with GatewayServer(quiet) as server:
        yield server.base_url


@pytest.fixture
async def pi(catalogue: AsyncEngine) -> AsyncIterator[PiSessions]:
    await remove_doi_rows(catalogue)
    yield await pi_sessions(catalogue)
    await remove_doi_rows(catalogue)


def page(gateway: str, doi: str, accept: str = "text/html", **params: str) -> httpx.Response:
    return httpx.get(f"{gateway}/doi/{doi}", headers={"Accept": accept}, params=params, timeout=30)


def related(attributes: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["relationType"], r["relatedIdentifier"]) for r in attributes["relatedIdentifiers"]}


def test_a_chain_of_three_versions_through_graphql_datacite_and_the_pages(
    gateway: str, provider: OIDCProvider, datacite: DataCiteServer, pi: PiSessions
) -> None:
    pi1 = caller(gateway, provider, "pi1")
    first = pi1.data(
        MINT,
        {
            "input": {
                "idempotencyKey": "chain-1",
                "datasetIds": [global_id("Dataset", pi.released[0])],
                "title": "Diffraction data, first cut",
                "creators": [{"name": "Anna Kowalczyk"}],
            }
        },
    )["mintDoi"]["doi"]
    second = pi1.data(
        VERSION,
        {
            "input": {
                "idempotencyKey": "chain-2",
                "doi": first,
                "datasetIds": [global_id("Dataset", d) for d in pi.released[:2]],
            }
        },
    )["createDoiVersion"]
    assert second["state"] == "PUBLISHED"
    concept = second["dataPublication"]["conceptDoi"]
    assert second["dataPublication"]["version"] == 2
    third = pi1.data(
        VERSION,
        {
            "input": {
                "idempotencyKey": "chain-3",
                "doi": second["doi"],
                "title": "Diffraction data, reprocessed",
                "creators": [{"name": "Anna Kowalczyk"}, {"name": "Jonas Lindberg"}],
            }
        },
    )["createDoiVersion"]
    v2, v3 = second["doi"], third["doi"]
    assert third["dataPublication"]["versions"]["nodes"] == [
        {"doi": first, "version": 1, "isLatest": False},
        {"doi": v2, "version": 2, "isLatest": False},
        {"doi": v3, "version": 3, "isLatest": True},
    ]

    # What DataCite holds: linked both ways, the concept resolving to the newest page.
    held = {doi: datacite.doi(doi) for doi in (first, v2, v3, concept)}
    assert all(h is not None and h.state == "findable" for h in held.values())
    attributes = {doi: h.attributes for doi, h in held.items() if h is not None}
    assert {("IsVersionOf", concept), ("IsPreviousVersionOf", v2)} <= related(attributes[first])
    assert {("IsNewVersionOf", first), ("IsPreviousVersionOf", v3)} <= related(attributes[v2])
    assert ("IsNewVersionOf", v2) in related(attributes[v3])
    assert {("HasVersion", d) for d in (first, v2, v3)} <= related(attributes[concept])
    assert attributes[concept]["url"] == f"{PUBLIC_URL}/doi/{v3}"
    assert [attributes[d]["version"] for d in (first, v2, v3)] == ["1", "2", "3"]

    # Amended: the record is sent again, and the concept follows its newest version.
    amended = pi1.data(
        AMEND,
        {"input": {"idempotencyKey": "chain-amend", "doi": v3, "title": "Reprocessed data"}},
    )["updatePublishedDoi"]
    assert amended["state"] == "PUBLISHED"
    assert amended["dataPublication"]["title"] == "Reprocessed data"
    for doi in (v3, concept):
        stored = datacite.doi(doi)
        assert stored is not None and stored.attributes["titles"] == [{"title": "Reprocessed data"}]

    # The API answers what DataCite was sent.
    shown = caller(gateway, provider, None).data(VERSIONS, {"doi": v2})["doi"]
    assert shown["version"] == 2 and shown["conceptDoi"] == concept
    assert related(shown["dataCiteMetadata"]) == related(attributes[v2])

    # The pages: each lists the versions and links the newest; the concept resolves to it.
    old = page(gateway, first)
    assert old.status_code == 200
    assert "This is version 1" in old.text and f'href="/doi/{v3}"' in old.text
    assert "the latest is version 3" in old.text
    newest = page(gateway, v3)
    assert "This is version 3" in newest.text and "(the latest)" in newest.text
    moved = httpx.get(f"{gateway}/doi/{concept}", timeout=30)
    assert moved.status_code == 302 and moved.headers["location"] == f"/doi/{v3}"
    followed = httpx.get(
        f"{gateway}/doi/doi:{concept.upper()}",
        headers={"Accept": "application/x-bibtex"},
        follow_redirects=True,
        timeout=30,
    )
    assert followed.status_code == 200 and v3 in followed.text, (
        followed.history,
        followed.url,
        followed.text,
    )

    # Only the newest version gets a next one.
    stale = pi1.run(VERSION, {"input": {"idempotencyKey": "chain-x", "doi": first}})
    error = stale["errors"][0]["extensions"]
    assert error["code"] == "CONFLICT" and error["reason"] == "NOT_NEWEST_VERSION"


@pytest.fixture
async def released_doi(catalogue: AsyncEngine, pi: PiSessions) -> str:
    """The DOI of pi1's released session."""
    async with catalogue.connect() as connection:
        doi = (
            await connection.execute(
                select(Investigation.doi)
                .join(Dataset, Dataset.investigation_id == Investigation.id)
                .where(Dataset.id == pi.released[0])
            )
        ).scalar_one()
    assert doi
    return str(doi)


def test_landing_pages_count_against_the_gates_rate_limit_and_cost_budget(
    settings: Settings, provider: OIDCProvider, datacite: DataCiteServer, released_doi: str
) -> None:
    doi = released_doi
    limited = configured(
        settings,
        provider,
        datacite,
        rate_limit_requests="3/hour",
        rate_limit_address="",
        rate_limit_cost="",
    )
    with GatewayServer(limited) as server:
        pages = [page(server.base_url, doi) for _ in range(2)]
        query = httpx.post(f"{server.base_url}/graphql", json={"query": COUNT}, timeout=30)
        over = page(server.base_url, doi)
        over_text = page(server.base_url, doi, "application/x-bibtex")
        over_graphql = httpx.post(f"{server.base_url}/graphql", json={"query": COUNT}, timeout=30)
    assert [p.status_code for p in pages] == [200, 200] and query.status_code == 200
    assert over.status_code == 429 and over_graphql.status_code == 429
    assert 1 <= int(over.headers["retry-after"]) <= 3600
    assert "Too many requests" in over.text and '<html lang="en">' in over.text
    assert over_text.status_code == 429 and over_text.headers["content-type"].startswith(
        "text/plain"
    )

    # A landing page costs what its query costs (2,476 here) in the same budget.
    costly = configured(
        settings,
        provider,
        datacite,
        rate_limit_requests="",
        rate_limit_address="",
        rate_limit_cost="3000/hour",
    )
    with GatewayServer(costly) as server:
        first = page(server.base_url, doi)
        second = page(server.base_url, doi)
        after = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": "{ investigations(first: 600) { nodes { id } } }"},
            timeout=30,
        )
    assert first.status_code == 200, first.text
    assert second.status_code == 429 and "retry-after" in second.headers
    assert after.status_code == 429
    assert after.json()["errors"][0]["extensions"]["budget"] == "cost"


async def test_a_session_datacite_would_refuse_gets_a_page_that_says_so(
    catalogue: AsyncEngine, gateway: str, pi: PiSessions
) -> None:
    async with catalogue.begin() as connection:
        session = (
            await connection.execute(
                select(
                    Investigation.id.label("id"),
                    Investigation.doi.label("doi"),
                    Investigation.title.label("title"),
                )
                .join(Dataset, Dataset.investigation_id == Investigation.id)
                .where(Dataset.id == pi.released[0])
            )
        ).one()
        await connection.execute(
            update(Investigation)
            .where(Investigation.id == session.id)
            .values(title="Broken\x01title")
        )
    try:
        html = await _get(gateway, session.doi, "text/html")
        text = await _get(gateway, session.doi, "application/x-bibtex")
    finally:
        async with catalogue.begin() as connection:
            await connection.execute(
                update(Investigation)
                .where(Investigation.id == session.id)
                .values(title=session.title)
            )
    assert html.status_code == 500 and html.headers["content-type"].startswith("text/html")
    assert "record is incomplete" in html.text and '<html lang="en">' in html.text
    assert "title: contains U+0001" in html.text
    assert "Internal Server Error" not in html.text
    assert text.status_code == 500 and "title: contains U+0001" in text.text
    healthy = await _get(gateway, session.doi, "text/html")
    assert healthy.status_code == 200


async def _get(gateway: str, doi: str, accept: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(f"{gateway}/doi/{doi}", headers={"Accept": accept})
