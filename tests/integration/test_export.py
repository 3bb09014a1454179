"""``icat-gateway export``: a selection of the catalogue as a dump python-icat reads (SQLite).

The whole catalogue's round trip is ``test_dump_round_trip``; here, parts of python-icat's
6.2 example: one session, a proposal, a data publication, each loaded into an empty
catalogue, and the command line.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.catalogue.export import ExportError, Selection, export_file
from gateway.catalogue.ingest import ingest_file
from gateway.cli import main
from gateway.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "icatdump-6.2.yaml"


@pytest.fixture
async def source(tmp_path: Path) -> Settings:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/source.sqlite3")
    await ingest_file(settings, EXAMPLE)
    return settings


def _rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(settings.database_url.removeprefix("sqlite+aiosqlite:///"))
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


async def _load_into_empty(tmp_path: Path, dump: Path) -> Settings:
    target = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/{dump.stem}.sqlite3")
    await ingest_file(target, dump)
    return target


async def test_one_session(source: Settings, tmp_path: Path) -> None:
    ((session_id,),) = _rows(source, "SELECT ID FROM INVESTIGATION WHERE NAME = '10100601-ST'")
    dump = tmp_path / "session.xml"

    written = await export_file(source, dump, Selection(session=int(str(session_id))))

    assert "Rule" not in written and "PublicStep" not in written
    target = await _load_into_empty(tmp_path, dump)
    own = "(SELECT ID FROM INVESTIGATION WHERE NAME = '10100601-ST')"
    for table in ("DATASET", "SAMPLE", "INVESTIGATIONUSER", "KEYWORD", "SHIFT"):
        count = f"SELECT COUNT(*) FROM {table} WHERE INVESTIGATION_ID = {own}"
        assert _rows(target, count) == _rows(source, count), table
    datafiles = (
        "SELECT COUNT(*) FROM DATAFILE df JOIN DATASET d ON d.ID = df.DATASET_ID "
        f"WHERE d.INVESTIGATION_ID = {own}"
    )
    assert _rows(target, datafiles) == _rows(source, datafiles) == [(4,)]
    # What it refers to came along: its facility and types, and the other session's
    # datafile one of its files is related to (with that file's dataset and session only).
    assert _rows(target, "SELECT NAME FROM FACILITY") == [("ESNF",)]
    assert _rows(target, "SELECT NAME FROM INVESTIGATION ORDER BY NAME") == [
        ("10100601-ST",),
        ("12100409-ST",),
    ]
    assert written["Dataset"] == 4 and written["RelatedDatafile"] == 1


async def test_a_proposal_and_a_data_publication(source: Settings, tmp_path: Path) -> None:
    proposal = tmp_path / "proposal.yaml"
    written = await export_file(source, proposal, Selection(proposal="08100122-EF"))
    assert written["Investigation"] == 1

    publication = tmp_path / "publication.yaml"
    written = await export_file(
        source, publication, Selection(data_publication="https://doi.org/00.0815/PUB-00027")
    )
    assert written["DataPublication"] == 1 and written["DataCollection"] == 1
    target = await _load_into_empty(tmp_path, publication)
    assert _rows(target, "SELECT PID FROM DATAPUBLICATION") == [("DOI:00.0815/pub-00027",)]
    assert _rows(
        target,
        "SELECT d.NAME FROM DATACOLLECTIONDATASET dcd JOIN DATASET d ON d.ID = dcd.DATASET_ID",
    ) == [("pub-00027",)]

    with pytest.raises(ExportError, match="no data publication"):
        await export_file(source, tmp_path / "none.yaml", Selection(data_publication="10.1/none"))
    assert not (tmp_path / "none.yaml").exists()


def test_cli_export(source: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "all.yaml"
    code = main(["--database-url", source.database_url, "export", str(dump)])

    assert code == 0
    assert capsys.readouterr().out.startswith(f"{dump}: 439 objects (11 User, 15 Grouping")
    code = main(["--database-url", source.database_url, "export", str(dump), "--session", "0"])
    assert code == 1
    assert "no session with id 0" in capsys.readouterr().err
