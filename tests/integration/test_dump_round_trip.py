"""python-icat's example dumps in and out, on every backend.

Each dump (ICAT 4.4 to 6.2, YAML and XML: ``tests/data``) is ingested, queried through
GraphQL, exported, and the export ingested into an empty catalogue again: both hold the
same rows, ids aside (``tests/support/catalogue_rows``). Ingesting once more with
``CHECK`` changes nothing and says so. All ten on every backend; to keep it fast, a
version's two dumps share one test (see ``test_dump_round_trip``), and each backend's
scratch catalogue is made once for the module and emptied by deleting rows, not by
dropping tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

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


async def _empty(engine: AsyncEngine) -> None:
    """Delete every row of ICAT's tables (much faster than dropping them on a server)."""
    async with engine.begin() as connection:
        for table in reversed(icat_metadata.sorted_tables):
            await connection.execute(delete(table))


@pytest.fixture(scope="module")
async def engine(own_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The module's catalogue, its schema made once."""
    engine = create_engine(own_settings)
    await create_schema(engine, embedded=True)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize("version", VERSIONS)
async def test_dump_round_trip(
    version: str, own_settings: Settings, engine: AsyncEngine, schema: Any, tmp_path: Path
) -> None:
    """A version's YAML and XML dumps are one catalogue: the YAML is ingested into an
    empty catalogue, and the XML onto it finds every object there, unchanged. Both are
    exported; the YAML export ingested into an empty catalogue holds the same rows, and
    the XML export onto that finds everything unchanged.
    Each reader and writer is used, with two resets of the catalogue for the two dumps."""
    yaml_dump, xml_dump = (DATA / f"icatdump-{version}.{kind}" for kind in ("yaml", "xml"))
    await _empty(engine)
    first = await ingest_files(own_settings, [yaml_dump])
    assert first.new["Rule"] > 100 and first.new["Investigation"] == 3
    assert not first.unchanged and not first.differing
    as_xml = await ingest_files(own_settings, [xml_dump], duplicate=Duplicate.CHECK)
    assert as_xml.new == {} and as_xml.differing == {}
    assert as_xml.unchanged == first.new

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
    exported = {kind: tmp_path / f"export.{kind}" for kind in ("yaml", "xml")}
    for path in exported.values():
        assert await export_file(own_settings, path, Selection()) == first.new

    await _empty(engine)
    again = await ingest_files(own_settings, [exported["yaml"]])
    assert again.new == first.new
    assert differences(before, await snapshot(engine)) == {}

    # The same catalogue once more onto it, as the XML export: nothing changes, and the
    # report says so. (One call per file: in one call, a row of an entity without a
    # uniqueness constraint matches one object of the files only.)
    twice = await ingest_files(own_settings, [exported["xml"]], duplicate=Duplicate.CHECK)
    assert twice.new == {} and twice.differing == {}
    assert twice.unchanged == first.new
    assert twice.lines()[-1].startswith("nothing changed")
    assert differences(before, await snapshot(engine)) == {}


async def test_the_simple_dump_finds_the_catalogue_it_was_written_from(
    own_settings: Settings, engine: AsyncEngine, schema: Any
) -> None:
    """``icatdump-simple`` repeats part of the 6.2 example (it refers to that facility):
    onto the example, both its formats find every object there, unchanged, and nothing
    is written; its proposal then answers through GraphQL."""
    await _empty(engine)
    await ingest_files(own_settings, [DATA / "icatdump-6.2.yaml"])
    before = await snapshot(engine)
    report = await ingest_files(
        own_settings,
        [DATA / "icatdump-simple.yaml", DATA / "icatdump-simple.xml"],
        duplicate=Duplicate.CHECK,
    )
    assert report.new == {} and report.differing == {}
    assert report.unchanged == {
        "User": 8,
        "Grouping": 6,
        "UserGroup": 10,
        "Investigation": 2,
        "InvestigationGroup": 6,
    }
    assert differences(before, await snapshot(engine)) == {}
    client = Client(engine, own_settings, schema)
    found = await client.data(
        '{ investigations(first: 5, filter: {proposal: "10100601-ST"}) { totalCount } }',
        user=STAFF,
    )
    assert found["investigations"]["totalCount"] == 1
