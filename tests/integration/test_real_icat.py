"""The gateway beside a real ICAT: a database built as icat.server's EclipseLink builds it
(plain DDL, tests/support/icat_ddl.py), served with embedded mode off.

PostgreSQL: every name lower case, ids from SEQ_GEN_SEQUENCE. MariaDB: upper-case table
names, AUTO_INCREMENT ids. Reads, grants, access requests, and DOI reserve, publish and
mint work; ICAT's schema is the same afterwards; and rows icat.server inserts between the
gateway's writes never collide with them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway import cli
from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.icat_check import IcatSchemaError
from gateway.catalogue.models import Dataset, Investigation
from gateway.catalogue.names import names_of
from gateway.fields.identity import global_id
from gateway.settings import Settings
from tests.conftest import REQUIRE_ALL, SERVER_URLS, STAFF, Client, create_worker_database
from tests.integration.test_doi_faults import registrar_of
from tests.support.datacite_server import DataCiteServer
from tests.support.doi_catalogue import caller, description, sagas_for, use_cases
from tests.support.icat_ddl import TABLES, IcatServer, as_of, ddl

PI, MEMBER, OUTSIDER, VISITOR = "esrf/pi1", "esrf/member1", "esrf/outsider1", "esrf/visitor1"


@dataclass
class RealIcat:
    dialect: str
    settings: Settings
    engine: AsyncEngine
    raw: AsyncEngine
    """A plain engine on the same database (no names map): what a DBA sees."""
    released: int
    embargoed: int
    embargoed_datasets: list[int]
    released_datasets: list[int]


async def _urls(backend: str) -> tuple[str, str, str]:
    base = SERVER_URLS[backend]
    if base == "off":
        pytest.skip(f"{backend}: switched off")
    probe = create_async_engine(base)
    try:
        await create_worker_database(base)
        async with probe.connect():
            pass
    except Exception as error:
        problem = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        if REQUIRE_ALL:
            pytest.fail(f"{backend} unreachable at {base}: {problem}")
        pytest.skip(f"{backend} unreachable at {base}: {problem}")
    finally:
        await probe.dispose()
    url = make_url(base)
    name = f"{url.database}_icat"
    return base, url.set(database=name).render_as_string(hide_password=False), name


async def _fresh_database(base: str, name: str, dialect: str) -> None:
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            if dialect == "postgresql":
                exists = await connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if not exists:
                    await connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                for database in (name, f"{name}_gw"):  # ICAT's, and the gateway's own
                    await connection.execute(text(f"DROP DATABASE IF EXISTS `{database}`"))
                await connection.execute(text(f"CREATE DATABASE `{name}`"))
    finally:
        await admin.dispose()
    if dialect == "postgresql":  # emptied: quicker than a new database
        own = create_async_engine(make_url(base).set(database=name), isolation_level="AUTOCOMMIT")
        try:
            async with own.connect() as connection:
                await connection.execute(text("DROP SCHEMA IF EXISTS icat_gateway CASCADE"))
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        finally:
            await own.dispose()


async def _seed(connection: AsyncConnection, icat: IcatServer) -> dict[str, Any]:
    """A facility as icat.server's API would have filled it."""
    add = icat.insert
    facility = await add(connection, "FACILITY", NAME="ESRF", DAYSUNTILRELEASE=1095)
    kind = await add(connection, "INVESTIGATIONTYPE", FACILITY_ID=facility, NAME="experiment")
    raw = await add(connection, "DATASETTYPE", FACILITY_ID=facility, NAME="raw")
    hdf5 = await add(connection, "DATAFILEFORMAT", FACILITY_ID=facility, NAME="hdf5", VERSION="1")
    beamline = await add(connection, "INSTRUMENT", FACILITY_ID=facility, NAME="ID30A-1")
    users = {
        name: await add(connection, "USER_", NAME=name, FULLNAME=name.split("/")[1])
        for name in (PI, MEMBER, OUTSIDER, VISITOR, STAFF)
    }
    sessions: dict[str, int] = {}
    datasets: dict[str, list[int]] = {}
    for label, release in (("released", datetime(2020, 1, 1)), ("embargoed", datetime(2099, 1, 1))):
        session = await add(
            connection,
            "INVESTIGATION",
            FACILITY_ID=facility,
            TYPE_ID=kind,
            NAME=f"MX-{label}",
            VISIT_ID="1",
            TITLE=f"A {label} session",
            SUMMARY=f"What the {label} session found",
            STARTDATE=datetime(2019, 5, 1),
            RELEASEDATE=release,
        )
        sessions[label] = session
        await add(
            connection, "INVESTIGATIONINSTRUMENT", INVESTIGATION_ID=session, INSTRUMENT_ID=beamline
        )
        await add(
            connection,
            "INVESTIGATIONUSER",
            USER_ID=users[PI],
            INVESTIGATION_ID=session,
            ROLE="Principal investigator",
        )
        await add(
            connection,
            "INVESTIGATIONUSER",
            USER_ID=users[MEMBER],
            INVESTIGATION_ID=session,
            ROLE="Participant",
        )
        datasets[label] = []
        for n in range(2):
            dataset = await add(
                connection,
                "DATASET",
                INVESTIGATION_ID=session,
                TYPE_ID=raw,
                NAME=f"{label}-{n}",
                COMPLETE=False,
            )
            datasets[label].append(dataset)
            await add(
                connection,
                "DATAFILE",
                DATASET_ID=dataset,
                DATAFILEFORMAT_ID=hdf5,
                NAME=f"{label}-{n}.h5",
                FILESIZE=1024,
            )
    await add(
        connection,
        "SHIFT",
        INVESTIGATION_ID=sessions["embargoed"],
        STARTDATE=datetime(2019, 5, 1, 8),
        ENDDATE=datetime(2019, 5, 1, 16),
        **{'"COMMENT"': "night shift"},
    )
    return {"sessions": sessions, "datasets": datasets}


def _schema_of(connection: Any) -> dict[str, Any]:
    """ICAT's schema as the database reports it: tables, columns, keys, indexes."""
    inspector = inspect(connection)
    shape: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "primary": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "foreign": sorted(
                (f["name"], tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(str(c) for c in i["column_names"]))
                for i in inspector.get_indexes(table)
            ),
        }
    if connection.dialect.name == "postgresql":
        shape["sequences"] = sorted(inspector.get_sequence_names())
    return shape


async def schema_of(raw: AsyncEngine) -> dict[str, Any]:
    async with raw.connect() as connection:
        return await connection.run_sync(_schema_of)


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
async def real_icat(request: pytest.FixtureRequest) -> AsyncIterator[RealIcat]:
    """One ICAT per dialect for the module (each test adds rows of its own only)."""
    dialect = request.param
    base, url, name = await _urls(dialect)
    await _fresh_database(base, name, dialect)
    raw = create_async_engine(url)
    icat = IcatServer(dialect)
    async with raw.begin() as connection:
        for statement in ddl(dialect):
            await connection.execute(text(statement))
        seeded = await _seed(connection, icat)
    settings = Settings(
        database_url=url,
        embedded=False,
        gateway_schema="icat_gateway" if dialect == "postgresql" else f"{name}_gw",
        staff_users=frozenset({STAFF}),
        facility="ESRF",
    )
    engine = create_engine(settings)
    try:
        yield RealIcat(
            dialect,
            settings,
            engine,
            raw,
            released=seeded["sessions"]["released"],
            embargoed=seeded["sessions"]["embargoed"],
            released_datasets=seeded["datasets"]["released"],
            embargoed_datasets=seeded["datasets"]["embargoed"],
        )
    finally:
        await engine.dispose()
        await raw.dispose()


LIST = """{ investigations(first: 10, orderBy: {field: PROPOSAL, direction: ASC}) {
  totalCount nodes { proposal visitId title isReleased
    instruments { name } datasets { totalCount } } } }"""

GRANT = """mutation($ids: [ID!]!, $grantee: PersonInput!) {
  grantAccess(input: {investigationIds: $ids, grantee: $grantee}) {
    grants { investigation { canReadData } } } }"""
REQUEST = """mutation($id: ID!) { requestAccess(input: {investigationId: $id}) {
  request { id state } } }"""
APPROVE = """mutation($id: ID!) { approveAccessRequest(input: {requestId: $id}) {
  request { state } } }"""
READS = "query($id: ID) { investigation(id: $id) { canReadData summary } }"


async def test_an_icat_built_by_eclipselink_is_served_and_written_as_icat_server_would(
    real_icat: RealIcat, schema: Any
) -> None:
    icat = real_icat
    before = await schema_of(icat.raw)
    await create_schema(icat.engine, embedded=False)  # checks ICAT, migrates its own tables
    names = names_of(icat.engine.sync_engine.dialect)
    if icat.dialect == "postgresql":
        assert names.real("INVESTIGATION") == "investigation"
        assert names.real("COMMENT") == "COMMENT"
    else:
        assert names.spelling == {}
    client = Client(icat.engine, icat.settings, schema)

    for each in [client, client.using(compiled_sql=False)]:
        anonymous = (await each.data(LIST))["investigations"]
        assert anonymous["totalCount"] == 2
        counts = {n["proposal"]: n["datasets"]["totalCount"] for n in anonymous["nodes"]}
        assert counts == {"MX-embargoed": 0, "MX-released": 2}
        mine = (await each.data(LIST, user=PI))["investigations"]["nodes"]
        assert {n["proposal"]: n["datasets"]["totalCount"] for n in mine} == {
            "MX-embargoed": 2,
            "MX-released": 2,
        }
        assert [n["instruments"] for n in mine] == [[{"name": "ID30A-1"}]] * 2

    embargoed = global_id("Investigation", icat.embargoed)
    granted = await client.data(
        GRANT, {"ids": [embargoed], "grantee": {"userName": OUTSIDER}}, user=PI
    )
    assert granted["grantAccess"]["grants"] == [{"investigation": {"canReadData": True}}]
    asked = await client.data(REQUEST, {"id": embargoed}, user=VISITOR)
    request = asked["requestAccess"]["request"]["id"]
    approved = await client.data(APPROVE, {"id": request}, user=PI)
    assert approved["approveAccessRequest"]["request"]["state"] == "APPROVED"
    for who in (OUTSIDER, VISITOR):
        read = await client.data(READS, {"id": embargoed}, user=who)
        assert read["investigation"]["summary"] == "What the embargoed session found"

    with DataCiteServer() as datacite:
        dois = use_cases(sagas_for(icat.engine, registrar_of(datacite)), icat.settings)
        pi = caller(PI, icat.settings)
        reserved = await dois.reserve(
            pi, key="r", dataset_ids=icat.embargoed_datasets[:1], title="Reserved"
        )
        published = await dois.publish(pi, key="p", doi=reserved.doi, description=description())
        minted = await dois.mint(
            pi, key="m", dataset_ids=icat.embargoed_datasets[1:], description=description("M")
        )
        assert datacite.dois() == {published.doi: "findable", minted.doi: "findable"}
    public = (await client.data(LIST))["investigations"]["nodes"]
    assert {n["proposal"]: n["datasets"]["totalCount"] for n in public}["MX-embargoed"] == 2

    async with icat.raw.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT U.NAME, IU.ROLE, IU.CREATE_ID, IU.MOD_ID, IU.CREATE_TIME, IU.MOD_TIME "
                    "FROM INVESTIGATIONUSER IU JOIN USER_ U ON U.ID = IU.USER_ID "
                    "WHERE IU.ROLE = 'Collaborator' AND U.NAME IN (:outsider, :visitor) "
                    "ORDER BY U.NAME"
                ),
                {"outsider": OUTSIDER, "visitor": VISITOR},
            )
        ).all()
        creators = (
            await connection.execute(
                text("SELECT CREATE_ID, MOD_ID FROM DATAPUBLICATION ORDER BY ID")
            )
        ).all()
        keywords = (await connection.execute(text("SELECT NAME FROM SUBJECT"))).scalars().all()
    # ICAT 6.2: the keywords of both published DOIs as SUBJECT rows too
    assert sorted(keywords) == ["crystallography"] * 2 + ["proteins"] * 2
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (OUTSIDER, "Collaborator", PI, PI),
        (VISITOR, "Collaborator", PI, PI),
    ]
    assert all(r[4] == r[5] for r in rows)  # one instant, as icat.server's create writes
    assert creators and all(c == (PI, PI) for c in creators)
    assert await schema_of(icat.raw) == before


async def test_icat_server_and_the_gateway_insert_in_turn_without_a_collision(
    real_icat: RealIcat, schema: Any
) -> None:
    """icat.server holds a block of SEQ_GEN_SEQUENCE (or takes AUTO_INCREMENT values)
    while the gateway writes; its inserts run past its block into the next one."""
    icat = real_icat
    await create_schema(icat.engine, embedded=False)
    client = Client(icat.engine, icat.settings, schema)
    server = IcatServer(icat.dialect)
    embargoed = global_id("Investigation", icat.embargoed)
    for round_ in range(4):
        async with icat.raw.begin() as connection:
            for n in range(15):
                await server.insert(connection, "USER_", NAME=f"esrf/icat{round_}-{n}")
            await server.insert(
                connection,
                "INVESTIGATIONUSER",
                USER_ID=server.ids[-1],
                INVESTIGATION_ID=icat.released,
                ROLE="Participant",
            )
        await client.data(
            GRANT, {"ids": [embargoed], "grantee": {"userName": f"esrf/icat{round_}-0"}}, user=PI
        )
    async with icat.raw.connect() as connection:
        ids = (await connection.execute(text("SELECT ID FROM INVESTIGATIONUSER"))).scalars().all()
        gateway_rows = (
            await connection.execute(
                text(
                    "SELECT COUNT(*) FROM INVESTIGATIONUSER IU JOIN USER_ U ON U.ID = IU.USER_ID "
                    "WHERE IU.CREATE_ID = :pi AND U.NAME LIKE 'esrf/icat%'"
                ),
                {"pi": PI},
            )
        ).scalar()
    assert gateway_rows == 4
    assert len(ids) == len(set(ids))

    # A DOI's collection and publication ids are taken before their rows exist (the
    # registrar is called in between): icat.server's inserts meanwhile must not take them.
    async def icat_server_writes(step: str) -> None:
        if step == "called:put_draft":
            async with icat.raw.begin() as connection:
                for _ in range(3):
                    await server.insert(connection, "DATACOLLECTION")

    with DataCiteServer() as datacite:
        sagas = sagas_for(icat.engine, registrar_of(datacite), on_step=icat_server_writes)
        minted = await use_cases(sagas, icat.settings).mint(
            caller(PI, icat.settings),
            key="interleaved",
            dataset_ids=icat.released_datasets[:1],
            description=description("Interleaved"),
        )
        assert datacite.dois() == {minted.doi: "findable"}


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
async def test_an_icat_without_what_the_gateway_reads_stops_it_with_one_message(
    dialect: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: ICAT's core tables alone (no DATAFILEFORMAT...), a 4.x
    INVESTIGATION (no FILESIZE, FILECOUNT) and a 6.1 INSTRUMENT (no STARTDATE, ENDDATE: not
    needed, not named)."""
    base, url, name = await _urls(dialect)
    partial = f"{name}_partial"
    await _fresh_database(base, partial, dialect)
    url = make_url(url).set(database=partial).render_as_string(hide_password=False)
    older = as_of("6.1")
    core = {table: TABLES[table] for table in ("FACILITY", "INVESTIGATIONTYPE")}
    core["INSTRUMENT"] = older["INSTRUMENT"]
    core["INVESTIGATION"] = as_of("4.11")["INVESTIGATION"]
    raw = create_async_engine(url)
    try:
        async with raw.begin() as connection:
            for statement in ddl(dialect, core):
                await connection.execute(text(statement))
    finally:
        await raw.dispose()
    said = await _refusal(Settings(database_url=url, embedded=False))
    assert said.startswith("ICAT's database lacks what the gateway reads: tables ")
    assert (
        "DATAFILEFORMAT, " in said
        and "; columns INVESTIGATION.FILESIZE, INVESTIGATION.FILECOUNT (is this" in said
    )
    assert "STARTDATE" not in said
    assert not re.search(r"\bINVESTIGATION,", said) and said.count("\n") == 0
    # `icat-gateway serve` says it in one line and stops before serving.
    monkeypatch.setenv("ICAT_GATEWAY_EMBEDDED", "false")
    code = await asyncio.to_thread(cli.main, ["serve", "--database-url", url])
    assert code == 2
    err = capsys.readouterr().err
    # the refusal is the last line (log lines of the start-up come before it, one a line)
    assert err.splitlines()[-1] == f"icat-gateway: {said}" and "Traceback" not in err


async def _refusal(settings: Settings) -> str:
    """What the gateway's start-up check says when it refuses the database."""
    engine = create_engine(settings)
    try:
        with pytest.raises(IcatSchemaError) as stopped:
            await create_schema(engine, embedded=False)
    finally:
        await engine.dispose()
    return str(stopped.value)


def test_the_test_ddl_has_every_table_the_gateway_reads() -> None:
    from gateway.catalogue.icat_check import READ

    assert {m.__tablename__ for m in READ} <= set(TABLES)


async def test_a_read_only_gateway_answers_queries_and_refuses_every_mutation(
    real_icat: RealIcat,
) -> None:
    import httpx

    from gateway.app import create_app
    from gateway.gate import Hooks

    icat = real_icat
    settings = replace(icat.settings, read_only=True)
    paths: list[str] = []
    hooks = Hooks(observers=[lambda seen: paths.append(seen.path)])
    app = create_app(settings, hooks=hooks)
    embargoed = global_id("Investigation", icat.embargoed)
    headers = {"Accept": "application/graphql-response+json"}
    async with icat.raw.connect() as connection:
        before = (await connection.execute(text("SELECT COUNT(*) FROM INVESTIGATIONUSER"))).scalar()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            for _ in range(2):  # the second is answered by an operation plan (every dialect)
                listed = await http.post("/graphql", json={"query": LIST}, headers=headers)
                assert listed.status_code == 200
                assert listed.json()["data"]["investigations"]["totalCount"] == 2
            for mutation, variables in (
                (GRANT, {"ids": [embargoed], "grantee": {"userName": OUTSIDER}}),
                (REQUEST, {"id": embargoed}),
            ):
                refused = await http.post(
                    "/graphql", json={"query": mutation, "variables": variables}, headers=headers
                )
                assert refused.status_code == 403
                assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["READ_ONLY"]
    finally:
        await app.state.engine.dispose()
        await app.state.read_engine.dispose()
    async with icat.raw.connect() as connection:
        after = (await connection.execute(text("SELECT COUNT(*) FROM INVESTIGATIONUSER"))).scalar()
    assert after == before
    assert paths == ["standard", "planned", "refused", "refused"]


async def test_the_indexes_printed_for_a_dba_name_the_tables_as_the_database_does(
    real_icat: RealIcat,
) -> None:
    from gateway.catalogue.indexes import gateway_index_ddl

    async with real_icat.engine.connect() as connection:
        statements = await connection.run_sync(gateway_index_ddl)
    case = "lower" if real_icat.dialect == "postgresql" else "upper"
    told = create_engine(replace(real_icat.settings, icat_names=case))
    try:  # the case set instead of read: the same statements
        async with told.connect() as connection:
            assert await connection.run_sync(gateway_index_ddl) == statements
    finally:
        await told.dispose()
    if real_icat.dialect == "postgresql":
        assert 'CREATE INDEX "GW_INVESTIGATION_STARTDATE" ON investigation (startdate, id);' in (
            statements
        )
    else:
        assert (
            "CREATE INDEX `GW_INVESTIGATION_STARTDATE` ON `INVESTIGATION` (`STARTDATE`, `ID`);"
            in (statements)
        )


OLDER = """{ investigations(first: 10, orderBy: {field: PROPOSAL, direction: ASC}) {
  totalCount nodes { proposal instruments { name startDate endDate } datasets { totalCount } } }
  dataPublications(first: 10) { nodes { doi subject internalId } } }"""


async def _older_icat(dialect: str, version: str) -> tuple[str, str, AsyncEngine]:
    """A fresh database with ICAT ``version``'s tables (tests/support/icat_ddl.py's
    ``as_of``) and the seeded facility: its URL, the gateway's schema, a plain engine."""
    base, url, name = await _urls(dialect)
    database = f"{name}_{version.replace('.', '')}"
    await _fresh_database(base, database, dialect)
    url = make_url(url).set(database=database).render_as_string(hide_password=False)
    raw = create_async_engine(url)
    async with raw.begin() as connection:
        for statement in ddl(dialect, as_of(version)):
            await connection.execute(text(statement))
        if version != "4.11":
            await _seed(connection, IcatServer(dialect))
    return url, "icat_gateway" if dialect == "postgresql" else f"{database}_gw", raw


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
async def test_an_icat_before_6_2_is_served_with_null_for_what_6_2_added(
    dialect: str, schema: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """ICAT 5.0 to 6.1 (one schema): no SUBJECT table, no INSTRUMENT.STARTDATE/ENDDATE,
    DATAPUBLICATION.INTERNALID, FUNDINGREFERENCE.ACKNOWLEDGEMENT. The gateway starts, says
    what is absent, answers null for those fields on both paths, and mints a DOI whose
    keywords live in DATAPUBLICATION.SUBJECT alone."""
    url, gateway_schema, raw = await _older_icat(dialect, "6.1")
    settings = Settings(
        database_url=url,
        embedded=False,
        gateway_schema=gateway_schema,
        staff_users=frozenset({STAFF}),
        facility="ESRF",
    )
    engine = create_engine(settings)
    try:
        before = await schema_of(raw)
        with caplog.at_level("WARNING", logger="gateway.catalogue.icat_check"):
            await create_schema(engine, embedded=False)
        told = [r.getMessage() for r in caplog.records if r.name == "gateway.catalogue.icat_check"]
        assert told == [
            "ICAT's database lacks what ICAT 6.2 added: SUBJECT, INSTRUMENT.STARTDATE, "
            "INSTRUMENT.ENDDATE, DATAPUBLICATION.INTERNALID, FUNDINGREFERENCE.ACKNOWLEDGEMENT; "
            "the fields that read them answer null (an ICAT before 6.2)"
        ]
        async with engine.connect() as connection:
            datasets = (
                (
                    await connection.execute(
                        select(Dataset.id)
                        .join(Investigation)
                        .where(Investigation.name == "MX-embargoed")
                    )
                )
                .scalars()
                .all()
            )
        with DataCiteServer() as datacite:
            dois = use_cases(sagas_for(engine, registrar_of(datacite)), settings)
            minted = await dois.mint(
                caller(PI, settings),
                key="m",
                dataset_ids=list(datasets[:1]),
                description=description(),
            )
            stored = datacite.doi(minted.doi)
            assert stored is not None
            assert [s["subject"] for s in stored.attributes["subjects"]] == [
                "crystallography",
                "proteins",
            ]
        client = Client(engine, settings, schema)
        for each in (client, client.using(compiled_sql=False)):
            data = await each.data(OLDER, user=STAFF)
            nodes = data["investigations"]["nodes"]
            assert [n["instruments"] for n in nodes] == [
                [{"name": "ID30A-1", "startDate": None, "endDate": None}]
            ] * 2
            assert {n["proposal"]: n["datasets"]["totalCount"] for n in nodes} == {
                "MX-embargoed": 2,
                "MX-released": 2,
            }
            assert data["dataPublications"]["nodes"] == [
                {"doi": minted.doi, "subject": "crystallography, proteins", "internalId": None}
            ]
        assert await schema_of(raw) == before
    finally:
        await engine.dispose()
        await raw.dispose()


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
async def test_an_icat_before_5_0_is_refused_naming_the_version_it_needs(dialect: str) -> None:
    url, gateway_schema, raw = await _older_icat(dialect, "4.11")
    await raw.dispose()
    said = await _refusal(Settings(database_url=url, embedded=False, gateway_schema=gateway_schema))
    assert said.startswith("ICAT's database lacks what the gateway reads: tables TECHNIQUE, ")
    assert "; columns INVESTIGATION.FILESIZE, INVESTIGATION.FILECOUNT, " in said
    assert said.endswith("(ICAT 5.0 added them: the gateway needs ICAT 5.0 or later).")
    assert "SUBJECT" not in said and "STARTDATE" not in said  # 6.2's: not needed


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
async def test_embedded_mode_on_an_empty_database_lacks_no_table_it_made(dialect: str) -> None:
    """The first connection reads the catalogue before embedded mode creates ICAT's
    tables: what it read then must not make SUBJECT (and so DOI keywords) look absent."""
    base, url, name = await _urls(dialect)
    fresh = f"{name}_fresh"
    await _fresh_database(base, fresh, dialect)
    url = make_url(url).set(database=fresh).render_as_string(hide_password=False)
    gateway_schema = "icat_gateway" if dialect == "postgresql" else f"{fresh}_gw"
    engine = create_engine(Settings(database_url=url, gateway_schema=gateway_schema))
    try:
        await create_schema(engine, embedded=True)
        names = names_of(engine.sync_engine.dialect)
        assert not names.lacks_table("SUBJECT") and not names.lacks_column(
            "INSTRUMENT", "STARTDATE"
        )
    finally:
        await engine.dispose()
