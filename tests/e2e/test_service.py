"""The running service: health, GraphiQL, ICAT sessions as credentials, HTTP errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from tests.support.icat_server import ICATServer
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def icat() -> Iterator[ICATServer]:
    with ICATServer() as running:
        yield running


@pytest.fixture(scope="module")
def gateway(catalogue: AsyncEngine, settings: Settings, icat: ICATServer) -> Iterator[str]:
    with GatewayServer(replace(settings, icat_url=icat.base_url, graphiql=True)) as server:
        yield server.base_url


def test_health(gateway: str) -> None:
    response = httpx.get(gateway + "/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_graphiql_in_development_mode(gateway: str) -> None:
    response = httpx.get(gateway + "/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_an_icat_session_identifies_the_caller(gateway: str, icat: ICATServer) -> None:
    session = icat.add_session("esrf/pi1", remaining_minutes=60)
    query = {"query": "{ me { userName investigations(first: 50) { totalCount } } }"}
    for headers in ({"Authorization": f"Bearer {session}"}, {"X-ICAT-Session": session}):
        response = httpx.post(gateway + "/graphql", json=query, headers=headers)
        assert response.status_code == 200, response.text
        me = response.json()["data"]["me"]
        assert me["userName"] == "esrf/pi1" and me["investigations"]["totalCount"] >= 3
    icat.expire(session)
    refused = httpx.post(gateway + "/graphql", json=query, headers={"X-ICAT-Session": "0" * 36})
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_malformed_requests_are_graphql_errors(gateway: str) -> None:
    bad_json = httpx.post(
        gateway + "/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    no_query = httpx.post(gateway + "/graphql", json={"variables": {}})
    assert no_query.status_code == 400
    parse = httpx.post(gateway + "/graphql", json={"query": "{ investigations("})
    assert parse.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "Traceback" not in parse.text


def test_repeated_queries_are_answered_by_their_plan(
    catalogue: AsyncEngine, settings: Settings
) -> None:
    """Over HTTP, on PostgreSQL: the second request of an operation (any DOI) is answered
    by its plan, with the answer the standard path gave."""
    if catalogue.dialect.name != "postgresql":
        pytest.skip("operation plans are PostgreSQL's")
    query = """query($doi: String!) { doi(doi: $doi) { __typename
      ... on Investigation { proposal title instruments { name } team { nodes { role } } } } }"""
    with GatewayServer(settings) as server:
        url = server.base_url + "/graphql"
        listed = httpx.post(url, json={"query": "{ investigations(first: 2) { nodes { doi } } }"})
        dois = [node["doi"] for node in listed.json()["data"]["investigations"]["nodes"]]
        answers = [
            httpx.post(url, json={"query": query, "variables": {"doi": doi}})
            for doi in (dois[0], dois[1], f"doi:{dois[0]}")
        ]
        operations = server.app.state.gate.operations
        assert operations is not None and operations.answered == 2
    for response in answers:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.json()["data"]["doi"]["__typename"] == "Investigation"
    first, second, again = (response.json() for response in answers)
    assert again == first and second != first
    assert "errors" not in again
