"""Reviewer links end to end, through a real uvicorn server with real OIDC tokens: the main
proposer makes a link; anonymous with its token reads exactly the linked data over the API,
follows the link to the session's landing page, and downloads the linked data; a revoked
or expired link, or a made-up one, is refused exactly as a wrong token is.
"""

from __future__ import annotations

import asyncio
import html
import io
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.database import create_engine
from gateway.catalogue.gateway_tables import ReviewerLink
from gateway.schema.node import parse_global_id
from gateway.settings import Settings
from tests.conftest import team_names
from tests.e2e.test_authorization import Caller, caller
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

CREATE = """mutation($sessions: [ID!]!, $note: String) {
  createReviewerLink(input: {investigationIds: $sessions, note: $note}) {
    link { id token url expiresAt } } }"""

REVOKE = """mutation($id: ID!) { revokeReviewerLink(input: {id: $id}) { link { isActive } } }"""

LINKS = """query($id: ID) { investigation(id: $id) {
  reviewerLinks { nodes { id useCount lastUsedAt } } } }"""

SESSIONS = """{ investigations(first: 1000) { nodes {
  id doi summary isReleased canReadData startDate releaseDate
  team(first: 10) { totalCount nodes { user { name } } } } } }"""

READ = """query($id: ID) { investigation(id: $id) { id summary datasets(first: 100) {
  nodes { id name datafiles(first: 100) { nodes { id name location } } } } } }"""

DATASETS = "{ datasets(first: 1000) { nodes { id } } }"

LISTED = "{ investigations(first: 1000) { nodes { id canReadData } } }"

PREPARE = """mutation($d: [ID!]!) { prepareDownload(input: {datasetIds: $d, name: "review"}) {
  download { id status url } } }"""

FOLLOW = """query($id: ID!) { download(id: $id) { id url } }"""


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("review-data")


@pytest.fixture(scope="module")
def server(
    catalogue: AsyncEngine, settings: Settings, provider: OIDCProvider, data_root: Path
) -> Iterator[GatewayServer]:
    configured = replace(
        settings,
        oidc_issuer=provider.issuer,
        oidc_audience=DEFAULT_AUDIENCE,
        oidc_user_prefix="esrf/",
        staff_users=frozenset({"esrf/staff1"}),
        downloads="store",
        data_root=str(data_root),
        download_max_preparing=1000,
    )
    with GatewayServer(configured) as running:
        yield running


def embargoed_sessions(staff: Caller) -> list[dict[str, Any]]:
    """pi1's started sessions under embargo that have a DOI (most recent last)."""
    nodes = staff.data(SESSIONS)["investigations"]["nodes"]
    return [
        s
        for s in nodes
        if "esrf/pi1" in team_names(s)
        and not s["isReleased"]
        and s["releaseDate"] is not None
        and s["startDate"] < NOW
        and s["doi"]
        and s["summary"]
    ]


def with_token(base_url: str, token: str) -> Caller:
    return Caller(base_url, token)


def refusal(response: httpx.Response) -> tuple[int, Any, str | None]:
    return response.status_code, response.json(), response.headers.get("www-authenticate")


def expire(settings: Settings, link_id: str) -> None:
    """Move a link's expiry into the past, as time passing would (an engine of its own:
    the test is synchronous, its HTTP calls blocking)."""

    async def run() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(ReviewerLink)
                    .where(ReviewerLink.id == parse_global_id(link_id, "ReviewerLink")[1])
                    .values(
                        expires_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_reviewer_reads_downloads_and_opens_exactly_the_linked_session(
    server: GatewayServer, provider: OIDCProvider, settings: Settings, data_root: Path
) -> None:
    base = server.base_url
    staff = caller(base, provider, "staff1")
    pi1 = caller(base, provider, "pi1")
    anonymous = Caller(base, None)
    linked, other = embargoed_sessions(staff)[:2]
    made = pi1.data(CREATE, {"sessions": [linked["id"]], "note": "J. Synchrotron Rad."})
    link = made["createReviewerLink"]["link"]
    token = link["token"]
    assert link["url"] == f"{base}/doi/{linked['doi']}?reviewer={token}"
    reviewer = with_token(base, token)

    # The API: the linked session's data, and of the rest only what anonymous reads.
    read = reviewer.data(READ, {"id": linked["id"]})["investigation"]
    assert read["summary"] == linked["summary"]
    as_staff = staff.data(READ, {"id": linked["id"]})["investigation"]
    assert read["datasets"] == as_staff["datasets"] and read["datasets"]["nodes"]
    refused = reviewer.run(READ, {"id": other["id"]})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    mine = reviewer.data(LISTED)["investigations"]["nodes"]
    public = anonymous.data(LISTED)["investigations"]["nodes"]
    readable = {s["id"] for s in mine if s["canReadData"]}
    assert readable == {s["id"] for s in public if s["canReadData"]} | {linked["id"]}
    datasets = {d["id"] for d in reviewer.data(DATASETS)["datasets"]["nodes"]}
    public_datasets = {d["id"] for d in anonymous.data(DATASETS)["datasets"]["nodes"]}
    assert datasets == public_datasets | {d["id"] for d in as_staff["datasets"]["nodes"]}
    # Read-only: a mutation is refused as anonymous's.
    grant = reviewer.run(
        """mutation($id: ID!) { grantAccess(input: {investigationIds: [$id],
           grantee: {userName: "esrf/outsider1"}}) { grantee { name } } }""",
        {"id": linked["id"]},
    )
    assert [e["extensions"]["code"] for e in grant["errors"]] == ["UNAUTHENTICATED"]

    # The landing page the link opens shows the embargoed abstract; without it, not.
    page = httpx.get(link["url"], timeout=30)
    assert page.status_code == 200
    assert html.escape(linked["summary"]) in page.text
    plain = httpx.get(f"{base}/doi/{linked['doi']}", timeout=30)
    assert plain.status_code == 200 and html.escape(linked["summary"]) not in plain.text

    # A download of a linked dataset: prepared with the token, fetched by its link.
    dataset = next(d for d in read["datasets"]["nodes"] if d["datafiles"]["nodes"])
    for file in dataset["datafiles"]["nodes"]:
        path = data_root / file["location"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file["location"].encode() * 10)
    download = reviewer.data(PREPARE, {"d": [dataset["id"]]})["prepareDownload"]["download"]
    assert download["status"] == "READY"
    fetched = httpx.get(download["url"], timeout=30)
    assert fetched.status_code == 200
    with zipfile.ZipFile(io.BytesIO(fetched.content)) as unpacked:
        assert len(unpacked.namelist()) == len(dataset["datafiles"]["nodes"])
    # That download is the link's own: anonymous cannot follow it, the link can.
    assert reviewer.data(FOLLOW, {"id": download["id"]})["download"]["id"] == download["id"]
    followed = anonymous.run(FOLLOW, {"id": download["id"]})
    assert [e["extensions"]["code"] for e in followed["errors"]] == ["NOT_FOUND"]
    # A dataset outside the link is refused as its lookup is.
    hidden = staff.data(READ, {"id": other["id"]})["investigation"]["datasets"]["nodes"][0]
    outside = reviewer.run(PREPARE, {"d": [hidden["id"]]})
    assert [e["extensions"]["code"] for e in outside["errors"]] == ["NOT_FOUND"]

    # Use is counted (never who): visible to the main proposer.
    [listed] = pi1.data(LINKS, {"id": linked["id"]})["investigation"]["reviewerLinks"]["nodes"]
    # Nine requests carried the token: four reads, a refused mutation, the page, two
    # preparations and a follow.
    assert listed["id"] == link["id"] and listed["useCount"] == 9
    assert listed["lastUsedAt"] is not None

    # Expired, revoked, made up: one and the same refusal, on the API and the page.
    wrong = refusal(with_token(base, "rvw_" + "x" * 43).post(DATASETS))
    assert wrong[0] == 401 and wrong[1]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    garbage = refusal(with_token(base, "not-a-token-at-all").post(DATASETS))
    assert garbage == wrong
    expire(settings, link["id"])
    assert refusal(reviewer.post(DATASETS)) == wrong
    assert httpx.get(link["url"], timeout=30).status_code == 401
    fresh = pi1.data(CREATE, {"sessions": [linked["id"]]})["createReviewerLink"]["link"]
    again = with_token(base, fresh["token"])
    assert again.data(READ, {"id": linked["id"]})["investigation"]["summary"] == linked["summary"]
    assert pi1.data(REVOKE, {"id": fresh["id"]})["revokeReviewerLink"]["link"]["isActive"] is False
    assert refusal(again.post(DATASETS)) == wrong
    page = httpx.get(fresh["url"], timeout=30)
    assert page.status_code == 401 and html.escape(linked["summary"]) not in page.text
