"""Reading what the policy needs to decide about one session, inside a transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.auth.policy import InvestigationFacts
from gateway.catalogue.models import (
    InstrumentScientist,
    Investigation,
    InvestigationInstrument,
    InvestigationUser,
    User,
)
from gateway.catalogue.visibility import in_force


@dataclass(frozen=True)
class InvestigationRecord:
    """A session's identity and the facts the policy decides on."""

    investigation_id: int
    facts: InvestigationFacts


async def load_investigation_facts(
    connection: AsyncConnection,
    investigation_id: int,
    *,
    now: datetime,
    for_update: bool = False,
) -> InvestigationRecord | None:
    """The release date, team (grants in force at ``now``) and beamline scientists of a
    session (None if unknown).

    With ``for_update`` the session row is locked until the transaction ends, so two
    concurrent changes of the same session are serialised.
    """
    statement = select(
        Investigation.id.label("id"), Investigation.release_date.label("release_date")
    ).where(Investigation.id == investigation_id)
    if for_update and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    row = (await connection.execute(statement)).first()
    if row is None:
        return None
    team: dict[str, set[str]] = defaultdict(set)
    members = await connection.execute(
        in_force(
            select(User.name, InvestigationUser.role)
            .join(User, User.id == InvestigationUser.user_id)
            .where(InvestigationUser.investigation_id == investigation_id),
            now,
        )
    )
    for name, role in members:
        team[name].add(role)
    scientists = await connection.execute(
        select(User.name)
        .join(InstrumentScientist, InstrumentScientist.user_id == User.id)
        .join(
            InvestigationInstrument,
            InvestigationInstrument.instrument_id == InstrumentScientist.instrument_id,
        )
        .where(InvestigationInstrument.investigation_id == investigation_id)
    )
    return InvestigationRecord(
        investigation_id=investigation_id,
        facts=InvestigationFacts(
            release_date=row.release_date,
            team={name: frozenset(roles) for name, roles in team.items()},
            beamline_scientists=frozenset(name for (name,) in scientists),
        ),
    )
