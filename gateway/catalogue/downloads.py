"""The statements of downloads: which of the named datasets and files the caller may read
(the policy's SQL filters, as their lookups), the files a selection holds, and the record
of prepared downloads (``GATEWAY_DOWNLOAD``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.gateway_tables import Download
from gateway.catalogue.models import Datafile, Dataset
from gateway.catalogue.queries import columns_of
from gateway.catalogue.sql_text import same_name
from gateway.catalogue.visibility import (
    Access,
    along_by_rules,
    datafile_row_visible,
    dataset_row_visible,
    download_visible,
)


def readable_dataset_ids(access: Access, ids: Sequence[int]) -> Select[Any]:
    """Those of the datasets the caller may read: the ``dataset(id)`` lookup's rule."""
    return select(Dataset.id).where(Dataset.id.in_(ids), dataset_row_visible(access))


def readable_datafile_ids(access: Access, ids: Sequence[int]) -> Select[Any]:
    """Those of the datafiles the caller may read: the ``datafile(id)`` lookup's rule."""
    return select(Datafile.id).where(Datafile.id.in_(ids), datafile_row_visible(access))


def selected_files(
    dataset_ids: Sequence[int], datafile_ids: Sequence[int], access: Access | None = None
) -> Select[Any]:
    """The files of the datasets and the files named, once each, in a stable order; with
    ``access`` under ICAT's rules, a dataset's files are those ``Dataset.datafiles``
    reaches (without: a selection decided at preparation)."""
    conditions = []
    if dataset_ids:
        reached = [] if access is None else files_reached(access)
        conditions.append(and_(Datafile.dataset_id.in_(dataset_ids), *reached))
    if datafile_ids:
        conditions.append(Datafile.id.in_(datafile_ids))
    return (
        select(
            Datafile.id.label("id"),
            Datafile.dataset_id.label("dataset_id"),
            Dataset.name.label("dataset_name"),
            Datafile.name.label("name"),
            Datafile.location.label("location"),
            Datafile.file_size.label("file_size"),
        )
        .join(Dataset, Dataset.id == Datafile.dataset_id)
        .where(or_(*conditions))
        .order_by(Datafile.dataset_id, Datafile.id)
    )


def files_reached(access: Access) -> list[Any]:
    """The condition on a dataset's files that a download of the dataset holds."""
    return along_by_rules(access, ("Dataset", "datafiles", Datafile))


def dataset_download_sizes(access: Access, dataset_ids: Sequence[int]) -> Select[Any]:
    """Each dataset's bytes as a download would hold them: its files' sizes added up."""
    return (
        select(Datafile.dataset_id, func.coalesce(func.sum(Datafile.file_size), 0))
        .where(Datafile.dataset_id.in_(dataset_ids), *files_reached(access))
        .group_by(Datafile.dataset_id)
    )


async def record_download(connection: AsyncConnection, **values: Any) -> int:
    """Insert the record of a prepared download; its id."""
    result = await connection.execute(insert(Download).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def preparing_count(connection: AsyncConnection, caller: str, since: datetime) -> int:
    """The caller's downloads prepared since ``since`` and still in preparation (not
    fetched from the store yet, not prepared by the data service yet)."""
    count = await connection.scalar(
        select(func.count())
        .select_from(Download)
        .where(
            Download.caller == caller,
            Download.created_at > since,
            Download.fetched_at.is_(None),
        )
    )
    return int(count or 0)


def visible_download(access: Access, download_id: int) -> Select[Any]:
    """A download's record, if the caller may follow it (``download_visible``)."""
    return select(*columns_of(Download)).where(Download.id == download_id, download_visible(access))


def download_records(
    user_name: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> Select[Any]:
    """The records of prepared downloads (every column), unordered: the list pages them.
    Staff's (the facility's statistics): the caller is checked by the query field."""
    conditions = []
    if user_name is not None:
        conditions.append(same_name(Download.user_name, user_name))
    if since is not None:
        conditions.append(Download.created_at >= since)
    if until is not None:
        conditions.append(Download.created_at < until)
    return select(*columns_of(Download)).where(*conditions)


def download_by_id(download_id: int) -> Select[Any]:
    """A download's record, for its signed link (checked by the signature, not the caller)."""
    return select(*columns_of(Download)).where(Download.id == download_id)


async def mark_fetched(connection: AsyncConnection, download_id: int, now: datetime) -> None:
    """Note when a download left preparation (it no longer counts against the limit)."""
    await connection.execute(
        update(Download)
        .where(and_(Download.id == download_id, Download.fetched_at.is_(None)))
        .values(fetched_at=now)
    )


def ids_text(ids: Sequence[int]) -> str:
    return ",".join(str(i) for i in ids)


def ids_of(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]
