"""Reviewer links in process on each database: who may make and revoke them, what each
refusal answers, and exactly what a link's holder reads (the linked data, nothing more),
until it is revoked or expires.

The holder is the policy's caller a valid token becomes (``Caller(reviewer_link=...)``);
the token itself, over HTTP, is tested end to end in ``tests/e2e/test_reviewer_links.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from gateway.auth.policy import Caller
from gateway.auth.reviewer_link import token_hash
from gateway.catalogue.gateway_tables import Event, ReviewerLink, ReviewerLinkItem
from gateway.catalogue.pagination import cursor_listing, encode_cursor
from gateway.schema.node import global_id, parse_global_id
from tests.conftest import STAFF, Client
from tests.integration.test_access import MEMBER, OUTSIDER, PI, codes, sessions_of_pi

CREATE = """mutation($sessions: [ID!]! = [], $datasets: [ID!]! = [], $until: DateTime,
  $note: String) {
  createReviewerLink(input: {investigationIds: $sessions, datasetIds: $datasets,
    expiresAt: $until, note: $note}) {
    link { id token url expiresAt link { id note useCount isActive createdBy } } } }"""

REVOKE = """mutation($id: ID!) { revokeReviewerLink(input: {id: $id}) {
  link { id isActive revokedAt } } }"""

LINKS = """query($id: ID) { investigation(id: $id) { reviewerLinks {
  nodes { id note useCount lastUsedAt isActive expiresAt } } } }"""

SESSIONS = "{ investigations(first: 1000) { nodes { id canReadData } } }"
DATASETS = "{ datasets(first: 1000) { nodes { id } } }"
SESSION_DATASETS = """query($id: ID) { investigation(id: $id) {
  datasets(first: 1000) { nodes { id } } } }"""
RESERVED = """{ dataPublications(first: 100) { nodes { isPublished
  datasets(first: 100) { nodes { id investigation { id isReleased } } } } } }"""


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


async def reserved_dataset(client: Client, avoid: str) -> dict[str, Any]:
    """A dataset of a reserved DOI (not of session ``avoid``), with its session."""
    publications = (await client.data(RESERVED, user=STAFF))["dataPublications"]["nodes"]
    return next(
        dataset
        for publication in publications
        if not publication["isPublished"]
        for dataset in publication["datasets"]["nodes"]
        if not dataset["investigation"]["isReleased"] and dataset["investigation"]["id"] != avoid
    )


async def manager_of(client: Client, session_id: str) -> str:
    """The main proposer of a session."""
    data = await client.data(
        """query($id: ID) { investigation(id: $id) {
             team { nodes { isMainProposer user { name } } } } }""",
        {"id": session_id},
        user=STAFF,
    )
    return str(
        next(
            m["user"]["name"] for m in data["investigation"]["team"]["nodes"] if m["isMainProposer"]
        )
    )


def ids_of(data: dict[str, Any], root: str, readable: bool = False) -> set[str]:
    nodes = data[root]["nodes"]
    return {node["id"] for node in nodes if not readable or node["canReadData"]}


@pytest.fixture
async def link(client: Client) -> AsyncIterator[dict[str, Any]]:
    """A link (by staff) to pi1's embargoed session and to a reserved DOI's dataset."""
    sessions = await sessions_of_pi(client)
    session = sessions["embargoed"]["id"]
    dataset = await reserved_dataset(client, session)
    async with client.engine.connect() as connection:
        events_before = (await connection.execute(select(func.max(Event.id)))).scalar()
    made = await client.data(
        CREATE,
        {"sessions": [session], "datasets": [dataset["id"]], "note": "Nature, MS-1234"},
        user=STAFF,
    )
    link = made["createReviewerLink"]["link"]
    link_id = parse_global_id(link["id"], "ReviewerLink")[1]
    yield {
        **link,
        "session": session,
        "dataset": dataset,
        "caller": Caller(reviewer_link=link_id),
        "link_id": link_id,
        "events_before": events_before or 0,
    }
    async with client.engine.begin() as connection:
        await connection.execute(
            delete(ReviewerLinkItem).where(ReviewerLinkItem.link_id == link_id)
        )
        await connection.execute(delete(ReviewerLink).where(ReviewerLink.id == link_id))


async def test_a_link_reads_exactly_the_linked_data_and_nothing_else(
    client: Client, link: dict[str, Any]
) -> None:
    reviewer = link["caller"]
    anonymous_sessions = ids_of(await client.data(SESSIONS), "investigations", readable=True)
    reviewer_sessions = ids_of(
        await client.data(SESSIONS, user=reviewer), "investigations", readable=True
    )
    assert link["session"] not in anonymous_sessions
    assert reviewer_sessions == anonymous_sessions | {link["session"]}

    anonymous_datasets = ids_of(await client.data(DATASETS), "datasets")
    reviewer_datasets = ids_of(await client.data(DATASETS, user=reviewer), "datasets")
    of_session = ids_of(
        (await client.data(SESSION_DATASETS, {"id": link["session"]}, user=STAFF))["investigation"],
        "datasets",
    )
    assert of_session and not of_session <= anonymous_datasets
    assert link["dataset"]["id"] not in anonymous_datasets
    assert reviewer_datasets == anonymous_datasets | of_session | {link["dataset"]["id"]}
    # The dataset's session is not opened by it: its DATA stay embargoed.
    other = link["dataset"]["investigation"]["id"]
    assert other not in reviewer_sessions
    refused = await client.execute(
        "query($id: ID) { investigation(id: $id) { summary } }", {"id": other}, user=reviewer
    )
    assert codes(refused) == ["FORBIDDEN"]
    # No personal data, no one's requests, no links, no audit trail.
    listed = await client.data(LINKS, {"id": link["session"]}, user=reviewer)
    assert listed["investigation"]["reviewerLinks"]["nodes"] == []
    me = await client.data("{ me { isAnonymous userName } }", user=reviewer)
    assert me["me"] == {"isAnonymous": True, "userName": None}
    events = await client.execute("{ accessEvents(first: 1) { totalCount } }", user=reviewer)
    assert codes(events) == ["UNAUTHENTICATED"]


FACETED = """query($filter: InvestigationFilter) {
  investigations(filter: $filter, first: 1000) {
    totalCount
    nodes { id datasets(first: 1000) { nodes { id techniques { name } } } }
    facets { technique { value count } }
  }
}"""


@pytest.mark.parametrize("searched", [None, "session", "dataset"])
async def test_a_links_technique_facet_counts_the_datasets_it_opens(
    client: Client, link: dict[str, Any], searched: str | None
) -> None:
    """The technique facet counts a session through the datasets the link's holder sees:
    every dataset of the linked session, and of the reserved dataset's embargoed session
    only that dataset (``facets._technique_facet``: walked from the opened datasets on
    PostgreSQL, tested per dataset of the matches on SQLite and MariaDB). Without a
    search the counts are a statement of their own; with one (the proposal of either
    session), the page's statement counts them, built for the request."""
    reviewer = link["caller"]
    other = link["dataset"]["investigation"]["id"]
    filter = None
    if searched is not None:
        session = link["session"] if searched == "session" else other
        named = await client.data(
            "query($id: ID) { investigation(id: $id) { proposal } }", {"id": session}, user=STAFF
        )
        filter = {"search": named["investigation"]["proposal"]}
    data = (await client.data(FACETED, {"filter": filter}, user=reviewer))["investigations"]
    nodes = data["nodes"]
    assert len(nodes) == data["totalCount"] > 0
    seen = {node["id"]: node["datasets"]["nodes"] for node in nodes}
    # The linked dataset is all its session shows the holder, and it is counted.
    if searched != "session":
        assert [d["id"] for d in seen[other]] == [link["dataset"]["id"]]
        assert seen[other][0]["techniques"]
    expected = Counter(
        name
        for datasets in seen.values()
        for name in {t["name"] for d in datasets for t in d["techniques"]}
    )
    counted = {c["value"]: c["count"] for c in data["facets"]["technique"]}
    assert counted == dict(expected) and counted


async def test_a_link_changes_nothing(client: Client, link: dict[str, Any]) -> None:
    reviewer = link["caller"]
    session = link["session"]
    for mutation, variables in [
        (
            """mutation($id: ID!) { grantAccess(input: {investigationIds: [$id],
               grantee: {userName: "esrf/outsider1"}}) { grantee { name } } }""",
            {"id": session},
        ),
        (
            """mutation($id: ID!) { requestAccess(input: {investigationId: $id}) {
               request { id } } }""",
            {"id": session},
        ),
        (CREATE, {"sessions": [session]}),
        (REVOKE, {"id": link["id"]}),
    ]:
        result = await client.execute(mutation, variables, user=reviewer)
        assert codes(result) == ["UNAUTHENTICATED"], mutation


async def test_a_revoked_or_expired_link_reads_nothing_more_than_anonymous(
    client: Client, link: dict[str, Any]
) -> None:
    reviewer = link["caller"]
    anonymous = (await client.data(SESSIONS), await client.data(DATASETS))
    assert (
        await client.data(SESSIONS, user=reviewer),
        await client.data(DATASETS, user=reviewer),
    ) != (anonymous)
    # Expired: the same caller (a token accepted a moment ago) reads as anonymous.
    async with client.engine.begin() as connection:
        await connection.execute(
            update(ReviewerLink)
            .where(ReviewerLink.id == link["link_id"])
            .values(expires_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1))
        )
    expired = (
        await client.data(SESSIONS, user=reviewer),
        await client.data(DATASETS, user=reviewer),
    )
    assert expired == anonymous
    listed = await client.data(LINKS, {"id": link["session"]}, user=PI)
    assert [entry["isActive"] for entry in listed["investigation"]["reviewerLinks"]["nodes"]] == [
        False
    ]
    async with client.engine.begin() as connection:
        await connection.execute(
            update(ReviewerLink)
            .where(ReviewerLink.id == link["link_id"])
            .values(expires_at=datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1))
        )
    # Revoked: only those who manage every session it touches may; to others it is unknown.
    dataset_manager = await manager_of(client, link["dataset"]["investigation"]["id"])
    if dataset_manager != PI:
        assert codes(await client.execute(REVOKE, {"id": link["id"]}, user=PI)) == ["NOT_FOUND"]
    assert codes(await client.execute(REVOKE, {"id": link["id"]}, user=OUTSIDER)) == ["NOT_FOUND"]
    unknown = global_id("ReviewerLink", 987654321)
    assert codes(await client.execute(REVOKE, {"id": unknown}, user=STAFF)) == ["NOT_FOUND"]
    revoked = await client.data(REVOKE, {"id": link["id"]}, user=STAFF)
    assert revoked["revokeReviewerLink"]["link"]["isActive"] is False
    assert revoked["revokeReviewerLink"]["link"]["revokedAt"] is not None
    after = (await client.data(SESSIONS, user=reviewer), await client.data(DATASETS, user=reviewer))
    assert after == anonymous


async def test_links_are_listed_to_those_who_manage_the_session_and_recorded(
    client: Client, link: dict[str, Any]
) -> None:
    assert link["token"].startswith("rvw_") and len(link["token"]) > 40
    assert link["link"]["note"] == "Nature, MS-1234" and link["link"]["isActive"] is True
    assert link["link"]["createdBy"] == STAFF and link["link"]["useCount"] == 0
    async with client.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(ReviewerLink.token_hash).where(ReviewerLink.id == link["link_id"])
            )
        ).scalar_one()
        assert stored == token_hash(link["token"]) != link["token"], "only a hash is kept"
        actions = (
            await connection.execute(
                select(Event.type, Event.investigation_id).where(
                    Event.person == f"reviewer link {link['link_id']}",
                    Event.id > link["events_before"],
                )
            )
        ).all()
    sessions = {link["session"], link["dataset"]["investigation"]["id"]}
    assert sorted(actions) == sorted(
        ("access.link-create", parse_global_id(s)[1]) for s in sessions
    )
    for user, expected in [(PI, [link["id"]]), (STAFF, [link["id"]]), (MEMBER, []), (None, [])]:
        listed = await client.data(LINKS, {"id": link["session"]}, user=user)
        assert [e["id"] for e in listed["investigation"]["reviewerLinks"]["nodes"]] == expected, (
            user
        )


PAGED_LINKS = """query($id: ID, $after: String) { investigation(id: $id) {
  reviewerLinks(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id } } } } }"""


async def test_links_are_paged_newest_first_to_those_who_manage_the_session(
    client: Client, link: dict[str, Any]
) -> None:
    session = link["session"]
    made = [link["link_id"]]
    for note in ("second", "third"):
        created = await client.data(CREATE, {"sessions": [session], "note": note}, user=STAFF)
        made.append(parse_global_id(created["createReviewerLink"]["link"]["id"])[1])
    try:
        everyone = await client.data(LINKS, {"id": session}, user=STAFF)
        listed = [e["id"] for e in everyone["investigation"]["reviewerLinks"]["nodes"]]
        # Newest first: the two made last, then the fixture's (others' tests may add more).
        assert listed[:3] == [global_id("ReviewerLink", i) for i in reversed(made)]
        for user in (PI, STAFF):
            paged: list[str] = []
            after: str | None = None
            while True:
                data = await client.data(PAGED_LINKS, {"id": session, "after": after}, user=user)
                page = data["investigation"]["reviewerLinks"]
                assert page["totalCount"] == len(listed) and len(page["edges"]) == 1
                paged += [edge["node"]["id"] for edge in page["edges"]]
                after = page["pageInfo"]["endCursor"]
                if not page["pageInfo"]["hasNextPage"]:
                    break
            assert paged == listed, user
        for other in (MEMBER, OUTSIDER, None):
            data = await client.data(PAGED_LINKS, {"id": session, "after": None}, user=other)
            assert data["investigation"]["reviewerLinks"] == {
                "totalCount": 0,
                "pageInfo": {"hasNextPage": False, "endCursor": None},
                "edges": [],
            }
        for cursor in ("not a cursor", encode_cursor(cursor_listing("datasets"), [1])):
            result = await client.execute(PAGED_LINKS, {"id": session, "after": cursor}, user=PI)
            assert codes(result) == ["BAD_USER_INPUT"], result.errors
    finally:
        async with client.engine.begin() as connection:
            extra = made[1:]
            await connection.execute(
                delete(ReviewerLinkItem).where(ReviewerLinkItem.link_id.in_(extra))
            )
            await connection.execute(delete(ReviewerLink).where(ReviewerLink.id.in_(extra)))


async def test_each_refusal_of_a_link_has_its_code(client: Client) -> None:
    sessions = await sessions_of_pi(client)
    embargoed = sessions["embargoed"]["id"]
    released = (
        await client.data("{ investigations(first: 1, filter: {released: true}) { nodes { id } } }")
    )["investigations"]["nodes"][0]["id"]
    now = datetime.now(UTC)
    any_dataset = (await client.data(DATASETS))["datasets"]["nodes"][0]["id"]
    cases: list[tuple[str | None, dict[str, Any], str, str | None]] = [
        (None, {"sessions": [embargoed]}, "UNAUTHENTICATED", None),
        (MEMBER, {"sessions": [embargoed]}, "FORBIDDEN", None),
        (OUTSIDER, {"sessions": [embargoed]}, "FORBIDDEN", None),
        (PI, {"sessions": [sessions["stranger"]["id"]]}, "FORBIDDEN", None),
        (PI, {}, "BAD_USER_INPUT", "investigationIds"),
        (PI, {"sessions": [global_id("Investigation", 987654321)]}, "NOT_FOUND", None),
        (PI, {"datasets": [global_id("Dataset", 987654321)]}, "NOT_FOUND", "datasetIds"),
        (STAFF, {"sessions": [released]}, "BAD_USER_INPUT", "investigationIds"),
        (STAFF, {"datasets": [any_dataset]}, "BAD_USER_INPUT", "datasetIds"),
        (PI, {"sessions": [embargoed], "until": iso(now - timedelta(minutes=1))},
         "BAD_USER_INPUT", "expiresAt"),
        (PI, {"sessions": [embargoed], "until": iso(now + timedelta(days=366))},
         "BAD_USER_INPUT", "expiresAt"),
        (PI, {"sessions": [embargoed], "note": "x" * 2001}, "BAD_USER_INPUT", "reason"),
        (PI, {"sessions": ["not an id"]}, "BAD_USER_INPUT", None),
    ]  # fmt: skip
    async with client.engine.connect() as connection:
        before = (await connection.execute(select(ReviewerLink.id))).all()
    for user, variables, code, argument in cases:
        result = await client.execute(CREATE, variables, user=user)
        assert codes(result) == [code], (user, variables)
        if argument is not None:
            assert result.errors[0].extensions.get("argument") == argument, (user, variables)
    async with client.engine.connect() as connection:
        assert (await connection.execute(select(ReviewerLink.id))).all() == before


async def test_the_expiry_defaults_and_is_capped_by_the_facility(client: Client) -> None:
    sessions = await sessions_of_pi(client)
    embargoed = sessions["embargoed"]["id"]
    short = client.using(reviewer_link_default_days=2, reviewer_link_max_days=7)
    made = (await short.data(CREATE, {"sessions": [embargoed]}, user=PI))["createReviewerLink"]
    link_id = parse_global_id(made["link"]["id"], "ReviewerLink")[1]
    try:
        expires = datetime.fromisoformat(made["link"]["expiresAt"]).replace(tzinfo=None)
        expected = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=2)
        assert abs((expires - expected).total_seconds()) < 120
        too_long = {"sessions": [embargoed], "until": iso(datetime.now(UTC) + timedelta(days=8))}
        result = await short.execute(CREATE, too_long, user=PI)
        assert codes(result) == ["BAD_USER_INPUT"] and result.errors[0].extensions["maxDays"] == 7
    finally:
        await client.data(REVOKE, {"id": made["link"]["id"]}, user=PI)
        async with client.engine.begin() as connection:
            await connection.execute(
                delete(ReviewerLinkItem).where(ReviewerLinkItem.link_id == link_id)
            )
            await connection.execute(delete(ReviewerLink).where(ReviewerLink.id == link_id))


async def test_no_link_is_made_under_icat_rules(client: Client) -> None:
    """Under ``icat-rules`` the facility's rules decide every read: a link would widen
    them, so none is made, with a code of its own (and none is recorded)."""
    embargoed = (await sessions_of_pi(client))["embargoed"]["id"]
    ruled = client.using(authorization="icat-rules")
    async with client.engine.connect() as connection:
        before = (await connection.execute(select(ReviewerLink.id))).all()
    for user in (PI, STAFF):
        result = await ruled.execute(CREATE, {"sessions": [embargoed]}, user=user)
        assert codes(result) == ["REVIEWER_LINKS_UNAVAILABLE"], user
    async with client.engine.connect() as connection:
        assert (await connection.execute(select(ReviewerLink.id))).all() == before
