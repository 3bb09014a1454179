"""A database outage answers 503 with Retry-After and the code DATABASE_UNAVAILABLE, on
the standard path and through a kept operation plan, and /readyz names the pools that
failed; it answered 500 (or 200 with INTERNAL_SERVER_ERROR) before."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from tests.support.server import GatewayServer
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

QUERY = "{ investigations(first: 2) { totalCount nodes { title } } }"


@pytest.mark.parametrize("planned", [False, True], ids=["standard", "planned"])
def test_a_database_outage_is_503_with_retry_after(
    catalogue: AsyncEngine, settings: Settings, planned: bool
) -> None:
    if catalogue.dialect.name == "sqlite":
        pytest.skip("SQLite is a file: no server to lose")
    url = make_url(settings.database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        configured = replace(
            settings,
            database_url=proxied.render_as_string(hide_password=False),
            compiled_sql=planned,
            readiness_timeout=1.0,
        )
        with GatewayServer(configured) as server:
            body = {"query": QUERY}
            for _ in range(3):  # on the planned path, the third is answered by a plan
                honest = httpx.post(server.base_url + "/graphql", json=body, timeout=30)
                assert honest.status_code == 200, honest.text
                assert "errors" not in honest.json()
            operations = server.app.state.gate.operations
            assert not planned or operations.answered > 0
            proxy.cut()
            down = httpx.post(server.base_url + "/graphql", json=body, timeout=30)
            ready = httpx.get(server.base_url + "/readyz", timeout=30)
            alive = httpx.get(server.base_url + "/healthz", timeout=30)
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == "5"
    codes = {e["extensions"]["code"] for e in down.json()["errors"]}
    assert codes == {"DATABASE_UNAVAILABLE"}, down.text
    assert "Traceback" not in down.text
    assert ready.status_code == 503
    assert ready.json()["checks"]["read"] != "ok"
    assert alive.status_code == 200
