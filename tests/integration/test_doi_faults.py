"""The DOI saga against the loopback DataCite, which answers 500, 422, hangs past the
client's timeout, or sees the process killed (SIGKILL) between any two steps: afterwards
nothing is public that DataCite does not show findable, nothing is lost, and a retry with
the same key or ``doi reconcile`` completes, with one DOI per mint."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.catalogue.gateway_tables import DoiSaga
from gateway.catalogue.models import DataPublication
from gateway.doi.datacite import DataCiteRegistrar
from gateway.errors import GatewayError
from gateway.settings import Settings
from gateway.usecases.doi_saga import Step
from tests.support.datacite_server import DataCiteServer
from tests.support.doi_catalogue import (
    PI1,
    PiSessions,
    caller,
    description,
    pi_sessions,
    remove_doi_rows,
    sagas_for,
    use_cases,
    visible_dataset_ids,
)

ROOT = Path(__file__).resolve().parents[2]

BOUNDARIES = (
    "called:put_draft",  # DataCite made the draft; the step is not recorded yet
    f"after:{Step.DRAFTED}",
    f"after:{Step.RESERVED}",
    f"after:{Step.DESCRIBED}",
    "called:publish",  # findable in DataCite; not recorded yet
    f"after:{Step.FINDABLE}",
    f"after:{Step.PUBLISHED}",
)
"""Every boundary between two steps of a mint (reserve + publish)."""


@pytest.fixture
def datacite() -> Iterator[DataCiteServer]:
    with DataCiteServer() as server:
        yield server


def registrar_of(server: DataCiteServer, read_timeout: float = 5.0) -> DataCiteRegistrar:
    return DataCiteRegistrar(
        api_url=server.base_url,
        prefix=server.prefix,
        repository_id=server.repository_id,
        password=server.password,
        connect_timeout=2.0,
        read_timeout=read_timeout,
    )


@pytest.fixture
async def pi(catalogue: AsyncEngine) -> AsyncIterator[PiSessions]:
    await remove_doi_rows(catalogue)
    yield await pi_sessions(catalogue)
    await remove_doi_rows(catalogue)


async def published_dois(engine: AsyncEngine) -> set[str]:
    """The catalogue's public data publications (publication date past) of the gateway's
    DOIs (the demo's own are none of DataCite's business here)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(DataPublication.pid).where(
                DataPublication.pid.in_(select(DoiSaga.doi)),
                DataPublication.publication_date.is_not(None),
                DataPublication.publication_date < now_utc(),
            )
        )
        return {doi.lower() for doi in rows.scalars()}


async def assert_nothing_public_that_datacite_does_not_show(
    engine: AsyncEngine, server: DataCiteServer
) -> None:
    findable = {doi for doi, state in server.dois().items() if state == "findable"}
    ours = await published_dois(engine)
    assert ours <= findable, ours - findable


async def steps(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(DoiSaga.doi, DoiSaga.step))
        return {doi: step for doi, step in rows}


@pytest.mark.parametrize(
    ("status", "code"), [(500, "UPSTREAM_UNAVAILABLE"), (422, "REGISTRAR_REFUSED")]
)
async def test_datacite_failing_at_publish_publishes_nothing(
    catalogue: AsyncEngine,
    settings: Settings,
    pi: PiSessions,
    datacite: DataCiteServer,
    status: int,
    code: str,
) -> None:
    sagas = sagas_for(catalogue, registrar_of(datacite))
    dois = use_cases(sagas, settings)
    pi1 = caller(PI1, settings)
    selection = [pi.bm29[-1], pi.embargoed[-1]]
    reserved = await dois.reserve(pi1, key="r", dataset_ids=selection, title="T")
    assert datacite.dois() == {reserved.doi: "draft"}
    datacite.fail("PUT", status, doi=reserved.doi)
    with pytest.raises(GatewayError) as failed:
        await dois.publish(pi1, key="p", doi=reserved.doi, description=description())
    assert failed.value.extensions["code"] == code
    assert datacite.dois() == {reserved.doi: "draft"}
    assert await visible_dataset_ids(catalogue, selection) == set()
    await assert_nothing_public_that_datacite_does_not_show(catalogue, datacite)
    if status == 500:
        done = await dois.publish(pi1, key="p", doi=reserved.doi, description=description())
    else:
        await sagas.reconcile()  # the draft follows the description; still unpublished
        assert await visible_dataset_ids(catalogue, selection) == set()
        done = await dois.publish(pi1, key="p2", doi=reserved.doi, description=description())
    assert done.step == Step.PUBLISHED
    assert datacite.dois() == {reserved.doi: "findable"} and datacite.created == 1
    assert await visible_dataset_ids(catalogue, selection) == set(selection)


async def test_datacite_that_answers_after_the_timeout_is_retried_without_a_second_doi(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, datacite: DataCiteServer
) -> None:
    sagas = sagas_for(catalogue, registrar_of(datacite, read_timeout=0.3))
    dois = use_cases(sagas, settings)
    pi1 = caller(PI1, settings)
    # DataCite makes the draft, then its answer is lost; later the publish hangs likewise.
    datacite.hang("PUT", after_applying=True)
    with pytest.raises(GatewayError) as timed_out:
        await dois.mint(pi1, key="m", dataset_ids=[pi.bm29[-1]], description=description())
    assert timed_out.value.extensions["code"] == "UPSTREAM_UNAVAILABLE"
    datacite.release()
    (doi,) = datacite.dois()
    assert datacite.dois() == {doi: "draft"}
    assert await visible_dataset_ids(catalogue, [pi.bm29[-1]]) == set()
    datacite.clear_faults()
    done = await dois.mint(pi1, key="m", dataset_ids=[pi.bm29[-1]], description=description())
    assert done.doi == doi and done.step == Step.PUBLISHED and done.replayed
    assert datacite.created == 1 and datacite.dois() == {doi: "findable"}


async def test_a_process_killed_between_any_two_steps_leaves_a_state_a_retry_or_reconcile_completes(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, datacite: DataCiteServer
) -> None:
    datasets = [*pi.bm29, *pi.embargoed[2:], *pi.released][: len(BOUNDARIES)]
    jobs: list[dict[str, Any]] = [
        {"key": f"kill-{n}", "datasets": [dataset], "pause_at": boundary}
        for n, (dataset, boundary) in enumerate(zip(datasets, BOUNDARIES, strict=True))
    ]
    config = {
        "database_url": settings.database_url,
        "datacite": {
            "api_url": datacite.base_url,
            "prefix": datacite.prefix,
            "repository_id": datacite.repository_id,
            "password": datacite.password,
        },
        "user": PI1,
        "jobs": jobs,
    }
    with subprocess.Popen(  # noqa: ASYNC220 - its output is read in a thread
        [sys.executable, "-m", "tests.support.doi_worker", json.dumps(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as worker:
        try:
            paused = await asyncio.wait_for(asyncio.to_thread(_paused, worker, len(jobs)), 60)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    assert sorted(paused) == sorted(job["key"] for job in jobs)

    # Killed: nothing public that DataCite does not show findable; every saga recorded.
    await assert_nothing_public_that_datacite_does_not_show(catalogue, datacite)
    recorded = await steps(catalogue)
    assert len(recorded) == len(jobs)
    assert Step.PUBLISHED in recorded.values() and Step.STARTED in recorded.values()

    # The killed process's leases run out (here: made to, rather than waited for); then
    # the same calls again finish half of them and `doi reconcile` the rest.
    async with catalogue.begin() as connection:
        await connection.execute(
            update(DoiSaga)
            .where(DoiSaga.lease_owner.is_not(None))
            .values(lease_until=now_utc() - timedelta(seconds=1))
        )
    later = sagas_for(catalogue, registrar_of(datacite))
    dois = use_cases(later, settings)
    pi1 = caller(PI1, settings)
    for job in jobs[::2]:
        done = await dois.mint(
            pi1,
            key=job["key"],
            dataset_ids=job["datasets"],
            description=description(f"Killed at {job['pause_at']}"),
        )
        assert done.step == Step.PUBLISHED and done.replayed
    counts = await later.reconcile()
    assert counts["refused"] == counts["unavailable"] == counts["busy"] == 0
    assert await later.unfinished() == []

    assert set((await steps(catalogue)).values()) == {Step.PUBLISHED}
    assert datacite.created == len(jobs)  # one DOI per mint, whatever was retried
    assert set(datacite.dois().values()) == {"findable"}
    assert await published_dois(catalogue) == set(datacite.dois())
    assert await visible_dataset_ids(catalogue, datasets) == set(datasets)


async def test_a_process_killed_while_linking_a_new_version_leaves_what_reconcile_completes(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, datacite: DataCiteServer
) -> None:
    boundaries = (f"after:{Step.FINDABLE}", f"after:{Step.LINKED}")
    dois = use_cases(sagas_for(catalogue, registrar_of(datacite)), settings)
    pi1 = caller(PI1, settings)
    firsts = [
        (
            await dois.mint(pi1, key=f"first-{n}", dataset_ids=[dataset], description=description())
        ).doi
        for n, dataset in enumerate(pi.released[:2])
    ]
    jobs: list[dict[str, Any]] = [
        {"key": f"version-{n}", "datasets": [], "pause_at": boundary, "version_of": first}
        for n, (first, boundary) in enumerate(zip(firsts, boundaries, strict=True))
    ]
    config = {
        "database_url": settings.database_url,
        "datacite": {
            "api_url": datacite.base_url,
            "prefix": datacite.prefix,
            "repository_id": datacite.repository_id,
            "password": datacite.password,
        },
        "user": PI1,
        "jobs": jobs,
    }
    with subprocess.Popen(  # noqa: ASYNC220 - its output is read in a thread
        [sys.executable, "-m", "tests.support.doi_worker", json.dumps(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as worker:
        try:
            paused = await asyncio.wait_for(asyncio.to_thread(_paused, worker, len(jobs)), 60)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    assert sorted(paused) == sorted(job["key"] for job in jobs)
    await assert_nothing_public_that_datacite_does_not_show(catalogue, datacite)
    recorded = await steps(catalogue)
    assert {recorded[d] for d in recorded if d not in firsts} == {Step.FINDABLE, Step.LINKED}

    async with catalogue.begin() as connection:
        await connection.execute(
            update(DoiSaga)
            .where(DoiSaga.lease_owner.is_not(None))
            .values(lease_until=now_utc() - timedelta(seconds=1))
        )
    counts = await sagas_for(catalogue, registrar_of(datacite)).reconcile()
    assert counts == {"completed": 2, "refused": 0, "unavailable": 0, "busy": 0}
    assert set((await steps(catalogue)).values()) == {Step.PUBLISHED}
    assert datacite.created == 6  # two first versions, two second ones, two concepts
    for first in firsts:
        concept = datacite.doi(f"{first}-concept")
        assert concept is not None and concept.state == "findable"
        versions = [
            r["relatedIdentifier"]
            for r in concept.attributes["relatedIdentifiers"]
            if r["relationType"] == "HasVersion"
        ]
        assert versions[0] == first and len(versions) == 2
        held = datacite.doi(first)
        assert held is not None
        assert {
            (r["relationType"], r["relatedIdentifier"])
            for r in held.attributes["relatedIdentifiers"]
        } >= {("IsVersionOf", f"{first}-concept"), ("IsPreviousVersionOf", versions[1])}
    assert await published_dois(catalogue) == set(datacite.dois()) - {
        f"{first}-concept" for first in firsts
    }


def _paused(worker: subprocess.Popen[str], expected: int) -> list[str]:
    """Read the worker's output until every job said PAUSED."""
    assert worker.stdout is not None
    paused: list[str] = []
    while len(paused) < expected:
        line = worker.stdout.readline()
        if not line:
            stderr = worker.stderr.read() if worker.stderr else ""
            raise AssertionError(f"the worker ended before pausing: {stderr[-3000:]}")
        words = line.split()
        if words and words[0] == "PAUSED":
            paused.append(words[1])
    return paused


def test_doi_reconcile_on_the_command_line(
    catalogue: AsyncEngine,
    settings: Settings,
    datacite: DataCiteServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`icat-gateway doi reconcile` finishes a mint an outage stopped; 1 while DataCite is
    still down (something is left), 0 once nothing is."""
    from gateway.catalogue.database import create_engine
    from gateway.cli import main

    async def leave_one_unfinished() -> None:
        engine = create_engine(settings)
        try:
            await remove_doi_rows(engine)
            pi = await pi_sessions(engine)
            dois = use_cases(sagas_for(engine, registrar_of(datacite)), settings)
            with pytest.raises(GatewayError):
                await dois.mint(
                    caller(PI1, settings),
                    key="cli",
                    dataset_ids=[pi.bm29[-1]],
                    description=description(),
                )
        finally:
            await engine.dispose()

    datacite.fail("PUT", 503, times=2)
    asyncio.run(leave_one_unfinished())
    for name, value in {
        "DATABASE_URL": settings.database_url,
        "EMBEDDED": "false",
        "DOI_REGISTRAR": "datacite",
        "DOI_PREFIX": datacite.prefix,
        "DOI_LANDING_URL": "https://data.example.eu/doi/{doi}",
        "DATACITE_API_URL": datacite.base_url,
        "DATACITE_REPOSITORY_ID": datacite.repository_id,
        "DATACITE_PASSWORD": datacite.password,
    }.items():
        monkeypatch.setenv(f"ICAT_GATEWAY_{name}", value)
    try:
        assert main(["doi", "reconcile"]) == 1  # DataCite answers 503 once more
        assert main(["doi", "reconcile"]) == 0
        assert "0 unfinished" in capsys.readouterr().out
        assert set(datacite.dois().values()) == {"findable"}
    finally:
        asyncio.run(_cleanup(settings))


async def _cleanup(settings: Settings) -> None:
    from gateway.catalogue.database import create_engine

    engine = create_engine(settings)
    try:
        await remove_doi_rows(engine)
    finally:
        await engine.dispose()
