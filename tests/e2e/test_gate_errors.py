"""What the gate tells a client when something is wrong: internal errors masked with a
request id (and logged with it), no introspection and no "Did you mean" suggestions in
production unless enabled, GraphiQL only where enabled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from gateway.gate import GateRequest, Hooks, Observation
from gateway.gate.http import GRAPHQL_RESPONSE
from gateway.settings import Settings
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

INTROSPECTION = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Investigation") { name } }'
TYPO = "{ investigations { totalCont } }"


def post(server: GatewayServer, query: str, **headers: str) -> httpx.Response:
    return httpx.post(
        server.base_url + "/graphql",
        json={"query": query},
        headers={"Accept": "application/graphql-response+json", **headers},
    )


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    database = tmp_path_factory.mktemp("production") / "gateway.sqlite3"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}", production=True)
    with GatewayServer(replace(settings, graphiql=False)) as server:
        yield server


def test_production_refuses_introspection(production: GatewayServer) -> None:
    for query in (INTROSPECTION, TYPE):
        response = post(production, query)
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in error["message"].lower()
    assert post(production, "{ __typename }").json() == {"data": {"__typename": "Query"}}


SDL = "{ _service { sdl } }"


def test_production_serves_no_sdl_unless_a_router_needs_it(
    production: GatewayServer, sqlite_settings: Settings
) -> None:
    """With introspection off, ``_service { sdl }`` still answered the whole schema: now it
    follows introspection, unless ICAT_GATEWAY_FEDERATION_SDL says a router composes from
    the running gateway."""
    refused = post(production, SDL)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "type Investigation" not in refused.text
    router = replace(sqlite_settings, production=True, federation_sdl=True)
    with GatewayServer(router) as server:
        assert "type Investigation" in post(server, SDL).json()["data"]["_service"]["sdl"]
        assert post(server, INTROSPECTION).status_code == 400  # introspection stays off


def test_production_suggests_nothing(production: GatewayServer) -> None:
    message = post(production, TYPO).json()["errors"][0]["message"]
    assert "totalCont" in message and "Did you mean" not in message
    assert "totalCount" not in message


def test_production_serves_no_graphiql(production: GatewayServer) -> None:
    response = httpx.get(production.base_url + "/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in response.text.lower()
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


def test_settings_turn_introspection_and_suggestions_back_on(sqlite_settings: Settings) -> None:
    enabled = replace(sqlite_settings, production=True, introspection=True, field_suggestions=True)
    with GatewayServer(enabled) as server:
        assert post(server, INTROSPECTION).json()["data"]["__schema"]["queryType"]["name"]
        assert "Did you mean" in post(server, TYPO).json()["errors"][0]["message"]


def test_development_has_both_and_settings_turn_them_off(sqlite_settings: Settings) -> None:
    with GatewayServer(sqlite_settings) as server:
        assert "data" in post(server, INTROSPECTION).json()
        # The standard introspection query, as GraphiQL asks it.
        full = get_introspection_query(descriptions=True, input_value_deprecation=True)
        graphiql = post(server, full, Accept=f"{GRAPHQL_RESPONSE}, application/json")
        assert graphiql.status_code == 200 and "errors" not in graphiql.json()
        assert "Did you mean" in post(server, TYPO).json()["errors"][0]["message"]
    disabled = replace(sqlite_settings, introspection=False, field_suggestions=False)
    with GatewayServer(disabled) as server:
        assert post(server, INTROSPECTION).status_code == 400
        assert "Did you mean" not in post(server, TYPO).json()["errors"][0]["message"]


def test_an_internal_error_is_masked_with_its_request_id(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A resolver's bug, and a bug in one of the gate's checks: the client gets
    INTERNAL_SERVER_ERROR and the request's id, the log gets the traceback and the id."""
    import gateway.schema.query

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret: password=hunter2")

    monkeypatch.setattr(gateway.schema.query, "root_connection", broken)

    async def broken_check(request: GateRequest) -> None:
        if request.operation_name == "Checked":
            raise RuntimeError("secret: password=hunter2")

    observed: list[Observation] = []
    hooks = Hooks(validated=[broken_check], observers=[observed.append])
    caplog.set_level(logging.ERROR)
    with GatewayServer(sqlite_settings, hooks=hooks) as server:
        resolver = post(server, "{ facilities { totalCount } }", **{"X-Request-ID": "req-1"})
        check = post(server, "query Checked { __typename }", **{"X-Request-ID": "req-2"})
    assert resolver.status_code == 200  # execution began: data is there (null)
    error = resolver.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1"}
    assert check.status_code == 500
    assert check.json()["errors"][0]["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": "req-2",
    }
    for response in (resolver, check):
        assert "hunter2" not in response.text and "Traceback" not in response.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "req-1" in logged and "req-2" in logged
    assert [(o.request_id, o.error_codes) for o in observed] == [
        ("req-1", ("INTERNAL_SERVER_ERROR",)),
        ("req-2", ("INTERNAL_SERVER_ERROR",)),
    ]
