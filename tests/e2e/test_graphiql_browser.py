"""GraphiQL in a real browser: Debian's chromium, driven by Playwright, against uvicorn.

The browser is the system's (``executable_path``): Playwright's own browser download is
not used. The page may reach the gateway only: any other request fails the test.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.graphiql.assets import installed
from gateway.settings import Settings
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def system_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def gateway(catalogue: AsyncEngine, settings: Settings) -> Iterator[str]:
    if catalogue.dialect.name != "sqlite":
        pytest.skip("the browser test runs once, on SQLite")
    if installed() is None:
        pytest.skip("GraphiQL's files are not built (scripts/install needs npm)")
    with GatewayServer(replace(settings, graphiql=True, demo_login=True)) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def browser(gateway: str) -> Iterator[Any]:
    # After the gateway (its catalogue is an async fixture, which cannot start under the
    # loop Playwright keeps running), and again for each database.
    executable = system_browser()
    if executable is None:
        pytest.skip(f"no browser installed (looked for {', '.join(BROWSERS)}; apt: chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def run_example(page: Any, user: str) -> dict[str, Any]:
    """Pick ``user``, run the page's example query, and read the result pane."""
    page.select_option("#demo-user", user)
    page.click(".graphiql-execute-button")
    page.wait_for_function(
        """(user) => {
          const pane = document.querySelector('.result-window .CodeMirror');
          const text = pane && pane.CodeMirror.getValue();
          return text && text.includes('"userName": ' + (user ? '"' + user + '"' : 'null'));
        }""",
        arg=user,
        timeout=30_000,
    )
    text = page.evaluate(
        "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"
    )
    result: dict[str, Any] = json.loads(text)
    return result


def embargoed_with_data(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Sessions under embargo (past, not released, with a release date: not proprietary)
    whose datasets show."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    nodes = result["data"]["me"]["investigations"]["nodes"]
    return [
        node
        for node in nodes
        if node["startDate"] < now
        and not node["isReleased"]
        and node["releaseDate"] is not None
        and node["datasets"]["totalCount"] > 0
    ]


def test_a_scientist_explores_as_pi1_then_as_anonymous(gateway: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    page = context.new_page()
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(gateway) else elsewhere.append(request.url),
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(gateway + "/")  # redirected to /graphql
    page.wait_for_selector(".graphiql-execute-button", timeout=30_000)
    assert "MyData" in page.evaluate(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
    )

    as_pi1 = run_example(page, "esrf/pi1")
    assert "errors" not in as_pi1
    embargoed = embargoed_with_data(as_pi1)
    assert embargoed, as_pi1  # pi1 sees the datasets of their sessions under embargo
    ARTEFACTS.mkdir(exist_ok=True)
    screenshot = ARTEFACTS / "graphiql-pi1.png"
    page.screenshot(path=str(screenshot))
    print(f"screenshot: {screenshot}")

    as_anonymous = run_example(page, "")
    assert as_anonymous["data"]["me"]["investigations"]["totalCount"] == 0
    assert not embargoed_with_data(as_anonymous)
    page.screenshot(path=str(ARTEFACTS / "graphiql-anonymous.png"))

    assert not elsewhere, f"requests that left the gateway: {elsewhere}"
    assert not errors, errors
    context.close()
