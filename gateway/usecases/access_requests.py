"""Asking for access inside the portal, as Zenodo and Dataverse let people ask: request,
approve or decline (with a reply), cancel.

Any signed-in user who cannot yet read a session's data may ask (once at a time: the
database holds at most one pending request per person and session). Those who manage the
session's access (``policy.manages_access``) approve or decline; approval performs the
grant in the same transaction. The requester may cancel a pending request. Requests live
in the gateway's own table; every step is recorded in the audit trail in its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    BadUserInput,
    GatewayError,
    NotDecider,
    NotFound,
    NotRequester,
    RequestClosed,
    RequestPending,
    Unauthenticated,
    UnknownUser,
)
from gateway.fields.identity import global_id
from gateway.usecases.access_grants import (
    checked_expiry,
    checked_reason,
    grant_collaborator,
    lock_managed,
)

PENDING = "pending"
APPROVED = "approved"
DECLINED = "declined"
CANCELLED = "cancelled"


MAX_REQUESTS = 100
"""Sessions one request may name."""


async def request_access(
    engine: AsyncEngine,
    caller: Caller,
    *,
    investigation_ids: Sequence[int],
    message: str | None,
    rules: AccessRules,
    now: datetime,
) -> list[int]:
    """Ask those who manage each session's access to grant it: one request per session,
    all of them or none; the requests' ids, in the order the sessions were named.

    Every session is checked before anything is written, so that a refusal names
    each session refused (``extensions.refusals``: its id, code and message), not the
    first only; the error raised is the first refusal's, with its code.
    """
    name = caller.user_name
    if name is None:
        raise Unauthenticated("Log in to ask for access to a session.")
    sessions = list(dict.fromkeys(investigation_ids))
    if not sessions:
        raise BadUserInput("Name at least one session.", argument="investigationIds")
    if len(sessions) > MAX_REQUESTS:
        raise BadUserInput(f"At most {MAX_REQUESTS} sessions at once.", argument="investigationIds")
    message = checked_reason(message)
    async with engine.begin() as connection:
        try:
            person = await find_person(connection, PersonReference(user_name=name))
        except UnknownUser:
            raise UnknownUser(
                f"{name} is not in the catalogue yet: access can only be given to its users."
            ) from None
        # Every session is checked before anything is written: the refusals name each
        # session refused, and nothing is asked unless all of them may be.
        refusals: list[tuple[int, GatewayError]] = []
        for investigation_id in sessions:
            try:
                await _check_one(connection, caller, person, investigation_id, rules, now)
            except GatewayError as refused:
                refusals.append((investigation_id, refused))
        if refusals:
            first_id, first = refusals[0]
            first.extensions["investigationId"] = global_id("Investigation", first_id)
            first.extensions["refusals"] = [
                {
                    "investigationId": global_id("Investigation", refused_id),
                    "code": refused.code,
                    "message": refused.message,
                }
                for refused_id, refused in refusals
            ]
            if len(sessions) > 1:
                first.message = f"Session {global_id('Investigation', first_id)}: {first.message}"
                first.args = (first.message,)
            raise first
        request_ids = [
            await _insert_one(connection, person, investigation_id, message, now)
            for investigation_id in sessions
        ]
    return request_ids


async def _check_one(
    connection: AsyncConnection,
    caller: Caller,
    person: Person,
    investigation_id: int,
    rules: AccessRules,
    now: datetime,
) -> None:
    """Raise the refusal of a request of this session, if it has one."""
    record = await load_investigation_facts(connection, investigation_id, now=now)
    if record is None:
        raise NotFound("No such experiment session.", argument="investigationId")
    released = is_released(record.facts.release_date, now)
    if not can_request_access(roles_under(caller, record.facts, rules), released=released):
        raise AlreadyHasAccess("You can already read this session's data.")
    pending = await connection.execute(
        select(AccessRequest.id).where(
            AccessRequest.requester_id == person.user_id,
            AccessRequest.investigation_id == investigation_id,
            AccessRequest.pending == 1,
        )
    )
    if pending.first() is not None:
        raise _pending()


def _pending() -> RequestPending:
    return RequestPending(
        "You have already asked for access to this session: wait for the answer, "
        "or cancel that request first."
    )


async def _insert_one(
    connection: AsyncConnection,
    person: Person,
    investigation_id: int,
    message: str | None,
    now: datetime,
) -> int:
    """One session's request, checked, in the caller's transaction; its id."""
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
        # A concurrent request came first: the unique key (requester, session, pending)
        # decides, whatever the race.
        raise _pending() from None
    request_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    await access_log.record(
        connection,
        AccessAction.REQUEST,
        actor=person.user_name,
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
    expires_at: datetime | None = None,
) -> int:
    """Approve (grant access until ``expires_at``, None: no end, in the same transaction)
    or decline a pending request."""
    name = caller.user_name
    if name is None:
        raise Unauthenticated("Log in to answer an access request.")
    reply = checked_reason(reply)
    if expires_at is not None and not approve:
        raise BadUserInput("Only an approval has an expiry.", argument="expiresAt")
    expires_at = checked_expiry(expires_at, now)
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
        await lock_managed(connection, caller, investigation_id, rules, now=now, refusal=NotDecider)
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
                expires_at=expires_at,
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
