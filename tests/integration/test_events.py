"""The event log on each database: what the use cases record, who reads what through
``events`` (staff everything, a session's team its session's, a person their own), that
the SQL filter and ``policy.can_see_event`` agree event by event, and that
``accessEvents`` stays the log's access events."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import func, select

from gateway.auth.policy import Caller, can_see_event
from gateway.catalogue.gateway_tables import Event
from gateway.catalogue.models import InvestigationUser, User
from gateway.schema.node import parse_global_id
from tests.conftest import STAFF, Client
from tests.integration.test_access import GRANT, MEMBER, OUTSIDER, PI, REVOKE, sessions_of_pi

EVENTS = """query($filter: EventFilter, $after: String) {
  events(filter: $filter, first: 50, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id type actor person subjectKind subjectId reason before after
            investigation { id } } } }"""

CHANGE = """mutation($id: ID!, $date: DateTime, $reason: String!) {
  changeReleaseDate(input: {investigationId: $id, releaseDate: $date, reason: $reason}) {
    investigation { releaseDate } } }"""

CALLERS = (STAFF, PI, MEMBER, OUTSIDER, "esrf/scientist1", None)


async def listed(client: Client, user: str | None, filter: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event the caller reads with the filter, page by page."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await client.data(EVENTS, {"filter": filter, "after": after}, user=user))["events"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def test_every_caller_reads_the_events_the_policy_lets_them(client: Client) -> None:
    session = (await sessions_of_pi(client))["embargoed"]
    async with client.engine.connect() as connection:
        last = int((await connection.execute(select(func.max(Event.id)))).scalar() or 0)
    await client.data(
        GRANT, {"ids": [session["id"]], "grantee": {"userName": OUTSIDER}, "reason": "x"}, user=PI
    )
    await client.data(REVOKE, {"id": session["id"], "grantee": {"userName": OUTSIDER}}, user=PI)
    old = session["releaseDate"]
    await client.data(
        CHANGE,
        {"id": session["id"], "date": "2099-01-01T00:00:00Z", "reason": "paper"},
        user=STAFF,
    )
    await client.data(CHANGE, {"id": session["id"], "date": old, "reason": "back"}, user=STAFF)

    about = {"investigationId": session["id"]}
    everything = [e for e in await listed(client, STAFF, about) if decoded_id(e) > last]
    assert [(e["type"], e["actor"], e["person"]) for e in reversed(everything)] == [
        ("access.grant", PI, OUTSIDER),
        ("access.revoke", PI, OUTSIDER),
        ("release_date.change", STAFF, None),
        ("release_date.change", STAFF, None),
    ]
    changed = everything[1]
    assert changed["reason"] == "paper"
    assert orjson.loads(changed["after"]) == {"releaseDate": "2099-01-01T00:00:00+00:00"}
    assert changed["investigation"] == {"id": session["id"]}

    # Who reads which: the SQL filter against the policy, event by event.
    icat_id = parse_global_id(session["id"])[1]
    async with client.engine.connect() as connection:
        team = set(
            (
                await connection.execute(
                    select(User.name)
                    .join(InvestigationUser, InvestigationUser.user_id == User.id)
                    .where(InvestigationUser.investigation_id == icat_id)
                )
            ).scalars()
        )
    read_by = {}
    for user in CALLERS:
        seen = {e["id"] for e in await listed(client, user, about) if decoded_id(e) > last}
        caller = Caller(user_name=user, is_staff=user == STAFF)
        allowed = {
            e["id"]
            for e in everything
            if can_see_event(caller, e["actor"], e["person"], on_team=user in team)
        }
        assert seen == allowed, user
        read_by[user] = len(seen)
    # The policy's three ways of seeing, and none for strangers.
    assert read_by == {STAFF: 4, PI: 4, MEMBER: 4, OUTSIDER: 2, "esrf/scientist1": 0, None: 0}

    # accessEvents is the log's access events, answered as before.
    trail = await client.data(
        """query($id: ID) { accessEvents(filter: {investigationId: $id}, first: 2) {
             nodes { action actor subject reason } } }""",
        {"id": session["id"]},
        user=STAFF,
    )
    assert trail["accessEvents"]["nodes"] == [
        {"action": "REVOKE", "actor": PI, "subject": OUTSIDER, "reason": None},
        {"action": "GRANT", "actor": PI, "subject": OUTSIDER, "reason": "x"},
    ]


def decoded_id(event: dict[str, Any]) -> int:
    return parse_global_id(event["id"])[1]


async def test_an_unknown_event_type_is_bad_input(client: Client) -> None:
    result = await client.execute(EVENTS, {"filter": {"types": ["access.nope"]}}, user=STAFF)
    assert result.errors and result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    typed = await listed(client, STAFF, {"types": ["access.grant"]})
    assert typed and {e["type"] for e in typed} == {"access.grant"}
