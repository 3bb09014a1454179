"""A data publication's rows in ICAT's tables: written by the DOI saga, read back as a record.

A reservation is a ``DATACOLLECTION`` with its ``DATACOLLECTIONDATASET`` rows and a
``DATAPUBLICATION`` without a publication date (nothing public). Publishing describes it
(creators as ``DATAPUBLICATIONUSER`` with their ``AFFILIATION``\\ s, keywords as
``SUBJECT``, related identifiers as ``RELATEDITEM``) and, last, sets the publication
date, which releases its datasets (``visibility.published_dataset_ids``). Every row
carries ICAT's audit columns: the acting user and the UTC instant.

Everything here runs inside the caller's transaction; ids come from ICAT's sequence.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.models import (
    Affiliation,
    DataCollection,
    DataCollectionDataset,
    DataPublication,
    DataPublicationDate,
    DataPublicationUser,
    Dataset,
    Facility,
    Investigation,
    RelatedItem,
    Subject,
    User,
)
from gateway.catalogue.names import names_of
from gateway.catalogue.sequence import (
    IdScheme,
    allocate_ids,
    id_allocation,
    insert_row,
    insert_rows,
)
from gateway.catalogue.sql_text import same_name

CREATOR = "Creator"
"""``DATAPUBLICATIONUSER.CONTRIBUTORTYPE`` of an author (DataCite's other types name
contributors)."""


@dataclass(frozen=True)
class CreatorAffiliation:
    name: str
    ror: str | None = None
    """``https://ror.org/...`` where known."""


@dataclass(frozen=True)
class Creator:
    """An author as the publication cites them, in order."""

    full_name: str
    given_name: str | None = None
    family_name: str | None = None
    orcid: str | None = None
    """The bare ORCID iD, ``0000-0002-1825-0097``."""
    affiliations: tuple[CreatorAffiliation, ...] = ()
    user_name: str | None = None
    """The catalogue's user, when the author is one."""


@dataclass(frozen=True)
class Related:
    """A related identifier: the paper, a software, another data set."""

    identifier: str
    relation_type: str
    resource_type: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Description:
    """What publishing says of the data beyond its title."""

    title: str
    abstract: str | None = None
    creators: tuple[Creator, ...] = ()
    keywords: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()


@dataclass(frozen=True)
class SessionOfRecord:
    investigation_id: int
    name: str
    visit_id: str
    title: str
    doi: str | None
    release_date: datetime | None


@dataclass(frozen=True)
class PublicationRecord:
    """A data publication as its DataCite metadata needs it: plain values, no rows."""

    publication_id: int
    data_collection_id: int
    doi: str
    facility: str
    title: str
    abstract: str | None
    publication_date: datetime | None
    created: datetime
    keywords: tuple[str, ...]
    creators: tuple[Creator, ...]
    related: tuple[Related, ...]
    dataset_ids: tuple[int, ...]
    sessions: tuple[SessionOfRecord, ...]
    beamlines: tuple[str, ...] = field(default=())


async def _insert_many(
    connection: AsyncConnection, model: type[Any], rows: list[dict[str, Any]]
) -> list[int]:
    """Insert rows given by attribute name, with ids allocated as icat.server allocates
    them; answers the ids."""
    return await insert_rows(connection, model, rows)


def _audit(user: str, now: datetime) -> dict[str, Any]:
    return {"create_id": user, "create_time": now, "mod_id": user, "mod_time": now}


async def selection(connection: AsyncConnection, dataset_ids: Sequence[int]) -> dict[int, int]:
    """The selected datasets that exist: dataset id -> its session's id."""
    rows = await connection.execute(
        select(Dataset.id, Dataset.investigation_id).where(Dataset.id.in_(list(dataset_ids)))
    )
    return {int(dataset): int(session) for dataset, session in rows}


async def facility_id(connection: AsyncConnection, name: str) -> int | None:
    return (await connection.execute(select(Facility.id).where(Facility.name == name))).scalar()


async def reserve_publication_ids(
    connection: AsyncConnection, facility: int, *, user: str, now: datetime
) -> tuple[int, int]:
    """Ids for a data collection and its publication, whose rows are inserted later (once
    the registrar holds the DOI), taken as icat.server would take them.

    From SEQ_GEN_SEQUENCE or the SEQUENCE table an id is reserved before its row exists.
    An AUTO_INCREMENT counter gives a value only to an inserted row: the two rows are
    inserted and deleted again in this transaction (nobody sees them), which takes two
    values icat.server never receives (InnoDB does not hand a value out twice, and keeps
    its counters across restarts since MariaDB 10.2.4 and MySQL 8.0); the rows are then
    inserted with those ids explicitly, which AUTO_INCREMENT accepts.
    """
    if (await id_allocation(connection)).scheme is not IdScheme.AUTO_INCREMENT:
        collection, publication = await allocate_ids(connection, 2)
        return collection, publication
    audit = _audit(user, now)
    collection = await insert_row(connection, DataCollection, **audit)
    publication = await insert_row(
        connection,
        DataPublication,
        facility_id=facility,
        data_collection_id=collection,
        pid=f"reserving/{collection}",
        title="",
        **audit,
    )
    await connection.execute(delete(DataPublication).where(DataPublication.id == publication))
    await connection.execute(delete(DataCollection).where(DataCollection.id == collection))
    return collection, publication


async def insert_reservation(
    connection: AsyncConnection,
    *,
    data_collection_id: int,
    data_publication_id: int,
    facility: int,
    doi: str,
    title: str,
    dataset_ids: Sequence[int],
    user: str,
    now: datetime,
) -> None:
    """The catalogue's side of a reservation: collection, its datasets, the publication
    (no publication date) and its ``Created`` date."""
    audit = _audit(user, now)
    await connection.execute(insert(DataCollection).values(id=data_collection_id, doi=doi, **audit))
    await _add_datasets(connection, data_collection_id, dataset_ids, audit)
    await connection.execute(
        insert(DataPublication).values(
            id=data_publication_id,
            facility_id=facility,
            data_collection_id=data_collection_id,
            pid=doi,
            title=title,
            publication_date=None,
            **audit,
        )
    )
    await insert_row(
        connection,
        DataPublicationDate,
        publication_id=data_publication_id,
        date_type="Created",
        date=now.date().isoformat(),
        **audit,
    )


async def _add_datasets(
    connection: AsyncConnection, collection: int, dataset_ids: Sequence[int], audit: dict[str, Any]
) -> None:
    if not dataset_ids:
        return
    await _insert_many(
        connection,
        DataCollectionDataset,
        [
            {"data_collection_id": collection, "dataset_id": dataset, **audit}
            for dataset in dataset_ids
        ],
    )


async def replace_selection(
    connection: AsyncConnection,
    data_collection_id: int,
    dataset_ids: Sequence[int],
    *,
    user: str,
    now: datetime,
) -> None:
    """Make the collection hold exactly these datasets."""
    held = set(
        (
            await connection.execute(
                select(DataCollectionDataset.dataset_id).where(
                    DataCollectionDataset.data_collection_id == data_collection_id
                )
            )
        ).scalars()
    )
    wanted = list(dict.fromkeys(dataset_ids))
    gone = held - set(wanted)
    if gone:
        await connection.execute(
            delete(DataCollectionDataset).where(
                DataCollectionDataset.data_collection_id == data_collection_id,
                DataCollectionDataset.dataset_id.in_(gone),
            )
        )
    await _add_datasets(
        connection, data_collection_id, [d for d in wanted if d not in held], _audit(user, now)
    )


async def set_title(
    connection: AsyncConnection, publication_id: int, title: str, *, user: str, now: datetime
) -> None:
    await connection.execute(
        update(DataPublication)
        .where(DataPublication.id == publication_id)
        .values(title=title, mod_id=user, mod_time=now)
    )


async def describe(
    connection: AsyncConnection,
    publication_id: int,
    description: Description,
    *,
    user: str,
    now: datetime,
) -> None:
    """Write what publishing says (replacing what an earlier description said), and the
    ``IsPartOf`` relations to the sessions its datasets come from."""
    audit = _audit(user, now)
    await connection.execute(
        update(DataPublication)
        .where(DataPublication.id == publication_id)
        .values(
            title=description.title,
            description=description.abstract,
            subject=", ".join(description.keywords)[:1023] or None,
            mod_id=user,
            mod_time=now,
        )
    )
    await _clear_description(connection, publication_id)
    keywords = list(dict.fromkeys(description.keywords))
    if keywords and _has_subjects(connection):
        await _insert_many(
            connection,
            Subject,
            [{"data_publication_id": publication_id, "name": name, **audit} for name in keywords],
        )
    for position, creator in enumerate(description.creators):
        user_id = await _creator_user(connection, creator, audit)
        row_id = await insert_row(
            connection,
            DataPublicationUser,
            publication_id=publication_id,
            user_id=user_id,
            contributor_type=CREATOR,
            order_key=f"{position:04d}",
            full_name=creator.full_name,
            given_name=creator.given_name,
            family_name=creator.family_name,
            **audit,
        )
        affiliations = list({a.name: a for a in creator.affiliations}.values())
        if affiliations:
            await _insert_many(
                connection,
                Affiliation,
                [{"user_id": row_id, "name": a.name, "pid": a.ror, **audit} for a in affiliations],
            )
    # The sessions' DOIs (IsPartOf) follow from the selection: the metadata adds them.
    related = {r.identifier.lower(): r for r in description.related}
    if related:
        await _insert_many(
            connection,
            RelatedItem,
            [
                {
                    "publication_id": publication_id,
                    "identifier": r.identifier,
                    "relation_type": r.relation_type,
                    "related_item_type": r.resource_type,
                    "title": r.title,
                    **audit,
                }
                for r in related.values()
            ],
        )


async def _clear_description(connection: AsyncConnection, publication_id: int) -> None:
    creators = select(DataPublicationUser.id).where(
        DataPublicationUser.publication_id == publication_id
    )
    await connection.execute(delete(Affiliation).where(Affiliation.user_id.in_(creators)))
    await connection.execute(
        delete(DataPublicationUser).where(DataPublicationUser.publication_id == publication_id)
    )
    if _has_subjects(connection):
        await connection.execute(
            delete(Subject).where(Subject.data_publication_id == publication_id)
        )
    await connection.execute(
        delete(RelatedItem).where(RelatedItem.publication_id == publication_id)
    )


async def _creator_user(
    connection: AsyncConnection, creator: Creator, audit: dict[str, Any]
) -> int:
    """The USER_ row an author is filed under (ICAT's DATAPUBLICATIONUSER needs one): the
    one with their ORCID iD, else the named catalogue user, else one made for them
    (``orcid/<iD>``, or ``creator/<digest of the name>`` without an iD)."""
    if creator.orcid is not None:
        found = (
            await connection.execute(select(User.id).where(User.orcid_id == creator.orcid).limit(1))
        ).scalar()
        if found is not None:
            return int(found)
    if creator.user_name is not None and creator.orcid is None:
        found = (
            await connection.execute(select(User.id).where(same_name(User.name, creator.user_name)))
        ).scalar()
        if found is not None:
            return int(found)
    if creator.orcid is not None:
        name = f"orcid/{creator.orcid}"
    else:
        digest = hashlib.sha256(creator.full_name.encode()).hexdigest()[:16]
        name = f"creator/{digest}"
    found = (await connection.execute(select(User.id).where(User.name == name))).scalar()
    if found is not None:
        return int(found)
    return await insert_row(
        connection,
        User,
        name=name,
        full_name=creator.full_name,
        given_name=creator.given_name,
        family_name=creator.family_name,
        orcid_id=creator.orcid,
        **audit,
    )


async def set_published(
    connection: AsyncConnection, publication_id: int, *, user: str, now: datetime
) -> None:
    """The last step: the publication date, which makes the publication and its datasets
    public at ``now``, and its ``Issued`` date.

    The date is cut to the second: MariaDB rounds a DATETIME's fraction away (to the next
    second for .5 and more), which would put the publication in the future for the rest
    of the second and answer "published" beside ``isPublished: false``."""
    now = now.replace(microsecond=0)
    await connection.execute(
        update(DataPublication)
        .where(DataPublication.id == publication_id, DataPublication.publication_date.is_(None))
        .values(publication_date=now, mod_id=user, mod_time=now)
    )
    await connection.execute(
        delete(DataPublicationDate).where(
            DataPublicationDate.publication_id == publication_id,
            DataPublicationDate.date_type == "Issued",
        )
    )
    await insert_row(
        connection,
        DataPublicationDate,
        publication_id=publication_id,
        date_type="Issued",
        date=now.date().isoformat(),
        **_audit(user, now),
    )


async def delete_reservation(
    connection: AsyncConnection, publication_id: int, data_collection_id: int
) -> None:
    """Remove a reservation's rows (it was never published)."""
    await _clear_description(connection, publication_id)
    await connection.execute(
        delete(DataPublicationDate).where(DataPublicationDate.publication_id == publication_id)
    )
    await connection.execute(delete(DataPublication).where(DataPublication.id == publication_id))
    await connection.execute(
        delete(DataCollectionDataset).where(
            DataCollectionDataset.data_collection_id == data_collection_id
        )
    )
    await connection.execute(delete(DataCollection).where(DataCollection.id == data_collection_id))


async def record_of_selection(
    connection: AsyncConnection,
    *,
    publication_id: int,
    data_collection_id: int,
    facility_id: int,
    doi: str,
    title: str,
    dataset_ids: Sequence[int],
    created: datetime,
) -> PublicationRecord:
    """The record of a reservation whose rows are not written yet (its draft comes first)."""
    facility = (
        await connection.execute(select(Facility.name).where(Facility.id == facility_id))
    ).scalar_one()
    return PublicationRecord(
        publication_id=publication_id,
        data_collection_id=data_collection_id,
        doi=doi,
        facility=facility,
        title=title,
        abstract=None,
        publication_date=None,
        created=created,
        keywords=(),
        creators=(),
        related=(),
        dataset_ids=tuple(sorted(set(dataset_ids))),
        sessions=await _sessions_of(connection, dataset_ids),
    )


async def _sessions_of(
    connection: AsyncConnection, dataset_ids: Sequence[int]
) -> tuple[SessionOfRecord, ...]:
    rows = await connection.execute(
        select(
            Investigation.id,
            Investigation.name,
            Investigation.visit_id,
            Investigation.title,
            Investigation.doi,
            Investigation.release_date,
        )
        .where(
            Investigation.id.in_(
                select(Dataset.investigation_id).where(Dataset.id.in_(list(dataset_ids)))
            )
        )
        .order_by(Investigation.id)
    )
    return tuple(SessionOfRecord(*row) for row in rows)


def _has_subjects(connection: AsyncConnection) -> bool:
    """Whether ICAT has the SUBJECT table (ICAT 6.2 and later) for the keywords."""
    return not names_of(connection.dialect).lacks_table("SUBJECT")


async def load_record(connection: AsyncConnection, publication_id: int) -> PublicationRecord | None:
    """The data publication as plain values (None if it has no rows)."""
    return (await load_records(connection, [publication_id])).get(publication_id)


async def load_records(
    connection: AsyncConnection, publication_ids: Sequence[int]
) -> dict[int, PublicationRecord]:
    """Data publications as plain values, by id: one statement per table for them all."""
    ids = sorted(set(publication_ids))
    rows = (
        await connection.execute(
            select(
                DataPublication.id.label("id"),
                DataPublication.data_collection_id.label("data_collection_id"),
                DataPublication.pid.label("pid"),
                DataPublication.title.label("title"),
                DataPublication.description.label("description"),
                DataPublication.subject.label("subject"),
                DataPublication.publication_date.label("publication_date"),
                DataPublication.create_time.label("create_time"),
                Facility.name.label("facility"),
            )
            .join(Facility, Facility.id == DataPublication.facility_id)
            .where(DataPublication.id.in_(ids))
        )
    ).all()
    if not rows:
        return {}
    keywords: dict[int, list[str]] = defaultdict(list)
    if _has_subjects(connection):
        for owner, name in await connection.execute(
            select(Subject.data_publication_id, Subject.name)
            .where(Subject.data_publication_id.in_(ids))
            .order_by(Subject.id)
        ):
            keywords[int(owner)].append(name)
    else:  # before ICAT 6.2: the keywords as written into DATAPUBLICATION.SUBJECT
        for row in rows:
            keywords[int(row.id)] = [k for k in (row.subject or "").split(", ") if k]
    creators = (
        await connection.execute(
            select(
                DataPublicationUser.publication_id.label("owner"),
                DataPublicationUser.id.label("id"),
                DataPublicationUser.full_name.label("full_name"),
                DataPublicationUser.given_name.label("given_name"),
                DataPublicationUser.family_name.label("family_name"),
                User.orcid_id.label("orcid_id"),
            )
            .join(User, User.id == DataPublicationUser.user_id)
            .where(
                DataPublicationUser.publication_id.in_(ids),
                DataPublicationUser.contributor_type == CREATOR,
            )
            .order_by(DataPublicationUser.order_key, DataPublicationUser.id)
        )
    ).all()
    affiliations: dict[int, list[CreatorAffiliation]] = defaultdict(list)
    for owner, name, pid in await connection.execute(
        select(Affiliation.user_id, Affiliation.name, Affiliation.pid)
        .where(
            Affiliation.user_id.in_(
                select(DataPublicationUser.id).where(DataPublicationUser.publication_id.in_(ids))
            )
        )
        .order_by(Affiliation.id)
    ):
        affiliations[int(owner)].append(CreatorAffiliation(name, pid))
    authors: dict[int, list[Creator]] = defaultdict(list)
    for c in creators:
        authors[int(c.owner)].append(
            Creator(
                full_name=c.full_name or "",
                given_name=c.given_name,
                family_name=c.family_name,
                orcid=c.orcid_id,
                affiliations=tuple(affiliations.get(c.id, ())),
            )
        )
    related: dict[int, list[Related]] = defaultdict(list)
    for owner, *values in await connection.execute(
        select(
            RelatedItem.publication_id,
            RelatedItem.identifier,
            RelatedItem.relation_type,
            RelatedItem.related_item_type,
            RelatedItem.title,
        )
        .where(RelatedItem.publication_id.in_(ids))
        .order_by(RelatedItem.id)
    ):
        related[int(owner)].append(Related(*values))
    collections = {int(row.data_collection_id): int(row.id) for row in rows}
    datasets: dict[int, list[int]] = defaultdict(list)
    for collection, dataset in await connection.execute(
        select(DataCollectionDataset.data_collection_id, DataCollectionDataset.dataset_id)
        .where(DataCollectionDataset.data_collection_id.in_(list(collections)))
        .order_by(DataCollectionDataset.dataset_id)
    ):
        datasets[collections[int(collection)]].append(int(dataset))
    sessions = await _sessions_by_dataset(
        connection, [d for held in datasets.values() for d in held]
    )
    records = {}
    for row in rows:
        held = tuple(datasets.get(int(row.id), ()))
        records[int(row.id)] = PublicationRecord(
            publication_id=int(row.id),
            data_collection_id=int(row.data_collection_id),
            doi=row.pid,
            facility=row.facility,
            title=row.title,
            abstract=row.description,
            publication_date=row.publication_date,
            created=row.create_time,
            keywords=tuple(keywords.get(int(row.id), ())),
            creators=tuple(authors.get(int(row.id), ())),
            related=tuple(related.get(int(row.id), ())),
            dataset_ids=held,
            sessions=tuple(
                sorted(
                    {sessions[d].investigation_id: sessions[d] for d in held}.values(),
                    key=lambda session: session.investigation_id,
                )
            ),
        )
    return records


async def _sessions_by_dataset(
    connection: AsyncConnection, dataset_ids: Sequence[int]
) -> dict[int, SessionOfRecord]:
    rows = await connection.execute(
        select(
            Dataset.id,
            Investigation.id,
            Investigation.name,
            Investigation.visit_id,
            Investigation.title,
            Investigation.doi,
            Investigation.release_date,
        )
        .join(Investigation, Investigation.id == Dataset.investigation_id)
        .where(Dataset.id.in_(sorted(set(dataset_ids))))
    )
    return {int(dataset): SessionOfRecord(*session) for dataset, *session in rows}


async def saga_requests(connection: AsyncConnection, dois: Sequence[str]) -> dict[str, Any]:
    """What the DOI saga keeps of publications that ICAT has no column for (their licence,
    and under ``version`` their place in a chain of versions, ``doi_versions``), by
    lower-case DOI; none for a publication the gateway did not make."""
    from gateway.catalogue.gateway_tables import DoiSaga

    rows = await connection.execute(
        select(DoiSaga.doi, DoiSaga.request).where(
            DoiSaga.doi.in_(sorted({doi.lower() for doi in dois}))
        )
    )
    requests = {doi: orjson.loads(request) for doi, request in rows}
    from gateway.catalogue.doi_versions import version_links

    for doi, links in (await version_links(connection, list(requests))).items():
        requests[doi]["version"] = links
    return requests


@dataclass(frozen=True)
class SessionLanding:
    """A session's landing facts, as its DOI's metadata needs them (all LANDING)."""

    investigation_id: int
    doi: str
    name: str
    visit_id: str
    title: str
    facility: str
    start_date: datetime | None
    end_date: datetime | None
    created: datetime
    team: tuple[tuple[str, str], ...]
    """(full name, role) in ICAT's order of the team rows."""
    parts: tuple[str, ...]
    """DOIs of the published data publications holding its datasets."""


async def load_session_landings(
    connection: AsyncConnection, investigation_ids: Sequence[int], now: datetime
) -> dict[int, SessionLanding]:
    """Sessions' landing facts by id (those without a DOI are left out)."""
    from gateway.catalogue.models import InvestigationUser

    ids = sorted(set(investigation_ids))
    rows = (
        await connection.execute(
            select(
                Investigation.id.label("id"),
                Investigation.doi.label("doi"),
                Investigation.name.label("name"),
                Investigation.visit_id.label("visit_id"),
                Investigation.title.label("title"),
                Investigation.start_date.label("start_date"),
                Investigation.end_date.label("end_date"),
                Investigation.create_time.label("created"),
                Facility.name.label("facility"),
            )
            .join(Facility, Facility.id == Investigation.facility_id)
            .where(Investigation.id.in_(ids), Investigation.doi.is_not(None))
        )
    ).all()
    team: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for owner, name, role in await connection.execute(
        select(
            InvestigationUser.investigation_id,
            func.coalesce(User.full_name, User.name),
            InvestigationUser.role,
        )
        .join(User, User.id == InvestigationUser.user_id)
        .where(InvestigationUser.investigation_id.in_(ids))
        .order_by(InvestigationUser.id)
    ):
        team[int(owner)].append((str(name), str(role)))
    parts: dict[int, set[str]] = defaultdict(set)
    for owner, doi in await connection.execute(
        select(Dataset.investigation_id, DataPublication.pid)
        .join(
            DataCollectionDataset,
            DataCollectionDataset.data_collection_id == DataPublication.data_collection_id,
        )
        .join(Dataset, Dataset.id == DataCollectionDataset.dataset_id)
        .where(
            Dataset.investigation_id.in_(ids),
            DataPublication.publication_date.is_not(None),
            DataPublication.publication_date < now,
        )
    ):
        parts[int(owner)].add(str(doi))
    return {
        int(row.id): SessionLanding(
            investigation_id=int(row.id),
            doi=row.doi,
            name=row.name,
            visit_id=row.visit_id,
            title=row.title,
            facility=row.facility,
            start_date=row.start_date,
            end_date=row.end_date,
            created=row.created,
            team=tuple(team.get(int(row.id), ())),
            parts=tuple(sorted(parts.get(int(row.id), ()))),
        )
        for row in rows
        if row.doi
    }
