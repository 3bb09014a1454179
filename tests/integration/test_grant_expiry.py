"""Grants that expire, and access requested for several sessions at once, in process on
each database.

An expired grant stops reading at the next request, without a restart, on every path:
standard, compiled, and (PostgreSQL) an operation plan learnt while the grant was in
force. The expiry is moved into the past in the gateway's table rather than waited for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gateway.catalogue.gateway_tables import AccessRequest, GrantExpiry
from gateway.catalogue.models import Dataset, InvestigationUser, User
from gateway.catalogue.visibility import dataset_visible
from gateway.compiled.operations import Operations
from gateway.schema.node import global_id, parse_global_id
from tests.conftest import Client
from tests.integration.test_access import (
    OUTSIDER,
    PI,
    a_visitor,
    codes,
    sessions_of_pi,
)

GRANT = """mutation($ids: [ID!]!, $who: String!, $until: DateTime) {
  grantAccess(input: {investigationIds: $ids, grantee: {userName: $who}, expiresAt: $until}) {
    grants { members { role accessExpiresAt isExpired } } } }"""

REVOKE = """mutation($id: ID!, $who: String!) {
  revokeAccess(input: {investigationId: $id, grantee: {userName: $who}}) { revoked } }"""

READ = """query($id: ID, $dataset: ID!) {
  investigation(id: $id) { canReadData } dataset(id: $dataset) { id } }"""

TEAM = """query($id: ID) { investigation(id: $id) {
  team { nodes { role accessExpiresAt isExpired user { name } } } } }"""

REQUEST_MANY = """mutation($ids: [ID!]) {
  requestAccess(input: {investigationIds: $ids, message: "for the paper"}) {
    request { id } requests { id state investigation { id } } } }"""

REQUEST_ONE_AND_MANY = """mutation($id: ID, $ids: [ID!]) {
  requestAccess(input: {investigationId: $id, investigationIds: $ids}) { request { id } } }"""

DECIDE = """mutation($id: ID!, $until: DateTime) {
  %s(input: {requestId: $id, expiresAt: $until}) { request { state } } }"""

CANCEL = """mutation($id: ID!) { cancelAccessRequest(input: {requestId: $id}) {
  request { state } } }"""


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


async def a_dataset_of(client: Client, session_id: str) -> str:
    """A dataset of the session that anonymous may not see (no published DOI holds it)."""
    anonymous = await client.access(None)
    async with client.engine.connect() as connection:
        dataset = (
            await connection.execute(
                select(func.min(Dataset.id)).where(
                    Dataset.investigation_id == parse_global_id(session_id)[1],
                    ~dataset_visible(anonymous),
                )
            )
        ).scalar_one()
    assert dataset is not None
    return global_id("Dataset", dataset)


class EveryPath:
    """Reads as one user on every path: standard, compiled and, where the database has
    them, through an operation plan (learnt on the first read, kept for the later ones)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.operations = (
            Operations(client.schema, client.settings, client.engine.dialect)
            if Operations.applies(client.settings, client.engine)
            else None
        )

    async def read(self, query: str, variables: dict[str, Any], user: str) -> dict[str, Any]:
        import orjson

        answers: dict[str, Any] = {}
        standard = await self.client.using(compiled_sql=False).execute(query, variables, user=user)
        answers["standard"] = standard.data
        compiled = await self.client.execute(query, variables, user=user)
        answers["compiled"] = compiled.data
        if self.operations is not None:
            access = await self.client.access(user)
            outcome = await self.operations.answer(
                self.client.engine, query, None, variables, access
            )
            if outcome.text is not None:
                answers["plan"] = orjson.loads(outcome.text)
            elif outcome.learn and not compiled.errors:
                self.operations.learn(query, None, variables, access)
        return answers


async def move_expiry(client: Client, session_id: str, user_name: str, to: datetime) -> None:
    """Set the expiry of the person's grant in the session, as time passing would."""
    rows = select(InvestigationUser.id).where(
        InvestigationUser.investigation_id == parse_global_id(session_id)[1],
        InvestigationUser.user_id.in_(select(User.id).where(User.name == user_name)),
    )
    async with client.engine.begin() as connection:
        result = await connection.execute(
            update(GrantExpiry)
            .where(GrantExpiry.investigation_user_id.in_(rows))
            .values(expires_at=to)
        )
        assert result.rowcount == 1


async def test_an_expired_grant_stops_reading_at_the_next_request_on_every_path(
    client: Client,
) -> None:
    sessions = await sessions_of_pi(client)
    session = sessions["embargoed"]["id"]
    dataset = await a_dataset_of(client, session)
    visitor = (await a_visitor(client, [session]))["name"]
    now = datetime.now(UTC).replace(microsecond=0)
    until = now + timedelta(hours=1)
    granted = await client.data(
        GRANT, {"ids": [session], "who": visitor, "until": iso(until)}, user=PI
    )
    [member] = granted["grantAccess"]["grants"][0]["members"]
    assert member["role"] == "Collaborator" and member["isExpired"] is False
    assert member["accessExpiresAt"].startswith(until.strftime("%Y-%m-%dT%H:%M:%S"))
    paths = EveryPath(client)
    variables = {"id": session, "dataset": dataset}
    try:
        for _ in range(2):  # the second read is a plan's on PostgreSQL
            answers = await paths.read(READ, variables, visitor)
            for path, data in answers.items():
                assert data == {
                    "investigation": {"canReadData": True},
                    "dataset": {"id": dataset},
                }, path
        if paths.operations is not None:
            assert "plan" in answers, sorted(answers)

        await move_expiry(client, session, visitor, now.replace(tzinfo=None) - timedelta(seconds=1))

        # The plan learnt while the grant was in force binds the request's instant: it
        # answers nothing it may no longer show (it declines, and the standard path says
        # why), whatever it answered a moment ago.
        answers = await paths.read(READ, variables, visitor)
        for path, data in answers.items():
            assert data in (
                None,  # the dataset is NOT_FOUND: a non-null root field nulls the data
                {"investigation": {"canReadData": False}, "dataset": None},
            ), (path, data)
            assert data is None or data["investigation"] == {"canReadData": False}, path
        standard = await client.using(compiled_sql=False).execute(READ, variables, user=visitor)
        assert codes(standard) == ["NOT_FOUND"]
        # Listed as expired on the team; still there, not silently removed.
        team = (await client.data(TEAM, {"id": session}, user=PI))["investigation"]["team"]["nodes"]
        [entry] = [m for m in team if m["user"]["name"] == visitor]
        assert entry["isExpired"] is True and entry["accessExpiresAt"] is not None
        assert all(m["isExpired"] is False for m in team if m["user"]["name"] != visitor)
        # A new grant sets the end anew: without one, the access is back for good.
        await client.data(GRANT, {"ids": [session], "who": visitor, "until": None}, user=PI)
        back = await client.data(READ, variables, user=visitor)
        assert back["investigation"] == {"canReadData": True}
    finally:
        await client.data(REVOKE, {"id": session, "who": visitor}, user=PI)
    async with client.engine.connect() as connection:
        left = await connection.execute(select(func.count()).select_from(GrantExpiry))
        assert left.scalar_one() == 0, "a revocation removes the grant's expiry too"


async def test_an_approval_with_an_expiry_and_the_refusals_of_expiries(client: Client) -> None:
    sessions = await sessions_of_pi(client)
    session = sessions["proprietary"]["id"]
    visitor = (await a_visitor(client, [session]))["name"]
    past = iso(datetime.now(UTC) - timedelta(minutes=1))
    result = await client.execute(GRANT, {"ids": [session], "who": visitor, "until": past}, user=PI)
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].extensions["argument"] == "expiresAt"
    asked = await client.data(REQUEST_MANY, {"ids": [session]}, user=visitor)
    request = asked["requestAccess"]["request"]["id"]
    decline = DECIDE % "declineAccessRequest"
    until = iso(datetime.now(UTC) + timedelta(days=30))
    assert codes(await client.execute(decline, {"id": request, "until": until}, user=PI)) == [
        "BAD_USER_INPUT"
    ]
    approve = DECIDE % "approveAccessRequest"
    assert codes(await client.execute(approve, {"id": request, "until": past}, user=PI)) == [
        "BAD_USER_INPUT"
    ]
    try:
        approved = await client.data(approve, {"id": request, "until": until}, user=PI)
        assert approved["approveAccessRequest"]["request"]["state"] == "APPROVED"
        team = (await client.data(TEAM, {"id": session}, user=PI))["investigation"]["team"]["nodes"]
        [entry] = [m for m in team if m["user"]["name"] == visitor]
        assert entry["accessExpiresAt"].startswith(until[:19]) and entry["isExpired"] is False
    finally:
        await client.data(REVOKE, {"id": session, "who": visitor}, user=PI)


async def pending_of(client: Client, user_name: str) -> int:
    async with client.engine.connect() as connection:
        count = await connection.execute(
            select(func.count())
            .select_from(AccessRequest)
            .where(AccessRequest.requester == user_name, AccessRequest.pending == 1)
        )
        return int(count.scalar_one())


async def test_access_is_requested_for_several_sessions_at_once_all_or_nothing(
    client: Client,
) -> None:
    sessions = await sessions_of_pi(client)
    wanted = [sessions["proprietary"]["id"], sessions["embargoed"]["id"]]
    # outsider1 reads released sessions already: one of them spoils the whole request.
    released = (
        await client.data(
            "{ investigations(first: 1, filter: {released: true}) { nodes { id } } }",
            user=OUTSIDER,
        )
    )["investigations"]["nodes"][0]["id"]
    unknown = global_id("Investigation", 987654321)
    before = await pending_of(client, OUTSIDER)
    refused = await client.execute(
        REQUEST_MANY, {"ids": [*wanted, released, unknown]}, user=OUTSIDER
    )
    assert codes(refused) == ["ALREADY_HAS_ACCESS"]
    extensions = refused.errors[0].extensions
    assert extensions["investigationId"] == released
    assert [(r["investigationId"], r["code"]) for r in extensions["refusals"]] == [
        (released, "ALREADY_HAS_ACCESS"),
        (unknown, "NOT_FOUND"),
    ]
    assert released in refused.errors[0].message
    assert await pending_of(client, OUTSIDER) == before, "nothing was asked"

    asked = await client.data(REQUEST_MANY, {"ids": wanted}, user=OUTSIDER)
    requests = asked["requestAccess"]["requests"]
    try:
        assert [r["investigation"]["id"] for r in requests] == wanted
        assert {r["state"] for r in requests} == {"PENDING"}
        assert asked["requestAccess"]["request"]["id"] == requests[0]["id"]
        # Again: each session is refused with its own code, nothing new is asked.
        again = await client.execute(REQUEST_MANY, {"ids": wanted}, user=OUTSIDER)
        assert codes(again) == ["REQUEST_PENDING"]
        assert [r["code"] for r in again.errors[0].extensions["refusals"]] == [
            "REQUEST_PENDING",
            "REQUEST_PENDING",
        ]
        assert await pending_of(client, OUTSIDER) == before + 2
    finally:
        for request in requests:
            await client.data(CANCEL, {"id": request["id"]}, user=OUTSIDER)


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"ids": []}, "BAD_USER_INPUT"),
        ({"ids": None}, "BAD_USER_INPUT"),
        ({"ids": ["not an id"]}, "BAD_USER_INPUT"),
        (
            {"id": global_id("Investigation", 1), "ids": [global_id("Investigation", 1)]},
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_bad_requests_of_several_sessions(
    client: Client, variables: dict[str, Any], code: str
) -> None:
    result = await client.execute(REQUEST_ONE_AND_MANY, variables, user=OUTSIDER)
    assert codes(result) == [code]
    anonymous = await client.execute(REQUEST_MANY, {"ids": [global_id("Investigation", 1)]})
    assert codes(anonymous) == ["UNAUTHENTICATED"]
