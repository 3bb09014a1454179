"""What the DOI tests share: pi1's sessions in the demo catalogue, a saga driver, and
removing every row the DOI mutations made (so the session's catalogue stays the demo)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.auth.policy import Caller
from gateway.catalogue import publications
from gateway.catalogue.gateway_tables import DoiRequest, DoiSaga
from gateway.catalogue.models import (
    Dataset,
    Instrument,
    Investigation,
    InvestigationInstrument,
    InvestigationUser,
    User,
)
from gateway.catalogue.visibility import Access
from gateway.doi.registrar import Registrar
from gateway.settings import Settings
from gateway.usecases.doi_metadata import publication_attributes
from gateway.usecases.doi_saga import DoiSagas, StepHook
from gateway.usecases.dois import DoiPolicy, DoiUseCases

LANDING = "https://data.example.eu/doi/{doi}"
PI1, MEMBER1, OUTSIDER1, STAFF1 = "esrf/pi1", "esrf/member1", "esrf/outsider1", "esrf/staff1"


@dataclass(frozen=True)
class PiSessions:
    """Dataset ids of pi1's sessions (see gateway.catalogue.demo): ``released`` (ID23-1),
    ``embargoed`` (ID30A-1), ``bm29`` (embargoed; its first three datasets are the demo's
    reservation), member1 on the team of those three too; ``proprietary`` (ID11), pi1's
    alone of the fixed users."""

    released: list[int]
    embargoed: list[int]
    proprietary: list[int]
    bm29: list[int]


async def pi_sessions(engine: AsyncEngine) -> PiSessions:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Investigation.id, Instrument.name, Investigation.release_date)
            .join(InvestigationUser, InvestigationUser.investigation_id == Investigation.id)
            .join(User, User.id == InvestigationUser.user_id)
            .join(
                InvestigationInstrument,
                InvestigationInstrument.investigation_id == Investigation.id,
            )
            .join(Instrument, Instrument.id == InvestigationInstrument.instrument_id)
            .where(User.name == PI1)
            .order_by(Investigation.id)
        )
        sessions = rows.all()
        datasets: dict[int, list[int]] = {}
        for session_id, _, _ in sessions:
            ids = await connection.execute(
                select(Dataset.id)
                .where(Dataset.investigation_id == session_id)
                .order_by(Dataset.id)
            )
            datasets[session_id] = [int(i) for i in ids.scalars()]
    now = now_utc()
    by_kind: dict[str, list[int]] = {}
    for session_id, beamline, release_date in sessions:
        if beamline == "ID23-1" and release_date is not None and release_date < now:
            by_kind.setdefault("released", datasets[session_id])
        elif beamline == "ID30A-1" and release_date is not None and release_date > now:
            by_kind.setdefault("embargoed", datasets[session_id])
        elif beamline == "ID11" and release_date is None:
            by_kind.setdefault("proprietary", datasets[session_id])
        elif beamline == "BM29":
            by_kind.setdefault("bm29", datasets[session_id])
    return PiSessions(**by_kind)


def sagas_for(
    engine: AsyncEngine,
    registrar: Registrar,
    *,
    on_step: StepHook | None = None,
    clock: Callable[[], datetime] = now_utc,
) -> DoiSagas:
    return DoiSagas(
        engine=engine,
        registrar=registrar,
        metadata=publication_attributes,
        landing_url=lambda doi: LANDING.format(doi=doi),
        clock=clock,
        on_step=on_step,
    )


def use_cases(sagas: DoiSagas, settings: Settings) -> DoiUseCases:
    return DoiUseCases(
        sagas,
        DoiPolicy(settings.facility, settings.main_proposer_roles, settings.publish_rules),
    )


def caller(name: str | None, settings: Settings) -> Caller:
    return Caller(user_name=name, is_staff=name in settings.staff_users)


async def visible_dataset_ids(
    engine: AsyncEngine, ids: list[int], user: str | None = None
) -> set[int]:
    """Which of these datasets the caller sees, by the SQL the API lists them with."""
    from gateway.catalogue import queries

    access = Access(caller=Caller(user_name=user), now=now_utc())
    async with engine.connect() as connection:
        rows = await connection.execute(queries.datasets_by_id(access, ids))
        return {int(row.id) for row in rows}


async def remove_doi_rows(engine: AsyncEngine) -> None:
    """Remove every saga, key and catalogue row the DOI mutations made."""
    async with engine.begin() as connection:
        sagas = (await connection.execute(select(DoiSaga.__table__))).all()
        for saga in sagas:
            await publications.delete_reservation(
                connection, saga.DATAPUBLICATION_ID, saga.DATACOLLECTION_ID
            )
        await connection.execute(delete(DoiRequest))
        await connection.execute(delete(DoiSaga))
        await connection.execute(
            delete(User).where(or_(User.name.like("orcid/%"), User.name.like("creator/%")))
        )


def creators(*names: str) -> tuple[publications.Creator, ...]:
    return tuple(publications.Creator(full_name=name) for name in names)


def description(title: str = "Data for a paper", **changes: Any) -> publications.Description:
    values: dict[str, Any] = {
        "title": title,
        "abstract": "What the data show.",
        "creators": (
            publications.Creator(
                full_name="Anna Kowalczyk",
                given_name="Anna",
                family_name="Kowalczyk",
                orcid="0000-0002-1825-0097",
                affiliations=(
                    publications.CreatorAffiliation("ESRF", "https://ror.org/02550n020"),
                ),
            ),
            publications.Creator(full_name="Jonas Lindberg"),
        ),
        "keywords": ("crystallography", "proteins"),
        "related": (
            publications.Related("10.1107/S2052252519001234", "IsSupplementTo", "JournalArticle"),
        ),
    }
    values.update(changes)
    return publications.Description(**values)
