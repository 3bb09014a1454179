"""The audit trail of access: the access events of the event log (``GATEWAY_EVENT``,
``gateway.catalogue.events``), written by the use cases in the transaction of the change
each entry records, read by staff as a paginated list (``accessEvents``) with the
columns it always had."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.events import (
    EventFilter as LogFilter,
)
from gateway.catalogue.events import (
    EventType,
    NewEvent,
    SubjectKind,
    conditions_of,
    record_event,
)
from gateway.catalogue.gateway_tables import Event


class AccessAction(enum.Enum):
    """What an audit entry records."""

    GRANT = "grant"
    REVOKE = "revoke"
    REQUEST = "request"
    APPROVE = "approve"
    DECLINE = "decline"
    CANCEL = "cancel"
    LINK_CREATE = "link-create"
    LINK_REVOKE = "link-revoke"

    @property
    def event_type(self) -> EventType:
        """The event log's type of this action (``access.grant``...)."""
        return EventType(f"access.{self.value}")


ACCESS_TYPES = frozenset(action.event_type.value for action in AccessAction)


async def record(
    connection: AsyncConnection,
    action: AccessAction,
    *,
    actor: str,
    subject: str,
    investigation_id: int,
    at: datetime,
    request_id: int | None = None,
    role: str | None = None,
    reason: str | None = None,
) -> None:
    """Add an entry to the audit trail (an event of the log), in the caller's transaction."""
    await record_event(
        connection,
        NewEvent(
            type=action.event_type,
            actor=actor,
            at=at,
            subject_kind=SubjectKind.INVESTIGATION
            if request_id is None
            else SubjectKind.ACCESS_REQUEST,
            subject_id=str(investigation_id if request_id is None else request_id),
            investigation_id=investigation_id,
            person=subject,
            request_id=request_id,
            role=role,
            reason=reason,
        ),
    )


@dataclass(frozen=True)
class EventFilter:
    """Which entries of the audit trail to list (all given conditions hold)."""

    investigation_id: int | None = None
    actor: str | None = None
    subject: str | None = None
    actions: frozenset[AccessAction] | None = None
    since: datetime | None = None
    until: datetime | None = None
    request_id: int | None = None


def events(filter: EventFilter) -> Select[Any]:
    """The entries a filter selects, unordered (the list pages them), with the audit
    trail's columns: ``at``, ``action`` (``grant``...), ``subject`` (whose access)."""
    types = (
        ACCESS_TYPES
        if filter.actions is None
        else frozenset(action.event_type.value for action in filter.actions)
    )
    selected = LogFilter(
        types=types,
        investigation_id=filter.investigation_id,
        actor=filter.actor,
        person=filter.subject,
        request_id=filter.request_id,
        since=filter.since,
        until=filter.until,
    )
    conditions: list[ColumnElement[bool]] = conditions_of(selected)
    # ``access.grant`` -> ``grant``: the part after the dot.
    action = func.substr(Event.type, len("access.") + 1)
    return select(
        Event.id.label("id"),
        Event.occurred_at.label("at"),
        action.label("action"),
        Event.actor.label("actor"),
        Event.person.label("subject"),
        Event.investigation_id.label("investigation_id"),
        Event.request_id.label("request_id"),
        Event.role.label("role"),
        Event.reason.label("reason"),
    ).where(*conditions)
