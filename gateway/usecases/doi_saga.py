"""The DOI saga: a DOI's recorded steps between the catalogue and the registrar.

Steps, in order, each recorded in ``GATEWAY_DOI_SAGA.STEP`` once done::

    STARTED    ids allocated, the DOI named after them, the request recorded
    DRAFTED    the draft DOI exists in the registrar            (registrar: put_draft)
    RESERVED   DATACOLLECTION, its datasets, DATAPUBLICATION without a publication date
    DESCRIBED  creators, abstract, keywords, related identifiers written (publishing)
    FINDABLE   the registrar shows the DOI findable at its landing URL  (registrar: publish)
    LINKED     a new version only: the version before it and the concept DOI re-sent with
               their links to it                                  (registrar: publish x2)
    PUBLISHED  the publication date set: its datasets are public from that instant

and beside them ``CHANGED`` (the catalogue says more than the draft: put the draft again),
``AMENDED`` (a published DOI's description changed in the catalogue: publish it again, and
its concept DOI too when it is the newest version, then back to PUBLISHED),
``CANCELLED`` (draft deleted, rows removed) and ``FAILED`` (the registrar refused the
draft: nothing was made). ``GOAL`` is where the saga goes (RESERVED, PUBLISHED or
CANCELLED). The catalogue is made public only after the registrar said the DOI is
findable, and the registrar is asked to publish only what the catalogue describes, so
once every saga has reached its goal nothing is public on one side and not the other.

Every registrar call is an idempotent upsert (``gateway.doi.registrar``), every catalogue
step one transaction that records the step too; a step is recorded only if the row's
``REVISION`` is the one it read (a concurrent change of the reservation wins, and the
driver looks again). Whoever drives a saga holds its lease (``LEASE_OWNER`` until
``LEASE_UNTIL``), taken by a conditional UPDATE, so callers retrying and ``icat-gateway
doi reconcile`` on several replicas never drive one saga at once; a killed process's lease
runs out and the next one carries on.

``on_step`` is the step boundaries made observable: it is awaited after each step is
recorded and after each registrar call returns (``"called:publish"``), before the next.
The fault tests pause a subprocess there and kill it; production passes nothing.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.catalogue import doi_versions, publications
from gateway.catalogue.events import EventType, NewEvent, SubjectKind, record_event
from gateway.catalogue.gateway_tables import DoiSaga
from gateway.catalogue.publications import Description, PublicationRecord
from gateway.doi.registrar import (
    DoiState,
    PermanentRegistrarError,
    Registrar,
    TransientRegistrarError,
)
from gateway.errors import GatewayError

log = logging.getLogger(__name__)


class Step(enum.StrEnum):
    STARTED = "STARTED"
    DRAFTED = "DRAFTED"
    RESERVED = "RESERVED"
    CHANGED = "CHANGED"
    DESCRIBED = "DESCRIBED"
    FINDABLE = "FINDABLE"
    LINKED = "LINKED"
    PUBLISHED = "PUBLISHED"
    AMENDED = "AMENDED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class Goal(enum.StrEnum):
    RESERVED = "RESERVED"
    PUBLISHED = "PUBLISHED"
    CANCELLED = "CANCELLED"


UNPUBLISHED = (Step.STARTED, Step.DRAFTED, Step.RESERVED, Step.CHANGED)
"""Steps from which a reservation can still change or be cancelled."""

Metadata = Callable[[PublicationRecord, Mapping[str, Any], str | None], Mapping[str, Any]]
"""The DataCite attributes of a publication: its record, the saga's request (the licence
ICAT has no column for) and its landing URL (None for a draft)."""

StepHook = Callable[[str], Awaitable[None]]

SessionsChanged = Callable[[Sequence[int]], Awaitable[object]]
"""Told the sessions (ICAT ids) whose DOI records a publication changed (a new
``HasPart``), once it is published: their records are re-sent (``session_dois``)."""


def at_rest(step: str, goal: str) -> bool:
    """Nothing more to do for a saga at this step with this goal."""
    return step in (Step.PUBLISHED, Step.CANCELLED, Step.FAILED) or (
        step == Step.RESERVED and goal == Goal.RESERVED
    )


class LeaseHeld(Exception):
    """Another process drives this saga now."""


@dataclass
class Outcome:
    """What a drive ended with."""

    saga: Any
    """The saga's row as last read."""
    refused: Exception | None = None
    """A PermanentRegistrarError, or the metadata's own refusal (a GatewayError)."""
    unavailable: TransientRegistrarError | None = None
    rejected: str | None = None
    """A reason the catalogue side could not go on (the selection is gone)."""


@dataclass
class DoiSagas:
    """Drives sagas: the catalogue's engine, the registrar and how to describe a DOI."""

    engine: AsyncEngine
    registrar: Registrar
    metadata: Metadata
    landing_url: Callable[[str], str]
    clock: Callable[[], datetime]
    lease: timedelta = timedelta(seconds=10)
    """How long a driver's lease lasts unless renewed: the driver renews it every third
    of it while it drives (a registrar call may take longer), so a killed process's lease
    lapses within this, and a retry of the same call takes over (it lasted 60 s without
    renewal, and a retry waiting 30 s got CONFLICT)."""
    on_step: StepHook | None = None
    sessions_changed: SessionsChanged | None = None
    wait_poll: float = 0.05
    owner_prefix: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    # -- reading and leasing -----------------------------------------------------------

    async def read(self, saga_id: int, connection: AsyncConnection | None = None) -> Any:
        statement = select(DoiSaga.__table__).where(DoiSaga.id == saga_id)
        if connection is not None:
            return (await connection.execute(statement)).one()
        async with self.engine.connect() as own:
            return (await own.execute(statement)).one()

    async def _claim(self, saga_id: int, owner: str) -> bool:
        now = self.clock()
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(DoiSaga)
                .where(
                    DoiSaga.id == saga_id,
                    or_(
                        DoiSaga.lease_owner.is_(None),
                        DoiSaga.lease_until < now,
                        DoiSaga.lease_owner == owner,
                    ),
                )
                .values(lease_owner=owner, lease_until=now + self.lease)
            )
        return bool(result.rowcount == 1)

    async def _release(self, saga_id: int, owner: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(DoiSaga)
                .where(DoiSaga.id == saga_id, DoiSaga.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def _record(
        self, connection: AsyncConnection, saga: Any, owner: str, **values: Any
    ) -> bool:
        """Record a step (and whatever else changes) if the row is still as read and the
        lease still ours; the first statement of its transaction, so it locks the row."""
        now = self.clock()
        result = await connection.execute(
            update(DoiSaga)
            .where(
                DoiSaga.id == saga.ID,
                DoiSaga.revision == saga.REVISION,
                DoiSaga.lease_owner == owner,
            )
            .values(
                revision=saga.REVISION + 1,
                updated_at=now,
                lease_until=now + self.lease,
                **values,
            )
        )
        return bool(result.rowcount == 1)

    async def _boundary(self, name: str) -> None:
        if self.on_step is not None:
            await self.on_step(name)

    # -- driving -----------------------------------------------------------------------

    async def drive(self, saga_id: int, *, wait: float = 0.0) -> Outcome:
        """Take the saga as far towards its goal as it goes now. If another process holds
        its lease, wait up to ``wait`` seconds for it to finish (else LeaseHeld)."""
        owner = f"{self.owner_prefix}-{uuid.uuid4().hex[:12]}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not await self._claim(saga_id, owner):
            saga = await self.read(saga_id)
            if loop.time() >= deadline:
                raise LeaseHeld(f"saga {saga_id} is being driven by {saga.LEASE_OWNER}")
            await asyncio.sleep(self.wait_poll)
        done = asyncio.Event()
        renewing = asyncio.create_task(self._renew(saga_id, owner, done))
        try:
            return await self._drive(saga_id, owner)
        finally:
            done.set()
            await asyncio.gather(renewing, return_exceptions=True)
            await self._release(saga_id, owner)

    async def _renew(self, saga_id: int, owner: str, done: asyncio.Event) -> None:
        """Keep the lease while this process drives: a process that dies stops renewing.

        It stops between renewals, never in the middle of one (its transaction is never
        cut short by a cancellation). This was meant to cure a SQLite writer waiting out
        the busy timeout in test_doi_saga; it did not, and a cancelled transaction was
        later seen to release the lock at once: that failure's cause is still unknown."""
        while True:
            try:
                await asyncio.wait_for(done.wait(), self.lease.total_seconds() / 3)
                return
            except TimeoutError:
                pass
            try:
                async with self.engine.begin() as connection:
                    await connection.execute(
                        update(DoiSaga)
                        .where(DoiSaga.id == saga_id, DoiSaga.lease_owner == owner)
                        .values(lease_until=self.clock() + self.lease)
                    )
            except Exception:  # the next step's own record renews it too, or fails
                log.warning("could not renew the lease of saga %s", saga_id, exc_info=True)

    async def _drive(self, saga_id: int, owner: str) -> Outcome:
        while True:
            saga = await self.read(saga_id)
            if owner != saga.LEASE_OWNER:
                raise LeaseHeld(f"saga {saga_id}: lease lost to {saga.LEASE_OWNER}")
            if at_rest(saga.STEP, saga.GOAL):
                return Outcome(saga)
            try:
                rejected = await self._next(saga, owner)
            except (PermanentRegistrarError, GatewayError) as error:
                await self._refused(saga, owner, error)
                return Outcome(await self.read(saga_id), refused=error)
            except TransientRegistrarError as error:
                await self._note(saga, owner, f"registrar unavailable: {error}")
                return Outcome(await self.read(saga_id), unavailable=error)
            if rejected is not None:
                return Outcome(await self.read(saga_id), rejected=rejected)

    async def _next(self, saga: Any, owner: str) -> str | None:
        """Do the next step of one saga and record it; a reason if it cannot go on."""
        step, goal = saga.STEP, saga.GOAL
        request = orjson.loads(saga.REQUEST)
        if goal == Goal.CANCELLED:
            await self.registrar.delete_draft(saga.DOI)
            await self._boundary("called:delete_draft")
            async with self.engine.begin() as connection:
                recorded = await self._record(connection, saga, owner, step=Step.CANCELLED)
                if recorded:
                    await record_doi_event(
                        connection,
                        EventType.DOI_CANCEL,
                        saga,
                        actor=request.get("by", saga.CREATED_BY),
                        at=self.clock(),
                        datasets=dataset_list(request["datasets"]),
                        before={"step": step},
                    )
                if recorded and step in (Step.RESERVED, Step.CHANGED):
                    await publications.delete_reservation(
                        connection, saga.DATAPUBLICATION_ID, saga.DATACOLLECTION_ID
                    )
            await self._boundary(f"after:{Step.CANCELLED}")
            return None
        if step == Step.STARTED:
            async with self.engine.connect() as connection:
                record = await self._draft_record(connection, saga, request)
                request = await self._with_links(connection, saga, request)
            await self.registrar.put_draft(saga.DOI, self.metadata(record, request, None))
            await self._boundary("called:put_draft")
            await self._advance(saga, owner, Step.DRAFTED)
            return None
        if step == Step.DRAFTED:
            return await self._commit_reservation(saga, owner, request)
        if step == Step.CHANGED:
            record, request = await self._record_of(saga, request)
            await self.registrar.put_draft(saga.DOI, self.metadata(record, request, None))
            await self._boundary("called:put_draft")
            await self._advance(saga, owner, Step.RESERVED)
            return None
        if step == Step.RESERVED and goal == Goal.PUBLISHED:
            description = description_from(request["publish"])
            async with self.engine.begin() as connection:
                if await self._record(connection, saga, owner, step=Step.DESCRIBED):
                    await publications.describe(
                        connection,
                        saga.DATAPUBLICATION_ID,
                        description,
                        user=saga.CREATED_BY,
                        now=self.clock(),
                    )
            await self._boundary(f"after:{Step.DESCRIBED}")
            return None
        if step == Step.DESCRIBED:
            record, request = await self._record_of(saga, request)
            url = self.landing_url(saga.DOI)
            registered = await self.registrar.publish(
                saga.DOI, self.metadata(record, request, url), url
            )
            await self._boundary("called:publish")
            if registered.state is not DoiState.FINDABLE:
                # Never public in the catalogue unless the registrar says it is findable.
                raise PermanentRegistrarError(
                    f"the registrar left {saga.DOI} {registered.state} after publishing"
                )
            await self._advance(saga, owner, Step.FINDABLE)
            return None
        if step == Step.FINDABLE and saga.CONCEPT_DOI is not None:
            await self._link_version(saga, request)
            await self._advance(saga, owner, Step.LINKED)
            return None
        if step in (Step.FINDABLE, Step.LINKED):
            async with self.engine.begin() as connection:
                recorded = await self._record(connection, saga, owner, step=Step.PUBLISHED)
                if recorded:
                    now = self.clock()
                    await publications.set_published(
                        connection, saga.DATAPUBLICATION_ID, user=saga.CREATED_BY, now=now
                    )
                    await record_doi_event(
                        connection,
                        EventType.DOI_PUBLISH,
                        saga,
                        actor=request.get("by", saga.CREATED_BY),
                        at=now,
                        datasets=dataset_list(request["datasets"]),
                        after={"publish": request["publish"], "url": self.landing_url(saga.DOI)},
                    )
            await self._boundary(f"after:{Step.PUBLISHED}")
            if recorded:
                await self._tell_sessions(saga)
            return None
        if step == Step.AMENDED:
            record, request = await self._record_of(saga, request)
            url = self.landing_url(saga.DOI)
            await self.registrar.publish(saga.DOI, self.metadata(record, request, url), url)
            await self._boundary("called:publish")
            if saga.CONCEPT_DOI is not None:
                async with self.engine.connect() as connection:
                    chain = await doi_versions.chain_of(connection, saga.CONCEPT_DOI)
                if chain is not None and chain.findable()[-1:] == [saga.DOI]:
                    await self._publish_concept(chain, record, request)
            await self._advance(saga, owner, Step.PUBLISHED)
            return None
        raise AssertionError(f"saga {saga.ID}: no step from {step} towards {goal}")

    async def _advance(self, saga: Any, owner: str, step: Step) -> None:
        async with self.engine.begin() as connection:
            await self._record(connection, saga, owner, step=step, last_error=None)
        await self._boundary(f"after:{step}")

    async def _commit_reservation(
        self, saga: Any, owner: str, request: Mapping[str, Any]
    ) -> str | None:
        dataset_ids = [int(d) for d in request["datasets"]]
        async with self.engine.begin() as connection:
            found = await publications.selection(connection, dataset_ids)
            missing = sorted(set(dataset_ids) - set(found))
            if not missing:
                if not await self._record(connection, saga, owner, step=Step.RESERVED):
                    return None  # changed meanwhile: look again
                await publications.insert_reservation(
                    connection,
                    data_collection_id=saga.DATACOLLECTION_ID,
                    data_publication_id=saga.DATAPUBLICATION_ID,
                    facility=saga.FACILITY_ID,
                    doi=saga.DOI,
                    title=request["title"],
                    dataset_ids=dataset_ids,
                    user=saga.CREATED_BY,
                    now=self.clock(),
                )
                await record_doi_event(
                    connection,
                    EventType.DOI_RESERVE,
                    saga,
                    actor=saga.CREATED_BY,
                    at=self.clock(),
                    datasets=dataset_ids,
                    after={"title": request["title"], "datasets": dataset_ids},
                )
        if missing:
            # The selection went away before it was committed: roll the draft back.
            reason = f"datasets {missing} no longer exist"
            await self.registrar.delete_draft(saga.DOI)
            saga = await self.read(saga.ID)
            async with self.engine.begin() as connection:
                await self._record(connection, saga, owner, step=Step.FAILED, last_error=reason)
            return reason
        await self._boundary(f"after:{Step.RESERVED}")
        return None

    async def _refused(self, saga: Any, owner: str, error: Exception) -> None:
        """The registrar will not do it: undo what leaves nothing half done."""
        message = f"registrar refused: {error}"[:1023]
        saga = await self.read(saga.ID)
        values: dict[str, Any] = {"last_error": message}
        if saga.STEP == Step.STARTED:
            values["step"] = Step.FAILED  # nothing was made anywhere
        elif saga.STEP == Step.DESCRIBED:
            # Not findable: stay a reservation, whose draft must say what the rows say.
            values.update(step=Step.CHANGED, goal=Goal.RESERVED)
        elif saga.GOAL == Goal.CANCELLED:
            values["goal"] = Goal.RESERVED  # a DOI that is not a draft is not deleted
        async with self.engine.begin() as connection:
            await self._record(connection, saga, owner, **values)
        log.warning("DOI %s: %s", saga.DOI, message)

    async def _note(self, saga: Any, owner: str, message: str) -> None:
        saga = await self.read(saga.ID)
        async with self.engine.begin() as connection:
            await self._record(connection, saga, owner, last_error=message[:1023])
        log.warning(
            "DOI %s: %s (kept at %s; a retry or `doi reconcile` goes on)",
            saga.DOI,
            message,
            saga.STEP,
        )

    async def _record_of(
        self, saga: Any, request: Mapping[str, Any]
    ) -> tuple[PublicationRecord, dict[str, Any]]:
        """The publication's record, and its request with its version links."""
        async with self.engine.connect() as connection:
            record = await publications.load_record(connection, saga.DATAPUBLICATION_ID)
            request = await self._with_links(connection, saga, request)
        assert record is not None, f"saga {saga.ID} at {saga.STEP} has no publication rows"
        return record, request

    async def _with_links(
        self, connection: AsyncConnection, saga: Any, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The request, with ``version``: the links of a version DOI (none for others)."""
        out = {key: value for key, value in request.items() if key != "version"}
        if saga.CONCEPT_DOI is not None:
            links = (await doi_versions.version_links(connection, [saga.DOI])).get(saga.DOI)
            if links is not None:
                out["version"] = links
        return out

    async def _link_version(self, saga: Any, request: Mapping[str, Any]) -> None:
        """A new version is findable: the version before it says ``IsPreviousVersionOf``
        it, and the concept DOI lists it and resolves to it. Both are upserts, so a step
        repeated after a failure sends the same again."""
        async with self.engine.connect() as connection:
            chain = await doi_versions.chain_of(connection, saga.CONCEPT_DOI)
            assert chain is not None  # this saga is in it
            links = chain.links(saga.DOI)
            previous = None
            if links is not None and links["previous"] is not None:
                previous = (
                    await connection.execute(
                        select(DoiSaga.__table__).where(DoiSaga.doi == links["previous"])
                    )
                ).one()
        if previous is not None:
            before, before_request = await self._record_of(previous, orjson.loads(previous.REQUEST))
            url = self.landing_url(previous.DOI)
            await self.registrar.publish(
                previous.DOI, self.metadata(before, before_request, url), url
            )
            await self._boundary("called:publish")
        record, request = await self._record_of(saga, request)
        await self._publish_concept(chain, record, request)

    async def _publish_concept(
        self, chain: doi_versions.Chain, latest: PublicationRecord, request: Mapping[str, Any]
    ) -> None:
        """The concept DOI, described as its newest findable version and resolving to it."""
        url = self.landing_url(latest.doi)
        concept = {
            **request,
            "version": {"concept": chain.concept, "versions": chain.findable()},
        }
        await self.registrar.publish(chain.concept, self.metadata(latest, concept, url), url)
        await self._boundary("called:publish")

    async def _tell_sessions(self, saga: Any) -> None:
        """Re-send the DOI records of the publication's sessions (a new ``HasPart``). At
        most late: what fails here, ``doi register-sessions`` sends (their digests
        changed)."""
        if self.sessions_changed is None:
            return
        try:
            record = (await self._record_of(saga, {}))[0]
            await self.sessions_changed([s.investigation_id for s in record.sessions])
        except Exception:
            log.warning(
                "DOI %s: its sessions' DOI records were not re-sent; `icat-gateway doi "
                "register-sessions` sends them",
                saga.DOI,
                exc_info=True,
            )

    async def _draft_record(
        self, connection: AsyncConnection, saga: Any, request: Mapping[str, Any]
    ) -> PublicationRecord:
        """The record of a reservation not yet in the catalogue, from its request."""
        record = await publications.record_of_selection(
            connection,
            publication_id=saga.DATAPUBLICATION_ID,
            data_collection_id=saga.DATACOLLECTION_ID,
            facility_id=saga.FACILITY_ID,
            doi=saga.DOI,
            title=request["title"],
            dataset_ids=[int(d) for d in request["datasets"]],
            created=saga.CREATED_AT,
        )
        return record

    # -- reconciling ---------------------------------------------------------------------

    async def unfinished(self) -> list[int]:
        """Sagas not at rest, oldest first."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(DoiSaga.id, DoiSaga.step, DoiSaga.goal).order_by(DoiSaga.id)
            )
            return [int(id_) for id_, step, goal in rows if not at_rest(step, goal)]

    async def reconcile(self) -> dict[str, int]:
        """Drive every unfinished saga whose lease is free: how many reached their goal,
        were refused, are waiting for the registrar, or are driven by someone else."""
        counts = {"completed": 0, "refused": 0, "unavailable": 0, "busy": 0}
        for saga_id in await self.unfinished():
            try:
                outcome = await self.drive(saga_id)
            except LeaseHeld:
                counts["busy"] += 1
                continue
            if outcome.unavailable is not None:
                counts["unavailable"] += 1
            elif outcome.refused is not None or outcome.rejected is not None:
                counts["refused"] += 1
            else:
                counts["completed"] += 1
        return counts


async def record_doi_event(
    connection: AsyncConnection,
    type: EventType,
    saga: Any,
    *,
    actor: str,
    at: datetime,
    datasets: Sequence[int],
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Record a DOI's event in the transaction of its step: about the DOI, on the first
    session of its datasets (a DOI may span sessions; the others are in ``sessions``)."""
    sessions = sorted(set((await publications.selection(connection, datasets)).values()))
    await record_event(
        connection,
        NewEvent(
            type=type,
            actor=actor,
            at=at,
            subject_kind=SubjectKind.DOI,
            subject_id=str(saga.DOI),
            investigation_id=sessions[0] if sessions else None,
            before=before,
            after={"doi": str(saga.DOI), "sessions": sessions, **(after or {})},
        ),
    )


def description_from(data: Mapping[str, Any]) -> Description:
    """A Description from its JSON in the saga's request."""
    return Description(
        title=data["title"],
        abstract=data.get("abstract"),
        creators=tuple(
            publications.Creator(
                full_name=c["full_name"],
                given_name=c.get("given_name"),
                family_name=c.get("family_name"),
                orcid=c.get("orcid"),
                affiliations=tuple(
                    publications.CreatorAffiliation(a["name"], a.get("ror"))
                    for a in c.get("affiliations", ())
                ),
                user_name=c.get("user_name"),
            )
            for c in data.get("creators", ())
        ),
        keywords=tuple(data.get("keywords", ())),
        related=tuple(
            publications.Related(
                r["identifier"], r["relation_type"], r.get("resource_type"), r.get("title")
            )
            for r in data.get("related", ())
        ),
    )


def description_json(description: Description) -> dict[str, Any]:
    """The JSON form the saga's request keeps (``description_from`` reads it)."""
    return {
        "title": description.title,
        "abstract": description.abstract,
        "creators": [
            {
                "full_name": c.full_name,
                "given_name": c.given_name,
                "family_name": c.family_name,
                "orcid": c.orcid,
                "affiliations": [{"name": a.name, "ror": a.ror} for a in c.affiliations],
                "user_name": c.user_name,
            }
            for c in description.creators
        ],
        "keywords": list(description.keywords),
        "related": [
            {
                "identifier": r.identifier,
                "relation_type": r.relation_type,
                "resource_type": r.resource_type,
                "title": r.title,
            }
            for r in description.related
        ],
    }


def dataset_list(ids: Sequence[int]) -> list[int]:
    """A selection in a stable order, without repeats."""
    return sorted(set(ids))
