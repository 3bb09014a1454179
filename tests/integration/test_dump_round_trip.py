"""python-icat's example dumps in and out, on every backend.

Each dump (ICAT 4.4 to 6.2, YAML and XML: ``tests/data``) is ingested into an empty
catalogue, queried through GraphQL, exported, and the export ingested into an empty
catalogue again: both hold the same rows, ids aside (``tests/support/catalogue_rows``).
Ingesting the export once more with ``CHECK`` changes nothing and says so. SQLite runs
all ten; PostgreSQL and MariaDB two (4.4 in XML, 6.2 in YAML: both readers, the oldest
schema and every entity of the newest), to keep them fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.export import Selection, export_file
from gateway.catalogue.ingest import Duplicate, ingest_files
from gateway.catalogue.models import icat_metadata
from gateway.settings import Settings
from tests.conftest import STAFF, Client
from tests.support.catalogue_rows import differences, snapshot
from tests.support.scratch import scratch_url

DATA = Path(__file__).resolve().parents[1] / "data"
VERSIONS = ("4.4", "4.7", "4.10", "5.0", "6.2")
DUMPS = [f"icatdump-{version}.{kind}" for version in VERSIONS for kind in ("yaml", "xml")]
ON_SERVERS = {"icatdump-4.4.xml", "icatdump-6.2.yaml"}

SESSIONS = """{ investigations(first: 10, orderBy: {field: PROPOSAL, direction: ASC}) {
  totalCount nodes { proposal visitId datasets { totalCount } } } }"""


@pytest.fixture(scope="module")
def own_settings(
    database_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """A catalogue of this module's own (the session's demo catalogue stays as it is)."""
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('dumps') / 'dumps.sqlite3'}"
    else:
        url = scratch_url(database_url, "dumps")
    return dataclasses.replace(settings, database_url=url)


async def _empty(settings: Settings) -> None:
    """Delete every row of ICAT's tables (much faster than dropping them on a server)."""
    engine = create_engine(settings)
    try:
        await create_schema(engine, embedded=True)
        async with engine.begin() as connection:
            for table in reversed(icat_metadata.sorted_tables):
                await connection.execute(delete(table))
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(own_settings: Settings) -> AsyncIterator[Any]:
    engine = create_engine(own_settings)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize("dump", DUMPS)
async def test_dump_round_trip(
    dump: str, own_settings: Settings, engine: Any, schema: Any, tmp_path: Path
) -> None:
    if not own_settings.database_url.startswith("sqlite") and dump not in ON_SERVERS:
        pytest.skip("the servers run two of the dumps (see the docstring)")
    await _empty(own_settings)
    first = await ingest_files(own_settings, [DATA / dump])
    assert first.new["Rule"] > 100 and first.new["Investigation"] == 3
    assert not first.unchanged and not first.differing

    # Through GraphQL, as staff: the three sessions and their datasets.
    client = Client(engine, own_settings, schema)
    sessions = (await client.data(SESSIONS, user=STAFF))["investigations"]
    assert sessions["totalCount"] == 3
    datasets = sum(node["datasets"]["totalCount"] for node in sessions["nodes"])
    assert datasets == first.new["Dataset"]
    assert [node["proposal"] for node in sessions["nodes"]] == sorted(
        node["proposal"] for node in sessions["nodes"]
    )

    before = await snapshot(engine)
    exported = tmp_path / f"export{Path(dump).suffix}"
    written = await export_file(own_settings, exported, Selection())
    assert written == first.new

    await _empty(own_settings)
    again = await ingest_files(own_settings, [exported])
    assert again.new == first.new
    assert differences(before, await snapshot(engine)) == {}

    # Once more onto itself: nothing changes, and the report says so.
    twice = await ingest_files(own_settings, [exported], duplicate=Duplicate.CHECK)
    assert twice.new == {} and twice.differing == {}
    assert twice.unchanged == first.new
    assert twice.lines()[-1].startswith("nothing changed")
    assert differences(before, await snapshot(engine)) == {}
