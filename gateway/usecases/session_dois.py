"""A DOI for every session: register the sessions' DOIs with the registrar, findable at
their landing pages (``icat-gateway doi register-sessions``).

Every session's landing facts are public, so its DOI is findable whatever its embargo:
the metadata (``doi_metadata.session_attributes``) holds landing facts only. A session's
DOI is registered when it is under the registrar's prefix (others are some other
account's); with ``allocate``, sessions without a DOI get one first, named after their
ICAT id (``10.15151/esrf-es-1234``: ids are never reused, so neither are suffixes).

Idempotent and resumable: each registration is an upsert (``Registrar.publish``, a PUT
of a DOI the facility named), recorded in ``GATEWAY_SESSION_DOI`` with the digest of what
was sent right after the registrar accepted it. A run registers only sessions whose
metadata is new or changed since (a publication drawn from it adds a ``HasPart``), so
after an interruption the next run carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import String, cast, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.gateway_tables import SessionDoi
from gateway.catalogue.models import Investigation
from gateway.catalogue.publications import SessionLanding, load_session_landings
from gateway.doi.metadata import InvalidMetadata, Rights
from gateway.doi.registrar import PermanentRegistrarError, Registrar, TransientRegistrarError
from gateway.usecases.doi_metadata import session_attributes

log = logging.getLogger(__name__)

PAGE = 500
"""Sessions read and compared per statement."""


@dataclass
class RegistrationCounts:
    """What one run did."""

    allocated: int = 0
    registered: int = 0
    unchanged: int = 0
    foreign: int = 0
    """DOIs under another prefix than the registrar's: not this account's to register."""
    refused: int = 0
    unavailable: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.registered} registered, {self.unchanged} unchanged, "
            f"{self.foreign} under another prefix, {self.refused} refused, "
            f"{self.unavailable} left for the next run (registrar unavailable)"
            + (f"; {self.allocated} DOIs allocated" if self.allocated else "")
        )


def session_suffix(facility: str) -> str:
    """``esrf-es-``: the ESRF's pattern for session DOIs, before the session's ICAT id."""
    name = re.sub(r"[^a-z0-9]+", "-", facility.lower()).strip("-") or "session"
    return f"{name}-es-"


@dataclass
class SessionRegistration:
    """Registers session DOIs with a registrar; see the module's docstring."""

    engine: AsyncEngine
    registrar: Registrar
    landing_url: Callable[[str], str]
    main_proposer_roles: frozenset[str]
    facility: str
    clock: Callable[[], datetime]
    default_licence: Rights | None = None
    concurrency: int = 8
    """Registrar calls in flight at once."""

    async def allocate_missing(self) -> int:
        """Give each session without a DOI one under the registrar's prefix (ICAT
        ``INVESTIGATION.DOI``), named after its id."""
        prefix = f"{self.registrar.prefix.lower()}/{session_suffix(self.facility)}"
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(Investigation)
                .where(Investigation.doi.is_(None))
                .values(doi=literal(prefix) + cast(Investigation.id, String))
            )
        return int(result.rowcount or 0)

    async def run(
        self, *, progress: Callable[[int], object] = lambda _: None
    ) -> RegistrationCounts:
        """Register what is new or changed, a page of sessions at a time, in id order."""
        counts = RegistrationCounts()
        own = self.registrar.prefix.lower() + "/"
        limit = asyncio.Semaphore(self.concurrency)
        after = -1
        while True:
            async with self.engine.connect() as connection:
                ids = [
                    int(i)
                    for i in (
                        await connection.execute(
                            select(Investigation.id)
                            .where(Investigation.doi.is_not(None), Investigation.id > after)
                            .order_by(Investigation.id)
                            .limit(PAGE)
                        )
                    ).scalars()
                ]
                if not ids:
                    break
                sessions = await load_session_landings(connection, ids, self.clock())
                held = {
                    int(row.investigation_id): str(row.digest)
                    for row in await connection.execute(
                        select(
                            SessionDoi.investigation_id.label("investigation_id"),
                            SessionDoi.digest.label("digest"),
                        ).where(SessionDoi.investigation_id.in_(ids))
                    )
                }
            after = ids[-1]
            work = []
            for session in sessions.values():
                if not session.doi.strip().lower().startswith(own):
                    counts.foreign += 1
                    continue
                work.append(self._register(session, held, counts, limit))
            done = [result for result in await asyncio.gather(*work) if result is not None]
            # One transaction per page: a run stopped between pages resumes exactly; one
            # killed within a page sends that page's DOIs again (idempotent upserts).
            await self._record(done, held)
            counts.registered += len(done)
            progress(len(ids))
        return counts

    async def refresh(self, investigation_ids: Sequence[int]) -> RegistrationCounts:
        """Send again the records of these sessions that were registered and changed
        since (a publication drawn from them adds a ``HasPart``); sessions never
        registered are left to ``run``."""
        counts = RegistrationCounts()
        ids = sorted(set(investigation_ids))
        if not ids:
            return counts
        own = self.registrar.prefix.lower() + "/"
        async with self.engine.connect() as connection:
            held = {
                int(row.investigation_id): str(row.digest)
                for row in await connection.execute(
                    select(
                        SessionDoi.investigation_id.label("investigation_id"),
                        SessionDoi.digest.label("digest"),
                    ).where(SessionDoi.investigation_id.in_(ids))
                )
            }
            sessions = await load_session_landings(connection, sorted(held), self.clock())
        limit = asyncio.Semaphore(self.concurrency)
        work = [
            self._register(session, held, counts, limit)
            for session in sessions.values()
            if session.doi.strip().lower().startswith(own)
        ]
        done = [result for result in await asyncio.gather(*work) if result is not None]
        await self._record(done, held)
        counts.registered += len(done)
        return counts

    async def _register(
        self,
        session: SessionLanding,
        held: Mapping[int, str],
        counts: RegistrationCounts,
        limit: asyncio.Semaphore,
    ) -> tuple[int, str, str] | None:
        """Register one session's DOI if it is new or changed: (id, DOI, digest) if done."""
        doi = session.doi.strip().lower()
        url = self.landing_url(doi)
        try:
            attributes = session_attributes(
                session, self.main_proposer_roles, url, self.default_licence
            )
        except InvalidMetadata as error:
            counts.refused += 1
            counts.problems.append(f"{doi}: {error}")
            return None
        digest = _digest(attributes, url)
        if held.get(session.investigation_id) == digest:
            counts.unchanged += 1
            return None
        async with limit:
            try:
                await self.registrar.publish(doi, attributes, url)
            except TransientRegistrarError as error:
                counts.unavailable += 1
                log.warning("session DOI %s: registrar unavailable: %s", doi, error)
                return None
            except PermanentRegistrarError as error:
                counts.refused += 1
                counts.problems.append(f"{doi}: {error}")
                return None
        return session.investigation_id, doi, digest

    async def _record(self, done: list[tuple[int, str, str]], held: Mapping[int, str]) -> None:
        if not done:
            return
        now = self.clock()
        columns = SessionDoi.__table__.c
        new = [
            {
                columns.INVESTIGATION_ID.key: i,
                columns.DOI.key: doi,
                columns.DIGEST.key: digest,
                columns.REGISTERED_AT.key: now,
            }
            for i, doi, digest in done
            if i not in held
        ]
        async with self.engine.begin() as connection:
            if new:
                await connection.execute(insert(SessionDoi.__table__), new)  # type: ignore[arg-type]
            for i, doi, digest in done:
                if i in held:
                    await connection.execute(
                        update(SessionDoi)
                        .where(SessionDoi.investigation_id == i)
                        .values(doi=doi, digest=digest, registered_at=now)
                    )

    async def total(self) -> int:
        """Sessions with a DOI (what a progress bar counts through)."""
        async with self.engine.connect() as connection:
            statement = (
                select(func.count())
                .select_from(Investigation)
                .where(Investigation.doi.is_not(None))
            )
            return int((await connection.execute(statement)).scalar_one())


def _digest(attributes: Mapping[str, Any], url: str) -> str:
    body = orjson.dumps({"attributes": attributes, "url": url}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()
