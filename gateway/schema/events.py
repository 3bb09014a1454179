"""The event log through GraphQL (``events``), the webhooks' delivery log
(``webhookDeliveries``, staff) and a person's notification settings
(``me.notificationSettings``, ``setNotificationSettings``). ``EventQuery`` is part of
``Query``, ``EventMutation`` of ``Mutation``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry

from gateway.catalogue import deliveries
from gateway.catalogue.events import EventFilter as LogFilter
from gateway.catalogue.events import EventType, visible_events
from gateway.catalogue.gateway_tables import Delivery as DeliveryRow
from gateway.catalogue.gateway_tables import Event as EventRow
from gateway.catalogue.pagination import SortKey, cursor_listing
from gateway.errors import BadUserInput
from gateway.fields.catalogue import EVENT
from gateway.schema.access import require_staff
from gateway.schema.connection import Connection, page_of
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.inputs import naive_utc
from gateway.schema.investigation import Investigation
from gateway.schema.listing import root_connection
from gateway.schema.node import parse_global_id
from gateway.usecases.notification_settings import change_notification_settings

NEWEST_EVENTS = [SortKey(EventRow.id, True)]
NEWEST_DELIVERIES = [SortKey(DeliveryRow.id, True)]
EVENT_TYPES = frozenset(t.value for t in EventType)


@strawberry.type(description=EVENT.description)
@declared(EVENT)
class Event(Declared):
    @strawberry.field
    def before(self) -> str | None:
        value: str | None = self._row["before"]
        return value

    @strawberry.field
    def after(self) -> str | None:
        value: str | None = self._row["after"]
        return value

    @strawberry.field
    async def investigation(self, info: Info) -> Investigation | None:
        icat_id = self._row["investigation_id"]
        if icat_id is None:
            return None
        row = await info.context.loaders.investigation.load(icat_id)
        return Investigation.from_row(row, info.context.now) if row is not None else None


@strawberry.input(description="Which events of the log to list (all given conditions hold).")
class EventFilter:
    types: list[str] | None = strawberry.field(
        default=None,
        description="Of these types (access.grant, doi.publish...; BAD_USER_INPUT for "
        "an unknown one).",
    )
    investigation_id: strawberry.ID | None = strawberry.field(
        default=None, description="About this session."
    )
    actor: str | None = strawberry.field(default=None, description="Done by this user name.")
    person: str | None = strawberry.field(
        default=None, description="About this user name's access."
    )
    subject_kind: str | None = strawberry.field(
        default=None, description="About this kind of thing (investigation, doi...)."
    )
    subject_id: str | None = strawberry.field(
        default=None, description="About this one (with subjectKind): an id, a DOI."
    )
    since: datetime | None = strawberry.field(default=None, description="At or after this time.")
    until: datetime | None = strawberry.field(default=None, description="Before this time.")

    def selection(self) -> LogFilter:
        if self.types is not None:
            unknown = sorted(set(self.types) - EVENT_TYPES)
            if unknown:
                raise BadUserInput(
                    f"Unknown event types: {', '.join(unknown)}.", argument="filter.types"
                )
        return LogFilter(
            types=frozenset(self.types) if self.types is not None else None,
            investigation_id=(
                parse_global_id(self.investigation_id, "Investigation")[1]
                if self.investigation_id is not None
                else None
            ),
            actor=self.actor,
            person=self.person,
            subject_kind=self.subject_kind,
            subject_id=self.subject_id,
            since=naive_utc(self.since),
            until=naive_utc(self.until),
        )


@strawberry.enum(description="Where a delivery of a notification stands.")
class DeliveryState(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Not yet made, or to be retried.")
    DELIVERED = strawberry.enum_value("delivered", description="The receiver took it.")
    FAILED = strawberry.enum_value("failed", description="Given up (refused, or too many tries).")


@strawberry.type(description="One webhook call the gateway owes or made for an event.")
class WebhookDelivery:
    _row: strawberry.Private[Any]

    @strawberry.field(description="The subscription's id (ICAT_GATEWAY_WEBHOOKS).")
    def subscription(self) -> str:
        return str(self._row.target)

    @strawberry.field(description="The event's id in the log (the CloudEvents id).")
    def event_id(self) -> str:
        return str(self._row.event_id)

    @strawberry.field(description="The event's type.")
    def event_type(self) -> str:
        return str(self._row.event_type)

    @strawberry.field(description="Where it stands.")
    def state(self) -> DeliveryState:
        return DeliveryState(self._row.state)

    @strawberry.field(description="Tries made so far.")
    def attempts(self) -> int:
        return int(self._row.attempts)

    @strawberry.field(description="The receiver's last HTTP status, if it answered.")
    def last_status(self) -> int | None:
        return None if self._row.last_status is None else int(self._row.last_status)

    @strawberry.field(description="Why the last try failed.")
    def last_error(self) -> str | None:
        return None if self._row.last_error is None else str(self._row.last_error)

    @strawberry.field(description="When the next try is due (UTC), while pending.")
    def next_at(self) -> datetime | None:
        return self._row.next_at if self._row.state == deliveries.PENDING else None

    @strawberry.field(description="When the receiver took it (UTC).")
    def delivered_at(self) -> datetime | None:
        return self._row.delivered_at  # type: ignore[no-any-return]


@strawberry.type(description="What the caller is told of by e-mail.")
class NotificationSettings:
    email: bool = strawberry.field(
        description="E-mails about access requests, decisions, grants, published DOIs and "
        "release dates of the caller's sessions (on unless turned off)."
    )


@strawberry.input(description="The caller's new notification settings.")
class NotificationSettingsInput:
    email: bool = strawberry.field(description="Whether to get e-mails.")


@strawberry.type(description="The caller's notification settings after the change.")
class SetNotificationSettingsPayload:
    notification_settings: NotificationSettings = strawberry.field(description="As stored.")


async def notification_settings(info: Info, user_name: str) -> NotificationSettings:
    """``me.notificationSettings``."""
    async with info.context.engine.connect() as connection:
        return NotificationSettings(email=await deliveries.email_enabled(connection, user_name))


@strawberry.type(description="Reading the event log.")
class EventQuery:
    @strawberry.field(
        description="The event log, newest first: every change the gateway made, with who, "
        "what, when, why, before and after. Staff see every event; others the events of "
        "the sessions they are on the team of, and those they did or that are about their "
        "own access; anonymous callers none. Errors: BAD_USER_INPUT."
    )
    async def events(
        self,
        info: Info,
        filter: EventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Event]:
        context = info.context
        statement = visible_events(context.access, (filter or EventFilter()).selection())
        return await root_connection(
            context.engine,
            statement,
            NEWEST_EVENTS,
            page_of(info, first, after),
            lambda row: Event.from_row(row, context.now),
            listing=cursor_listing("events"),
        )

    @strawberry.field(
        description="The webhooks' delivery log, newest first: each call owed or made, its "
        "tries and the receiver's answers. Staff only. Errors: UNAUTHENTICATED, FORBIDDEN."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        state: DeliveryState | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        context = info.context
        require_staff(context.access.caller, "the webhooks' delivery log")
        chosen = None if state is None else str(state.value)
        return await root_connection(
            context.engine,
            deliveries.webhook_deliveries(chosen),
            NEWEST_DELIVERIES,
            page_of(info, first, after),
            lambda row: WebhookDelivery(_row=row),
            listing=cursor_listing("webhookDeliveries"),
        )


@strawberry.type(description="Changing notification settings.")
class EventMutation:
    @strawberry.mutation(
        description="Turn the caller's e-mails on or off. Errors: UNAUTHENTICATED."
    )
    async def set_notification_settings(
        self, info: Info, input: NotificationSettingsInput
    ) -> SetNotificationSettingsPayload:
        context = info.context
        await change_notification_settings(
            context.writer, context.access.caller, email=input.email, now=context.now
        )
        name = context.access.caller.user_name
        assert name is not None  # the use case refused anonymous callers
        return SetNotificationSettingsPayload(
            notification_settings=await notification_settings(info, name)
        )
