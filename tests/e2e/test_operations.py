"""Operations over HTTP through a real uvicorn server: request ids and the access log,
/healthz and /readyz (a starved read pool is not ready), /metrics, rate limits (429 with
Retry-After, forwarded addresses only from trusted proxies), persisted queries."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.ops.persisted import query_hash
from gateway.settings import Settings
from tests.conftest import RedisScratch
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

COUNT = "query Count { investigations(first: 1) { totalCount } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def post(base: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(base + "/graphql", json=body, headers=headers, timeout=30)


@pytest.fixture
def quiet(settings: Settings) -> Settings:
    """The suite's settings with no rate limits (each test sets the ones it checks)."""
    return replace(settings, rate_limit_requests="", rate_limit_address="", rate_limit_cost="")


def test_a_request_id_comes_back_and_is_on_the_access_line(
    catalogue: AsyncEngine, quiet: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # The level is set around the server's whole life: a request's access line is written
    # just after its answer was sent, and the server's stop waits for it.
    with caplog.at_level(logging.INFO, "gateway.access"), GatewayServer(quiet) as server:
        given = post(server.base_url, {"query": COUNT}, **{"X-Request-Id": "portal-42.a"})
        made = post(
            server.base_url, {"query": COUNT}, **{"X-Request-Id": "not an id; " + "x" * 100}
        )
        health = httpx.get(server.base_url + "/healthz")
    assert given.headers["x-request-id"] == "portal-42.a"
    assert given.headers.get_list("x-request-id") == ["portal-42.a"]  # once, not twice
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", health.headers["x-request-id"])
    lines = {r.request_id: r for r in caplog.records if r.name == "gateway.access"}  # type: ignore[attr-defined]
    line: Any = lines["portal-42.a"]
    assert (line.method, line.path, line.status, line.operation) == (
        "POST",
        "/graphql",
        200,
        "Count",
    )
    assert line.answered_by in ("standard", "planned") and line.duration_ms > 0
    assert lines[health.headers["x-request-id"]].path == "/healthz"  # type: ignore[attr-defined]


def test_alive_and_ready(
    catalogue: AsyncEngine, quiet: Settings, redis_scratch: RedisScratch
) -> None:
    configured = replace(quiet, redis_url=redis_scratch.url, redis_key_prefix=redis_scratch.prefix)
    with GatewayServer(configured) as server:
        assert httpx.get(server.base_url + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(server.base_url + "/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body.pop("search").startswith("indexed: ")  # the demo's search documents
    assert body == {"status": "ok", "checks": {"read": "ok", "write": "ok", "redis": "ok"}}


def test_not_ready_without_redis_but_alive(catalogue: AsyncEngine, quiet: Settings) -> None:
    nowhere = replace(quiet, redis_url="redis://127.0.0.1:9/0", readiness_timeout=1.0)
    with GatewayServer(nowhere) as server:
        ready = httpx.get(server.base_url + "/readyz", timeout=10)
        alive = httpx.get(server.base_url + "/healthz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"read": "ok", "write": "ok", "redis": "unavailable"}
    assert alive.status_code == 200


def test_a_starved_read_pool_is_not_ready(catalogue: AsyncEngine, quiet: Settings) -> None:
    """The read pool's only connection is taken: /readyz says so, although the write pool
    is idle (a check of the write pool alone answered ok while reads starved)."""
    small = replace(quiet, database_pool_size=1, database_max_overflow=0, readiness_timeout=0.5)
    with GatewayServer(small) as server:
        assert httpx.get(server.base_url + "/readyz").status_code == 200
        # The pool's one connection, made by the check above, taken without I/O (the read
        # pool resets nothing on checkout or return).
        held = server.app.state.read_engine.sync_engine.pool.connect()
        try:
            starved = httpx.get(server.base_url + "/readyz", timeout=10)
        finally:
            held.close()
        again = httpx.get(server.base_url + "/readyz")
    assert starved.status_code == 503
    assert starved.json()["checks"] == {"read": "timeout", "write": "ok"}
    assert again.status_code == 200


def metric(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.index("}")]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_operations_paths_and_errors(catalogue: AsyncEngine, quiet: Settings) -> None:
    with GatewayServer(replace(quiet, metrics_operation_names=2)) as server:
        for _ in range(2):
            post(server.base_url, {"query": COUNT})
        post(server.base_url, {"query": "{ facilities { totalCount } }"})
        post(server.base_url, {"query": "query Second { facilities { totalCount } }"})
        post(server.base_url, {"query": "query Third { facilities { totalCount } }"})
        post(server.base_url, {"query": "{ investigations("}, Accept=GRAPHQL_RESPONSE)
        scraped = httpx.get(server.base_url + "/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    requests = "icat_gateway_graphql_requests_total"
    answered = metric(text, requests, operation="Count", status="200", path="standard")
    answered += metric(text, requests, operation="Count", status="200", path="planned")
    assert answered == 2
    assert metric(text, requests, operation="anonymous", status="200") == 1
    assert metric(text, requests, operation="Second") == 1
    assert metric(text, requests, operation="Third") == 0  # past the two names a worker labels
    assert metric(text, requests, operation="other") == 1
    assert metric(text, requests, operation="anonymous", path="refused", status="400") == 1
    assert metric(text, "icat_gateway_errors_total", code="GRAPHQL_PARSE_FAILED") == 1
    assert (
        metric(text, "icat_gateway_graphql_request_duration_seconds_count", operation="Count") >= 1
    )
    if catalogue.dialect.name != "sqlite":
        assert metric(text, "icat_gateway_database_connections", pool="read", state="idle") >= 1


def test_metrics_show_the_planned_path(catalogue: AsyncEngine, quiet: Settings) -> None:
    query = "query Doi($doi: String!) { doi(doi: $doi) { __typename } }"
    with GatewayServer(quiet) as server:
        listed = post(server.base_url, {"query": "{ investigations(first: 1) { nodes { doi } } }"})
        doi = listed.json()["data"]["investigations"]["nodes"][0]["doi"]
        for _ in range(3):
            post(server.base_url, {"query": query, "variables": {"doi": doi}})
        text = httpx.get(server.base_url + "/metrics").text
    requests = "icat_gateway_graphql_requests_total"
    assert metric(text, requests, operation="Doi", path="standard") == 1
    assert metric(text, requests, operation="Doi", path="planned") == 2


def test_a_caller_over_budget_gets_429_with_retry_after(
    catalogue: AsyncEngine, quiet: Settings
) -> None:
    with GatewayServer(replace(quiet, rate_limit_requests="3/hour")) as server:
        answers = [post(server.base_url, {"query": COUNT}) for _ in range(4)]
        for_html = post(server.base_url, {"query": COUNT}, Accept=GRAPHQL_RESPONSE)
        health = httpx.get(server.base_url + "/healthz")
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == int(refused.headers["retry-after"])
    assert "data" not in refused.json()
    assert for_html.status_code == 429 and health.status_code == 200


def test_forwarded_addresses_count_only_from_trusted_proxies(
    catalogue: AsyncEngine, quiet: Settings
) -> None:
    limited = replace(quiet, rate_limit_requests="2/hour")
    with GatewayServer(limited) as server:
        # Not a trusted proxy: X-Forwarded-For is ignored, every request is 127.0.0.1's.
        spoofed = [
            post(server.base_url, {"query": COUNT}, **{"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(3)
        ]
    assert [a.status_code for a in spoofed] == [200, 200, 429]
    with GatewayServer(replace(limited, trusted_proxies=frozenset({"127.0.0.1"}))) as server:
        clients = [
            post(server.base_url, {"query": COUNT}, **{"X-Forwarded-For": f"203.0.113.{n % 2}"})
            for n in range(5)
        ]
    # Two clients behind the proxy, each with its own budget of two.
    assert [a.status_code for a in clients] == [200, 200, 200, 200, 429]


def test_query_cost_has_a_budget_of_its_own(catalogue: AsyncEngine, quiet: Settings) -> None:
    costly = "{ investigations(first: 600) { nodes { id } } }"
    with GatewayServer(replace(quiet, rate_limit_cost="1000/hour")) as server:
        first = post(server.base_url, {"query": costly})
        second = post(server.base_url, {"query": costly})
        cheap = post(server.base_url, {"query": COUNT})
    assert first.status_code == 200, first.text
    assert second.status_code == 429
    assert second.json()["errors"][0]["extensions"]["budget"] == "cost"
    assert cheap.status_code == 200  # within what is left


def apq(query: str | None, text_of: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": query_hash(text_of)}}
    }
    if query is not None:
        body["query"] = query
    return body


def test_automatic_persisted_queries(catalogue: AsyncEngine, quiet: Settings) -> None:
    with GatewayServer(quiet) as server:
        unknown = post(server.base_url, apq(None, COUNT), Accept=GRAPHQL_RESPONSE)
        legacy = post(server.base_url, apq(None, COUNT))
        forged = post(server.base_url, apq("{ facilities { totalCount } }", COUNT))
        sent = post(server.base_url, apq(COUNT, COUNT))
        by_hash = post(server.base_url, apq(None, COUNT))
        by_get = httpx.get(
            server.base_url + "/graphql",
            params={"extensions": orjson.dumps(apq(None, COUNT)["extensions"]).decode()},
            headers={"Accept": "application/json"},
        )
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert legacy.status_code == 200  # application/json: 200 with the error, as Apollo's
    assert legacy.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert forged.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert sent.json() == by_hash.json() == by_get.json()
    assert sent.json()["data"]["investigations"]["totalCount"] > 0
