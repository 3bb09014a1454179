"""``icat-gateway ingest``: python-icat dump files into the embedded catalogue (SQLite).

``tests/data/icatdump-6.2.yaml`` is python-icat's own example dump (ICAT 6.2, YAML);
``tests/data/ingest-onto-esnf.xml`` is a small XML dump that adds to it, referring to its
objects by key and by attributes. No ICAT server is involved. Self-contained: uses no
conftest fixture.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.catalogue.ingest import IngestError, ingest_file
from gateway.cli import main
from gateway.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "icatdump-6.2.yaml"
ONTO_EXAMPLE = DATA / "ingest-onto-esnf.xml"

# What the example holds, per entity (counted in the file by hand: e.g. 3 investigations
# with 5 investigation users, 9 datasets, 11 datafiles).
EXAMPLE_COUNTS = {
    "User": 11,
    "Facility": 1,
    "Instrument": 3,
    "InstrumentScientist": 3,
    "ParameterType": 9,
    "PermissibleStringValue": 6,
    "DataPublicationType": 2,
    "InvestigationType": 5,
    "SampleType": 3,
    "DatasetType": 3,
    "DatafileFormat": 6,
    "Technique": 4,
    "FacilityCycle": 20,
    "Application": 1,
    "FundingReference": 1,
    "Investigation": 3,
    "InvestigationFacilityCycle": 3,
    "InvestigationInstrument": 3,
    "InvestigationUser": 5,
    "Keyword": 9,
    "InvestigationParameter": 3,
    "Shift": 4,
    "Sample": 3,
    "Dataset": 9,
    "DatasetInstrument": 7,
    "DatasetTechnique": 5,
    "Datafile": 11,
    "DatafileParameter": 10,
    "Publication": 1,
    "SampleParameter": 2,
    "DatasetParameter": 6,
    "InvestigationFunding": 1,
    "DataCollection": 5,
    "DataCollectionDatafile": 4,
    "DataCollectionDataset": 6,
    "DataCollectionInvestigation": 1,
    "DataCollectionParameter": 1,
    "DataPublication": 1,
    "DataPublicationDate": 2,
    "DataPublicationFunding": 1,
    "RelatedItem": 1,
    "Subject": 4,
    "DataPublicationUser": 1,
    "Affiliation": 2,
    "Study": 1,
    "StudyInvestigation": 2,
    "RelatedDatafile": 1,
    "Job": 1,
}
# 15 Grouping (with 19 nested UserGroup), 161 Rule, 38 PublicStep, and the 9
# InvestigationGroup that refer to the groupings.
EXAMPLE_SKIPPED = 15 + 19 + 161 + 38 + 9


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3")


@pytest.fixture
def db(settings: Settings) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to look at what the ingest wrote."""
    path = settings.database_url.removeprefix("sqlite+aiosqlite:///")
    connection = sqlite3.connect(path)
    yield connection
    connection.close()


def rows(db: sqlite3.Connection, sql: str, *params: object) -> list[tuple[object, ...]]:
    return db.execute(sql, params).fetchall()


def table_counts(db: sqlite3.Connection) -> dict[str, int]:
    tables = [name for (name,) in rows(db, "SELECT name FROM sqlite_master WHERE type='table'")]
    return {table: rows(db, f'SELECT COUNT(*) FROM "{table}"')[0][0] for table in tables}  # type: ignore[misc]


async def test_example_dump_counts(settings: Settings, db: sqlite3.Connection) -> None:
    counts = await ingest_file(settings, EXAMPLE)

    assert counts == {**EXAMPLE_COUNTS, "skipped": EXAMPLE_SKIPPED}
    assert list(counts)[:2] == ["User", "Facility"]  # in dump order
    assert rows(db, "SELECT COUNT(*) FROM RULE_")[0][0] == 0
    assert rows(db, "SELECT COUNT(*) FROM GROUPING")[0][0] == 0
    assert rows(db, "SELECT COUNT(*) FROM INVESTIGATIONGROUP")[0][0] == 0


async def test_example_dump_relations(settings: Settings, db: sqlite3.Connection) -> None:
    await ingest_file(settings, EXAMPLE)

    # An investigation's team (nested investigationUsers, users from another data chunk).
    team = rows(
        db,
        "SELECT u.NAME, iu.ROLE FROM INVESTIGATIONUSER iu "
        "JOIN USER_ u ON u.ID = iu.USER_ID JOIN INVESTIGATION i ON i.ID = iu.INVESTIGATION_ID "
        "WHERE i.NAME = ? ORDER BY u.NAME",
        "08100122-EF",
    )
    assert team == [
        ("db/jbotu", "Principal Investigator"),
        ("db/nbour", "Investigator"),
        ("db/rbeck", "Investigator"),
    ]
    # A dataset's investigation, type and sample; its datafiles.
    dataset = rows(
        db,
        "SELECT i.NAME, i.VISIT_ID, f.NAME, t.NAME, s.NAME, d.COMPLETE, d.STARTDATE "
        "FROM DATASET d JOIN INVESTIGATION i ON i.ID = d.INVESTIGATION_ID "
        "JOIN FACILITY f ON f.ID = i.FACILITY_ID JOIN DATASETTYPE t ON t.ID = d.TYPE_ID "
        "LEFT JOIN SAMPLE s ON s.ID = d.SAMPLE_ID WHERE d.NAME = ?",
        "e208339",
    )
    assert dataset == [
        ("10100601-ST", "1.1-N", "ESNF", "raw", "NiMnGa 991027", 0, "2010-09-30 10:27:24.000000")
    ]
    datafiles = rows(
        db,
        "SELECT df.NAME, df.FILESIZE, fmt.NAME FROM DATAFILE df "
        "JOIN DATASET d ON d.ID = df.DATASET_ID "
        "LEFT JOIN DATAFILEFORMAT fmt ON fmt.ID = df.DATAFILEFORMAT_ID "
        "WHERE d.NAME = ? ORDER BY df.NAME",
        "e208339",
    )
    assert [(name, fmt) for name, _size, fmt in datafiles] == [
        ("e208339.dat", "other"),
        ("e208339.nxs", "NeXus"),
    ]
    # Parameters: the type's value type (an enum, stored by ordinal) and the value.
    assert rows(
        db,
        "SELECT t.VALUETYPE, p.NUMERIC_VALUE FROM DATASETPARAMETER p "
        "JOIN PARAMETERTYPE t ON t.ID = p.PARAMETER_TYPE_ID "
        "JOIN DATASET d ON d.ID = p.DATASET_ID WHERE d.NAME = ? AND t.NAME = ?",
        "e208339",
        "Magnetic field",
    ) == [(1, 7.3)]
    # Objects without a uniqueness constraint, referenced by generic keys across chunks.
    assert rows(
        db,
        "SELECT a.NAME, j.INPUTDATACOLLECTION_ID IS NOT NULL, "
        "j.OUTPUTDATACOLLECTION_ID IS NOT NULL FROM JOB j JOIN APPLICATION a "
        "ON a.ID = j.APPLICATION_ID",
    ) == [("gnomoanalytics", 1, 1)]
    assert rows(
        db,
        "SELECT p.PID, t.NAME, d.NAME FROM DATAPUBLICATION p "
        "JOIN DATAPUBLICATIONTYPE t ON t.ID = p.DATAPUBLICATIONTYPE_ID "
        "JOIN DATACOLLECTIONDATASET dcd ON dcd.DATACOLLECTION_ID = p.DATACOLLECTION_ID "
        "JOIN DATASET d ON d.ID = dcd.DATASET_ID",
    ) == [("DOI:00.0815/pub-00027", "curated", "pub-00027")]


async def test_ids_and_audit(settings: Settings, db: sqlite3.Connection) -> None:
    await ingest_file(settings, EXAMPLE)

    ids: list[int] = []
    for table in ("USER_", "FACILITY", "INVESTIGATION", "DATASET", "DATAFILE", "JOB"):
        ids += [row[0] for row in rows(db, f"SELECT ID FROM {table}")]  # type: ignore[misc]
        audit = set(rows(db, f"SELECT CREATE_ID, MOD_ID, CREATE_TIME = MOD_TIME FROM {table}"))
        assert audit == {("ingest", "ingest", 1)}
    assert len(ids) == len(set(ids))  # one counter for all tables
    ((seq_count,),) = rows(db, "SELECT SEQ_COUNT FROM SEQUENCE WHERE SEQ_NAME = 'SEQ_GEN'")
    assert seq_count >= max(ids)  # type: ignore[operator]


async def test_xml_dump_onto_existing_catalogue(settings: Settings, db: sqlite3.Connection) -> None:
    await ingest_file(settings, EXAMPLE)
    ((seq_before,),) = rows(db, "SELECT SEQ_COUNT FROM SEQUENCE")

    counts = await ingest_file(settings, ONTO_EXAMPLE)

    assert counts == {
        "User": 1,
        "Investigation": 1,
        "Dataset": 1,
        "Datafile": 2,
        "DatafileParameter": 1,
        "InvestigationInstrument": 1,
        "InvestigationUser": 2,
    }
    # New rows take ids after the first ingest's.
    ((new_min,),) = rows(db, "SELECT MIN(ID) FROM INVESTIGATION WHERE NAME = '25010001-ST'")
    assert new_min > seq_before  # type: ignore[operator]
    # References to rows already in the catalogue: the facility and type by attributes,
    # an existing user by attributes, the instrument by key; the new user from the file.
    assert rows(
        db,
        "SELECT f.NAME, t.NAME, i.STARTDATE FROM INVESTIGATION i "
        "JOIN FACILITY f ON f.ID = i.FACILITY_ID JOIN INVESTIGATIONTYPE t ON t.ID = i.TYPE_ID "
        "WHERE i.NAME = '25010001-ST'",
    ) == [("ESNF", "Experiment", "2025-01-10 08:00:00.000000")]  # 09:00+01:00 in UTC
    assert rows(
        db,
        "SELECT u.NAME, iu.ROLE FROM INVESTIGATIONUSER iu JOIN USER_ u ON u.ID = iu.USER_ID "
        "JOIN INVESTIGATION i ON i.ID = iu.INVESTIGATION_ID WHERE i.NAME = '25010001-ST' "
        "ORDER BY u.NAME",
    ) == [("db/ahau", "Investigator"), ("db/mnew", "Principal Investigator")]
    assert rows(db, "SELECT COUNT(*) FROM USER_ WHERE NAME = 'db/ahau'") == [(1,)]
    assert rows(
        db,
        "SELECT ins.NAME FROM INVESTIGATIONINSTRUMENT ii "
        "JOIN INSTRUMENT ins ON ins.ID = ii.INSTRUMENT_ID "
        "JOIN INVESTIGATION i ON i.ID = ii.INVESTIGATION_ID WHERE i.NAME = '25010001-ST'",
    ) == [("E2",)]
    # Nested datasets > datafiles > parameters; the dataset type found by attributes.
    assert rows(
        db,
        "SELECT d.NAME, dt.NAME, d.COMPLETE, df.NAME, p.NUMERIC_VALUE FROM DATAFILE df "
        "JOIN DATASET d ON d.ID = df.DATASET_ID JOIN DATASETTYPE dt ON dt.ID = d.TYPE_ID "
        "JOIN INVESTIGATION i ON i.ID = d.INVESTIGATION_ID "
        "LEFT JOIN DATAFILEPARAMETER p ON p.DATAFILE_ID = df.ID "
        "WHERE i.NAME = '25010001-ST' ORDER BY df.NAME",
    ) == [("e250001", "raw", 1, "e250001.dat", None), ("e250001", "raw", 1, "e250001.nxs", 3.5)]
    assert rows(db, "SELECT COUNT(*) FROM DATASETTYPE") == [(3,)]


async def test_failure_rolls_everything_back(settings: Settings, db: sqlite3.Connection) -> None:
    await ingest_file(settings, EXAMPLE)
    before = table_counts(db)
    seq_before = rows(db, "SELECT SEQ_COUNT FROM SEQUENCE")

    # Loading the same file again breaks the uniqueness constraints.
    with pytest.raises(IngestError) as failure:
        await ingest_file(settings, EXAMPLE)

    message = str(failure.value)
    assert str(EXAMPLE) in message
    assert "UNIQUE constraint failed" in message
    # It names one object of the file, by its key.
    assert "_name-" in message
    assert table_counts(db) == before
    assert rows(db, "SELECT SEQ_COUNT FROM SEQUENCE") == seq_before


async def test_failure_in_a_batch_names_the_object(
    settings: Settings, db: sqlite3.Connection, tmp_path: Path
) -> None:
    await ingest_file(settings, EXAMPLE)
    dump = tmp_path / "users.yaml"
    dump.write_text(
        "---\nuser:\n"
        "  User_name-db=2Fa1:\n    name: db/a1\n"
        "  User_name-db=2Fahau:\n    name: db/ahau\n"  # already in the catalogue
        "  User_name-db=2Fz9:\n    name: db/z9\n"
    )

    # The three users are written in one INSERT; the error still names the one at fault.
    with pytest.raises(IngestError) as failure:
        await ingest_file(settings, dump)

    assert "User 'User_name-db=2Fahau': the database refused it" in str(failure.value)
    assert rows(db, "SELECT COUNT(*) FROM USER_") == [(11,)]


async def test_unknown_reference(
    settings: Settings, db: sqlite3.Connection, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.yaml"
    dump.write_text(
        "%YAML 1.1\n---\n"
        "facility:\n  Facility_name-ESRF:\n    name: ESRF\n"
        "investigationType:\n"
        "  InvestigationType_facility-(name-ESRF)_name-exp:\n"
        "    facility: Facility_name-ESRF\n    name: exp\n"
        "---\n"
        "investigation:\n"
        "  Investigation_facility-(name-ILL)_name-X_visitId-1:\n"
        "    facility: Facility_name-ILL\n"
        "    type: InvestigationType_facility-(name-ESRF)_name-exp\n"
        "    name: X\n    title: T\n    visitId: '1'\n"
    )

    with pytest.raises(IngestError) as failure:
        await ingest_file(settings, dump)

    message = str(failure.value)
    assert "Investigation 'Investigation_facility-(name-ILL)_name-X_visitId-1'" in message
    assert "Facility_name-ILL is not in the catalogue" in message
    assert rows(db, "SELECT COUNT(*) FROM FACILITY") == [(0,)]  # the first chunk too
    assert rows(db, "SELECT COUNT(*) FROM SEQUENCE") == [(0,)]


async def test_invalid_attribute(
    settings: Settings, db: sqlite3.Connection, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.xml"
    dump.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<icatdata><data>'
        '<facility id="Facility_name-ESRF"><name>ESRF</name></facility>'
        "<instrument><name>ID01</name><colour>blue</colour>"
        '<facility ref="Facility_name-ESRF"/></instrument>'
        "</data></icatdata>\n"
    )

    with pytest.raises(IngestError) as failure:
        await ingest_file(settings, dump)

    message = str(failure.value)
    assert "after object 1 (Facility_name-ESRF) of data chunk 1" in message
    assert "invalid subelement 'colour'" in message
    assert rows(db, "SELECT COUNT(*) FROM FACILITY") == [(0,)]


async def test_required_field_missing(settings: Settings, tmp_path: Path) -> None:
    dump = tmp_path / "dump.yaml"
    dump.write_text("---\nfacility:\n  Facility_name-ESRF:\n    fullName: no name\n")

    with pytest.raises(IngestError, match=r"Facility 'Facility_name-ESRF': name is required"):
        await ingest_file(settings, dump)


async def test_not_embedded(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", embedded=False)
    with pytest.raises(IngestError, match="embedded"):
        await ingest_file(settings, EXAMPLE)


def test_cli_ingest(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--database-url", settings.database_url, "ingest", str(EXAMPLE)])

    assert code == 0
    out = capsys.readouterr().out
    assert "11 User, 1 Facility" in out
    assert f"{EXAMPLE_SKIPPED} skipped" in out
