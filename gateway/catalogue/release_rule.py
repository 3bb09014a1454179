"""The facility's release-date rule, for sessions that have no release date.

ICAT stores a session's release date (``INVESTIGATION.RELEASEDATE``) but never computes it,
and a NULL release date never releases. Facilities set it by a rule: the session's end date
plus the embargo period (the facility's ``DAYSUNTILRELEASE``, else the configured number
of days), except for proprietary sessions (their type, e.g. industrial beam time), which
stay unreleased. A session without an end date is left as it is: it has not ended.

:func:`plan_release_dates` says what the rule would set; :func:`apply_release_dates` sets
it and records each change in the gateway's ``GATEWAY_RELEASE_DATE_CHANGE``, like a change
made through the API, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.gateway_tables import ReleaseDateChange
from gateway.catalogue.models import Facility, Investigation, InvestigationType

RULE_AUTHOR = "release-dates"
"""CHANGED_BY of the recorded changes, and MOD_ID of the sessions changed."""


@dataclass(frozen=True)
class ReleaseRule:
    """End date + embargo, proprietary session types excluded."""

    embargo_days: int
    """Used where the session's facility has no DAYSUNTILRELEASE."""
    proprietary_types: frozenset[str]
    """Lower-case INVESTIGATIONTYPE.NAME values never released by the rule."""


@dataclass(frozen=True)
class NewReleaseDate:
    investigation_id: int
    proposal: str
    visit_id: str
    end_date: datetime
    release_date: datetime
    embargo_days: int


@dataclass
class ReleaseDatePlan:
    """What the rule does to the sessions without a release date."""

    dates: list[NewReleaseDate] = field(default_factory=list)
    proprietary: int = 0
    """Sessions of a proprietary type, left unreleased."""
    not_ended: int = 0
    """Sessions without an end date, left as they are."""

    def summary(self) -> str:
        return (
            f"{len(self.dates)} release dates set by the rule, {self.proprietary} proprietary "
            f"sessions left unreleased, {self.not_ended} sessions without an end date left"
        )


async def plan_release_dates(
    connection: AsyncConnection,
    rule: ReleaseRule,
    investigation_ids: Collection[int] | None = None,
) -> ReleaseDatePlan:
    """The release dates the rule gives the sessions that have none (of these ids only,
    when given)."""
    statement = (
        select(
            Investigation.id.label("id"),
            Investigation.name.label("name"),
            Investigation.visit_id.label("visit_id"),
            Investigation.end_date.label("end_date"),
            Facility.days_until_release.label("days_until_release"),
            func.lower(InvestigationType.name).label("kind"),
        )
        .join(Facility, Facility.id == Investigation.facility_id)
        .join(InvestigationType, InvestigationType.id == Investigation.type_id)
        .where(Investigation.release_date.is_(None))
        .order_by(Investigation.id)
    )
    plan = ReleaseDatePlan()
    chunks = [None] if investigation_ids is None else _chunks(sorted(investigation_ids))
    for chunk in chunks:
        chosen = statement if chunk is None else statement.where(Investigation.id.in_(chunk))
        for row in (await connection.execute(chosen)).all():
            if row.kind in rule.proprietary_types:
                plan.proprietary += 1
            elif row.end_date is None:
                plan.not_ended += 1
            else:
                days = row.days_until_release
                days = rule.embargo_days if days is None else int(days)
                plan.dates.append(
                    NewReleaseDate(
                        investigation_id=int(row.id),
                        proposal=row.name,
                        visit_id=row.visit_id,
                        end_date=row.end_date,
                        release_date=row.end_date + timedelta(days=days),
                        embargo_days=days,
                    )
                )
    return plan


async def apply_release_dates(
    connection: AsyncConnection, plan: ReleaseDatePlan, *, now: datetime
) -> None:
    """Set the planned release dates (only where still unset) and record each change."""
    if not plan.dates:
        return
    await connection.execute(
        update(Investigation)
        .where(Investigation.id == bindparam("b_id"), Investigation.release_date.is_(None))
        .values(release_date=bindparam("b_date"), mod_id=RULE_AUTHOR, mod_time=now)
        .execution_options(synchronize_session=False),
        [{"b_id": new.investigation_id, "b_date": new.release_date} for new in plan.dates],
    )
    changes = ReleaseDateChange.__table__
    assert isinstance(changes, Table)
    await connection.execute(
        insert(changes),
        [
            {
                changes.c.INVESTIGATION_ID.key: new.investigation_id,
                changes.c.OLD_RELEASE_DATE.key: None,
                changes.c.NEW_RELEASE_DATE.key: new.release_date,
                changes.c.CHANGED_BY.key: RULE_AUTHOR,
                changes.c.REASON.key: f"facility rule: end date + {new.embargo_days} days",
                changes.c.CHANGED_AT.key: now,
            }
            for new in plan.dates
        ],
    )


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]
