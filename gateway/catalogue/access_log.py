"""The audit trail of access (``GATEWAY_ACCESS_EVENT``): written by the use cases in the
transaction of the change each entry records, read by staff as a paginated list."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.gateway_tables import AccessEvent
from gateway.catalogue.queries import columns_of
from gateway.catalogue.sql_text import same_name


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
    """Add an entry to the audit trail, in the caller's transaction."""
    await connection.execute(
        insert(AccessEvent).values(
            at=at,
            action=action.value,
            actor=actor,
            subject=subject,
            investigation_id=investigation_id,
            request_id=request_id,
            role=role,
            reason=reason,
        )
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
    """The entries a filter selects (every column), unordered: the list pages them."""
    conditions: list[ColumnElement[bool]] = []
    if filter.investigation_id is not None:
        conditions.append(AccessEvent.investigation_id == filter.investigation_id)
    if filter.actor is not None:
        conditions.append(same_name(AccessEvent.actor, filter.actor))
    if filter.subject is not None:
        conditions.append(same_name(AccessEvent.subject, filter.subject))
    if filter.actions is not None:
        conditions.append(AccessEvent.action.in_(sorted(a.value for a in filter.actions)))
    if filter.since is not None:
        conditions.append(AccessEvent.at >= filter.since)
    if filter.until is not None:
        conditions.append(AccessEvent.at < filter.until)
    if filter.request_id is not None:
        conditions.append(AccessEvent.request_id == filter.request_id)
    return select(*columns_of(AccessEvent)).where(*conditions)
