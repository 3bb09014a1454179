"""DOIs for a selection of datasets: reserve, change, cancel, publish, or mint in one go.

Who may: whoever may publish for every session the selection draws on
(``policy.can_publish``: staff, and by default every member of the team, collaborators
included, except for a proprietary session, which only staff publish). Anonymous callers
are UNAUTHENTICATED; a dataset the caller cannot see is NOT_FOUND, as one that does not
exist (its existence is DATA of an embargoed session); one they can see but may not
publish is FORBIDDEN. Under ICAT's rules (``icat-rules``) every dataset must also be one
the rules let the caller read, else NOT_FOUND alike. Each call is recorded with its caller
(``GATEWAY_DOI_REQUEST``).

Every call carries an idempotency key (per caller). The same call again with the same key
completes what the first attempt left (a timeout, a crash) or reports how it ended;
another call with a key already used is refused (CONFLICT, ``reason:
IDEMPOTENCY_KEY_REUSED``). The work itself is the saga's (``doi_saga``): each call records
what it wants in one transaction, then drives the saga; whatever stops it midway leaves a
state that the same call again, or ``icat-gateway doi reconcile``, finishes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.auth.policy import (
    AccessRules,
    Caller,
    FieldClass,
    PublishRules,
    can_read,
    is_released,
    roles_of,
)
from gateway.catalogue import doi_versions, publications
from gateway.catalogue.events import EventType
from gateway.catalogue.facts import load_investigation_facts
from gateway.catalogue.gateway_tables import DoiRequest, DoiSaga
from gateway.catalogue.icat_rules.ruleset import IcatRules
from gateway.catalogue.models import Dataset, Investigation
from gateway.catalogue.publications import Description
from gateway.catalogue.visibility import Access, by_rules, publishable_investigation_ids
from gateway.doi.registrar import PermanentRegistrarError
from gateway.errors import (
    BadUserInput,
    Conflict,
    Forbidden,
    GatewayError,
    NotFound,
    RegistrarRefused,
    Unauthenticated,
    UpstreamUnavailable,
)
from gateway.usecases.doi_saga import (
    UNPUBLISHED,
    DoiSagas,
    Goal,
    LeaseHeld,
    Outcome,
    Step,
    description_json,
    record_doi_event,
)

NO_SUCH_DATASET = "No such dataset."
"""For a dataset that does not exist and for one the caller may not see alike."""

MAX_DATASETS = 10_000
"""The largest selection one DOI may hold."""

DRIVE_WAIT = 30.0
"""Seconds a call waits for another process driving the same saga (the same key sent
twice at once) before it answers CONFLICT (``reason: IN_PROGRESS``)."""


@dataclass(frozen=True)
class Licence:
    statement: str
    uri: str | None = None
    spdx: str | None = None


@dataclass(frozen=True)
class DoiPolicy:
    """What the use cases need of the settings."""

    facility: str
    main_proposer_roles: frozenset[str]
    publish: PublishRules | None = None
    """Who may publish (``Settings.publish_rules``); by default every member."""

    @property
    def publish_rules(self) -> PublishRules:
        if self.publish is not None:
            return self.publish
        return PublishRules(AccessRules(main_proposer_roles=self.main_proposer_roles))


@dataclass(frozen=True)
class DoiResult:
    """Where a call left the DOI."""

    doi: str
    data_publication_id: int
    step: str
    goal: str
    replayed: bool
    """The answer of an earlier call with the same key."""


def doi_suffix(facility: str, data_collection_id: int) -> str:
    """``esrf-dc-1234``: from the collection's ICAT id, so one collection has one DOI and
    ids are never reused (ICAT's sequence only grows)."""
    name = re.sub(r"[^a-z0-9]+", "-", facility.lower()).strip("-") or "dc"
    return f"{name}-dc-{data_collection_id}"


def _digest(operation: str, arguments: Mapping[str, Any]) -> str:
    body = orjson.dumps({"operation": operation, **arguments}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def _checked_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 255:
        raise BadUserInput("An idempotency key is 1 to 255 characters.", argument="idempotencyKey")
    return key


def _checked_selection(dataset_ids: Sequence[int]) -> list[int]:
    ids = sorted(set(dataset_ids))
    if not ids:
        raise BadUserInput("Select at least one dataset.", argument="datasetIds")
    if len(ids) > MAX_DATASETS:
        raise BadUserInput(f"A DOI holds at most {MAX_DATASETS} datasets.", argument="datasetIds")
    return ids


def _checked_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise BadUserInput("A DOI needs a title.", argument="title")
    if len(title) > 255:
        raise BadUserInput("A title is at most 255 characters.", argument="title")
    return title


class _KeyTaken(Exception):
    """Another call recorded the same key first."""


class DoiUseCases:
    """The DOI mutations, over one saga driver."""

    def __init__(self, sagas: DoiSagas, policy: DoiPolicy) -> None:
        self.sagas = sagas
        self.policy = policy
        self.engine = sagas.engine

    # -- the calls ---------------------------------------------------------------------

    async def reserve(
        self,
        caller: Caller,
        *,
        key: str,
        dataset_ids: Sequence[int],
        title: str,
        rules: IcatRules | None = None,
    ) -> DoiResult:
        """A draft DOI and a DATAPUBLICATION without a publication date for the datasets."""
        return await self._create(caller, "reserve", key, dataset_ids, title, None, None, rules)

    async def mint(
        self,
        caller: Caller,
        *,
        key: str,
        dataset_ids: Sequence[int],
        description: Description,
        licence: Licence | None = None,
        rules: IcatRules | None = None,
    ) -> DoiResult:
        """Reserve and publish in one call: the datasets are public once it returns."""
        return await self._create(
            caller, "mint", key, dataset_ids, description.title, description, licence, rules
        )

    async def publish(
        self,
        caller: Caller,
        *,
        key: str,
        doi: str,
        description: Description,
        licence: Licence | None = None,
        rules: IcatRules | None = None,
    ) -> DoiResult:
        """Publish a reservation: describe it, make it findable, release its datasets."""
        caller_name = self._who(caller)
        key = _checked_key(key)
        description = self._checked_description(description)
        arguments = {"doi": doi.lower(), **self._publish_json(description, licence)}

        async def start(connection: AsyncConnection) -> int:
            saga = await self._saga_of(connection, doi, lock=True)
            await self._authorise(
                connection, caller, await self._selection_of(connection, saga), rules
            )
            if saga.GOAL != Goal.RESERVED or saga.STEP not in UNPUBLISHED:
                raise Conflict(
                    f"{saga.DOI} is {_state_word(saga)}: only a reservation can be published.",
                    reason="NOT_RESERVED",
                )
            await self._prevalidate(connection, saga, description, licence)
            request = orjson.loads(saga.REQUEST)
            request["publish"] = description_json(description)
            request["licence"] = _licence_json(licence)
            request["by"] = caller_name  # the publication event's actor
            await self._change(connection, saga, goal=Goal.PUBLISHED, request=request)
            return int(saga.ID)

        return await self._keyed(caller_name, key, "publish", arguments, start)

    async def update(
        self,
        caller: Caller,
        *,
        key: str,
        doi: str,
        dataset_ids: Sequence[int] | None = None,
        title: str | None = None,
        description: Description | None = None,
        licence: Licence | None = None,
        rules: IcatRules | None = None,
    ) -> DoiResult:
        """Change a reservation's selection, title or description while it is unpublished;
        the draft follows."""
        caller_name = self._who(caller)
        key = _checked_key(key)
        selection = _checked_selection(dataset_ids) if dataset_ids is not None else None
        title = _checked_title(title) if title is not None else None
        keeps_title = description is not None and not description.title.strip()
        if description is not None:
            # Without a title of its own, a new description keeps the reservation's.
            named = dataclasses.replace(description, title=description.title or "-")
            description = dataclasses.replace(
                self._checked_description(named), title=description.title.strip()
            )
        arguments = {
            "doi": doi.lower(),
            "datasets": selection,
            "title": title,
            **(self._publish_json(description, licence) if description else {}),
            "licence": _licence_json(licence),
        }
        now = self.sagas.clock()

        async def start(connection: AsyncConnection) -> int:
            saga = await self._saga_of(connection, doi, lock=True)
            await self._authorise(
                connection, caller, await self._selection_of(connection, saga), rules
            )
            if saga.GOAL != Goal.RESERVED or saga.STEP not in (Step.RESERVED, Step.CHANGED):
                raise Conflict(
                    f"{saga.DOI} is {_state_word(saga)}: only a reservation can change.",
                    reason="NOT_RESERVED",
                )
            if selection is not None:
                await self._authorise(connection, caller, selection, rules)
            described = description
            if described is not None and keeps_title:
                held = await publications.load_record(connection, saga.DATAPUBLICATION_ID)
                assert held is not None  # RESERVED or CHANGED: the rows are there
                described = dataclasses.replace(described, title=held.title)
            if described is not None:
                await self._prevalidate(connection, saga, described, licence)
            request = orjson.loads(saga.REQUEST)
            if licence is not None:
                request["licence"] = _licence_json(licence)
            if selection is not None:
                request["datasets"] = selection
            await self._change(connection, saga, step=Step.CHANGED, request=request)
            await record_doi_event(
                connection,
                EventType.DOI_UPDATE,
                saga,
                actor=caller_name,
                at=now,
                datasets=selection or await self._selection_of(connection, saga),
                after={
                    key: value
                    for key, value in (("datasets", selection), ("title", title))
                    if value is not None
                }
                | ({"description": description_json(described)} if described else {}),
            )
            if selection is not None:
                await publications.replace_selection(
                    connection, saga.DATACOLLECTION_ID, selection, user=caller_name, now=now
                )
            if described is not None:
                await publications.describe(
                    connection, saga.DATAPUBLICATION_ID, described, user=caller_name, now=now
                )
            if title is not None:
                await publications.set_title(
                    connection, saga.DATAPUBLICATION_ID, title, user=caller_name, now=now
                )
            return int(saga.ID)

        return await self._keyed(caller_name, key, "update", arguments, start)

    async def cancel(
        self, caller: Caller, *, key: str, doi: str, rules: IcatRules | None = None
    ) -> DoiResult:
        """Withdraw a reservation: the draft is deleted in the registrar, the rows removed;
        its suffix is never given again."""
        caller_name = self._who(caller)
        key = _checked_key(key)

        async def start(connection: AsyncConnection) -> int:
            saga = await self._saga_of(connection, doi, lock=True)
            await self._authorise(
                connection, caller, await self._selection_of(connection, saga), rules
            )
            if saga.GOAL != Goal.RESERVED or saga.STEP not in UNPUBLISHED:
                raise Conflict(
                    f"{saga.DOI} is {_state_word(saga)}: only a reservation can be cancelled.",
                    reason="NOT_RESERVED",
                )
            request = orjson.loads(saga.REQUEST)
            request["by"] = caller_name  # the cancellation event's actor
            await self._change(connection, saga, goal=Goal.CANCELLED, request=request)
            return int(saga.ID)

        return await self._keyed(caller_name, key, "cancel", {"doi": doi.lower()}, start)

    async def new_version(
        self,
        caller: Caller,
        *,
        key: str,
        doi: str,
        dataset_ids: Sequence[int] | None = None,
        description: Description | None = None,
        licence: Licence | None = None,
        rules: IcatRules | None = None,
    ) -> DoiResult:
        """Mint the next version of a published DOI: a new DOI for the given selection and
        description (by default the version's own), published at once, ``IsNewVersionOf``
        it, under the concept DOI of their versions (made with the second version). Only
        the newest version gets a next one, and only once it is published."""
        caller_name = self._who(caller)
        key = _checked_key(key)
        selection = _checked_selection(dataset_ids) if dataset_ids is not None else None
        if description is not None:
            description = self._checked_description(description)
        arguments = {
            "doi": doi.lower(),
            "datasets": selection,
            **self._publish_json(description, licence),
        }
        now = self.sagas.clock()

        async def start(connection: AsyncConnection) -> int:
            previous = await self._saga_of(connection, doi, lock=True)
            await self._authorise(
                connection, caller, await self._selection_of(connection, previous), rules
            )
            if previous.STEP != Step.PUBLISHED or previous.GOAL != Goal.PUBLISHED:
                raise Conflict(
                    f"{previous.DOI} is {_state_word(previous)}: only a published DOI gets a "
                    "new version.",
                    reason="NOT_PUBLISHED",
                )
            concept = previous.CONCEPT_DOI or doi_versions.concept_doi_of(previous.DOI)
            number = previous.VERSION or 1
            chain = await doi_versions.chain_of(connection, concept)
            newest = chain.newest() if chain is not None else None
            if newest is not None and newest.doi != previous.DOI:
                raise Conflict(
                    f"{previous.DOI} has a newer version, {newest.doi}: make the next "
                    "version of the newest.",
                    reason="NOT_NEWEST_VERSION",
                )
            held = await publications.load_record(connection, previous.DATAPUBLICATION_ID)
            assert held is not None  # published: its rows are there
            chosen = selection if selection is not None else list(held.dataset_ids)
            await self._authorise(connection, caller, chosen, rules)
            described = description or Description(
                title=held.title,
                abstract=held.abstract,
                creators=held.creators,
                keywords=held.keywords,
                related=held.related,
            )
            kept = orjson.loads(previous.REQUEST).get("licence")
            request: dict[str, Any] = {
                "datasets": chosen,
                "title": described.title,
                "publish": description_json(described),
                "licence": _licence_json(licence) if licence is not None else kept,
            }
            if previous.CONCEPT_DOI is None:
                # The first new version: the versioned DOI becomes version 1.
                await self._change(connection, previous, concept_doi=concept, version=1)
            await record_doi_event(
                connection,
                EventType.DOI_VERSION,
                previous,
                actor=caller_name,
                at=now,
                datasets=chosen,
                before={"version": number},
                after={"concept": concept, "version": number + 1},
            )
            return await self._start_saga(
                connection,
                caller_name,
                chosen,
                described.title,
                described,
                request,
                now,
                concept=concept,
                version=number + 1,
            )

        return await self._keyed(caller_name, key, "version", arguments, start)

    async def amend(
        self,
        caller: Caller,
        *,
        key: str,
        doi: str,
        title: str | None = None,
        abstract: str | None = None,
        creators: Sequence[publications.Creator] | None = None,
        keywords: Sequence[str] | None = None,
        related: Sequence[publications.Related] | None = None,
        licence: Licence | None = None,
        rules: IcatRules | None = None,
    ) -> DoiResult:
        """Amend a published DOI's description (what is given changes, the rest stays):
        the catalogue's rows change and the registrar is sent the new record, through
        the saga (``AMENDED`` until it has it). Its datasets stay as published: a changed
        selection is a new version."""
        caller_name = self._who(caller)
        key = _checked_key(key)
        changes: dict[str, Any] = {
            "title": title,
            "abstract": abstract,
            "creators": tuple(creators) if creators is not None else None,
            "keywords": tuple(keywords) if keywords is not None else None,
            "related": tuple(related) if related is not None else None,
        }
        given = {name: value for name, value in changes.items() if value is not None}
        if not given and licence is None:
            raise BadUserInput("Give at least one thing to amend.")
        arguments = {
            "doi": doi.lower(),
            **{
                name: description_json(Description(title="-", **{name: value}))[name]
                if name in ("creators", "related")
                else value
                for name, value in given.items()
            },
            "licence": _licence_json(licence),
        }
        now = self.sagas.clock()

        async def start(connection: AsyncConnection) -> int:
            saga = await self._saga_of(connection, doi, lock=True)
            await self._authorise(
                connection, caller, await self._selection_of(connection, saga), rules
            )
            if saga.GOAL != Goal.PUBLISHED or saga.STEP not in (Step.PUBLISHED, Step.AMENDED):
                raise Conflict(
                    f"{saga.DOI} is {_state_word(saga)}: only a published DOI is amended "
                    "(change a reservation with updateDoiReservation).",
                    reason="NOT_PUBLISHED",
                )
            held = await publications.load_record(connection, saga.DATAPUBLICATION_ID)
            assert held is not None  # published: its rows are there
            current = Description(
                title=held.title,
                abstract=held.abstract,
                creators=held.creators,
                keywords=held.keywords,
                related=held.related,
            )
            if "abstract" in given:
                given["abstract"] = given["abstract"].strip() or None
            described = self._checked_description(dataclasses.replace(current, **given))
            await self._prevalidate(connection, saga, described, licence)
            request = orjson.loads(saga.REQUEST)
            request["publish"] = description_json(described)
            if licence is not None:
                request["licence"] = _licence_json(licence)
            await self._change(connection, saga, step=Step.AMENDED, request=request)
            await record_doi_event(
                connection,
                EventType.DOI_AMEND,
                saga,
                actor=caller_name,
                at=now,
                datasets=list(held.dataset_ids),
                before={"description": description_json(current)},
                after={"description": description_json(described)}
                | ({"licence": _licence_json(licence)} if licence is not None else {}),
            )
            await publications.describe(
                connection, saga.DATAPUBLICATION_ID, described, user=caller_name, now=now
            )
            return int(saga.ID)

        return await self._keyed(caller_name, key, "amend", arguments, start)

    # -- creating ----------------------------------------------------------------------

    async def _create(
        self,
        caller: Caller,
        operation: str,
        key: str,
        dataset_ids: Sequence[int],
        title: str,
        description: Description | None,
        licence: Licence | None,
        rules: IcatRules | None,
    ) -> DoiResult:
        caller_name = self._who(caller)
        key = _checked_key(key)
        selection = _checked_selection(dataset_ids)
        title = _checked_title(title)
        if description is not None:
            description = self._checked_description(description)
        request: dict[str, Any] = {"datasets": selection, "title": title}
        if description is not None:
            request.update(self._publish_json(description, licence))
        now = self.sagas.clock()

        async def start(connection: AsyncConnection) -> int:
            await self._authorise(connection, caller, selection, rules)
            return await self._start_saga(
                connection, caller_name, selection, title, description, request, now
            )

        return await self._keyed(caller_name, key, operation, request, start)

    async def _start_saga(
        self,
        connection: AsyncConnection,
        caller_name: str,
        selection: list[int],
        title: str,
        description: Description | None,
        request: dict[str, Any],
        now: Any,
        *,
        concept: str | None = None,
        version: int | None = None,
    ) -> int:
        """Allocate the new DOI's ids and record its saga (at STARTED), in the caller's
        transaction; its metadata is checked first, so nothing the registrar would refuse
        is recorded."""
        facility = await publications.facility_id(connection, self.policy.facility)
        if facility is None:
            raise NotFound(f"No facility {self.policy.facility} in the catalogue.")
        collection, publication = await publications.reserve_publication_ids(
            connection, facility, user=caller_name, now=now
        )
        doi = f"{self.sagas.registrar.prefix}/{doi_suffix(self.policy.facility, collection)}"
        doi = doi.lower()
        record = await publications.record_of_selection(
            connection,
            publication_id=publication,
            data_collection_id=collection,
            facility_id=facility,
            doi=doi,
            title=title,
            dataset_ids=selection,
            created=now,
        )
        # Metadata the registrar would refuse is refused before anything is recorded.
        checked = request
        if concept is not None and version is not None:
            checked = {**request, "version": {"concept": concept, "number": version}}
        self.sagas.metadata(record, checked, None)
        if description is not None:
            self.sagas.metadata(
                _described(record, description), checked, self.sagas.landing_url(doi)
            )
        result = await connection.execute(
            insert(DoiSaga).values(
                doi=doi,
                facility_id=facility,
                data_collection_id=collection,
                data_publication_id=publication,
                step=Step.STARTED,
                goal=Goal.PUBLISHED if description is not None else Goal.RESERVED,
                request=orjson.dumps(request).decode(),
                revision=0,
                created_by=caller_name,
                created_at=now,
                updated_at=now,
                concept_doi=concept,
                version=version,
            )
        )
        (saga_id,) = result.inserted_primary_key or (0,)
        return int(saga_id)

    # -- keys and outcomes -------------------------------------------------------------

    async def _keyed(
        self,
        caller_name: str,
        key: str,
        operation: str,
        arguments: Mapping[str, Any],
        start: Callable[[AsyncConnection], Awaitable[int]],
    ) -> DoiResult:
        """Record the call under its key (or find the earlier one), then drive its saga."""
        digest = _digest(operation, arguments)
        replayed = False
        for _ in range(2):
            try:
                saga_id, replayed = await self._record_call(
                    caller_name, key, operation, digest, start
                )
                break
            except _KeyTaken:
                continue  # recorded by a call that then rolled back: once more
        else:  # pragma: no cover - a key recorded once is found the second time
            raise Conflict("This idempotency key is being used right now.", reason="IN_PROGRESS")
        try:
            outcome = await self.sagas.drive(saga_id, wait=DRIVE_WAIT)
        except LeaseHeld:
            raise Conflict(
                "This DOI is being changed by another request; retry with the same key.",
                reason="IN_PROGRESS",
            ) from None
        error = _error_of_outcome(outcome)
        if error is not None:
            if outcome.unavailable is None:
                await self._settle(caller_name, key, error)
            raise error
        saga = outcome.saga
        if saga.STEP == Step.FAILED:
            error = RegistrarRefused(saga.LAST_ERROR or "The registrar refused this DOI.")
            await self._settle(caller_name, key, error)
            raise error
        return DoiResult(saga.DOI, int(saga.DATAPUBLICATION_ID), saga.STEP, saga.GOAL, replayed)

    async def _record_call(
        self,
        caller_name: str,
        key: str,
        operation: str,
        digest: str,
        start: Callable[[AsyncConnection], Awaitable[int]],
    ) -> tuple[int, bool]:
        """The saga of the earlier call with this key (True), or of this call, started
        and recorded under the key in one transaction (False).

        The key is inserted first: a second call with the same key at the same instant
        waits on the key's unique index (or SQLite's write lock) and then finds it."""
        try:
            async with self.engine.begin() as connection:
                try:
                    await connection.execute(
                        insert(DoiRequest).values(
                            caller=caller_name,
                            idempotency_key=key,
                            operation=operation,
                            digest=digest,
                            saga_id=0,
                            created_at=self.sagas.clock(),
                        )
                    )
                except IntegrityError:
                    raise _KeyTaken from None
                saga_id = await start(connection)
                await connection.execute(
                    update(DoiRequest)
                    .where(DoiRequest.caller == caller_name, DoiRequest.idempotency_key == key)
                    .values(saga_id=saga_id)
                )
                return saga_id, False
        except _KeyTaken:
            pass
        async with self.engine.connect() as connection:
            earlier = (
                await connection.execute(
                    select(DoiRequest.__table__).where(
                        DoiRequest.caller == caller_name, DoiRequest.idempotency_key == key
                    )
                )
            ).first()
        if earlier is None:
            raise _KeyTaken  # its call rolled back meanwhile: try again
        if operation != earlier.OPERATION or digest != earlier.DIGEST:
            raise Conflict(
                "This idempotency key was used for another request: use a new key for a "
                "new request.",
                reason="IDEMPOTENCY_KEY_REUSED",
            )
        if earlier.OUTCOME is not None:
            raise _error_of(orjson.loads(earlier.OUTCOME))
        return int(earlier.SAGA_ID), True

    async def _settle(self, caller_name: str, key: str, error: GatewayError) -> None:
        """Keep how a call ended with an error, for the same call again."""
        async with self.engine.begin() as connection:
            await connection.execute(
                update(DoiRequest)
                .where(DoiRequest.caller == caller_name, DoiRequest.idempotency_key == key)
                .values(
                    outcome=orjson.dumps(error.extensions | {"message": error.message}).decode()
                )
            )

    # -- checks ------------------------------------------------------------------------

    def _who(self, caller: Caller) -> str:
        if caller.user_name is None:
            raise Unauthenticated("Log in to reserve, change or publish a DOI.")
        return caller.user_name

    def _checked_description(self, description: Description) -> Description:
        title = _checked_title(description.title)
        if not description.creators:
            raise BadUserInput("Publishing needs at least one creator.", argument="creators")
        for creator in description.creators:
            if not creator.full_name.strip():
                raise BadUserInput("Every creator needs a name.", argument="creators")
        orcids = [c.orcid for c in description.creators if c.orcid]
        if len(set(orcids)) != len(orcids):
            raise BadUserInput("A creator is listed twice (same ORCID iD).", argument="creators")
        return dataclasses.replace(description, title=title)

    def _publish_json(
        self, description: Description | None, licence: Licence | None
    ) -> dict[str, Any]:
        if description is None:
            return {}
        return {"publish": description_json(description), "licence": _licence_json(licence)}

    async def _authorise(
        self,
        connection: AsyncConnection,
        caller: Caller,
        dataset_ids: Sequence[int],
        rules: IcatRules | None = None,
    ) -> None:
        """The caller may publish for every session of the selection (``policy.
        can_publish``, applied in SQL): reserve, change, publish and mint all ask it.
        Under ICAT's rules (``rules``) they must also read every dataset of it by the
        rules: publishing releases the datasets, so it cannot reach past what the
        facility's rules let them read.

        A dataset that does not exist and one the caller may not see get the same answer
        (NOT_FOUND, same message): which ids exist is not for them to learn. One they see
        but may not publish is FORBIDDEN."""
        found = await publications.selection(connection, dataset_ids)
        now = self.sagas.clock()
        if set(dataset_ids) - set(found):
            raise NotFound(NO_SUCH_DATASET, argument="datasetIds")
        if rules is not None:
            access = Access(caller=caller, now=now, rules=rules)
            readable = await connection.scalars(
                select(Dataset.id).where(Dataset.id.in_(sorted(found)), by_rules(access, Dataset))
            )
            if set(found) - set(readable):
                raise NotFound(NO_SUCH_DATASET, argument="datasetIds")
        sessions = set(found.values())
        publishable = publishable_investigation_ids(
            Access(caller=caller, now=now), self.policy.publish_rules
        )
        if publishable is not None:
            allowed = set(
                await connection.scalars(
                    select(Investigation.id).where(
                        Investigation.id.in_(sorted(sessions)), Investigation.id.in_(publishable)
                    )
                )
            )
            sessions -= allowed
        else:
            sessions = set()
        for session in sorted(sessions):
            if rules is None:  # under ICAT's rules they read every dataset: they see it
                record = await load_investigation_facts(connection, session, now=now)
                assert record is not None  # a dataset's session exists (foreign key)
                roles = roles_of(caller, record.facts, self.policy.main_proposer_roles)
                released = is_released(record.facts.release_date, now)
                if not can_read(FieldClass.DATA, roles, released=released):
                    raise NotFound(NO_SUCH_DATASET, argument="datasetIds")
            raise Forbidden(
                "You may not publish a DOI for datasets of every session of the "
                "selection: the facility lets their members publish (as configured), "
                "and only staff publish the data of a proprietary session.",
                argument="datasetIds",
            )

    async def _saga_of(self, connection: AsyncConnection, doi: str, *, lock: bool) -> Any:
        from gateway.catalogue.queries import normalise_doi

        statement = select(DoiSaga.__table__).where(DoiSaga.doi == normalise_doi(doi).lower())
        if lock and connection.dialect.name != "sqlite":
            statement = statement.with_for_update()
        saga = (await connection.execute(statement)).first()
        if saga is None:
            raise NotFound("No DOI reservation of this gateway has this DOI.", argument="doi")
        return saga

    async def _selection_of(self, connection: AsyncConnection, saga: Any) -> list[int]:
        if saga.STEP in (Step.STARTED, Step.DRAFTED, Step.FAILED):
            return [int(d) for d in orjson.loads(saga.REQUEST)["datasets"]]
        record = await publications.load_record(connection, saga.DATAPUBLICATION_ID)
        return list(record.dataset_ids) if record is not None else []

    async def _prevalidate(
        self,
        connection: AsyncConnection,
        saga: Any,
        description: Description,
        licence: Licence | None,
    ) -> None:
        """Refuse a description the metadata would refuse, before anything is recorded."""
        record = await publications.load_record(connection, saga.DATAPUBLICATION_ID)
        if record is None:
            return  # not in the catalogue yet: checked when its step comes
        request = orjson.loads(saga.REQUEST) | {"licence": _licence_json(licence)}
        self.sagas.metadata(
            _described(record, description), request, self.sagas.landing_url(saga.DOI)
        )

    async def _change(self, connection: AsyncConnection, saga: Any, **values: Any) -> None:
        """Change the saga as read (its row is locked on PostgreSQL and MariaDB)."""
        if "request" in values:
            values["request"] = orjson.dumps(values["request"]).decode()
        result = await connection.execute(
            update(DoiSaga)
            .where(DoiSaga.id == saga.ID, DoiSaga.revision == saga.REVISION)
            .values(revision=saga.REVISION + 1, updated_at=self.sagas.clock(), **values)
        )
        if result.rowcount != 1:
            raise Conflict(
                f"{saga.DOI} changed meanwhile; retry with the same key.", reason="IN_PROGRESS"
            )


def _described(
    record: publications.PublicationRecord, description: Description
) -> publications.PublicationRecord:
    return dataclasses.replace(
        record,
        title=description.title,
        abstract=description.abstract,
        keywords=description.keywords,
        creators=description.creators,
        related=description.related,
    )


def _licence_json(licence: Licence | None) -> dict[str, Any] | None:
    return dataclasses.asdict(licence) if licence is not None else None


def _state_word(saga: Any) -> str:
    if saga.STEP in (Step.PUBLISHED, Step.AMENDED) or saga.GOAL == Goal.PUBLISHED:
        return "published or being published"
    if saga.STEP == Step.CANCELLED or saga.GOAL == Goal.CANCELLED:
        return "cancelled"
    if saga.STEP == Step.FAILED:
        return "a failed reservation"
    return "reserved"


_ERRORS: dict[str, type[GatewayError]] = {
    cls.code: cls
    for cls in (
        BadUserInput,
        Conflict,
        Forbidden,
        NotFound,
        RegistrarRefused,
        Unauthenticated,
        UpstreamUnavailable,
    )
}


def _error_of(stored: Mapping[str, Any]) -> GatewayError:
    details = {k: v for k, v in stored.items() if k not in ("code", "message")}
    cls = _ERRORS.get(stored.get("code", ""), RegistrarRefused)
    return cls(stored.get("message", "The earlier call with this key failed."), **details)


def _error_of_outcome(outcome: Outcome) -> GatewayError | None:
    if outcome.unavailable is not None:
        return UpstreamUnavailable(
            "The DOI registrar is unavailable; nothing is public yet. Retry the same call "
            "with the same idempotency key to carry on."
        )
    if isinstance(outcome.refused, GatewayError):
        return outcome.refused
    if isinstance(outcome.refused, PermanentRegistrarError):
        return RegistrarRefused(
            f"The DOI registrar refused: {outcome.refused}", status=outcome.refused.status
        )
    if outcome.rejected is not None:
        return Conflict(f"The reservation could not be made: {outcome.rejected}.")
    return None
