"""The delivery worker on each database, with a fake mailer: two workers on one database
make each delivery once; a mail server that is down delays messages and loses none; the
release reminders are recorded once per release date."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.catalogue.deliveries import (
    DELIVERED,
    NewDelivery,
    add_deliveries,
    claim_delivery,
    claim_event,
    settle,
)
from gateway.catalogue.events import EventType, NewEvent, SubjectKind, record_event
from gateway.catalogue.gateway_tables import Delivery, Event
from gateway.catalogue.models import Investigation, User
from gateway.notify.mail import FakeMailer
from gateway.notify.messages import Letterhead
from gateway.notify.worker import DeliveryWorker, WorkerConfig
from gateway.settings import Settings
from gateway.usecases.release_reminders import remind_release_dates
from tests.integration.test_access import OUTSIDER


def worker(engine: AsyncEngine, settings: Settings, mailer: FakeMailer) -> DeliveryWorker:
    config = WorkerConfig(
        poll_interval=0.01,
        backoff=0.05,
        max_attempts=5,
        lease=timedelta(seconds=30),
        rules=settings.access_rules,
        letterhead=Letterhead("Test", "noreply@test.example", None),
        source="urn:test",
    )
    return DeliveryWorker(
        engine, config, mailer=mailer, webhooks=None, subscriptions=(), clock=now_utc
    )


async def revocations(engine: AsyncEngine, count: int) -> list[int]:
    """``count`` revocation events of outsider1 (each owes outsider1 one e-mail)."""
    async with engine.begin() as connection:
        session = (await connection.execute(select(func.min(Investigation.id)))).scalar_one()
        return [
            await record_event(
                connection,
                NewEvent(
                    type=EventType.ACCESS_REVOKE,
                    actor="esrf/pi1",
                    at=now_utc(),
                    subject_kind=SubjectKind.INVESTIGATION,
                    subject_id=str(session),
                    investigation_id=session,
                    person=OUTSIDER,
                    role="Collaborator",
                ),
            )
            for _ in range(count)
        ]


def sent_for(mailer: FakeMailer, events: list[int]) -> Counter[int]:
    wanted = set(events)
    numbers = (int(str(m["X-Gateway-Event"]).split()[0]) for m in mailer.sent)
    return Counter(n for n in numbers if n in wanted)


async def test_two_workers_make_each_delivery_once(
    catalogue: AsyncEngine, settings: Settings
) -> None:
    events = await revocations(catalogue, 12)
    first, second = FakeMailer(), FakeMailer()
    await asyncio.gather(
        worker(catalogue, settings, first).tick(), worker(catalogue, settings, second).tick()
    )
    both = sent_for(first, events) + sent_for(second, events)
    assert both == Counter(dict.fromkeys(events, 1))
    async with catalogue.connect() as connection:
        address = (
            await connection.execute(select(User.email).where(User.name == OUTSIDER))
        ).scalar_one()
        states = (
            await connection.execute(
                select(Delivery.state, Delivery.target, Delivery.attempts).where(
                    Delivery.event_id.in_(events)
                )
            )
        ).all()
    assert sorted(states) == [(DELIVERED, address, 1)] * len(events)
    ours = {str(e) for e in events}
    addressed = {
        str(m["To"]) for m in first.sent + second.sent if m["X-Gateway-Event"].split()[0] in ours
    }
    assert addressed == {address}


async def test_with_the_mail_server_down_nothing_is_lost_or_sent_twice(
    catalogue: AsyncEngine, settings: Settings
) -> None:
    mailer = FakeMailer()
    running = worker(catalogue, settings, mailer)
    await running.tick()  # what other tests left
    events = await revocations(catalogue, 2)
    mailer.down = True
    await running.tick()
    assert sent_for(mailer, events) == Counter()
    async with catalogue.connect() as connection:
        tried = (
            await connection.execute(
                select(Delivery.attempts, Delivery.state).where(Delivery.event_id.in_(events))
            )
        ).all()
    assert sorted(tried) == [(1, "pending")] * 2
    mailer.down = False
    for _ in range(100):  # until the backoff has passed
        await running.tick()
        if sent_for(mailer, events):
            break
        await asyncio.sleep(0.02)
    await running.tick()
    assert sent_for(mailer, events) == Counter(dict.fromkeys(events, 1))


async def test_release_reminders_are_recorded_once_per_release_date(
    catalogue: AsyncEngine,
) -> None:
    async with catalogue.connect() as connection:
        session, release = (
            await connection.execute(
                select(Investigation.id, Investigation.release_date)
                .where(Investigation.release_date > now_utc())
                .order_by(Investigation.release_date)
                .limit(1)
            )
        ).one()
    now = release - timedelta(days=1)
    assert await remind_release_dates(catalogue, now=now, days=28) >= 1
    assert await remind_release_dates(catalogue, now=now, days=28) == 0
    async with catalogue.connect() as connection:
        reminded = (
            await connection.execute(
                select(func.count())
                .select_from(Event)
                .where(Event.type == "release_date.reminder", Event.investigation_id == session)
            )
        ).scalar_one()
    assert reminded == 1


async def test_of_two_claims_of_one_delivery_one_wins(
    catalogue: AsyncEngine, settings: Settings
) -> None:
    """The race two replicas run, made certain: both read the delivery as due, then both
    try to claim it; the conditional UPDATE gives it to one."""
    (event,) = await revocations(catalogue, 1)
    async with catalogue.begin() as connection:
        assert await claim_event(connection, event, now_utc())
        await add_deliveries(connection, event, [NewDelivery("email", "x@test.example")], now_utc())
    async with catalogue.connect() as connection:
        (delivery,) = (
            await connection.execute(select(Delivery.id).where(Delivery.event_id == event))
        ).scalars()
    now, lease = now_utc(), timedelta(seconds=30)
    outcomes = []
    for owner in ("replica-a", "replica-b"):
        async with catalogue.begin() as connection:
            outcomes.append(await claim_delivery(connection, delivery, owner, now, lease))
    assert outcomes == [True, False]
    async with catalogue.begin() as connection:  # a second dispatch of the event: none
        assert not await claim_event(connection, event, now_utc())
    async with catalogue.begin() as connection:  # done: nobody may take it again
        assert await settle(
            connection,
            delivery,
            "replica-a",
            now,
            delivered=True,
            status=250,
            error=None,
            retry_at=None,
        )
    async with catalogue.begin() as connection:
        later = now + lease * 2
        assert not await claim_delivery(connection, delivery, "replica-b", later, lease)
