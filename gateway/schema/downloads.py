"""Downloads: ``prepareDownload`` and ``download(id)``; the mutation turns its input into
the use case's arguments (``gateway.usecases.downloads``) and its outcome into a payload.
``DownloadMutation`` is part of the ``Mutation`` type, ``DownloadQuery`` of ``Query``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry

from gateway.catalogue.downloads import download_records, ids_of
from gateway.catalogue.gateway_tables import Download as DownloadRow
from gateway.catalogue.pagination import SortKey, cursor_listing
from gateway.catalogue.visibility import download_caller
from gateway.errors import DownloadsUnavailable
from gateway.fields.identity import global_id, parse_global_id
from gateway.schema.access import require_staff
from gateway.schema.connection import Connection, page_of
from gateway.schema.info import Info
from gateway.schema.inputs import naive_utc
from gateway.schema.listing import root_connection
from gateway.schema.scalars import Long
from gateway.usecases.downloads import Downloads, DownloadState

ERRORS = (
    "NOT_FOUND (a dataset or file unknown or hidden from the caller, as its lookup answers), "
    "BAD_USER_INPUT, DOWNLOAD_TOO_LARGE (over the size or file limit: use Globus), "
    "TOO_MANY_DOWNLOADS, DATA_MISSING (files not in the store or the data service, named), "
    "LOCATION_OUTSIDE_STORE, UPSTREAM_UNAVAILABLE (the data service is down: retry), "
    "UPSTREAM_REFUSED (the data service refused the gateway), DOWNLOADS_UNAVAILABLE"
)


@strawberry.enum(description="Where a prepared download stands.")
class DownloadStatus(enum.Enum):
    READY = strawberry.enum_value("ready", description="Its url fetches the zip now.")
    PREPARING = strawberry.enum_value(
        "preparing", description="The data service is restoring it from tape: ask again."
    )
    FAILED = strawberry.enum_value(
        "failed", description="The data service no longer holds it: prepare it again."
    )
    EXPIRED = strawberry.enum_value(
        "expired", description="Its link has expired: prepare it again."
    )


@strawberry.type(
    description="A zip of datasets and files prepared for the caller. Followed by its "
    "preparer (and staff) with `download(id)`."
)
class Download:
    id: strawberry.ID = strawberry.field(description="Global, opaque id of the download.")
    name: str = strawberry.field(description="The zip's name, without `.zip`.")
    status: DownloadStatus = strawberry.field(description="Whether it can be fetched now.")
    file_count: int = strawberry.field(description="Files in the zip.")
    size: Long = strawberry.field(
        description="Bytes: the zip's from the gateway's own store, the files' from the data "
        "service."
    )
    url: str | None = strawberry.field(
        description="Fetches the zip (`Range` resumes a single file), once ready; a data "
        "service's link can be handed on, the gateway's own expires at `expiresAt`."
    )
    expires_at: datetime | None = strawberry.field(
        description="When the url stops working (UTC); null where the data service decides."
    )
    created_at: datetime = strawberry.field(description="When it was prepared (UTC).")

    @classmethod
    def of(cls, state: DownloadState) -> Download:
        return cls(
            id=strawberry.ID(global_id("Download", state.id)),
            name=state.name,
            status=DownloadStatus(state.status.value),
            file_count=state.file_count,
            size=Long(state.size),
            url=state.url,
            expires_at=state.expires_at,
            created_at=state.created_at,
        )


@strawberry.type(
    description="The record of one prepared download (the facility's statistics): who, "
    "what, when, how big. Staff only."
)
class DownloadRecord:
    id: strawberry.ID = strawberry.field(description="Global, opaque id of the download.")
    created_at: datetime = strawberry.field(description="When it was prepared (UTC).")
    user_name: str | None = strawberry.field(
        description="The ICAT user name of who prepared it; null when anonymous."
    )
    name: str = strawberry.field(description="The zip's name, without `.zip`.")
    backend: str = strawberry.field(
        description="Where it is served from: `ids` (the data service) or `store`."
    )
    dataset_ids: list[strawberry.ID] = strawberry.field(description="The datasets named.")
    datafile_ids: list[strawberry.ID] = strawberry.field(description="The files named.")
    file_count: int = strawberry.field(description="Files in the zip.")
    size: Long = strawberry.field(description="Bytes, as `Download.size`.")

    @classmethod
    def of(cls, row: Any) -> DownloadRecord:
        return cls(
            id=strawberry.ID(global_id("Download", row.id)),
            created_at=row.created_at,
            user_name=row.user_name,
            name=row.name,
            backend=row.backend,
            dataset_ids=[strawberry.ID(global_id("Dataset", i)) for i in ids_of(row.dataset_ids)],
            datafile_ids=[
                strawberry.ID(global_id("Datafile", i)) for i in ids_of(row.datafile_ids)
            ],
            file_count=row.file_count,
            size=Long(row.size),
        )


NEWEST_DOWNLOADS = [SortKey(DownloadRow.id, True)]


@strawberry.input(description="What to put in a zip: datasets, files, or both.")
class PrepareDownloadInput:
    dataset_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Datasets, each with all its files."
    )
    datafile_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Single files."
    )
    name: str | None = strawberry.field(
        default=None, description="The zip's name (letters, digits, `._ -`); `data` if none."
    )


@strawberry.type(description="The result of prepareDownload.")
class PrepareDownloadPayload:
    download: Download = strawberry.field(description="The prepared download.")


def _downloads(info: Info) -> Downloads:
    downloads = info.context.downloads
    if downloads is None:
        raise DownloadsUnavailable("This gateway serves no downloads.")
    assert isinstance(downloads, Downloads)
    return downloads


def _base_url(info: Info) -> str:
    request = info.context.request
    return str(request.base_url) if request is not None else "/"


def _caller_key(info: Info) -> str:
    """Whom the per-caller limit counts: the user name, or the client's address."""
    name = info.context.access.caller.user_name
    if name is not None:
        return name
    # A reviewer link's downloads are its own: only the same link follows them.
    reviewer = download_caller(info.context.access)
    if reviewer is not None:
        return reviewer
    request = info.context.request
    client = getattr(request, "client", None) if request is not None else None
    return f"anonymous@{client.host if client else 'unknown'}"


@strawberry.type
class DownloadMutation:
    @strawberry.mutation(
        description="Prepare a zip of datasets and files the caller may read, all or nothing, "
        "from the facility's data service or the gateway's own store; recorded with who, "
        "what, when and how big. Anonymous callers download released data and the datasets "
        "of published DOIs; the team, beamline scientists and staff embargoed data too. "
        "Errors: " + ERRORS + "."
    )
    async def prepare_download(
        self, info: Info, input: PrepareDownloadInput
    ) -> PrepareDownloadPayload:
        dataset_ids = [parse_global_id(i, "Dataset")[1] for i in input.dataset_ids]
        datafile_ids = [parse_global_id(i, "Datafile")[1] for i in input.datafile_ids]
        context = info.context
        state = await _downloads(info).prepare(
            context.engine,
            context.access,
            caller=_caller_key(info),
            dataset_ids=dataset_ids,
            datafile_ids=datafile_ids,
            name=input.name,
            base_url=_base_url(info),
        )
        return PrepareDownloadPayload(download=Download.of(state))


@strawberry.type
class DownloadQuery:
    @strawberry.field(
        description="A download the caller prepared (staff: any), with its current status; "
        "NOT_FOUND otherwise."
    )
    async def download(self, info: Info, id: strawberry.ID) -> Download:
        _, download_id = parse_global_id(id, "Download")
        context = info.context
        state = await _downloads(info).follow(
            context.engine, context.access, download_id, _base_url(info)
        )
        return Download.of(state)

    @strawberry.field(
        description="Every prepared download, newest first: who, what, when, how big (the "
        "facility's statistics). Staff only. Errors: UNAUTHENTICATED, FORBIDDEN, "
        "BAD_USER_INPUT."
    )
    async def download_records(
        self,
        info: Info,
        user_name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[DownloadRecord]:
        context = info.context
        require_staff(context.access.caller, "the download statistics")
        return await root_connection(
            context.engine,
            download_records(user_name, naive_utc(since), naive_utc(until)),
            NEWEST_DOWNLOADS,
            page_of(info, first, after),
            DownloadRecord.of,
            listing=cursor_listing("downloadRecords"),
        )
