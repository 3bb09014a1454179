"""Granting a scientist access to sessions (they join the team as a collaborator) and
revoking it.

The main proposer, staff, and the local contact where the facility allows it
(``policy.manages_access``) grant and revoke. The grantee must be known to the catalogue
(facility users exist in ICAT from the user portal); they are named by ICAT user name,
ORCID iD or e-mail address. A grant of several sessions is one transaction: all of them or
none. Granting is idempotent: someone already on the team gets no second row, and the
answer is the same. Each change is recorded in the audit trail in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.auth.policy import AccessRules, Caller, manages_access
from gateway.catalogue import access_log
from gateway.catalogue.access_log import AccessAction
from gateway.catalogue.facts import load_investigation_facts
from gateway.catalogue.team import (
    Person,
    PersonReference,
    add_collaborator,
    find_person,
    remove_collaborator,
    set_grant_expiry,
)
from gateway.errors import (
    BadUserInput,
    Forbidden,
    GatewayError,
    NotFound,
    ProposalMember,
    Unauthenticated,
)

MAX_SESSIONS = 100
"""Sessions one grant may name."""

MAX_REASON = 2000

RETRIES = 3
"""Times a grant is tried again when a concurrent one added the same row first (where the
database has no row lock to make it wait: SQLite)."""


@dataclass(frozen=True)
class Grant:
    """The grantee's place on one session's team after a grant."""

    investigation_id: int
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Granted:
    """The outcome of a grant: the grantee and their roles in each session."""

    person: Person
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class Revoked:
    """The outcome of a revocation: whether a collaborator entry was removed."""

    person: Person
    investigation_id: int
    revoked: bool


def checked_reason(reason: str | None) -> str | None:
    """A reason or message as stored: stripped, None when blank, at most 2000 characters."""
    if reason is None or not reason.strip():
        return None
    if len(reason.strip()) > MAX_REASON:
        raise BadUserInput(f"At most {MAX_REASON} characters.", argument="reason")
    return reason.strip()


def checked_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    """A grant's expiry as stored: None (never), or an instant after ``now``."""
    if expires_at is not None and expires_at <= now:
        raise BadUserInput("The expiry must be in the future.", argument="expiresAt")
    return expires_at


async def lock_managed(
    connection: AsyncConnection,
    caller: Caller,
    investigation_id: int,
    rules: AccessRules,
    *,
    now: datetime,
    refusal: type[GatewayError] = Forbidden,
) -> None:
    """Lock the session (changes of its team are serialised) and check that the caller
    manages its access."""
    record = await load_investigation_facts(connection, investigation_id, now=now, for_update=True)
    if record is None:
        raise NotFound("No such experiment session.", argument="investigationId")
    if not manages_access(caller, record.facts, rules):
        raise refusal("Only the session's main proposer or facility staff may manage access to it.")


async def grant_access(
    engine: AsyncEngine,
    caller: Caller,
    *,
    investigation_ids: Sequence[int],
    grantee: PersonReference,
    rules: AccessRules,
    now: datetime,
    reason: str | None = None,
    expires_at: datetime | None = None,
) -> Granted:
    """Put the grantee on each session's team as a collaborator (if not on it already),
    until ``expires_at`` (None: no end; a grant again sets the end anew)."""
    acting = caller.user_name
    if acting is None:
        raise Unauthenticated("Log in to grant access to a session.")
    sessions = sorted(set(investigation_ids))
    if not sessions:
        raise BadUserInput("Name at least one session.", argument="investigationIds")
    if len(sessions) > MAX_SESSIONS:
        raise BadUserInput(f"At most {MAX_SESSIONS} sessions at once.", argument="investigationIds")
    reason = checked_reason(reason)
    expires_at = checked_expiry(expires_at, now)
    for attempt in range(RETRIES):
        try:
            async with engine.begin() as connection:
                # In id order: two grants of overlapping sessions lock them in one order.
                # The caller's right comes first: who may not grant learns nothing of
                # which e-mail addresses the catalogue knows.
                for investigation_id in sessions:
                    await lock_managed(connection, caller, investigation_id, rules, now=now)
                person = await find_person(connection, grantee)
                grants = []
                for investigation_id in sessions:
                    roles = await grant_collaborator(
                        connection,
                        investigation_id,
                        person,
                        rules,
                        acting=acting,
                        now=now,
                        reason=reason,
                        expires_at=expires_at,
                    )
                    grants.append(Grant(investigation_id, tuple(roles)))
                return Granted(person, tuple(grants))
        except IntegrityError:
            # A concurrent grant added the same row first: the next try sees it.
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def revoke_access(
    engine: AsyncEngine,
    caller: Caller,
    *,
    investigation_id: int,
    grantee: PersonReference,
    rules: AccessRules,
    now: datetime,
    reason: str | None = None,
) -> Revoked:
    """Remove the person's collaborator entry from the session's team.

    PROPOSAL_MEMBER when they are on the team only from the proposal itself; nothing to
    do (``revoked`` false) when they are not on it at all.
    """
    acting = caller.user_name
    if acting is None:
        raise Unauthenticated("Log in to revoke access to a session.")
    reason = checked_reason(reason)
    async with engine.begin() as connection:
        await lock_managed(connection, caller, investigation_id, rules, now=now)
        person = await find_person(connection, grantee)
        removed, kept = await remove_collaborator(connection, investigation_id, person, rules)
        if not removed and kept:
            raise ProposalMember(
                f"{person.user_name} is on this session's team from the proposal "
                f"({', '.join(sorted(kept))}): only collaborators can be removed."
            )
        for role in removed:
            await access_log.record(
                connection,
                AccessAction.REVOKE,
                actor=acting,
                subject=person.user_name,
                investigation_id=investigation_id,
                at=now,
                role=role,
                reason=reason,
            )
    return Revoked(person, investigation_id, bool(removed))


async def grant_collaborator(
    connection: AsyncConnection,
    investigation_id: int,
    person: Person,
    rules: AccessRules,
    *,
    acting: str,
    now: datetime,
    reason: str | None,
    request_id: int | None = None,
    expires_at: datetime | None = None,
) -> list[str]:
    """Make the person a collaborator of the locked session unless they are on its team
    already, until ``expires_at`` (None: no end), and record the grant in the audit trail
    in the same transaction (a grant, or an approved request's; a collaborator's new
    expiry too): their roles afterwards."""
    roles, added = await add_collaborator(
        connection, investigation_id, person, rules, acting=acting, now=now
    )
    changed = await set_grant_expiry(connection, investigation_id, person, rules, expires_at)
    if added or changed:
        await access_log.record(
            connection,
            AccessAction.GRANT,
            actor=acting,
            subject=person.user_name,
            investigation_id=investigation_id,
            at=now,
            request_id=request_id,
            role=rules.collaborator_role,
            reason=reason,
        )
    return roles
