"""``icat-gateway ingest``: python-icat dump files into the catalogue (SQLite).

``tests/data/icatdump-6.2.yaml`` is python-icat's own example dump (ICAT 6.2, YAML);
``tests/data/ingest-onto-esnf.xml`` is a small XML dump that adds to it, referring to its
objects by key and by attributes. No ICAT server is involved. Self-contained: uses no
conftest fixture.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from gateway.catalogue.ingest import Duplicate, IngestError, ingest_file, ingest_files
from gateway.catalogue.release_rule import ReleaseRule
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
# The authorization entities, kept too.
EXAMPLE_AUTHORIZATION = {
    "Grouping": 15,
    "UserGroup": 19,
    "Rule": 161,
    "PublicStep": 38,
    "InvestigationGroup": 9,
}
SIMPLE = DATA / "icatdump-simple.yaml"


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
    """Rows per table; FTS5's own shadow tables (the search index's segments, which a
    refresh of an unchanged document rewrites) are not the catalogue's."""
    tables = [
        name
        for (name,) in rows(db, "SELECT name FROM sqlite_master WHERE type='table'")
        if not str(name).startswith(("GATEWAY_SEARCH_FTS", "GATEWAY_DATASET_FTS"))
    ]
    return {table: rows(db, f'SELECT COUNT(*) FROM "{table}"')[0][0] for table in tables}  # type: ignore[misc]


async def test_example_dump_counts(settings: Settings, db: sqlite3.Connection) -> None:
    report = await ingest_file(settings, EXAMPLE)

    assert report.new == {**EXAMPLE_COUNTS, **EXAMPLE_AUTHORIZATION}
    assert not report.unchanged and not report.differing
    assert list(report.new)[:3] == ["User", "Grouping", "UserGroup"]  # in dump order
    assert rows(db, "SELECT COUNT(*) FROM RULE_")[0][0] == 161
    # A rule's grouping, its CRUD flags and what icat.server derives from them.
    assert rows(
        db,
        "SELECT r.CRUDFLAGS, r.C, r.R, r.U, r.D FROM RULE_ r JOIN GROUPING g "
        "ON g.ID = r.GROUPING_ID WHERE g.NAME = 'investigation_10100601-ST_owner' "
        "AND r.WHAT LIKE 'SELECT o FROM Investigation o%' AND r.CRUDFLAGS = 'R'",
    )[:1] in ([("R", 0, 1, 0, 0)], [])
    assert rows(
        db,
        "SELECT g.NAME, ig.ROLE FROM INVESTIGATIONGROUP ig JOIN GROUPING g ON g.ID = ig.GROUP_ID "
        "JOIN INVESTIGATION i ON i.ID = ig.INVESTIGATION_ID WHERE i.NAME = '10100601-ST' "
        "ORDER BY ig.ROLE",
    ) == [
        ("investigation_10100601-ST_owner", "owner"),
        ("investigation_10100601-ST_reader", "reader"),
        ("investigation_10100601-ST_writer", "writer"),
    ]
    assert rows(db, "SELECT COUNT(*) > 0 FROM RULE_ WHERE GROUPING_ID IS NULL") == [(1,)]
    flags = rows(db, "SELECT DISTINCT CRUDFLAGS, C, R, U, D FROM RULE_ ORDER BY CRUDFLAGS")
    assert all(
        tuple(flag[1:]) == tuple(int(letter in str(flag[0])) for letter in "CRUD") for flag in flags
    )


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

    report = await ingest_file(settings, ONTO_EXAMPLE)

    assert report.new == {
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


async def test_a_second_ingest_is_refused_by_default(
    settings: Settings, db: sqlite3.Connection
) -> None:
    await ingest_file(settings, EXAMPLE)
    before = table_counts(db)
    seq_before = rows(db, "SELECT SEQ_COUNT FROM SEQUENCE")

    # THROW, as icatingest: the first object already there stops it; nothing is written.
    with pytest.raises(IngestError) as failure:
        await ingest_file(settings, EXAMPLE)

    message = str(failure.value)
    assert str(EXAMPLE) in message
    assert "User 'User_name-db=2Facord' is in the catalogue already" in message
    assert "--duplicate IGNORE, CHECK or OVERWRITE" in message
    assert table_counts(db) == before
    assert rows(db, "SELECT SEQ_COUNT FROM SEQUENCE") == seq_before


# CHECK: the round trip of every example dump (test_dump_round_trip).
@pytest.mark.parametrize("duplicate", [Duplicate.IGNORE, Duplicate.OVERWRITE])
async def test_ingesting_twice_changes_nothing_and_says_so(
    settings: Settings, db: sqlite3.Connection, duplicate: Duplicate
) -> None:
    first = await ingest_file(settings, EXAMPLE)
    before = table_counts(db)
    seq_before = rows(db, "SELECT SEQ_COUNT FROM SEQUENCE")

    report = await ingest_file(settings, EXAMPLE, duplicate=duplicate)

    assert report.new == {} and report.differing == {}
    assert report.unchanged == first.new  # every object, nested ones and rules included
    assert not report.changed
    assert report.lines()[-1].startswith("nothing changed")
    assert table_counts(db) == before
    assert rows(db, "SELECT SEQ_COUNT FROM SEQUENCE") == seq_before


async def test_one_call_treats_each_file_as_its_own_ingest(
    settings: Settings, db: sqlite3.Connection
) -> None:
    """An object without a uniqueness constraint (a rule, a data collection, a study...)
    matches one row per file: the same file twice in one call is already there twice, as
    in two calls, rather than inserted anew the second time."""
    first = await ingest_file(settings, EXAMPLE)
    before = table_counts(db)

    report = await ingest_files(settings, [EXAMPLE, EXAMPLE], duplicate=Duplicate.CHECK)

    assert report.new == {} and report.differing == {}
    assert report.unchanged == {entity: 2 * n for entity, n in first.new.items()}
    assert table_counts(db) == before


def _changed_example(tmp_path: Path) -> Path:
    """The example with one user's full name changed and one user added."""
    text = EXAMPLE.read_text()
    assert text.count("fullName: Arnold Hau") == 1
    text = text.replace("fullName: Arnold Hau", "fullName: Arnold Hau-Renamed")
    text = text.replace("\nuser:\n", "\nuser:\n  User_name-db=2Fznew:\n    name: db/znew\n", 1)
    changed = tmp_path / "changed.yaml"
    changed.write_text(text)
    return changed


async def test_duplicate_modes_on_other_values(
    settings: Settings, db: sqlite3.Connection, tmp_path: Path
) -> None:
    await ingest_file(settings, EXAMPLE)
    changed = _changed_example(tmp_path)
    full_name = "SELECT FULLNAME FROM USER_ WHERE NAME = 'db/ahau'"

    with pytest.raises(IngestError) as failure:
        await ingest_file(settings, changed, duplicate=Duplicate.CHECK)
    assert "User 'User_name-db=2Fahau' is in the catalogue already with other values" in str(
        failure.value
    )
    assert "'Arnold Hau' there, 'Arnold Hau-Renamed' in the file" in str(failure.value)
    assert rows(db, "SELECT COUNT(*) FROM USER_ WHERE NAME = 'db/znew'") == [(0,)]

    kept = await ingest_file(settings, changed, duplicate=Duplicate.IGNORE)
    assert kept.new == {"User": 1} and kept.differing == {"User": 1}
    assert "already there with other values (kept as they are): 1 (1 User)" in kept.lines()
    assert rows(db, full_name) == [("Arnold Hau",)]

    updated = await ingest_file(settings, changed, duplicate=Duplicate.OVERWRITE)
    assert updated.new == {} and updated.differing == {"User": 1}
    assert "already there with other values (updated): 1 (1 User)" in updated.lines()
    assert rows(db, full_name) == [("Arnold Hau-Renamed",)]
    assert rows(db, "SELECT MOD_ID FROM USER_ WHERE NAME = 'db/ahau'") == [("ingest",)]


async def test_simple_dump_needs_the_catalogue_it_was_written_from(
    settings: Settings, db: sqlite3.Connection
) -> None:
    # On an empty catalogue it refers to a facility that is not there.
    with pytest.raises(IngestError, match=r"reference Facility_name-ESNF is not in the catalogue"):
        await ingest_file(settings, SIMPLE)
    assert rows(db, "SELECT COUNT(*) FROM USER_") == [(0,)]

    # After the 6.2 example, whose content it repeats, nothing of it is new.
    await ingest_file(settings, EXAMPLE)
    report = await ingest_files(
        settings, [SIMPLE, DATA / "icatdump-simple.xml"], duplicate=Duplicate.CHECK
    )
    assert report.new == {}
    assert report.unchanged == {
        "User": 8,
        "Grouping": 6,
        "UserGroup": 10,
        "Investigation": 2,
        "InvestigationGroup": 6,
    }


async def test_failure_in_a_batch_names_the_object(
    settings: Settings, db: sqlite3.Connection, tmp_path: Path
) -> None:
    dump = tmp_path / "users.yaml"
    dump.write_text(
        "---\nuser:\n"
        "  User_name-db=2Fa1:\n    name: db/a1\n"
        "  User_name-db=2Fa2:\n    name: db/a1\n"  # the same user under another key
        "  User_name-db=2Fz9:\n    name: db/z9\n"
    )

    # The three users are written in one INSERT; the error still names the one at fault.
    with pytest.raises(IngestError) as failure:
        await ingest_file(settings, dump)

    assert "User 'User_name-db=2Fa2'" in str(failure.value)
    assert rows(db, "SELECT COUNT(*) FROM USER_") == [(0,)]


async def test_release_dates_at_ingest(settings: Settings, db: sqlite3.Connection) -> None:
    # The example's sessions have no release date; make one of them proprietary.
    rule = ReleaseRule(embargo_days=1000, proprietary_types=frozenset({"commercial experiment"}))
    text = EXAMPLE.read_text()
    await ingest_file(settings, EXAMPLE)
    db.execute(
        "UPDATE INVESTIGATION SET TYPE_ID = (SELECT ID FROM INVESTIGATIONTYPE "
        "WHERE NAME = 'Commercial experiment') WHERE NAME = '12100409-ST'"
    )
    db.execute("UPDATE FACILITY SET DAYSUNTILRELEASE = 30")
    db.commit()
    assert "12100409-ST" in text

    report = await ingest_files(settings, [EXAMPLE], duplicate=Duplicate.IGNORE, release_rule=rule)

    assert report.release_dates is not None
    assert report.release_dates.proprietary == 1
    assert len(report.release_dates.dates) + report.release_dates.not_ended == 2
    assert report.changed == bool(report.release_dates.dates)
    released = rows(
        db,
        "SELECT NAME, ENDDATE, RELEASEDATE, MOD_ID FROM INVESTIGATION "
        "WHERE RELEASEDATE IS NOT NULL ORDER BY NAME",
    )
    assert [name for name, *_ in released] == sorted(
        new.proposal for new in report.release_dates.dates
    )
    for _name, end, release, mod_id in released:
        assert (
            datetime.fromisoformat(str(release)) - datetime.fromisoformat(str(end))
        ).days == 30  # the facility's DAYSUNTILRELEASE, not the rule's default
        assert mod_id == "release-dates"
    assert rows(db, "SELECT RELEASEDATE FROM INVESTIGATION WHERE NAME = '12100409-ST'") == [(None,)]
    recorded = rows(db, "SELECT CHANGED_BY, REASON FROM GATEWAY_RELEASE_DATE_CHANGE")
    assert recorded == [("release-dates", "facility rule: end date + 30 days")] * len(released)


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
    with pytest.raises(IngestError, match=r"did not create .* pass --into-icat"):
        await ingest_file(settings, EXAMPLE)


async def test_into_icat_with_the_explicit_option(
    settings: Settings, db: sqlite3.Connection
) -> None:
    await ingest_file(settings, EXAMPLE)  # an ICAT database, whoever made it
    icat = dataclasses.replace(settings, embedded=False)

    report = await ingest_files(icat, [ONTO_EXAMPLE], into_icat=True)

    assert report.new["Investigation"] == 1
    ids = [row[0] for row in rows(db, "SELECT ID FROM INVESTIGATION")]
    assert len(ids) == len(set(ids)) == 4


def test_cli_ingest(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--database-url", settings.database_url, "ingest", str(EXAMPLE)])

    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("new: 439 (11 User, 15 Grouping, 19 UserGroup, 161 Rule")

    code = main(
        ["--database-url", settings.database_url, "ingest", "--duplicate", "IGNORE", str(EXAMPLE)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        out.splitlines()[0],
        "nothing changed: every object of the files is in the catalogue already",
    ]
    assert out.startswith("already there: 439 (")

    code = main(["--database-url", settings.database_url, "ingest", str(EXAMPLE)])
    assert code == 1
    assert "is in the catalogue already" in capsys.readouterr().err
