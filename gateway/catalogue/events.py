"""The event log (``GATEWAY_EVENT``): every change the gateway makes, recorded by
:func:`record_event` in the transaction of the change, and read back through the filter
of who may see it (``visibility.event_visible``).

It is a transactional outbox: an event is committed with its change or not at all, and
the delivery worker (``gateway.notify.worker``) turns each committed event into the
e-mails and webhook calls it owes, once.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.gateway_tables import Event
from gateway.catalogue.queries import columns_of
from gateway.catalogue.sql_text import same_name
from gateway.catalogue.visibility import Access, event_visible


class EventType(enum.StrEnum):
    """What an event records; its value is the CloudEvents ``type``'s last part."""

    ACCESS_GRANT = "access.grant"
    ACCESS_REVOKE = "access.revoke"
    ACCESS_REQUEST = "access.request"
    ACCESS_APPROVE = "access.approve"
    ACCESS_DECLINE = "access.decline"
    ACCESS_CANCEL = "access.cancel"
    ACCESS_LINK_CREATE = "access.link-create"
    ACCESS_LINK_REVOKE = "access.link-revoke"
    DOI_RESERVE = "doi.reserve"
    DOI_UPDATE = "doi.update"
    DOI_PUBLISH = "doi.publish"
    DOI_CANCEL = "doi.cancel"
    DOI_VERSION = "doi.version"
    DOI_AMEND = "doi.amend"
    RELEASE_DATE_CHANGE = "release_date.change"
    RELEASE_REMINDER = "release_date.reminder"
    DOWNLOAD_PREPARE = "download.prepare"


class SubjectKind(enum.StrEnum):
    """What an event is about."""

    INVESTIGATION = "investigation"
    ACCESS_REQUEST = "access_request"
    DOI = "doi"
    DOWNLOAD = "download"


SYSTEM_ACTOR = "gateway"
"""The actor of what the gateway does by itself (the release reminders)."""


@dataclass(frozen=True)
class NewEvent:
    """An event to record: what happened, to what, by whom, when and why."""

    type: EventType
    actor: str
    at: datetime
    subject_kind: SubjectKind
    subject_id: str
    investigation_id: int | None = None
    person: str | None = None
    """Whose access it is about (grantee, requester)."""
    request_id: int | None = None
    role: str | None = None
    reason: str | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


def encoded(value: Mapping[str, Any] | None) -> str | None:
    """The JSON text of a state as stored in ``BEFORE`` and ``AFTER`` (keys sorted: the
    same state is the same text)."""
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC).decode()


async def record_event(connection: AsyncConnection, event: NewEvent) -> int:
    """Add an event to the log in the caller's transaction (the only way one is written);
    its id."""
    result = await connection.execute(
        insert(Event).values(
            type=event.type.value,
            occurred_at=event.at,
            actor=event.actor,
            subject_kind=event.subject_kind.value,
            subject_id=event.subject_id,
            investigation_id=event.investigation_id,
            person=event.person,
            request_id=event.request_id,
            role=event.role,
            reason=event.reason[:2000] if event.reason else event.reason,
            before=encoded(event.before),
            after=encoded(event.after),
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


@dataclass(frozen=True)
class EventFilter:
    """Which events to list (all given conditions hold)."""

    types: frozenset[str] | None = None
    investigation_id: int | None = None
    actor: str | None = None
    person: str | None = None
    subject_kind: str | None = None
    subject_id: str | None = None
    request_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def conditions_of(filter: EventFilter) -> list[ColumnElement[bool]]:
    """The filter as conditions on ``GATEWAY_EVENT``."""
    conditions: list[ColumnElement[bool]] = []
    if filter.types is not None:
        conditions.append(Event.type.in_(sorted(filter.types)))
    if filter.investigation_id is not None:
        conditions.append(Event.investigation_id == filter.investigation_id)
    if filter.actor is not None:
        conditions.append(same_name(Event.actor, filter.actor))
    if filter.person is not None:
        conditions.append(same_name(Event.person, filter.person))
    if filter.subject_kind is not None:
        conditions.append(Event.subject_kind == filter.subject_kind)
    if filter.subject_id is not None:
        conditions.append(Event.subject_id == filter.subject_id)
    if filter.request_id is not None:
        conditions.append(Event.request_id == filter.request_id)
    if filter.since is not None:
        conditions.append(Event.occurred_at >= filter.since)
    if filter.until is not None:
        conditions.append(Event.occurred_at < filter.until)
    return conditions


def visible_events(access: Access, filter: EventFilter) -> Select[Any]:
    """The events a filter selects that the caller may see (every column), unordered."""
    return select(*columns_of(Event)).where(event_visible(access), *conditions_of(filter))
