"""A request's document is parsed once: the request gate parses it, and strawberry and the
operation plans use the gate's tree (a parse is a third of a small lookup's CPU)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from graphql.language.parser import Parser
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e


def test_each_document_is_parsed_once(
    catalogue: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[int] = []
    original = Parser.parse_document

    def counted(self: Parser) -> Any:
        parses.append(1)
        return original(self)

    monkeypatch.setattr(Parser, "parse_document", counted)
    quiet = replace(settings, rate_limit_requests="", rate_limit_address="", rate_limit_cost="")
    query = "query Ones($first: Int) { investigations(first: $first) { totalCount nodes { id } } }"
    with GatewayServer(quiet) as server:
        counts = []
        for first in (1, 2, 2, 3):
            parses.clear()
            response = httpx.post(
                server.base_url + "/graphql",
                json={"query": query, "variables": {"first": first}},
                timeout=30,
            )
            assert response.status_code == 200 and "errors" not in response.json()
            counts.append(len(parses))
    # The first request parses (the gate); the plans learnt, the standard runs and the
    # planned answers after it parse nothing: the gate's tree is kept by its text's hash.
    assert counts == [1, 0, 0, 0]
