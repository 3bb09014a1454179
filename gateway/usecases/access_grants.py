"""Granting a scientist access to a session: they join its team as a collaborator.

Only the main proposer (or staff) may grant. The grantee must be known to the catalogue
(facility users exist in ICAT from the user portal). All of it is one transaction: the
check and the insert see the same team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import Caller, can_grant_access, roles_of
from gateway.catalogue.facts import load_investigation_facts
from gateway.catalogue.models import InvestigationUser, User
from gateway.catalogue.sequence import allocate_ids
from gateway.catalogue.sql_text import same_name
from gateway.errors import Conflict, Forbidden, NotFound, Unauthenticated


@dataclass(frozen=True)
class Grant:
    """The team row created by a grant."""

    membership_id: int
    investigation_id: int
    user_id: int
    role: str


async def grant_access(
    engine: AsyncEngine,
    caller: Caller,
    *,
    investigation_id: int,
    user_name: str,
    role: str,
    main_proposer_roles: frozenset[str],
    now: datetime,
) -> Grant:
    """Add ``user_name`` to the session's team with ``role`` (the collaborator role)."""
    if caller.user_name is None:
        raise Unauthenticated("Log in to grant access to a session.")
    async with engine.begin() as connection:
        record = await load_investigation_facts(connection, investigation_id, for_update=True)
        if record is None:
            raise NotFound("No such experiment session.")
        if not can_grant_access(roles_of(caller, record.facts, main_proposer_roles)):
            raise Forbidden("Only the session's main proposer or facility staff may grant access.")
        if user_name in record.facts.team:
            raise Conflict(f"{user_name} is already on this session's team.")
        user_id = (
            await connection.execute(select(User.id).where(same_name(User.name, user_name)))
        ).scalar()
        if user_id is None:
            raise NotFound(f"No user {user_name} in the catalogue.", argument="userName")
        (membership_id,) = await allocate_ids(connection, 1)
        try:
            await connection.execute(
                insert(InvestigationUser).values(
                    id=membership_id,
                    user_id=user_id,
                    investigation_id=investigation_id,
                    role=role,
                    create_id=caller.user_name,
                    create_time=now,
                    mod_id=caller.user_name,
                    mod_time=now,
                )
            )
        except IntegrityError:
            # A concurrent grant of the same person won the race (SQLite has no row lock).
            raise Conflict(f"{user_name} is already on this session's team.") from None
    return Grant(membership_id, investigation_id, user_id, role)
