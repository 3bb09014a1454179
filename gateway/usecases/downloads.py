"""Downloads: a zip of what the caller may read, from the ICAT Data Service or the
gateway's own store.

All or nothing: every dataset and file named must be one the caller may read, by the same
SQL filters as their lookups, and a refused id answers exactly as ``dataset(id)`` or
``datafile(id)`` would (``NOT_FOUND``: an id hidden from the caller is not told apart from
an unknown one). Then the data service is asked with the gateway's reader session (as
TopCAT's DOI plugin does), or the store checks that every file is there, and the download
is recorded (who, what, when, how big) in one transaction with its preparation's outcome.
A prepared download is followed with ``download(id)``; its link is IDS's
``getData?preparedId=`` (which can be handed on) or a signed, expiring link of the gateway.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue import downloads as statements
from gateway.catalogue.events import EventType, NewEvent, SubjectKind, record_event
from gateway.catalogue.secrets import stored_secret
from gateway.catalogue.visibility import Access
from gateway.downloads.ids import DataService
from gateway.downloads.links import LINK_KEY, BadLink, LinkSigner, new_link_key
from gateway.downloads.store import DataStore, StoredFile
from gateway.errors import (
    BadUserInput,
    DataMissing,
    DownloadsUnavailable,
    DownloadTooLarge,
    NotFound,
    TooManyDownloads,
)
from gateway.settings import Settings

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,99}")
"""A download's name: its zip is ``<name>.zip``."""

DEFAULT_NAME = "data"


class DownloadStatus(enum.Enum):
    READY = "ready"
    PREPARING = "preparing"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class DownloadState:
    """A prepared download as a portal follows it."""

    id: int
    name: str
    status: DownloadStatus
    file_count: int
    size: int
    created_at: datetime
    url: str | None = None
    expires_at: datetime | None = None
    user_name: str | None = None


@dataclass(frozen=True)
class Selection:
    """What a caller asked for, checked: the datasets and files, and the files they hold."""

    dataset_ids: tuple[int, ...]
    datafile_ids: tuple[int, ...]
    files: tuple[StoredFile, ...]
    catalogue_size: int
    one_by_one: bool = False
    """Under ICAT's rules a dataset's files are those the rules let the caller reach
    (``Dataset.datafiles``), not always all of them: the data service, which would
    prepare a whole dataset with its reader account, is then asked for the files."""

    @property
    def asked(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The datasets and files the data service is asked for (and the record keeps)."""
        if self.one_by_one:
            return (), tuple(file.datafile_id for file in self.files)
        return self.dataset_ids, self.datafile_ids


@dataclass
class Downloads:
    """The download use cases over the configured backend (``settings.downloads``)."""

    engine: AsyncEngine
    """Transactions (the record of each download)."""
    settings: Settings
    ids: DataService | None = None
    store: DataStore | None = None
    _signer: LinkSigner | None = field(default=None, repr=False)

    @property
    def backend(self) -> str:
        return self.settings.downloads

    async def signer(self) -> LinkSigner:
        """The links' signer, with the deployment's key (made by the first replica)."""
        if self._signer is None:
            self._signer = LinkSigner(await stored_secret(self.engine, LINK_KEY, new_link_key))
        return self._signer

    # -- preparing -----------------------------------------------------------------------

    async def prepare(
        self,
        reads: AsyncEngine,
        access: Access,
        *,
        caller: str,
        dataset_ids: Sequence[int],
        datafile_ids: Sequence[int],
        name: str | None,
        base_url: str,
    ) -> DownloadState:
        """Prepare a zip of the selection, all or nothing; record it; its state."""
        if self.backend == "off":
            raise DownloadsUnavailable("This gateway serves no downloads.")
        outname = checked_name(name)
        selection = await self.select(reads, access, dataset_ids, datafile_ids)
        settings = self.settings
        now = access.now
        since = now - timedelta(seconds=settings.download_link_ttl)
        async with reads.connect() as connection:
            preparing = await statements.preparing_count(connection, caller, since)
        if preparing >= settings.download_max_preparing:
            raise TooManyDownloads(
                "You have as many downloads in preparation as allowed at once: fetch one first.",
                limit=settings.download_max_preparing,
            )
        prepared_id: str | None = None
        expires_at: datetime | None = None
        if self.backend == "ids":
            assert self.ids is not None
            prepared_id = await self.ids.prepare(*selection.asked)
            size = await self.ids.size(*selection.asked)
        else:
            assert self.store is not None
            archive, _ = self.store.zip_of(selection.files)
            size = len(archive)
            self._check_size(size)
            expires_at = now + timedelta(seconds=settings.download_link_ttl)
        async with self.engine.begin() as connection:
            download_id = await statements.record_download(
                connection,
                created_at=now,
                caller=caller,
                user_name=access.caller.user_name,
                name=outname,
                backend=self.backend,
                dataset_ids=statements.ids_text(selection.asked[0]),
                datafile_ids=statements.ids_text(selection.asked[1]),
                file_count=len(selection.files),
                size=size,
                prepared_id=prepared_id,
                expires_at=expires_at,
            )
            await record_event(
                connection,
                NewEvent(
                    type=EventType.DOWNLOAD_PREPARE,
                    actor=access.caller.user_name or "anonymous",
                    at=now,
                    subject_kind=SubjectKind.DOWNLOAD,
                    subject_id=str(download_id),
                    after={
                        "backend": self.backend,
                        # counts: a selection's ids may exceed a TEXT column
                        "datasets": len(selection.dataset_ids),
                        "datafiles": len(selection.datafile_ids),
                        "files": len(selection.files),
                        "size": size,
                    },
                ),
            )
            record = (await connection.execute(statements.download_by_id(download_id))).one()
        return await self._state(record, now, base_url)

    async def select(
        self,
        reads: AsyncEngine,
        access: Access,
        dataset_ids: Sequence[int],
        datafile_ids: Sequence[int],
    ) -> Selection:
        """The selection if the caller may read every part of it (else the lookup's
        ``NOT_FOUND``), within the size limits."""
        datasets = tuple(dict.fromkeys(dataset_ids))
        datafiles = tuple(dict.fromkeys(datafile_ids))
        if not datasets and not datafiles:
            raise BadUserInput("Name at least one dataset or datafile.", argument="datasetIds")
        async with reads.connect() as connection:
            if datasets:
                readable = set(
                    await connection.scalars(statements.readable_dataset_ids(access, datasets))
                )
                for index, dataset_id in enumerate(datasets):
                    if dataset_id not in readable:
                        raise NotFound("No such dataset.", argument="datasetIds", index=index)
            if datafiles:
                readable = set(
                    await connection.scalars(statements.readable_datafile_ids(access, datafiles))
                )
                for index, datafile_id in enumerate(datafiles):
                    if datafile_id not in readable:
                        raise NotFound("No such datafile.", argument="datafileIds", index=index)
            limit = self.settings.download_max_files
            rows = (
                await connection.execute(
                    statements.selected_files(datasets, datafiles, access).limit(limit + 1)
                )
            ).all()
        if not rows:
            raise BadUserInput("The selection holds no files.")
        if len(rows) > limit:
            raise DownloadTooLarge(
                f"The selection holds more than {limit} files.", limit=limit, found=len(rows)
            )
        files = tuple(
            StoredFile(
                datafile_id=row.id,
                dataset_id=row.dataset_id,
                dataset_name=row.dataset_name,
                name=row.name,
                location=row.location,
            )
            for row in rows
        )
        size = sum(row.file_size or 0 for row in rows)
        if self.backend == "ids":
            # The data service's files are as big as the catalogue says; the store's are
            # measured on disk (``prepare``).
            self._check_size(size)
        return Selection(datasets, datafiles, files, size, one_by_one=access.rules is not None)

    def _check_size(self, size: int) -> None:
        limit = self.settings.download_max_bytes
        if size > limit:
            raise DownloadTooLarge(
                f"The selection holds {size} bytes, more than one download may: choose "
                "fewer files, or use the datasets' Globus links.",
                limit=limit,
                found=size,
            )

    # -- following -----------------------------------------------------------------------

    async def follow(
        self, reads: AsyncEngine, access: Access, download_id: int, base_url: str
    ) -> DownloadState:
        """The state of a download the caller prepared (staff: any); else ``NOT_FOUND``."""
        async with reads.connect() as connection:
            record = (
                await connection.execute(statements.visible_download(access, download_id))
            ).one_or_none()
        if record is None:
            raise NotFound("No such download.")
        return await self._state(record, access.now, base_url)

    async def _state(self, record: Any, now: datetime, base_url: str) -> DownloadState:
        status = DownloadStatus.READY
        url: str | None = None
        if record.backend == "ids":
            if self.ids is None:
                status = DownloadStatus.FAILED
            else:
                try:
                    ready = await self.ids.is_prepared(record.prepared_id)
                except DataMissing:
                    status = DownloadStatus.FAILED
                else:
                    status = DownloadStatus.READY if ready else DownloadStatus.PREPARING
                    if ready:
                        url = self.ids.data_url(record.prepared_id, record.name)
            if status is not DownloadStatus.PREPARING and record.fetched_at is None:
                # No longer in preparation: it stops counting against the caller's limit.
                async with self.engine.begin() as connection:
                    await statements.mark_fetched(connection, record.id, now)
        elif record.expires_at is not None and record.expires_at <= now:
            status = DownloadStatus.EXPIRED
        else:
            token = (await self.signer()).sign(record.id, record.expires_at)
            url = f"{base_url.rstrip('/')}/downloads/{token}"
        return DownloadState(
            id=record.id,
            name=record.name,
            status=status,
            file_count=record.file_count,
            size=record.size,
            created_at=record.created_at,
            url=url,
            expires_at=record.expires_at,
            user_name=record.user_name,
        )

    # -- the store's links ---------------------------------------------------------------

    async def open_link(
        self, reads: AsyncEngine, token: str, now: datetime
    ) -> tuple[str, list[StoredFile]]:
        """The name and files of the download a signed link names; ``BadLink`` if it was
        altered or expired, or names no download of the store. The files are those
        decided at preparation: the link is the authorisation, as IDS's prepared id."""
        if self.store is None:
            raise BadLink("this gateway serves no files")
        download_id = (await self.signer()).check(token, now)
        async with reads.connect() as connection:
            record = (
                await connection.execute(statements.download_by_id(download_id))
            ).one_or_none()
            if record is None or record.backend != "store":
                raise BadLink("no such download")
            rows = (
                await connection.execute(
                    statements.selected_files(
                        statements.ids_of(record.dataset_ids),
                        statements.ids_of(record.datafile_ids),
                    )
                )
            ).all()
        async with self.engine.begin() as connection:
            await statements.mark_fetched(connection, download_id, now)
        files = [
            StoredFile(row.id, row.dataset_id, row.dataset_name, row.name, row.location)
            for row in rows
        ]
        return record.name, files


def checked_name(name: str | None) -> str:
    """The zip's name without ``.zip``: letters, digits, ``._ -``; else BAD_USER_INPUT."""
    if name is None or not name.strip():
        return DEFAULT_NAME
    name = name.strip()
    if name.lower().endswith(".zip"):
        name = name[:-4]
    if not NAME.fullmatch(name):
        raise BadUserInput(
            "A download's name is up to 100 letters, digits, dots, dashes, underscores and "
            "spaces, starting with a letter or digit.",
            argument="name",
        )
    return name
