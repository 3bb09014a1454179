"""Asking for access inside the portal, as Zenodo and Dataverse let people ask: request,
approve or decline (with a reply), cancel.

Any signed-in user who cannot yet read a session's data may ask (once at a time: the
database holds at most one pending request per person and session). Those who manage the
session's access (``policy.manages_access``) approve or decline; approval performs the
grant in the same transaction. The requester may cancel a pending request. Requests live
in the gateway's own table; every step is recorded in the audit trail in its transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.auth.policy import AccessRules, Caller, can_request_access, is_released, roles_under
from gateway.catalogue import access_log
from gateway.catalogue.access_log import AccessAction
from gateway.catalogue.facts import load_investigation_facts
from gateway.catalogue.gateway_tables import AccessRequest
from gateway.catalogue.queries import columns_of
from gateway.catalogue.team import Person, PersonReference, find_person
from gateway.errors import (
    AlreadyHasAccess,
    NotDecider,
    NotFound,
    NotRequester,
    RequestClosed,
    RequestPending,
    Unauthenticated,
    UnknownUser,
)
from gateway.usecases.access_grants import checked_reason, grant_collaborator, lock_managed

PENDING = "pending"
APPROVED = "approved"
DECLINED = "declined"
CANCELLED = "cancelled"


async def request_access(
    engine: AsyncEngine,
    caller: Caller,
    *,
    investigation_id: int,
    message: str | None,
    rules: AccessRules,
    now: datetime,
) -> int:
    """Ask those who manage the session's access to grant it; the request's id."""
    name = caller.user_name
    if name is None:
        raise Unauthenticated("Log in to ask for access to a session.")
    message = checked_reason(message)
    async with engine.begin() as connection:
        record = await load_investigation_facts(connection, investigation_id)
        if record is None:
            raise NotFound("No such experiment session.", argument="investigationId")
        released = is_released(record.facts.release_date, now)
        if not can_request_access(roles_under(caller, record.facts, rules), released=released):
            raise AlreadyHasAccess("You can already read this session's data.")
        try:
            person = await find_person(connection, PersonReference(user_name=name))
        except UnknownUser:
            raise UnknownUser(
                f"{name} is not in the catalogue yet: access can only be given to its users."
            ) from None
        try:
            result = await connection.execute(
                insert(AccessRequest).values(
                    investigation_id=investigation_id,
                    requester=person.user_name,
                    requester_id=person.user_id,
                    message=message,
                    state=PENDING,
                    pending=1,
                    created_at=now,
                )
            )
        except IntegrityError:
            # The unique key (requester, session, pending) decides, whatever the race.
            raise RequestPending(
                "You have already asked for access to this session: wait for the answer, "
                "or cancel that request first."
            ) from None
        request_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        await access_log.record(
            connection,
            AccessAction.REQUEST,
            actor=name,
            subject=person.user_name,
            investigation_id=investigation_id,
            at=now,
            request_id=request_id,
            reason=message,
        )
    return request_id


async def _pending_locked(connection: AsyncConnection, request_id: int) -> Any:
    """The request's row, locked; REQUEST_CLOSED once it is no longer pending."""
    statement = select(*columns_of(AccessRequest)).where(AccessRequest.id == request_id)
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    row = (await connection.execute(statement)).first()
    if row is None:
        raise NotFound("No such access request.", argument="requestId")
    if row.state != PENDING:
        raise RequestClosed(f"This access request was {row.state} already.")
    return row


async def _close(
    connection: AsyncConnection,
    request_id: int,
    state: str,
    *,
    by: str,
    now: datetime,
    reply: str | None,
) -> None:
    """Close a pending request: a compare-and-set, so that of concurrent decisions exactly
    one changes the row and the others are told REQUEST_CLOSED (and roll back), whatever
    the database's locking. SQLite takes no row lock on the read before it: there, two
    decisions both read "pending", and both were confirmed."""
    result = await connection.execute(
        update(AccessRequest)
        .where(AccessRequest.id == request_id, AccessRequest.state == PENDING)
        .values(state=state, pending=None, decided_by=by, decided_at=now, reply=reply)
    )
    if result.rowcount != 1:
        closed = (
            await connection.execute(
                select(AccessRequest.state).where(AccessRequest.id == request_id)
            )
        ).scalar()
        raise RequestClosed(f"This access request was {closed} already.")


async def decide_access_request(
    engine: AsyncEngine,
    caller: Caller,
    *,
    request_id: int,
    approve: bool,
    reply: str | None,
    rules: AccessRules,
    now: datetime,
) -> int:
    """Approve (grant access, in the same transaction) or decline a pending request."""
    name = caller.user_name
    if name is None:
        raise Unauthenticated("Log in to answer an access request.")
    reply = checked_reason(reply)
    async with engine.begin() as connection:
        found = (
            await connection.execute(
                select(AccessRequest.investigation_id.label("investigation_id")).where(
                    AccessRequest.id == request_id
                )
            )
        ).first()
        if found is None:
            raise NotFound("No such access request.", argument="requestId")
        investigation_id = int(found.investigation_id)
        # The session first, then the request: the order grants lock in.
        await lock_managed(connection, caller, investigation_id, rules, refusal=NotDecider)
        row = await _pending_locked(connection, request_id)
        state = APPROVED if approve else DECLINED
        await _close(connection, request_id, state, by=name, now=now, reply=reply)
        await access_log.record(
            connection,
            AccessAction.APPROVE if approve else AccessAction.DECLINE,
            actor=name,
            subject=row.requester,
            investigation_id=investigation_id,
            at=now,
            request_id=request_id,
            reason=reply,
        )
        if approve:
            person = Person(int(row.requester_id), str(row.requester))
            await grant_collaborator(
                connection,
                investigation_id,
                person,
                rules,
                acting=name,
                now=now,
                reason=reply,
                request_id=request_id,
            )
    return request_id


async def cancel_access_request(
    engine: AsyncEngine, caller: Caller, *, request_id: int, now: datetime
) -> int:
    """The requester withdraws a pending request."""
    name = caller.user_name
    if name is None:
        raise Unauthenticated("Log in to cancel an access request.")
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                select(AccessRequest.requester.label("requester")).where(
                    AccessRequest.id == request_id
                )
            )
        ).first()
        if row is None:
            raise NotFound("No such access request.", argument="requestId")
        if row.requester != name:
            raise NotRequester("Only the person who asked may cancel an access request.")
        locked = await _pending_locked(connection, request_id)
        await _close(connection, request_id, CANCELLED, by=name, now=now, reply=None)
        await access_log.record(
            connection,
            AccessAction.CANCEL,
            actor=name,
            subject=name,
            investigation_id=int(locked.investigation_id),
            at=now,
            request_id=request_id,
        )
    return request_id
