"""Traces of one query, exported by `icat-gateway serve` to a loopback OTLP collector: the
request's span, the gate's, the operation's, the resolvers' and each SQL statement's, in
one trace whose id is on the request's log lines."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.settings import Settings
from tests.support.otlp_collector import OTLPCollector
from tests.support.server import GatewayProcess

pytestmark = pytest.mark.e2e

QUERY = "query Sessions { investigations(first: 2) { nodes { proposal instruments { name } } } }"


def test_one_query_is_one_trace_with_its_parts(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'traced.sqlite3'}"
    asyncio.run(seed_demo(Settings(database_url=url), size=DemoSize.for_sessions(6, 1, 1)))
    with OTLPCollector() as collector:
        environment = {
            "ICAT_GATEWAY_DATABASE_URL": url,
            "ICAT_GATEWAY_OTLP_ENDPOINT": collector.base_url,
            "ICAT_GATEWAY_OTEL_SERVICE_NAME": "icat-gateway-test",
            "ICAT_GATEWAY_LOG_FORMAT": "json",
        }
        log = tmp_path / "gateway.log"
        with GatewayProcess(environment, log) as gateway:
            answer = httpx.post(
                gateway.base_url + "/graphql",
                json={"query": QUERY},
                headers={"X-Request-ID": "traced-request-1"},
            )
            # The same operation again: its plan answers it, and its statement is traced
            # as any other (the plan's SQL passes where every statement passes).
            again = httpx.post(
                gateway.base_url + "/graphql",
                json={"query": QUERY},
                headers={"X-Request-ID": "traced-request-2"},
            )
            assert again.status_code == 200 and again.json() == answer.json(), again.text
            assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        # the worker sent what it buffered as it stopped
        spans = collector.spans()
    request_spans = [s for s in spans if s.attributes.get("http.target") == "/graphql"]
    assert request_spans, [s.name for s in spans]
    trace_id = request_spans[0].trace_id
    traced = [s for s in spans if s.trace_id == trace_id]
    names = [s.name for s in traced]
    assert {s.service for s in traced} == {"icat-gateway-test"}
    assert "graphql.gate" in names, names
    operation = next(s for s in traced if s.name == "graphql.operation Sessions")
    assert operation.attributes["graphql.answered_by"] == "standard"
    assert any(str(s.attributes.get("db.statement", "")).startswith("SELECT") for s in traced), (
        names
    )
    assert any(s.name.startswith("GraphQL") or "resolve" in s.name for s in traced), names
    ids = {s.span_id for s in traced}
    roots = [s for s in traced if s.parent_id not in ids]
    assert len(roots) == 1, [(s.name, s.parent_id) for s in roots]  # one tree
    access = [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{") and '"traced-request-1"' in line
    ]
    assert access and all(line.get("trace_id") == trace_id for line in access), access
    second = next(
        s.trace_id for s in spans if s.name == "graphql.operation Sessions" and s is not operation
    )
    planned = [s for s in spans if s.trace_id == second]
    answered_by = [
        s.attributes["graphql.answered_by"] for s in planned if s.name.startswith("graphql.op")
    ]
    assert answered_by == ["planned"], answered_by
    statements = [str(s.attributes.get("db.statement", "")) for s in planned]
    assert any("json_object" in sql for sql in statements), [s.name for s in planned]
