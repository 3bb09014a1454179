"""The detailed metadata python-icat's 6.2 example holds, through GraphQL: shifts, papers,
grants, studies, facility cycles of a session; beamlines of a dataset; parameters and
related files of a file; type, grants and parameters of a data publication; a beamline's
dates. Staff see them; anonymous callers get FORBIDDEN for those of a session under
embargo (the example's sessions have no release date: never released). Those on SQLite;
the statement count on every backend (the demo catalogue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.catalogue.database import create_engine
from gateway.catalogue.ingest import ingest_file
from gateway.schema.build import create_schema
from gateway.settings import Settings
from tests.conftest import STAFF, Client, StatementCounter

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "icatdump-6.2.yaml"

SESSION = """query($proposal: String!, $visit: String!) {
  investigation(proposal: $proposal, visitId: $visit) {
    proposal
    shifts { startDate endDate comment instrument { name } }
    publications { fullReference doi repository }
    fundingReferences { funderName awardNumber }
    studies { name }
    facilityCycles { name }
    instruments { name startDate endDate }
  } }"""

DATASET = """query($proposal: String!, $visit: String!) {
  investigation(proposal: $proposal, visitId: $visit) {
    datasets(first: 20) { nodes { name instruments { name }
      datafiles(first: 20) { nodes { name parameters { name }
        relatedDatafiles { relation datafile { name } } } } } } } }"""

PUBLICATIONS = """{ dataPublications(first: 5) { nodes { doi internalId
  publicationType { name } fundingReferences { funderName } parameters { name } } } }"""


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("details") / "details.sqlite3"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", staff_users=frozenset({STAFF}))
    import asyncio

    asyncio.run(ingest_file(settings, EXAMPLE))
    return settings


async def _client(settings: Settings) -> Client:
    return Client(create_engine(settings), settings, create_schema())


async def test_a_sessions_details(example: Settings) -> None:
    staff = await _client(example)
    variables = {"proposal": "10100601-ST", "visit": "1.1-N"}
    session = (await staff.data(SESSION, variables, user=STAFF))["investigation"]
    assert len(session["shifts"]) == 2
    assert {shift["instrument"]["name"] for shift in session["shifts"] if shift["instrument"]} <= {
        "E2"
    }
    assert session["publications"][0]["fullReference"]
    assert len(session["studies"]) == 1
    assert len(session["facilityCycles"]) == 1

    # Anonymous: the session is never released, its DATA relations are refused one by one;
    # the facility cycles and beamlines are landing facts.
    anonymous = await staff.execute(SESSION, variables)
    refused = sorted(error.path[-1] for error in anonymous.errors)
    assert refused == ["fundingReferences", "publications", "shifts", "studies"]
    assert all(error.extensions["code"] == "FORBIDDEN" for error in anonymous.errors)
    assert anonymous.data["investigation"]["facilityCycles"] == session["facilityCycles"]
    await staff.engine.dispose()


async def test_dataset_and_file_details(example: Settings) -> None:
    staff = await _client(example)
    variables = {"proposal": "10100601-ST", "visit": "1.1-N"}
    data = await staff.data(DATASET, variables, user=STAFF)
    datasets = data["investigation"]["datasets"]["nodes"]
    assert any(dataset["instruments"] == [{"name": "E2"}] for dataset in datasets)
    files = [file for dataset in datasets for file in dataset["datafiles"]["nodes"]]
    assert any(file["parameters"] for file in files)
    related = [r for file in files for r in file["relatedDatafiles"]]
    assert related and all(r["datafile"] and r["relation"] for r in related)
    await staff.engine.dispose()


async def test_data_publication_details(example: Settings) -> None:
    staff = await _client(example)
    data = await staff.data(PUBLICATIONS, user=STAFF)
    (publication,) = data["dataPublications"]["nodes"]
    assert publication["publicationType"] == {"name": "curated"}
    assert len(publication["fundingReferences"]) == 1
    # The example's one data collection parameter is on another collection than its
    # content: so none here; the statement is checked by the sentinel test.
    assert publication["parameters"] == []
    await staff.engine.dispose()


DETAILS = """query($first: Int) { investigations(first: $first) { nodes {
  shifts { comment instrument { name } } publications { doi } fundingReferences { awardNumber }
  studies { name } facilityCycles { name }
  datasets(first: 3) { nodes { instruments { name }
    datafiles(first: 2) { nodes { parameters { name } relatedDatafiles { relation } } } } }
} } }"""


async def test_statement_count_does_not_grow_with_the_page(
    client: Client, statement_counter: StatementCounter
) -> None:
    """Each relation is one statement per level, whatever the number of owners (the demo
    catalogue, on every backend; the standard path)."""
    client = client.using(compiled_sql=False)
    counts = {}
    for first in (5, 40):
        await client.access(STAFF)
        statement_counter.reset()
        data = await client.data(DETAILS, {"first": first}, user=STAFF)
        assert len(data["investigations"]["nodes"]) == first
        counts[first] = statement_counter.count
    assert counts[5] == counts[40], counts
