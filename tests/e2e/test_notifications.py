"""Notifications end to end: two replicas of the gateway (real uvicorn servers, each with
its delivery worker) on one database, a loopback SMTP server (aiosmtpd) and a loopback
webhook receiver. A request, a decision, a grant and a publication each produce exactly
the expected e-mails; with the SMTP server down the events wait and are delivered once it
is back; each event is delivered once although two workers run; webhooks are signed,
retried after 500s and arrive in order per subject."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.database import create_engine
from gateway.catalogue.gateway_tables import Delivery, Event
from gateway.catalogue.models import InvestigationUser, User
from gateway.schema.node import global_id, parse_global_id
from gateway.settings import Settings
from tests.e2e.test_access_workflow import (
    APPROVE,
    CANCEL,
    GRANT,
    REQUEST,
    REVOKE,
    embargoed_session_of_pi,
)
from tests.e2e.test_authorization import Caller, caller
from tests.support.doi_catalogue import PiSessions, pi_sessions, remove_doi_rows
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer
from tests.support.smtp_server import SmtpServer
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

SECRET = "a-webhook-secret-of-the-archive"
FACILITY = "Test Synchrotron Facility"


class Database:
    """Reads of the outbox from the test's own thread (its own loop and engine)."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = create_engine(settings)

    def scalar(self, statement: Any) -> Any:
        async def run() -> Any:
            async with self.engine.connect() as connection:
                return (await connection.execute(statement)).scalar()

        return self.loop.run_until_complete(run())

    def rows(self, statement: Any) -> list[Any]:
        async def run() -> list[Any]:
            async with self.engine.connect() as connection:
                return list((await connection.execute(statement)).all())

        return self.loop.run_until_complete(run())

    def idle(self) -> bool:
        """Every event dispatched and every delivery made (or given up)."""
        waiting = self.scalar(
            select(func.count()).select_from(Event).where(Event.dispatched_at.is_(None))
        )
        pending = self.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.state == "pending")
        )
        return bool(waiting == 0 and pending == 0)

    def close(self) -> None:
        self.loop.run_until_complete(self.engine.dispose())
        self.loop.close()


def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@dataclass
class World:
    a: GatewayServer
    b: GatewayServer
    provider: OIDCProvider
    smtp: SmtpServer
    hooks: WebhookReceiver
    db: Database
    mails: list[EmailMessage]
    """Every message received in the module (the exactly-once check reads them all)."""

    def who(self, login: str | None, replica: GatewayServer | None = None) -> Caller:
        return caller((replica or self.a).base_url, self.provider, login)

    def settled(self) -> list[EmailMessage]:
        """Wait until the workers are idle; the messages that came since the last call."""
        until(self.db.idle)
        new = self.smtp.taken()
        self.mails.extend(new)
        return new

    def email_of(self, user_name: str) -> str:
        return str(self.db.scalar(select(User.email).where(User.name == user_name)))

    def team_emails(self, session: str) -> set[str]:
        rows = self.db.rows(
            select(User.email)
            .join(InvestigationUser, InvestigationUser.user_id == User.id)
            .where(InvestigationUser.investigation_id == parse_global_id(session)[1])
        )
        return {str(email) for (email,) in rows if email}


@pytest.fixture(scope="module")
def world(catalogue: AsyncEngine, settings: Settings) -> Iterator[World]:
    with OIDCProvider() as provider, SmtpServer() as smtp, WebhookReceiver() as hooks:
        configured = replace(
            settings,
            oidc_issuer=provider.issuer,
            oidc_audience=DEFAULT_AUDIENCE,
            oidc_user_prefix="esrf/",
            staff_users=frozenset({"esrf/staff1"}),
            facility_name=FACILITY,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_starttls=False,
            smtp_timeout=2.0,
            webhooks=json.dumps(
                [
                    {
                        "id": "archive",
                        "url": hooks.base_url + "/events",
                        "types": ["*"],
                        "secret": SECRET,
                    }
                ]
            ),
            delivery_poll_interval=0.05,
            delivery_backoff=0.1,
            delivery_lease=30.0,
        )
        db = Database(configured)
        try:
            with GatewayServer(configured) as a, GatewayServer(configured) as b:
                world = World(a, b, provider, smtp, hooks, db, [])
                world.settled()  # what earlier tests left in the outbox
                world.mails.clear()
                yield world
                # Two workers ran all along: no event reached a recipient twice.
                world.mails.extend(world.smtp.taken())
                seen = Counter((m["X-Gateway-Event"], m["To"]) for m in world.mails)
                assert [key for key, n in seen.items() if n > 1] == []
                accepted = Counter(json.loads(r.body)["id"] for r in hooks.accepted)
                assert [key for key, n in accepted.items() if n > 1] == []
        finally:
            db.close()


def summary(messages: list[EmailMessage]) -> list[tuple[str, str]]:
    return sorted((str(m["To"]), str(m["X-Gateway-Event"]).split()[1]) for m in messages)


def test_request_decision_and_grant_each_mail_exactly_whom_they_concern(world: World) -> None:
    staff = world.who("staff1")
    session = embargoed_session_of_pi(staff)
    pi, outsider = world.who("pi1"), world.who("outsider1", world.b)
    pi_mail, outsider_mail = world.email_of("esrf/pi1"), world.email_of("esrf/outsider1")

    request = outsider.data(REQUEST, {"id": session, "message": "For my <thesis>"})
    request_id = request["requestAccess"]["request"]["id"]
    asked = world.settled()
    assert summary(asked) == [(pi_mail, "access.request")]
    body = asked[0]
    assert body["Subject"].startswith(f"{FACILITY}: esrf/outsider1 asks for access")
    text = body.get_body(("plain",))
    html = body.get_body(("html",))
    assert text is not None and "For my <thesis>" in text.get_content()
    assert html is not None and "For my &lt;thesis&gt;" in html.get_content()  # escaped

    pi.data(APPROVE, {"id": request_id, "reply": "Welcome"})
    # The decision's message says it all: no second one for the grant it made.
    decided = world.settled()
    assert summary(decided) == [(outsider_mail, "access.approve")]
    assert "approved" in decided[0]["Subject"]

    pi.data(REVOKE, {"id": session, "grantee": {"userName": "esrf/outsider1"}})
    assert summary(world.settled()) == [(outsider_mail, "access.revoke")]
    world.who("pi1", world.b).data(
        GRANT, {"id": session, "grantee": {"userName": "esrf/outsider1"}}
    )
    assert summary(world.settled()) == [(outsider_mail, "access.grant")]
    pi.data(REVOKE, {"id": session, "grantee": {"userName": "esrf/outsider1"}})
    assert summary(world.settled()) == [(outsider_mail, "access.revoke")]


OPT_OUT = """mutation($email: Boolean!) { setNotificationSettings(input: {email: $email}) {
  notificationSettings { email } } }"""


def test_a_person_who_opted_out_gets_no_mail(world: World) -> None:
    session = embargoed_session_of_pi(world.who("staff1"))
    outsider = world.who("outsider1")
    assert outsider.data("{ me { notificationSettings { email } } }") == {
        "me": {"notificationSettings": {"email": True}}
    }
    assert outsider.data(OPT_OUT, {"email": False})["setNotificationSettings"] == {
        "notificationSettings": {"email": False}
    }
    try:
        world.who("pi1").data(GRANT, {"id": session, "grantee": {"userName": "esrf/outsider1"}})
        world.who("pi1").data(REVOKE, {"id": session, "grantee": {"userName": "esrf/outsider1"}})
        assert world.settled() == []
    finally:
        outsider.data(OPT_OUT, {"email": True})


RESERVE = """mutation($input: ReserveDoiInput!) { reserveDoi(input: $input) { doi state } }"""
PUBLISH = """mutation($input: PublishDoiInput!) { publishDoi(input: $input) { doi state } }"""


@pytest.fixture
async def pi(catalogue: AsyncEngine) -> Any:
    await remove_doi_rows(catalogue)
    yield await pi_sessions(catalogue)
    await remove_doi_rows(catalogue)


def test_a_publication_mails_the_team(world: World, pi: PiSessions) -> None:
    pi1 = world.who("pi1")
    dataset = pi.embargoed[-1]
    reserved = pi1.data(
        RESERVE,
        {
            "input": {
                "idempotencyKey": "n-r",
                "title": "T",
                "datasetIds": [global_id("Dataset", dataset)],
            }
        },
    )["reserveDoi"]
    assert world.settled() == []  # a reservation is for the webhooks only
    doi = reserved["doi"]
    published = pi1.data(
        PUBLISH,
        {
            "input": {
                "idempotencyKey": "n-p",
                "doi": doi,
                "title": "Data for: a paper",
                "abstract": "What the data show.",
                "creators": [{"name": "A. Author"}],
            }
        },
    )["publishDoi"]
    assert published["state"] == "PUBLISHED"
    told = world.settled()
    session = world.db.scalar(
        select(Event.investigation_id).where(Event.type == "doi.publish", Event.subject_id == doi)
    )
    team = world.team_emails(global_id("Investigation", session))
    assert team and summary(told) == sorted((email, "doi.publish") for email in team)
    assert all(doi in m["Subject"] for m in told)


def test_with_the_mail_server_down_messages_wait_and_go_once_it_is_back(world: World) -> None:
    session = embargoed_session_of_pi(world.who("staff1"))
    outsider = world.who("outsider1")
    world.smtp.stop()
    try:
        request = outsider.data(REQUEST, {"id": session})["requestAccess"]["request"]
        event = world.db.scalar(select(func.max(Event.id)).where(Event.type == "access.request"))
        # Tried and failed at least twice, delivered nowhere.
        until(
            lambda: (
                (
                    world.db.scalar(
                        select(func.max(Delivery.attempts)).where(
                            Delivery.event_id == event, Delivery.channel == "email"
                        )
                    )
                    or 0
                )
                >= 2
            )
        )
        assert world.smtp.taken() == []
    finally:
        world.smtp.start()
    came = world.settled()
    assert summary(came) == [(world.email_of("esrf/pi1"), "access.request")]
    outsider.data(CANCEL, {"id": request["id"]})
    assert world.settled() == []  # a cancellation is for the webhooks only


DELIVERIES = """{ webhookDeliveries(first: 100) { nodes {
  subscription eventId eventType state attempts lastStatus } } }"""


def test_webhooks_are_signed_retried_and_in_order_per_subject(world: World) -> None:
    session = embargoed_session_of_pi(world.who("staff1"))
    first = world.db.scalar(select(func.max(Event.id))) or 0
    world.hooks.failures = 3
    pi = world.who("pi1")
    for _ in range(2):
        pi.data(GRANT, {"id": session, "grantee": {"userName": "esrf/outsider1"}})
        world.who("pi1", world.b).data(
            REVOKE, {"id": session, "grantee": {"userName": "esrf/outsider1"}}
        )
    world.settled()
    ours = [r for r in world.hooks.received if int(json.loads(r.body)["id"]) > first]
    for request in ours:
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-gateway-signature"] == f"sha256={expected}"
        assert request.headers["content-type"] == "application/cloudevents+json"
    documents = [json.loads(r.body) for r in world.hooks.accepted if r in ours]
    subject = f"investigation/{parse_global_id(session)[1]}"
    about = [d for d in documents if d["subject"] == subject]
    assert [d["type"] for d in about] == [
        "eu.icat-gateway.access.grant",
        "eu.icat-gateway.access.revoke",
    ] * 2
    ids = [int(d["id"]) for d in about]
    assert ids == sorted(ids)
    assert len(ours) == len(documents) + 3  # three answered 500 and were sent again
    assert all(d["specversion"] == "1.0" and d["data"]["person"] == "esrf/outsider1" for d in about)
    log = world.who("staff1").data(DELIVERIES)["webhookDeliveries"]["nodes"]
    retried = [n for n in log if int(n["eventId"]) == ids[0]]
    assert retried == [
        {
            "subscription": "archive",
            "eventId": str(ids[0]),
            "eventType": "access.grant",
            "state": "DELIVERED",
            "attempts": 4,
            "lastStatus": 204,
        }
    ]
    assert world.who("pi1").run(DELIVERIES)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
