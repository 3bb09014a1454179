"""Access to sessions, in process on each database: grants, revocations, access requests,
the audit trail, and what each refusal answers.

Every test puts the demo catalogue back as it found it (grants revoked, requests closed):
the other tests rely on who is on which team.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.catalogue.access_log import EventFilter, events
from gateway.catalogue.gateway_tables import AccessRequest
from gateway.catalogue.models import InvestigationUser, User
from gateway.catalogue.sequence import allocate_ids
from gateway.schema.node import global_id, parse_global_id
from tests.conftest import STAFF, Client, StatementCounter

PI = "esrf/pi1"
MEMBER = "esrf/member1"
OUTSIDER = "esrf/outsider1"

GRANT = """mutation($ids: [ID!]!, $grantee: PersonInput!, $reason: String) {
  grantAccess(input: {investigationIds: $ids, grantee: $grantee, reason: $reason}) {
    grantee { name } grants { investigation { id canReadData } members { role } } } }"""

REVOKE = """mutation($id: ID!, $grantee: PersonInput!) {
  revokeAccess(input: {investigationId: $id, grantee: $grantee}) {
    user { name } revoked investigation { id } } }"""

REQUEST = """mutation($id: ID!, $message: String) {
  requestAccess(input: {investigationId: $id, message: $message}) {
    request { id state message requester { name } investigation { id } } } }"""

DECIDE = """mutation($id: ID!, $reply: String) {
  %s(input: {requestId: $id, reply: $reply}) {
    request { id state reply decidedBy decidedAt } } }"""
APPROVE = DECIDE % "approveAccessRequest"
DECLINE = DECIDE % "declineAccessRequest"

CANCEL = """mutation($id: ID!) { cancelAccessRequest(input: {requestId: $id}) {
  request { id state decidedBy } } }"""

READS = "query($id: ID) { investigation(id: $id) { canReadData summary } }"

EVENTS = """query($filter: AccessEventFilter, $first: Int, $after: String) {
  accessEvents(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { action actor subject role reason requestId at investigation { id } } } }"""


def codes(result: Any) -> list[str]:
    assert result.errors, "expected errors"
    return [error.extensions["code"] for error in result.errors]


async def sessions_of_pi(client: Client) -> dict[str, dict[str, Any]]:
    """pi1's embargoed and proprietary sessions (started), and a stranger's session."""
    data = await client.data(
        """{ investigations(first: 1000) { nodes { id isReleased releaseDate startDate
             team { nodes { role user { name } } } } } }""",
        user=STAFF,
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def team(session: dict[str, Any]) -> set[str]:
        return {member["user"]["name"] for member in session["team"]["nodes"]}

    started = [s for s in data["investigations"]["nodes"] if s["startDate"] < now]
    mine = [s for s in started if PI in team(s) and not s["isReleased"]]
    return {
        "embargoed": next(s for s in mine if s["releaseDate"] is not None),
        "proprietary": next(s for s in mine if s["releaseDate"] is None),
        "stranger": next(
            s
            for s in started
            if not s["isReleased"] and not team(s) & {PI, MEMBER, OUTSIDER, STAFF}
        ),
    }


@pytest.fixture
async def sessions(client: Client) -> dict[str, dict[str, Any]]:
    return await sessions_of_pi(client)


async def a_visitor(client: Client, session_ids: list[str]) -> dict[str, Any]:
    """A catalogue user with an ORCID iD and an e-mail address no one else has, on none of
    these sessions' teams."""
    icat_ids = [parse_global_id(value)[1] for value in session_ids]
    async with client.engine.connect() as connection:
        shared_orcid = (
            select(User.orcid_id)
            .where(User.orcid_id.is_not(None))
            .group_by(User.orcid_id)
            .having(func.count() > 1)
        )
        shared_email = (
            select(func.lower(User.email))
            .where(User.email.is_not(None))
            .group_by(func.lower(User.email))
            .having(func.count() > 1)
        )
        on_teams = select(InvestigationUser.user_id).where(
            InvestigationUser.investigation_id.in_(icat_ids)
        )
        row = (
            await connection.execute(
                select(
                    User.name.label("name"),
                    User.orcid_id.label("orcid_id"),
                    User.email.label("email"),
                )
                .where(
                    User.orcid_id.is_not(None),
                    User.email.is_not(None),
                    User.orcid_id.not_in(shared_orcid),
                    func.lower(User.email).not_in(shared_email),
                    User.id.not_in(on_teams),
                    User.name.not_in([PI, MEMBER, OUTSIDER, STAFF]),
                )
                .order_by(User.id)
                .limit(1)
            )
        ).one()
    return dict(row._mapping)


async def team_rows(client: Client, session_id: str, user_name: str) -> list[Any]:
    async with client.engine.connect() as connection:
        result = await connection.execute(
            select(InvestigationUser.__table__)
            .join(User, User.id == InvestigationUser.user_id)
            .where(
                InvestigationUser.investigation_id == parse_global_id(session_id)[1],
                User.name == user_name,
            )
        )
        return list(result)


# The audit trail as the access log reads it from the event log.
AccessEvent = events(EventFilter()).subquery().c


async def last_event_id(client: Client) -> int:
    async with client.engine.connect() as connection:
        return int((await connection.execute(select(func.max(AccessEvent.id)))).scalar() or 0)


async def actions_since(client: Client, last: int) -> list[str]:
    """The actions recorded after the entry ``last`` (ids, not times: MariaDB keeps whole
    seconds, and other tests of the same second would count)."""
    async with client.engine.connect() as connection:
        result = await connection.execute(
            select(AccessEvent.action.label("action"))
            .where(AccessEvent.id > last)
            .order_by(AccessEvent.id)
        )
        return [str(action) for (action,) in result]


async def events_about(
    client: Client, subject: str, session_id: str, earlier: int = 0
) -> list[dict[str, Any]]:
    """The audit entries about the person and session, newest first, without the
    ``earlier`` oldest ones (those other tests of the session's catalogue made before)."""
    selected: dict[str, Any] = {"subject": subject, "investigationId": session_id}
    data = await client.data(EVENTS, {"filter": selected, "first": 100}, user=STAFF)
    nodes: list[dict[str, Any]] = data["accessEvents"]["nodes"]
    return nodes[: len(nodes) - earlier]


async def test_a_grant_by_orcid_over_two_sessions_is_idempotent_and_writes_icat_rows(
    client: Client, sessions: dict[str, dict[str, Any]]
) -> None:
    ids = [sessions["embargoed"]["id"], sessions["proprietary"]["id"]]
    visitor = await a_visitor(client, ids)
    earlier = {sid: len(await events_about(client, visitor["name"], sid)) for sid in ids}
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    by_orcid = {"ids": ids, "grantee": {"orcid": f"https://orcid.org/{visitor['orcid_id']}"}}
    granted = await client.data(GRANT, {**by_orcid, "reason": "beamtime follow-up"}, user=PI)
    grants = granted["grantAccess"]["grants"]
    assert granted["grantAccess"]["grantee"] == {"name": visitor["name"]}
    assert [g["investigation"]["id"] for g in grants] == sorted(
        ids, key=lambda value: parse_global_id(value)[1]
    )
    assert all(g["members"] == [{"role": "Collaborator"}] for g in grants)
    try:
        for session_id in ids:
            (row,) = await team_rows(client, session_id, visitor["name"])
            # What icat.server itself would have written: audit columns, one row per role.
            assert row.ROLE == "Collaborator"
            assert row.CREATE_ID == row.MOD_ID == PI
            assert before <= row.CREATE_TIME == row.MOD_TIME <= before + timedelta(minutes=1)
            assert (await client.data(READS, {"id": session_id}, user=visitor["name"]))[
                "investigation"
            ]["canReadData"]
        # Twice, and by e-mail: one row, the same answer.
        by_email = {"ids": ids, "grantee": {"email": visitor["email"].upper()}}
        assert await client.data(GRANT, {**by_email, "reason": "beamtime follow-up"}, user=PI) == (
            granted
        )
        for session_id in ids:
            assert len(await team_rows(client, session_id, visitor["name"])) == 1
            events = await events_about(client, visitor["name"], session_id, earlier[session_id])
            assert [(e["action"], e["actor"], e["role"], e["reason"]) for e in events] == [
                ("GRANT", PI, "Collaborator", "beamtime follow-up")
            ]
    finally:
        for session_id in ids:
            revoked = await client.data(
                REVOKE, {"id": session_id, "grantee": {"userName": visitor["name"]}}, user=PI
            )
            assert revoked["revokeAccess"]["revoked"] is True
    for session_id in ids:
        assert await team_rows(client, session_id, visitor["name"]) == []
        result = await client.execute(READS, {"id": session_id}, user=visitor["name"])
        assert codes(result) == ["FORBIDDEN"]
        made = await events_about(client, visitor["name"], session_id, earlier[session_id])
        assert [e["action"] for e in made] == ["REVOKE", "GRANT"]
    # Revoking again: nothing to remove, no error.
    again = await client.data(
        REVOKE, {"id": ids[0], "grantee": {"userName": visitor["name"]}}, user=PI
    )
    assert again["revokeAccess"]["revoked"] is False


async def test_a_grant_is_all_or_nothing(
    client: Client, sessions: dict[str, dict[str, Any]]
) -> None:
    ids = [sessions["embargoed"]["id"], sessions["stranger"]["id"]]
    last = await last_event_id(client)
    result = await client.execute(GRANT, {"ids": ids, "grantee": {"userName": OUTSIDER}}, user=PI)
    assert codes(result) == ["FORBIDDEN"]
    assert await team_rows(client, ids[0], OUTSIDER) == []
    assert await actions_since(client, last) == []


@pytest.fixture
async def twins(client: Client) -> AsyncIterator[str]:
    """outsider1's e-mail address, which a second user now has too (removed after)."""
    async with client.engine.begin() as connection:
        email = (
            await connection.execute(select(User.email).where(User.name == OUTSIDER))
        ).scalar_one()
        (user_id,) = await allocate_ids(connection, 1)
        now = datetime.now(UTC).replace(tzinfo=None)
        await connection.execute(
            insert(User).values(
                id=user_id,
                name="esrf/outsider1-twin",
                email=email,
                create_id="test",
                create_time=now,
                mod_id="test",
                mod_time=now,
            )
        )
    assert email is not None
    try:
        yield email
    finally:
        async with client.engine.begin() as connection:
            await connection.execute(delete(User).where(User.id == user_id))


async def test_each_refusal_of_a_grant_has_its_code(
    client: Client, sessions: dict[str, dict[str, Any]], twins: str
) -> None:
    session = sessions["embargoed"]["id"]
    outsider = {"ids": [session], "grantee": {"userName": OUTSIDER}}
    cases = [
        (None, outsider, "UNAUTHENTICATED"),
        (MEMBER, outsider, "FORBIDDEN"),
        (OUTSIDER, outsider, "FORBIDDEN"),
        (PI, {**outsider, "grantee": {"userName": "esrf/nobody-here"}}, "UNKNOWN_USER"),
        (PI, {**outsider, "grantee": {"email": "nobody@example.org"}}, "UNKNOWN_USER"),
        (PI, {**outsider, "grantee": {"orcid": "0000-0000-0000-000X"}}, "UNKNOWN_USER"),
        (PI, {**outsider, "grantee": {"email": twins}}, "AMBIGUOUS_USER"),
        (PI, {**outsider, "grantee": {"orcid": "not an orcid"}}, "BAD_USER_INPUT"),
        (PI, {**outsider, "ids": [global_id("Investigation", 987654321)]}, "NOT_FOUND"),
        (PI, {**outsider, "ids": []}, "BAD_USER_INPUT"),
        (STAFF, {**outsider, "grantee": {"email": twins}}, "AMBIGUOUS_USER"),
    ]
    for user, variables, code in cases:
        result = await client.execute(GRANT, variables, user=user)
        assert codes(result) == [code], (user, variables)
    # Two ways of naming one person at once.
    both = {**outsider, "grantee": {"userName": OUTSIDER, "email": twins}}
    assert codes(await client.execute(GRANT, both, user=PI)) == ["BAD_USER_INPUT"]
    # A team member from the proposal is not removable by a revocation.
    member = {"id": session, "grantee": {"userName": MEMBER}}
    assert codes(await client.execute(REVOKE, member, user=PI)) == ["PROPOSAL_MEMBER"]
    assert codes(await client.execute(REVOKE, member, user=MEMBER)) == ["FORBIDDEN"]
    assert codes(await client.execute(REVOKE, member, user=None)) == ["UNAUTHENTICATED"]
    assert [row.ROLE for row in await team_rows(client, session, MEMBER)]
    assert await team_rows(client, session, OUTSIDER) == []


async def test_local_contacts_grant_where_the_facility_allows_it(
    client: Client, sessions: dict[str, dict[str, Any]]
) -> None:
    session = sessions["embargoed"]
    contact = next(
        m["user"]["name"] for m in session["team"]["nodes"] if m["role"] == "Local contact"
    )
    variables = {"ids": [session["id"]], "grantee": {"userName": OUTSIDER}}
    assert codes(await client.execute(GRANT, variables, user=contact)) == ["FORBIDDEN"]
    allowing = client.using(local_contacts_grant=True)
    await allowing.data(GRANT, variables, user=contact)
    revoke = {"id": session["id"], "grantee": {"userName": OUTSIDER}}
    assert codes(await client.execute(REVOKE, revoke, user=contact)) == ["FORBIDDEN"]
    revoked = await allowing.data(REVOKE, revoke, user=contact)
    assert revoked["revokeAccess"]["revoked"] is True


async def test_the_request_workflow(client: Client, sessions: dict[str, dict[str, Any]]) -> None:
    session = sessions["proprietary"]["id"]
    earlier = len(await events_about(client, OUTSIDER, session))
    asked = await client.data(
        REQUEST, {"id": session, "message": "I ran the follow-up"}, user=OUTSIDER
    )
    request = asked["requestAccess"]["request"]
    assert request["state"] == "PENDING" and request["requester"] == {"name": OUTSIDER}
    assert request["message"] == "I ran the follow-up"
    # One pending request per person and session.
    again = await client.execute(REQUEST, {"id": session}, user=OUTSIDER)
    assert codes(again) == ["REQUEST_PENDING"]
    # The main proposer sees it on the session and in `me`; a mere team member does not.
    to_decide = await client.data(
        "{ me { accessRequestsToDecide(first: 100) { nodes { id state } } } }", user=PI
    )
    assert {"id": request["id"], "state": "PENDING"} in to_decide["me"]["accessRequestsToDecide"][
        "nodes"
    ]
    on_session = """query($id: ID) { investigation(id: $id) {
      accessRequests(state: PENDING) { totalCount nodes { id } } } }"""
    seen = await client.data(on_session, {"id": session}, user=PI)
    assert {"id": request["id"]} in seen["investigation"]["accessRequests"]["nodes"]
    assert (await client.data(on_session, {"id": session}, user=MEMBER))["investigation"][
        "accessRequests"
    ] == {"totalCount": 0, "nodes": []}
    own = await client.data(on_session, {"id": session}, user=OUTSIDER)
    assert own["investigation"]["accessRequests"] == {
        "totalCount": 1,
        "nodes": [{"id": request["id"]}],
    }
    # Only those who manage the session's access decide; only the requester cancels.
    for user in (MEMBER, OUTSIDER):
        assert codes(await client.execute(APPROVE, {"id": request["id"]}, user=user)) == [
            "NOT_DECIDER"
        ]
    assert codes(await client.execute(CANCEL, {"id": request["id"]}, user=PI)) == ["NOT_REQUESTER"]
    assert codes(await client.execute(APPROVE, {"id": request["id"]}, user=None)) == [
        "UNAUTHENTICATED"
    ]
    unknown = global_id("AccessRequest", 987654321)
    assert codes(await client.execute(APPROVE, {"id": unknown}, user=PI)) == ["NOT_FOUND"]
    # Declined, with a reply the requester reads.
    declined = await client.data(DECLINE, {"id": request["id"], "reply": "Not yet"}, user=PI)
    assert declined["declineAccessRequest"]["request"]["state"] == "DECLINED"
    assert declined["declineAccessRequest"]["request"]["decidedBy"] == PI
    mine = await client.data(
        "{ me { accessRequests(first: 100) { nodes { id state reply } } } }", user=OUTSIDER
    )
    assert {"id": request["id"], "state": "DECLINED", "reply": "Not yet"} in mine["me"][
        "accessRequests"
    ]["nodes"]
    assert codes(await client.execute(APPROVE, {"id": request["id"]}, user=PI)) == [
        "REQUEST_CLOSED"
    ]
    # Asked again and approved: the grant is part of the approval.
    second = (await client.data(REQUEST, {"id": session}, user=OUTSIDER))["requestAccess"][
        "request"
    ]
    approved = await client.data(APPROVE, {"id": second["id"], "reply": "Welcome"}, user=STAFF)
    assert approved["approveAccessRequest"]["request"]["state"] == "APPROVED"
    assert (await client.data(READS, {"id": session}, user=OUTSIDER))["investigation"]["summary"]
    assert codes(await client.execute(REQUEST, {"id": session}, user=OUTSIDER)) == [
        "ALREADY_HAS_ACCESS"
    ]
    await client.data(REVOKE, {"id": session, "grantee": {"userName": OUTSIDER}}, user=PI)
    # Asked a third time, and withdrawn.
    third = (await client.data(REQUEST, {"id": session}, user=OUTSIDER))["requestAccess"]["request"]
    cancelled = await client.data(CANCEL, {"id": third["id"]}, user=OUTSIDER)
    assert cancelled["cancelAccessRequest"]["request"] == {
        "id": third["id"],
        "state": "CANCELLED",
        "decidedBy": OUTSIDER,
    }
    assert codes(await client.execute(CANCEL, {"id": third["id"]}, user=OUTSIDER)) == [
        "REQUEST_CLOSED"
    ]
    assert await team_rows(client, session, OUTSIDER) == []
    # The audit trail has every step, newest first, with who and why.
    trail = [
        (e["action"], e["actor"], e["reason"])
        for e in await events_about(client, OUTSIDER, session, earlier)
    ]
    assert trail == [
        ("CANCEL", OUTSIDER, None),
        ("REQUEST", OUTSIDER, None),
        ("REVOKE", PI, None),
        ("GRANT", STAFF, "Welcome"),
        ("APPROVE", STAFF, "Welcome"),
        ("REQUEST", OUTSIDER, None),
        ("DECLINE", PI, "Not yet"),
        ("REQUEST", OUTSIDER, "I ran the follow-up"),
    ]
    # The session's requests page by page, newest first, as a connection.
    paged = """query($id: ID, $after: String) { investigation(id: $id) {
      accessRequests(first: 2, after: $after) { totalCount
        pageInfo { hasNextPage endCursor } nodes { id state } } } }"""
    pages, after = [], None
    while True:
        page = (await client.data(paged, {"id": session, "after": after}, user=STAFF))[
            "investigation"
        ]["accessRequests"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    listed = [node for page in pages for node in page["nodes"]]
    assert len(listed) == pages[0]["totalCount"] >= 3 and len(pages) >= 2
    assert listed[:3] == [
        {"id": third["id"], "state": "CANCELLED"},
        {"id": second["id"], "state": "APPROVED"},
        {"id": request["id"], "state": "DECLINED"},
    ]


async def test_the_requests_of_many_sessions_are_two_statements(
    client: Client, statement_counter: StatementCounter
) -> None:
    """A page and a total of each listed session's requests: one statement for the pages
    of all of them, one for the totals, however many sessions are listed."""
    query = """query($n: Int) { investigations(first: $n) { nodes {
      accessRequests(first: 2) { totalCount nodes { id state } } } } }"""
    counts = []
    for sessions in (2, 20):
        statement_counter.reset()
        found = await client.data(query, {"n": sessions}, user=STAFF)
        assert len(found["investigations"]["nodes"]) == sessions
        counts.append(statement_counter.count)
    assert counts[0] == counts[1]


async def test_requests_are_for_those_who_cannot_read_the_data(
    client: Client, sessions: dict[str, dict[str, Any]]
) -> None:
    session = sessions["embargoed"]["id"]
    assert codes(await client.execute(REQUEST, {"id": session}, user=None)) == ["UNAUTHENTICATED"]
    for user in (PI, MEMBER, STAFF):
        assert codes(await client.execute(REQUEST, {"id": session}, user=user)) == [
            "ALREADY_HAS_ACCESS"
        ]
    unknown = {"id": global_id("Investigation", 987654321)}
    assert codes(await client.execute(REQUEST, unknown, user=OUTSIDER)) == ["NOT_FOUND"]
    stranger = await client.execute(REQUEST, {"id": session}, user="esrf/not-in-icat")
    assert codes(stranger) == ["UNKNOWN_USER"]
    long = await client.execute(REQUEST, {"id": session, "message": "x" * 2001}, user=OUTSIDER)
    assert codes(long) == ["BAD_USER_INPUT"]


async def test_one_pending_request_per_person_and_session_is_the_databases_rule(
    client: Client, sessions: dict[str, dict[str, Any]]
) -> None:
    """Not only a check in the use case: the unique key refuses a second pending row
    (however it is written), and lets any number of closed ones be."""
    investigation_id = parse_global_id(sessions["stranger"]["id"])[1]
    now = datetime.now(UTC).replace(tzinfo=None)
    row = {
        "investigation_id": investigation_id,
        "requester": "esrf/racer",
        "requester_id": 987654321,
        "state": "pending",
        "pending": 1,
        "created_at": now,
    }
    try:
        async with client.engine.begin() as connection:
            await connection.execute(insert(AccessRequest).values(row))
        with pytest.raises(IntegrityError):
            async with client.engine.begin() as connection:
                await connection.execute(insert(AccessRequest).values(row))
        async with client.engine.begin() as connection:
            closed = {**row, "state": "declined", "pending": None}
            await connection.execute(insert(AccessRequest).values([closed, closed]))
    finally:
        async with client.engine.begin() as connection:
            await connection.execute(
                delete(AccessRequest).where(AccessRequest.requester == "esrf/racer")
            )


async def test_the_audit_trail_is_for_staff_paged_and_filtered(
    client: Client, sessions: dict[str, dict[str, Any]]
) -> None:
    session = sessions["embargoed"]["id"]
    grant = {"ids": [session], "grantee": {"userName": OUTSIDER}, "reason": "audit test"}
    await client.data(GRANT, grant, user=PI)
    await client.data(REVOKE, {"id": session, "grantee": {"userName": OUTSIDER}}, user=PI)
    assert codes(await client.execute(EVENTS, {}, user=None)) == ["UNAUTHENTICATED"]
    assert codes(await client.execute(EVENTS, {}, user=PI)) == ["FORBIDDEN"]
    selected = {"subject": OUTSIDER, "investigationId": session, "actor": PI}
    first = await client.data(EVENTS, {"filter": selected, "first": 1}, user=STAFF)
    page = first["accessEvents"]
    assert page["totalCount"] >= 2 and page["pageInfo"]["hasNextPage"] is True
    assert [n["action"] for n in page["nodes"]] == ["REVOKE"]
    after = {"filter": selected, "first": 1, "after": page["pageInfo"]["endCursor"]}
    second = await client.data(EVENTS, after, user=STAFF)
    assert [(n["action"], n["reason"]) for n in second["accessEvents"]["nodes"]] == [
        ("GRANT", "audit test")
    ]
    only_grants = await client.data(
        EVENTS, {"filter": {**selected, "actions": ["GRANT"]}, "first": 100}, user=STAFF
    )
    assert {n["action"] for n in only_grants["accessEvents"]["nodes"]} == {"GRANT"}
    future = {**selected, "since": "2999-01-01T00:00:00Z"}
    assert (await client.data(EVENTS, {"filter": future}, user=STAFF))["accessEvents"][
        "nodes"
    ] == []
    async with client.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(func.count()).where(
                    AccessEvent.subject == OUTSIDER,
                    AccessEvent.actor == PI,
                    AccessEvent.investigation_id == parse_global_id(session)[1],
                )
            )
        ).scalar_one()
    assert stored == page["totalCount"]


async def test_fifty_parallel_grants_leave_one_row_and_no_error(
    client: Client, sessions: dict[str, dict[str, Any]], database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the race is between row locks: PostgreSQL and MariaDB")
    session = sessions["embargoed"]["id"]
    variables = {"ids": [session], "grantee": {"userName": OUTSIDER}}
    last = await last_event_id(client)
    results = await asyncio.gather(*(client.execute(GRANT, variables, user=PI) for _ in range(50)))
    try:
        assert [result.errors for result in results] == [None] * 50
        assert len({repr(result.data) for result in results}) == 1  # all answer the same
        assert len(await team_rows(client, session, OUTSIDER)) == 1
        assert await actions_since(client, last) == ["grant"]
    finally:
        await client.data(REVOKE, {"id": session, "grantee": {"userName": OUTSIDER}}, user=PI)


async def test_parallel_decisions_on_one_request_have_one_winner(
    client: Client, sessions: dict[str, dict[str, Any]]
) -> None:
    """20 parallel approve, decline and cancel calls on one request, a few rounds: the
    probe saw an approval and a decline both confirmed on SQLite, both in the audit
    trail. A decision is a compare-and-set (``WHERE state = 'pending'``): exactly one
    caller wins, the others are told REQUEST_CLOSED, the trail holds the winner's entry
    only and the request's final state is the winner's, on every database."""
    session = sessions["embargoed"]["id"]
    calls = [(APPROVE, PI), (DECLINE, PI), (CANCEL, OUTSIDER), (APPROVE, STAFF), (DECLINE, STAFF)]
    outcome = {APPROVE: "APPROVED", DECLINE: "DECLINED", CANCEL: "CANCELLED"}
    action = {APPROVE: "approve", DECLINE: "decline", CANCEL: "cancel"}
    try:
        for _ in range(3):
            request = (await client.data(REQUEST, {"id": session}, user=OUTSIDER))["requestAccess"][
                "request"
            ]
            last = await last_event_id(client)
            racing = [calls[n % len(calls)] for n in range(20)]
            results = await asyncio.gather(
                *(client.execute(query, {"id": request["id"]}, user=user) for query, user in racing)
            )
            winners = [
                (query, r) for (query, _), r in zip(racing, results, strict=True) if not r.errors
            ]
            assert len(winners) == 1, [r.errors for r in results]
            losers = [codes(r) for r in results if r.errors]
            assert losers == [["REQUEST_CLOSED"]] * 19
            query, won = winners[0]
            (answer,) = won.data.values()
            assert answer["request"]["state"] == outcome[query]
            mine = await client.data(
                "{ me { accessRequests(first: 100) { nodes { id state } } } }", user=OUTSIDER
            )
            assert {"id": request["id"], "state": outcome[query]} in mine["me"]["accessRequests"][
                "nodes"
            ]
            expected = [action[query]] + (["grant"] if query is APPROVE else [])
            assert await actions_since(client, last) == expected
            if query is APPROVE:
                await client.data(
                    REVOKE, {"id": session, "grantee": {"userName": OUTSIDER}}, user=PI
                )
    finally:
        async with client.engine.begin() as connection:
            await connection.execute(
                delete(AccessRequest).where(
                    AccessRequest.requester == OUTSIDER, AccessRequest.pending == 1
                )
            )
        if await team_rows(client, session, OUTSIDER):
            await client.data(REVOKE, {"id": session, "grantee": {"userName": OUTSIDER}}, user=PI)
