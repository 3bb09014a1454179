"""The download use cases (``gateway.usecases.downloads``) over the fake data service, on
each database: the per-caller and size limits, IDS's failures leaving nothing recorded,
the status a portal follows, and a refusal that reads as the lookup's."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.catalogue.demo_files import write_demo_files
from gateway.catalogue.gateway_tables import Download
from gateway.catalogue.models import Datafile, Dataset, Investigation
from gateway.downloads.store import DataStore
from gateway.errors import (
    DataMissing,
    DownloadTooLarge,
    GatewayError,
    NotFound,
    TooManyDownloads,
    UpstreamUnavailable,
)
from gateway.settings import Settings
from gateway.usecases.downloads import Downloads, DownloadState, DownloadStatus
from tests.conftest import Client
from tests.support.fake_ids import FakeDataService


async def one_dataset(engine: AsyncEngine, *, released: bool) -> tuple[int, int]:
    """A dataset with several files of a released (or never released) session, and its
    files' count."""
    now = now_utc()
    condition = (
        Investigation.release_date < now if released else Investigation.release_date.is_(None)
    )
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(Dataset.id, func.count(Datafile.id))
                .join(Investigation, Investigation.id == Dataset.investigation_id)
                .join(Datafile, Datafile.dataset_id == Dataset.id)
                .where(condition)
                .group_by(Dataset.id)
                .having(func.count(Datafile.id) > 1)
                .order_by(Dataset.id)
                .limit(1)
            )
        ).one()
    return int(row[0]), int(row[1])


async def recorded(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(Download)) or 0)


def downloads(catalogue: AsyncEngine, settings: Settings, **limits: Any) -> Downloads:
    configured = replace(
        settings, downloads="ids", ids_url="https://ids", ids_reader_session="reader", **limits
    )
    return Downloads(engine=catalogue, settings=configured, ids=FakeDataService(sizes={}))


async def prepare(
    service: Downloads, client: Client, dataset_id: int, caller: str | None = None
) -> DownloadState:
    access = await client.access(None)
    return await service.prepare(
        client.engine,
        access,
        caller=caller or f"anonymous@{uuid.uuid4()}",
        dataset_ids=[dataset_id],
        datafile_ids=[],
        name=None,
        base_url="http://gateway/",
    )


async def test_a_prepared_download_is_recorded_and_followed(
    catalogue: AsyncEngine, settings: Settings, client: Client
) -> None:
    service = downloads(catalogue, settings)
    fake = service.ids
    assert isinstance(fake, FakeDataService)
    dataset_id, files = await one_dataset(catalogue, released=True)
    fake.sizes[dataset_id] = 1234
    state = await prepare(service, client, dataset_id)
    assert state.status is DownloadStatus.READY and state.size == 1234
    assert state.file_count == files and state.user_name is None
    assert state.url == f"{fake.base_url}/getData?preparedId=prepared-1&outname=data"
    anonymous = await client.access(None)
    fake.restoring.add("prepared-1")
    followed = await service.follow(client.engine, anonymous, state.id, "http://gateway/")
    assert followed.status is DownloadStatus.PREPARING and followed.url is None
    fake.failure = DataMissing("gone")
    followed = await service.follow(client.engine, anonymous, state.id, "http://gateway/")
    assert followed.status is DownloadStatus.FAILED
    with pytest.raises(NotFound):
        await service.follow(client.engine, await client.access("esrf/pi1"), state.id, "/")


async def test_a_callers_downloads_in_preparation_are_limited(
    catalogue: AsyncEngine, settings: Settings, client: Client
) -> None:
    service = downloads(catalogue, settings, download_max_preparing=2)
    assert isinstance(service.ids, FakeDataService)
    service.ids.on_tape = True
    dataset_id, _ = await one_dataset(catalogue, released=True)
    caller = f"anonymous@{uuid.uuid4()}"
    first = await prepare(service, client, dataset_id, caller)
    await prepare(service, client, dataset_id, caller)
    with pytest.raises(TooManyDownloads) as refused:
        await prepare(service, client, dataset_id, caller)
    assert refused.value.extensions == {"code": "TOO_MANY_DOWNLOADS", "limit": 2}
    await prepare(service, client, dataset_id)  # another caller
    # Once the data service has prepared one, it no longer counts.
    service.ids.on_tape = False
    anonymous = await client.access(None)
    assert (await service.follow(client.engine, anonymous, first.id, "/")).url is not None
    await prepare(service, client, dataset_id, caller)


@pytest.mark.parametrize(
    ("limits", "failure", "code"),
    [
        ({"download_max_bytes": 1}, None, "DOWNLOAD_TOO_LARGE"),
        ({"download_max_files": 1}, None, "DOWNLOAD_TOO_LARGE"),
        ({}, UpstreamUnavailable("down"), "UPSTREAM_UNAVAILABLE"),
    ],
)
async def test_a_refused_preparation_records_nothing(
    catalogue: AsyncEngine,
    settings: Settings,
    client: Client,
    limits: dict[str, int],
    failure: GatewayError | None,
    code: str,
) -> None:
    service = downloads(catalogue, settings, **limits)
    assert isinstance(service.ids, FakeDataService)
    service.ids.failure = failure
    dataset_id, _ = await one_dataset(catalogue, released=True)
    before = await recorded(catalogue)
    with pytest.raises(GatewayError) as refused:
        await prepare(service, client, dataset_id)
    assert refused.value.code == code
    if isinstance(refused.value, DownloadTooLarge):
        assert refused.value.extensions["found"] > refused.value.extensions["limit"]
    assert await recorded(catalogue) == before


async def test_a_hidden_dataset_is_refused_as_its_lookup_refuses_it(
    catalogue: AsyncEngine, settings: Settings, client: Client
) -> None:
    service = downloads(catalogue, settings)
    dataset_id, _ = await one_dataset(catalogue, released=False)
    with pytest.raises(NotFound) as refused:
        await prepare(service, client, dataset_id)
    assert refused.value.message == "No such dataset."
    assert refused.value.extensions == {"code": "NOT_FOUND", "argument": "datasetIds", "index": 0}
    staff = await client.access("esrf/staff1")
    state = await service.prepare(
        client.engine,
        staff,
        caller="esrf/staff1",
        dataset_ids=[dataset_id],
        datafile_ids=[],
        name="x",
        base_url="/",
    )
    assert state.user_name == "esrf/staff1"


async def test_the_demo_writes_a_small_file_for_every_datafile_once(
    catalogue: AsyncEngine, tmp_path: Path
) -> None:
    async with catalogue.connect() as connection:
        located = await connection.scalar(
            select(func.count()).select_from(Datafile).where(Datafile.location.is_not(None))
        )
        location = await connection.scalar(select(Datafile.location).limit(1))
    assert await write_demo_files(catalogue, tmp_path) == located
    assert await write_demo_files(catalogue, tmp_path) == 0
    assert DataStore(tmp_path).path_of(location).read_bytes().startswith(b"icat-gateway demo")


async def test_the_stores_limit_is_the_zips_size_on_disk(
    catalogue: AsyncEngine, settings: Settings, client: Client, tmp_path: Path
) -> None:
    await write_demo_files(catalogue, tmp_path)
    dataset_id, _ = await one_dataset(catalogue, released=True)
    configured = replace(settings, downloads="store", data_root=str(tmp_path))
    store = DataStore(tmp_path)
    roomy = Downloads(engine=catalogue, settings=configured, store=store)
    size = (await prepare(roomy, client, dataset_id)).size
    # The catalogue's made-up sizes are gigabytes; the files on disk a few hundred bytes.
    assert 0 < size < 100_000
    tight = replace(configured, download_max_bytes=size - 1)
    with pytest.raises(DownloadTooLarge) as refused:
        await prepare(Downloads(engine=catalogue, settings=tight, store=store), client, dataset_id)
    assert refused.value.extensions["found"] == size
