"""DOI landing pages in a real browser (Debian's chromium through Playwright, as the
GraphiQL test): a session's page, a published collection and a reserved DOI as its team
sees it, each screenshotted, checked by axe-core (no serious or critical violation of WCAG
2.1 A/AA) and readable with JavaScript off.

axe-core comes from ``tests/landing_a11y/package-lock.json`` (``npm ci`` there on first
use); without Node or without a browser the test skips, saying so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.models import DataPublication
from gateway.settings import Settings
from tests.e2e.test_graphiql_browser import ARTEFACTS, system_browser
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

A11Y = Path(__file__).resolve().parents[1] / "landing_a11y"
AXE = A11Y / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def installed_axe() -> Path:
    npm = shutil.which("npm")
    if not AXE.is_file():
        if npm is None:
            pytest.skip("npm not found: the accessibility check needs axe-core from npm")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=A11Y,
            check=True,
            timeout=300,
        )
    return AXE


@pytest.fixture(scope="module")
def gateway(catalogue: AsyncEngine, settings: Settings) -> Iterator[str]:
    if catalogue.dialect.name != "sqlite":
        pytest.skip("the browser test runs once, on SQLite")
    with GatewayServer(replace(settings, demo_login=True, doi_licence="CC-BY-4.0")) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def browser(gateway: str) -> Iterator[Any]:
    # After the gateway (its catalogue is an async fixture, which cannot start under the
    # loop Playwright keeps running), and again for each database.
    executable = system_browser()
    if executable is None:
        pytest.skip("no browser installed (apt: chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def dois(settings: Settings) -> dict[str, str]:
    """A DOI of a session under embargo, a published and a reserved collection's (read
    from the demo's SQLite file without the event loop: Playwright's sync API runs
    outside one)."""
    from gateway.catalogue.models import Investigation

    engine = create_engine(settings.database_url.replace("+aiosqlite", ""))
    with engine.connect() as connection:
        session = connection.execute(
            select(Investigation.doi)
            .where(Investigation.release_date > datetime.now(UTC).replace(tzinfo=None))
            .where(Investigation.start_date < datetime.now(UTC).replace(tzinfo=None))
            .where(Investigation.doi.is_not(None))
            .order_by(Investigation.id)
            .limit(1)
        ).scalar_one()
        rows = connection.execute(
            select(DataPublication.pid, DataPublication.publication_date).order_by(
                DataPublication.id
            )
        ).all()
    engine.dispose()
    published = next(pid for pid, date in rows if date is not None)
    reserved = next(pid for pid, date in rows if date is None)
    return {"session": session, "published": published, "reserved": reserved}


def check_page(browser: Any, gateway: str, doi: str, name: str, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = browser.new_context(
        viewport={"width": 1200, "height": 900}, extra_http_headers=headers
    )
    page = context.new_page()
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(gateway) else elsewhere.append(request.url),
    )
    response = page.goto(f"{gateway}/doi/{doi}")
    assert response is not None and response.status == 200
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"landing-{name}.png"), full_page=True)
    page.add_script_tag(path=str(installed_axe()))
    results = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag',
                      values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}
        })"""
    )
    serious = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"][:3]]}
        for v in results["violations"]
        if v["impact"] in SERIOUS
    ]
    assert not serious, json.dumps(serious, indent=1)
    (ARTEFACTS / f"landing-{name}-axe.json").write_text(
        json.dumps({v["id"]: v["impact"] for v in results["violations"]}, indent=1)
    )
    assert page.locator("h1").count() == 1 and page.locator("main").count() == 1
    assert not elsewhere, elsewhere
    context.close()

    # Without JavaScript the page reads the same: it is all in the HTML.
    plain = browser.new_context(java_script_enabled=False, extra_http_headers=headers)
    page = plain.new_page()
    page.goto(f"{gateway}/doi/{doi}")
    assert page.locator("h1").inner_text()
    assert page.locator("#cite").count() == 1
    plain.close()


def test_landing_pages_in_chromium_pass_axe(gateway: str, browser: Any, settings: Settings) -> None:
    installed_axe()
    found = dois(settings)
    token = httpx.post(f"{gateway}/dev/oidc/token", params={"user": "esrf/pi1"}, timeout=30)
    pi1 = token.json()["access_token"]
    check_page(browser, gateway, found["session"], "session-embargoed", None)
    check_page(browser, gateway, found["published"], "published", None)
    check_page(browser, gateway, found["reserved"], "reserved", pi1)
