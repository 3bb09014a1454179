"""End to end, through two real uvicorn servers (two replicas of one deployment) with real
OIDC tokens: an outsider asks for access, the main proposer approves, the outsider reads
the data, the proposer revokes, the outsider is refused again; and each refusal's code.

Immediate effect on every path: the outsider reads through the other replica than the one
that changed the team, and on PostgreSQL through an operation plan that another user's
identical requests made (``gateway.compiled.operations``): the plan binds the caller and
looks their membership up in the statement, so no plan or cache outlives a change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.database import create_engine
from gateway.catalogue.models import User
from gateway.catalogue.sequence import allocate_ids
from gateway.compiled.operations import Operations
from gateway.schema.node import global_id
from gateway.settings import Settings
from tests.conftest import team_names
from tests.e2e.test_authorization import Caller, caller
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


def operations_of(server: GatewayServer) -> Operations | None:
    """The operation plans of a server's GraphQL endpoint (None off PostgreSQL)."""
    endpoint = next(
        route for route in server.app.routes if getattr(route, "path", "") == "/graphql"
    )
    operations: Operations | None = endpoint.endpoint.operations  # type: ignore[attr-defined]
    return operations


@pytest.fixture(scope="module")
def replicas(
    catalogue: AsyncEngine, settings: Settings, provider: OIDCProvider
) -> Iterator[tuple[GatewayServer, GatewayServer]]:
    configured = replace(
        settings,
        oidc_issuer=provider.issuer,
        oidc_audience=DEFAULT_AUDIENCE,
        oidc_user_prefix="esrf/",
        staff_users=frozenset({"esrf/staff1"}),
    )
    with GatewayServer(configured) as first, GatewayServer(configured) as second:
        yield first, second


SESSION = """query Session($id: ID) { investigation(id: $id) {
  id title summary datasets(first: 100) { totalCount nodes { id name } } } }"""

REQUEST = """mutation($id: ID!, $message: String) {
  requestAccess(input: {investigationId: $id, message: $message}) { request { id state } } }"""

TO_DECIDE = """{ me { accessRequestsToDecide(first: 100) {
  nodes { id state message requester { name } investigation { id } } } } }"""

APPROVE = """mutation($id: ID!, $reply: String) {
  approveAccessRequest(input: {requestId: $id, reply: $reply}) { request { id state } } }"""

GRANT = """mutation($id: ID!, $grantee: PersonInput!) {
  grantAccess(input: {investigationIds: [$id], grantee: $grantee}) {
    grants { members { role } } } }"""

CANCEL = """mutation($id: ID!) {
  cancelAccessRequest(input: {requestId: $id}) { request { id state } } }"""

REVOKE = """mutation($id: ID!, $grantee: PersonInput!) {
  revokeAccess(input: {investigationId: $id, grantee: $grantee}) { revoked } }"""


def code(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    assert errors, body
    value: str = errors[0]["extensions"]["code"]
    return value


def embargoed_session_of_pi(staff: Caller) -> str:
    """pi1's embargoed session on ID30A-1 (member1 is on its team, outsider1 is not)."""
    sessions = staff.data(
        """{ investigations(first: 1000) { nodes { id isReleased releaseDate startDate
             instruments { name } team(first: 10) {
               totalCount nodes { user { name } } } } } }"""
    )["investigations"]["nodes"]
    found: str = next(
        s["id"]
        for s in sessions
        if not s["isReleased"]
        and s["releaseDate"] is not None
        and s["startDate"] < NOW
        and "ID30A-1" in {i["name"] for i in s["instruments"]}
        and {"esrf/pi1", "esrf/member1"} <= team_names(s)
        and "esrf/outsider1" not in team_names(s)
    )
    return found


class Reads:
    """What a caller reads of the session, and whether an operation plan answered it."""

    def __init__(self, server: GatewayServer, who: Caller, session: str) -> None:
        self.operations = operations_of(server)
        self.who = Caller(server.base_url, who.headers.get("Authorization", "")[7:] or None)
        self.session = session

    def __call__(self) -> tuple[dict[str, Any], bool]:
        before = self.operations.answered if self.operations else 0
        body = self.who.run(SESSION, {"id": self.session})
        planned = bool(self.operations) and self.operations.answered > before  # type: ignore[union-attr]
        return body, planned


def test_request_approve_read_revoke_through_two_replicas(
    replicas: tuple[GatewayServer, GatewayServer], provider: OIDCProvider
) -> None:
    writer, reader = replicas
    staff = caller(writer.base_url, provider, "staff1")
    pi = caller(writer.base_url, provider, "pi1")
    outsider = caller(writer.base_url, provider, "outsider1")
    session = embargoed_session_of_pi(staff)
    member_reads = Reads(reader, caller(reader.base_url, provider, "member1"), session)
    outsider_reads = Reads(reader, outsider, session)
    # A team member's identical requests give the reader an operation plan (PostgreSQL).
    team_view = [member_reads() for _ in range(3)]
    full = team_view[0][0]["data"]["investigation"]
    assert full["summary"] and full["datasets"]["totalCount"] > 0
    compiled = member_reads.operations is not None
    assert team_view[-1][1] is compiled  # the plan answers the member
    assert all(body == team_view[0][0] for body, _ in team_view)

    # 1. The outsider is denied the data (the landing facts show).
    denied, planned = outsider_reads()
    assert code(denied) == "FORBIDDEN" and not planned
    public = denied["data"]["investigation"]["datasets"]
    assert public["totalCount"] < full["datasets"]["totalCount"]

    # 2. They ask, once.
    asked = outsider.data(REQUEST, {"id": session, "message": "I analysed these crystals"})
    request = asked["requestAccess"]["request"]
    assert request["state"] == "PENDING"
    assert code(outsider.run(REQUEST, {"id": session})) == "REQUEST_PENDING"

    # 3. The main proposer sees it in `me`, on the other replica.
    pending = caller(reader.base_url, provider, "pi1").data(TO_DECIDE)
    mine = [n for n in pending["me"]["accessRequestsToDecide"]["nodes"] if n["id"] == request["id"]]
    assert mine == [
        {
            "id": request["id"],
            "state": "PENDING",
            "message": "I analysed these crystals",
            "requester": {"name": "esrf/outsider1"},
            "investigation": {"id": session},
        }
    ]
    assert code(
        caller(writer.base_url, provider, "member1").run(APPROVE, {"id": request["id"]})
    ) == ("NOT_DECIDER")
    assert code(outsider.run(APPROVE, {"id": request["id"]})) == "NOT_DECIDER"

    # 4. Approved: the outsider's next request, on the other replica, reads the datasets,
    # answered by the plan the member's requests made.
    approved = pi.data(APPROVE, {"id": request["id"], "reply": "Welcome aboard"})
    assert approved["approveAccessRequest"]["request"]["state"] == "APPROVED"
    try:
        granted, planned = outsider_reads()
        assert "errors" not in granted, granted["errors"]
        assert granted["data"] == team_view[0][0]["data"]
        assert planned is compiled
    finally:
        # 5. Revoked: denied again at once, on every path.
        revoked = pi.data(REVOKE, {"id": session, "grantee": {"userName": "esrf/outsider1"}})
        assert revoked["revokeAccess"]["revoked"] is True
    again, planned = outsider_reads()
    assert code(again) == "FORBIDDEN" and not planned
    assert again["data"]["investigation"]["datasets"] == public
    assert member_reads()[1] is compiled  # the plan is still there, and still answers the team


@pytest.fixture
def twin(settings: Settings) -> Iterator[str]:
    """A second catalogue user with outsider1's e-mail address, removed afterwards (on an
    engine of its own: the servers' and the session's belong to other event loops)."""

    async def add() -> tuple[int, str]:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                email = (
                    await connection.execute(
                        select(User.email.label("email")).where(User.name == "esrf/outsider1")
                    )
                ).scalar_one()
                (user_id,) = await allocate_ids(connection, 1)
                now = datetime.now(UTC).replace(tzinfo=None)
                await connection.execute(
                    insert(User).values(
                        id=user_id,
                        name="esrf/outsider1-e2e-twin",
                        email=email,
                        create_id="test",
                        create_time=now,
                        mod_id="test",
                        mod_time=now,
                    )
                )
                return user_id, str(email)
        finally:
            await engine.dispose()

    async def remove(user_id: int) -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                await connection.execute(delete(User).where(User.id == user_id))
        finally:
            await engine.dispose()

    user_id, email = asyncio.run(add())
    try:
        yield email
    finally:
        asyncio.run(remove(user_id))


def test_each_refusal_has_its_stable_code(
    replicas: tuple[GatewayServer, GatewayServer], provider: OIDCProvider, twin: str
) -> None:
    server, _ = replicas
    staff = caller(server.base_url, provider, "staff1")
    session = embargoed_session_of_pi(staff)
    pi = caller(server.base_url, provider, "pi1")
    member = caller(server.base_url, provider, "member1")
    outsider = caller(server.base_url, provider, "outsider1")
    nowhere = global_id("Investigation", 987654321)
    request = outsider.data(REQUEST, {"id": session})["requestAccess"]["request"]
    try:
        refusals = {
            "UNAUTHENTICATED": Caller(server.base_url, None).run(REQUEST, {"id": session}),
            "FORBIDDEN": member.run(
                GRANT, {"id": session, "grantee": {"userName": "esrf/outsider1"}}
            ),
            "UNKNOWN_USER": pi.run(GRANT, {"id": session, "grantee": {"email": "no@one.example"}}),
            "AMBIGUOUS_USER": pi.run(GRANT, {"id": session, "grantee": {"email": twin}}),
            "NOT_FOUND": outsider.run(REQUEST, {"id": nowhere}),
            "PROPOSAL_MEMBER": pi.run(
                REVOKE, {"id": session, "grantee": {"userName": "esrf/member1"}}
            ),
            "REQUEST_PENDING": outsider.run(REQUEST, {"id": session}),
            "NOT_DECIDER": member.run(APPROVE, {"id": request["id"]}),
        }
        assert {name: code(body) for name, body in refusals.items()} == {
            name: name for name in refusals
        }
    finally:
        cancelled = outsider.data(CANCEL, {"id": request["id"]})
        assert cancelled["cancelAccessRequest"]["request"]["state"] == "CANCELLED"
    # None of it changed the team.
    assert code(outsider.run(SESSION, {"id": session})) == "FORBIDDEN"
