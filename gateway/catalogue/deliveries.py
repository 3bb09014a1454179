"""Statements of the outbox and its deliveries (``GATEWAY_EVENT``, ``GATEWAY_DELIVERY``),
for the delivery worker (``gateway.notify.worker``).

Several replicas run the worker on one database: every claim is a conditional UPDATE
whose row count says who won (the same on SQLite, PostgreSQL and MariaDB); on PostgreSQL
and MariaDB the candidates are read ``FOR UPDATE SKIP LOCKED`` first, so replicas take
different rows instead of queueing behind each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from gateway.auth.policy import AccessRules
from gateway.catalogue.gateway_tables import Delivery, Event, NotificationSetting
from gateway.catalogue.models import InvestigationUser, User
from gateway.catalogue.queries import columns_of
from gateway.catalogue.sql_text import same_name
from gateway.catalogue.visibility import is_main_proposer

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

EMAIL = "email"
WEBHOOK = "webhook"


def _skip_locked(connection: AsyncConnection, statement: Select[Any]) -> Select[Any]:
    if connection.dialect.name == "sqlite":
        return statement  # SQLite: one writer at a time; the conditional UPDATE decides
    return statement.with_for_update(skip_locked=True)


# -- the outbox ------------------------------------------------------------------------


async def undispatched(connection: AsyncConnection, limit: int) -> list[Any]:
    """Events not yet turned into deliveries, oldest first (none another replica holds)."""
    statement = (
        select(*columns_of(Event))
        .where(Event.dispatched_at.is_(None))
        .order_by(Event.id)
        .limit(limit)
    )
    return list((await connection.execute(_skip_locked(connection, statement))).all())


async def claim_event(connection: AsyncConnection, event_id: int, now: datetime) -> bool:
    """Mark an event dispatched if nobody did: True if this transaction did."""
    result = await connection.execute(
        update(Event)
        .where(Event.id == event_id, Event.dispatched_at.is_(None))
        .values(dispatched_at=now)
    )
    return bool(result.rowcount == 1)


@dataclass(frozen=True)
class NewDelivery:
    channel: str
    target: str
    order_key: str | None = None


async def add_deliveries(
    connection: AsyncConnection, event_id: int, deliveries: Sequence[NewDelivery], now: datetime
) -> None:
    for delivery in deliveries:
        await connection.execute(
            insert(Delivery).values(
                event_id=event_id,
                channel=delivery.channel,
                target=delivery.target,
                order_key=delivery.order_key,
                state=PENDING,
                attempts=0,
                next_at=now,
                created_at=now,
            )
        )


# -- recipients --------------------------------------------------------------------------


def _opted_out() -> Any:
    return select(NotificationSetting.user_name).where(NotificationSetting.email == 0)


def _addresses(condition: Any) -> Select[Any]:
    """Distinct e-mail addresses of the users a condition on USER_ (and, joined,
    INVESTIGATIONUSER) selects, without those who opted out."""
    return (
        select(User.email)
        .where(
            condition,
            User.email.is_not(None),
            User.email != "",
            User.name.not_in(_opted_out()),
        )
        .distinct()
    )


async def team_addresses(connection: AsyncConnection, investigation_id: int) -> list[str]:
    """The session's team (any role)."""
    team = select(InvestigationUser.user_id).where(
        InvestigationUser.investigation_id == investigation_id
    )
    rows = await connection.execute(_addresses(User.id.in_(team)))
    return sorted(str(address) for (address,) in rows)


async def decider_addresses(
    connection: AsyncConnection, investigation_id: int, rules: AccessRules
) -> list[str]:
    """Who manages the session's access (``visibility.managed_investigation_ids``'s rule
    seen from the session): its main proposers, and its local contacts where they grant."""
    manager = is_main_proposer(InvestigationUser.role, rules.main_proposer_roles)
    if rules.local_contacts_grant:
        manager = or_(manager, is_main_proposer(InvestigationUser.role, rules.local_contact_roles))
    managers = select(InvestigationUser.user_id).where(
        InvestigationUser.investigation_id == investigation_id, manager
    )
    rows = await connection.execute(_addresses(User.id.in_(managers)))
    return sorted(str(address) for (address,) in rows)


async def person_addresses(connection: AsyncConnection, user_name: str) -> list[str]:
    rows = await connection.execute(_addresses(same_name(User.name, user_name)))
    return sorted(str(address) for (address,) in rows)


# -- deliveries ----------------------------------------------------------------------------


def _claimable(now: datetime) -> Any:
    return and_(
        Delivery.state == PENDING,
        Delivery.next_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
    )


async def due(connection: AsyncConnection, now: datetime, limit: int) -> list[int]:
    """Deliveries to make now, oldest event first. A webhook delivery waits while one of
    an earlier event to the same subscription about the same subject is pending, or
    while such an event is not yet dispatched: each subscription hears of a subject in
    the order things happened to it."""
    earlier = aliased(Delivery)
    event, earlier_event = aliased(Event), aliased(Event)
    waits_for_delivery = exists().where(
        earlier.order_key == Delivery.order_key,
        earlier.state == PENDING,
        earlier.event_id < Delivery.event_id,
    )
    waits_for_event = exists().where(
        earlier_event.subject_kind == event.subject_kind,
        earlier_event.subject_id == event.subject_id,
        earlier_event.id < event.id,
        earlier_event.dispatched_at.is_(None),
    )
    statement = (
        select(Delivery.id)
        .join(event, event.id == Delivery.event_id)
        .where(
            _claimable(now),
            or_(Delivery.order_key.is_(None), ~waits_for_delivery & ~waits_for_event),
        )
        .order_by(Delivery.event_id, Delivery.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True, of=Delivery)
    elif connection.dialect.name != "sqlite":  # MariaDB has no FOR UPDATE OF
        statement = statement.with_for_update(skip_locked=True)
    return [int(i) for i in (await connection.execute(statement)).scalars()]


async def claim_delivery(
    connection: AsyncConnection, delivery_id: int, owner: str, now: datetime, lease: timedelta
) -> bool:
    """Take a delivery for ``lease`` if it is still to make and nobody holds it."""
    result = await connection.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, _claimable(now))
        .values(lease_owner=owner, lease_until=now + lease)
    )
    return bool(result.rowcount == 1)


async def delivery_with_event(connection: AsyncConnection, delivery_id: int) -> Any:
    """A delivery's row (``delivery_*``) with its event's columns."""
    statement = (
        select(
            Delivery.id.label("delivery_id"),
            Delivery.channel.label("delivery_channel"),
            Delivery.target.label("delivery_target"),
            Delivery.attempts.label("delivery_attempts"),
            *columns_of(Event),
        )
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.id == delivery_id)
    )
    return (await connection.execute(statement)).one()


async def settle(
    connection: AsyncConnection,
    delivery_id: int,
    owner: str,
    now: datetime,
    *,
    delivered: bool,
    status: int | None,
    error: str | None,
    retry_at: datetime | None,
) -> bool:
    """Record a try's outcome if the lease is still this worker's: delivered, to retry
    at ``retry_at``, or given up (``retry_at`` None)."""
    values: dict[str, Any] = {
        "attempts": Delivery.attempts + 1,
        "last_status": status,
        "last_error": error[:1023] if error else None,
        "lease_owner": None,
        "lease_until": None,
    }
    if delivered:
        values.update(state=DELIVERED, delivered_at=now)
    elif retry_at is None:
        values.update(state=FAILED)
    else:
        values.update(next_at=retry_at)
    result = await connection.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.lease_owner == owner)
        .values(**values)
    )
    return bool(result.rowcount == 1)


def webhook_deliveries(state: str | None) -> Select[Any]:
    """The delivery log of the webhooks (every column, and the event's type), unordered."""
    statement = (
        select(*columns_of(Delivery), Event.type.label("event_type"))
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.channel == WEBHOOK)
    )
    if state is not None:
        statement = statement.where(Delivery.state == state)
    return statement


# -- notification settings -------------------------------------------------------------------


async def email_enabled(connection: AsyncConnection, user_name: str) -> bool:
    """Whether the person gets e-mails (no row: yes)."""
    value = (
        await connection.execute(
            select(NotificationSetting.email).where(NotificationSetting.user_name == user_name)
        )
    ).scalar()
    return value is None or bool(value)


async def set_email_enabled(
    connection: AsyncConnection, user_name: str, enabled: bool, now: datetime
) -> None:
    """Replace the person's setting (in the caller's transaction)."""
    await connection.execute(
        delete(NotificationSetting).where(NotificationSetting.user_name == user_name)
    )
    await connection.execute(
        insert(NotificationSetting).values(
            user_name=user_name, email=1 if enabled else 0, updated_at=now
        )
    )
