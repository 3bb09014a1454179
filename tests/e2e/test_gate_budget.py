"""A request's time budget over HTTP, on PostgreSQL: a dataset search whose statement
cannot finish (the test holds a lock on the datasets' table; 120 parameter ranges took 18
s of planning before they became one subquery) is cancelled when the request's budget
runs out, or as soon as its client disconnects, instead of holding a read connection for
the rest of its run."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.database import create_engine
from gateway.catalogue.models import Dataset
from gateway.settings import Settings
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

RANGES = "query($p: [ParameterRange!]) { datasets(filter: {parameters: $p}) { totalCount } }"
BODY = {
    "query": RANGES,
    # ten ranges: as many as a filter may give (the table's lock is what holds it up)
    "variables": {"p": [{"name": f"p{i}", "min": i, "max": i + 1} for i in range(10)]},
}


@contextmanager
def datasets_locked(settings: Settings) -> Iterator[None]:
    """The datasets' table locked by another connection until the block ends: a search
    waits for it for as long as it is let."""
    locked, release = threading.Event(), threading.Event()

    async def hold() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                table = connection.dialect.identifier_preparer.format_table(Dataset.__table__)
                await connection.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await engine.dispose()

    holder = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    holder.start()
    assert locked.wait(30), "could not lock the datasets' table"
    try:
        yield
    finally:
        release.set()
        holder.join(30)


@pytest.fixture(scope="module")
def slow_server(catalogue: AsyncEngine, settings: Settings) -> Iterator[GatewayServer]:
    if catalogue.dialect.name != "postgresql":
        pytest.skip("the slow statement is PostgreSQL's planning of many ranges")
    allowed = replace(settings, max_input_list_length=200, request_timeout=1.0)
    with GatewayServer(allowed) as server:
        yield server


def running_statements(settings: Settings) -> int:
    """Statements of the dataset search still running on the server (other connections)."""

    async def count() -> int:
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                found = await connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                        " AND pid <> pg_backend_pid() AND query LIKE '%DATASETPARAMETER%'"
                    )
                )
                return int(found.scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


def gone(settings: Settings, within: float = 5.0) -> bool:
    """Whether the search stops running within ``within`` seconds (a cancel request
    reaches the server asynchronously), polled."""
    deadline = time.monotonic() + within
    while running_statements(settings):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_request_over_its_budget_is_cancelled(
    slow_server: GatewayServer, catalogue: AsyncEngine, settings: Settings
) -> None:
    url = slow_server.base_url + "/graphql"
    with datasets_locked(settings):
        response = httpx.post(
            url, json=BODY, headers={"Accept": "application/graphql-response+json"}, timeout=30
        )
        assert response.status_code == 503, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TIMEOUT"
        assert gone(settings)
    healthy = httpx.post(url, json={"query": "{ investigations { totalCount } }"})
    assert healthy.status_code == 200 and "errors" not in healthy.json()


def test_a_statement_is_cancelled_when_its_client_leaves(
    catalogue: AsyncEngine, settings: Settings
) -> None:
    if catalogue.dialect.name != "postgresql":
        pytest.skip("the slow statement is PostgreSQL's planning of many ranges")
    patient = replace(settings, max_input_list_length=200, request_timeout=60.0)
    with GatewayServer(patient) as server:
        url = server.base_url + "/graphql"
        with datasets_locked(settings):
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(url, json=BODY, timeout=httpx.Timeout(30, read=0.5))
            # The client has gone; the search would wait for the lock for a minute.
            assert gone(settings)
        healthy = httpx.post(url, json={"query": "{ investigations { totalCount } }"})
        assert healthy.status_code == 200 and "errors" not in healthy.json()
