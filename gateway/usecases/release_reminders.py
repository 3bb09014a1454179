"""Reminders before release dates: ``icat-gateway notify reminders`` (run it daily from
cron) records a ``release_date.reminder`` event for every session whose release date
falls within ``release_reminder_days``; the delivery worker e-mails its team. Idempotent:
a session is reminded once per release date (a changed date is reminded again), and
the events are recorded in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.events import (
    SYSTEM_ACTOR,
    EventType,
    NewEvent,
    SubjectKind,
    encoded,
    record_event,
)
from gateway.catalogue.gateway_tables import Event
from gateway.catalogue.models import Investigation


def _after(release_date: datetime) -> dict[str, datetime]:
    return {"releaseDate": release_date}


async def remind_release_dates(engine: AsyncEngine, *, now: datetime, days: int) -> int:
    """Record the reminders due now; how many."""
    horizon = now + timedelta(days=days)
    async with engine.begin() as connection:
        due = (
            await connection.execute(
                select(Investigation.id, Investigation.release_date)
                .where(
                    Investigation.release_date > now,
                    Investigation.release_date <= horizon,
                )
                .order_by(Investigation.id)
            )
        ).all()
        count = 0
        for session, release_date in due:
            reminded = exists().where(
                and_(
                    Event.type == EventType.RELEASE_REMINDER.value,
                    Event.investigation_id == session,
                    Event.after == encoded(_after(release_date)),
                )
            )
            if (await connection.execute(select(reminded))).scalar():
                continue
            await record_event(
                connection,
                NewEvent(
                    type=EventType.RELEASE_REMINDER,
                    actor=SYSTEM_ACTOR,
                    at=now,
                    subject_kind=SubjectKind.INVESTIGATION,
                    subject_id=str(session),
                    investigation_id=session,
                    after=_after(release_date),
                ),
            )
            count += 1
    return count
