"""Release dates: a session's changed by staff (extending or shortening an embargo),
recorded with who, when and why in the gateway's own table; and the missing ones set by the
facility's rule (``icat-gateway release-dates``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import Caller, can_change_release_date, roles_of
from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.events import EventType, NewEvent, SubjectKind, record_event
from gateway.catalogue.facts import load_investigation_facts
from gateway.catalogue.gateway_tables import ReleaseDateChange
from gateway.catalogue.models import Investigation
from gateway.catalogue.release_rule import (
    ReleaseDatePlan,
    ReleaseRule,
    apply_release_dates,
    plan_release_dates,
)
from gateway.errors import BadUserInput, Forbidden, NotFound, Unauthenticated
from gateway.settings import Settings


async def change_release_date(
    engine: AsyncEngine,
    caller: Caller,
    *,
    investigation_id: int,
    release_date: datetime | None,
    reason: str,
    main_proposer_roles: frozenset[str],
    now: datetime,
) -> int:
    """Set the release date (None: never released automatically); returns the change id."""
    if caller.user_name is None:
        raise Unauthenticated("Log in to change a release date.")
    reason = reason.strip()
    if not reason:
        raise BadUserInput("Say why the release date changes.", argument="reason")
    if len(reason) > 1000:
        raise BadUserInput("A reason is at most 1000 characters.", argument="reason")
    async with engine.begin() as connection:
        record = await load_investigation_facts(
            connection, investigation_id, now=now, for_update=True
        )
        if record is None:
            raise NotFound("No such experiment session.")
        if not can_change_release_date(roles_of(caller, record.facts, main_proposer_roles)):
            raise Forbidden("Only facility staff may change a release date.")
        await connection.execute(
            update(Investigation)
            .where(Investigation.id == investigation_id)
            .values(release_date=release_date, mod_id=caller.user_name, mod_time=now)
        )
        result = await connection.execute(
            insert(ReleaseDateChange).values(
                investigation_id=investigation_id,
                old_release_date=record.facts.release_date,
                new_release_date=release_date,
                changed_by=caller.user_name,
                reason=reason,
                changed_at=now,
            )
        )
        await record_event(
            connection,
            NewEvent(
                type=EventType.RELEASE_DATE_CHANGE,
                actor=caller.user_name,
                at=now,
                subject_kind=SubjectKind.INVESTIGATION,
                subject_id=str(investigation_id),
                investigation_id=investigation_id,
                reason=reason,
                before={"releaseDate": record.facts.release_date},
                after={"releaseDate": release_date},
            ),
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


async def set_missing_release_dates(settings: Settings, *, dry_run: bool) -> ReleaseDatePlan:
    """``icat-gateway release-dates``: set the release date of every session without one
    by the facility's rule (see gateway.catalogue.release_rule), in one transaction, or
    only say what it would set."""
    rule = ReleaseRule(settings.embargo_days, settings.proprietary_types)
    engine = create_engine(settings)
    try:
        await create_schema(engine, embedded=settings.embedded)
        async with engine.begin() as connection:
            plan = await plan_release_dates(connection, rule)
            if not dry_run:
                now = datetime.now(UTC).replace(tzinfo=None)
                await apply_release_dates(connection, plan, now=now)
        return plan
    finally:
        await engine.dispose()
