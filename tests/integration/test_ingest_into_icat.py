"""``icat-gateway ingest --into-icat``: python-icat's example dump into an ICAT database as
icat.server's EclipseLink builds it (tests/support/icat_ddl.py, every entity table of ICAT
6.2), with the gateway's embedded mode off.

PostgreSQL: lower-case names, ids from SEQ_GEN_SEQUENCE in blocks of 50 (icat.server holds
a block of its own meanwhile). MariaDB: upper-case names, AUTO_INCREMENT ids. The sessions
are then served over GraphQL; ICAT's schema is the same afterwards; icat.server's inserts
after the ingest take ids of their own; a second ingest (IGNORE, CHECK) changes nothing and
says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway import cli
from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.ingest import Duplicate, IngestError, ingest_files
from gateway.settings import Settings
from tests.conftest import STAFF, Client
from tests.integration.test_ingest import DATA, EXAMPLE, EXAMPLE_AUTHORIZATION, EXAMPLE_COUNTS
from tests.integration.test_real_icat import _fresh_database, _urls, schema_of
from tests.support.icat_ddl import TABLES, IcatServer, as_of, ddl

EXAMPLE_5_0 = DATA / "icatdump-5.0.yaml"
SESSIONS = """{ investigations(first: 10, orderBy: {field: PROPOSAL, direction: ASC}) {
  totalCount nodes { proposal visitId title datasets { totalCount } } } }"""


async def _rows_and_ids(
    raw: AsyncEngine, tables: dict[str, Any] = TABLES
) -> dict[str, tuple[int, list[int]]]:
    """Per ICAT table: its row count and its ids."""
    found = {}
    async with raw.connect() as connection:
        for table in tables:
            ids = (await connection.execute(text(f"SELECT ID FROM {table}"))).scalars().all()
            found[table] = (len(ids), sorted(int(i) for i in ids))
    return found


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
async def test_the_example_dump_into_an_icat_built_by_eclipselink(
    dialect: str, schema: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base, url, name = await _urls(dialect)
    database = f"{name}_ingest"
    await _fresh_database(base, database, dialect)
    url = make_url(url).set(database=database).render_as_string(hide_password=False)
    gateway_schema = "icat_gateway" if dialect == "postgresql" else f"{database}_gw"
    raw = create_async_engine(url)
    icat_server = IcatServer(dialect)
    try:
        async with raw.begin() as connection:
            for statement in ddl(dialect):
                await connection.execute(text(statement))
            # icat.server is running: it holds a block of SEQ_GEN_SEQUENCE (PostgreSQL).
            await icat_server.insert(connection, "USER_", NAME="db/before")
        before = await schema_of(raw)
        settings = Settings(
            database_url=url,
            embedded=False,
            gateway_schema=gateway_schema,
            staff_users=frozenset({STAFF}),
            facility="ESNF",
        )

        report = await ingest_files(settings, [EXAMPLE], into_icat=True)

        assert sorted(report.new.items()) == sorted(
            {**EXAMPLE_COUNTS, **EXAMPLE_AUTHORIZATION}.items()
        )
        assert report.changed and not report.unchanged
        assert await schema_of(raw) == before
        ingested = await _rows_and_ids(raw)
        assert ingested["INVESTIGATION"][0] == 3 and ingested["USER_"][0] == 12
        async with raw.connect() as connection:
            counted = await connection.execute(
                text(
                    "SELECT I.NAME, COUNT(D.ID) FROM INVESTIGATION I "
                    "LEFT JOIN DATASET D ON D.INVESTIGATION_ID = I.ID GROUP BY I.NAME"
                )
            )
            datasets: dict[str, int] = {str(n): int(c) for n, c in counted.all()}
            creators = (
                await connection.execute(text("SELECT DISTINCT CREATE_ID FROM DATAFILE"))
            ).scalars()
            assert list(creators) == ["ingest"]
        if dialect == "postgresql":  # one sequence for every table: no id twice anywhere
            every = [i for _, ids in ingested.values() for i in ids]
            assert len(every) == len(set(every))
            # icat.server's block (1..50) is left to it
            assert min(set(every) - {icat_server.ids[0]}) > 50

        # Served: the ingested sessions with their datasets, as the database holds them.
        engine = create_engine(settings)
        try:
            await create_schema(engine, embedded=False)  # as at start-up: reads ICAT's names
            served = (await Client(engine, settings, schema).data(SESSIONS, user=STAFF))[
                "investigations"
            ]
        finally:
            await engine.dispose()
        assert served["totalCount"] == 3
        assert {n["proposal"]: n["datasets"]["totalCount"] for n in served["nodes"]} == datasets
        assert sum(datasets.values()) == 9

        # icat.server goes on inserting: the rest of its block, then further blocks (or
        # the tables' AUTO_INCREMENT counters), never an id the ingest took.
        async with raw.begin() as connection:
            investigation = ingested["INVESTIGATION"][1][0]
            for n in range(120):
                user = await icat_server.insert(connection, "USER_", NAME=f"db/after{n}")
                if n % 40 == 0:
                    await icat_server.insert(
                        connection,
                        "INVESTIGATIONUSER",
                        USER_ID=user,
                        INVESTIGATION_ID=investigation,
                        ROLE="Participant",
                    )
        after = await _rows_and_ids(raw)
        assert after["USER_"][0] == 12 + 120 and after["INVESTIGATIONUSER"][0] == 5 + 3
        if dialect == "postgresql":
            every = [i for _, ids in after.values() for i in ids]
            assert len(every) == len(set(every))
        else:  # each table's counter is past the ingested rows
            for table in ("USER_", "INVESTIGATIONUSER"):
                new = set(after[table][1]) - set(ingested[table][1])
                assert min(new) > max(ingested[table][1])
        assert await schema_of(raw) == before

        # A second ingest: IGNORE here, CHECK through the command; nothing changes.
        again = await ingest_files(settings, [EXAMPLE], duplicate=Duplicate.IGNORE, into_icat=True)
        assert not again.new and not again.differing and not again.changed
        assert again.lines()[-1] == (
            "nothing changed: every object of the files is in the catalogue already"
        )
        monkeypatch.setenv("ICAT_GATEWAY_EMBEDDED", "false")
        monkeypatch.setenv("ICAT_GATEWAY_GATEWAY_SCHEMA", gateway_schema)
        code = await asyncio.to_thread(
            cli.main,
            ["--database-url", url, "ingest", "--into-icat", "--duplicate", "CHECK", str(EXAMPLE)],
        )
        out = capsys.readouterr().out
        assert code == 0, out
        assert out.startswith("already there: 439 (")
        assert out.splitlines()[-1] == (
            "nothing changed: every object of the files is in the catalogue already"
        )
        assert await _rows_and_ids(raw) == after
        assert await schema_of(raw) == before
    finally:
        await raw.dispose()


def test_the_example_needs_no_table_outside_the_test_ddl() -> None:
    from gateway.catalogue.dumpfiles import icat_schema

    assert {str(info.table.name) for info in icat_schema().values()} <= set(TABLES)


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
async def test_the_5_0_example_into_an_icat_6_1_and_what_6_2_added_refused(
    dialect: str, schema: Any
) -> None:
    """ICAT 5.0 to 6.1 (tests/support/icat_ddl.py's ``as_of("6.1")``): python-icat's 5.0
    example goes in and is served, 6.2's fields null; the 6.2 example names what this ICAT
    lacks, and nothing of it is written."""
    base, url, name = await _urls(dialect)
    database = f"{name}_ingest61"
    await _fresh_database(base, database, dialect)
    url = make_url(url).set(database=database).render_as_string(hide_password=False)
    raw = create_async_engine(url)
    try:
        async with raw.begin() as connection:
            for statement in ddl(dialect, as_of("6.1")):
                await connection.execute(text(statement))
        settings = Settings(
            database_url=url,
            embedded=False,
            gateway_schema="icat_gateway" if dialect == "postgresql" else f"{database}_gw",
            staff_users=frozenset({STAFF}),
            facility="ESNF",
        )

        report = await ingest_files(settings, [EXAMPLE_5_0], into_icat=True)

        assert report.new["Investigation"] == 3 and report.new["DataPublication"] == 1
        assert "Subject" not in report.new
        engine = create_engine(settings)
        try:
            await create_schema(engine, embedded=False)
            served = await Client(engine, settings, schema).data(
                "{ investigations(first: 10) { totalCount nodes { instruments "
                "{ name startDate } } } }",
                user=STAFF,
            )
        finally:
            await engine.dispose()
        assert served["investigations"]["totalCount"] == 3
        instruments = [i for n in served["investigations"]["nodes"] for i in n["instruments"]]
        assert instruments and all(i["startDate"] is None for i in instruments)
        held = await _rows_and_ids(raw, as_of("6.1"))

        with pytest.raises(IngestError, match=r"this ICAT's database has no (table|column) "):
            await ingest_files(settings, [EXAMPLE], duplicate=Duplicate.IGNORE, into_icat=True)
        assert await _rows_and_ids(raw, as_of("6.1")) == held
    finally:
        await raw.dispose()
