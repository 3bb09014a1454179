"""ICAT's own rules, compiled to SQL (``gateway.catalogue.icat_rules``), against a plain Python
evaluation of the same rules (``tests.support.icat_rules_oracle``), on each database.

- python-icat's example dumps (every ICAT version in ``tests/data``) are ingested with
  their authorization entities; for every user of the dump, anonymous and a root user,
  the number of sessions, datasets, datafiles and data publications each may list, and the
  samples, keywords, session parameters and files each reaches from what they may read,
  are what the Python evaluation of the dump's rules says, entity by entity;
- hypothesis draws rules (the three forms, joins, conditions, groupings) and changes to the
  catalogue (memberships, a group's role in a session, release dates), inside a
  transaction that is rolled back: the SQL filter selects exactly the rows the Python
  evaluation does;
- a rule the compiler cannot translate denies and is reported with its id and text.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.app import now_utc
from gateway.auth.policy import Caller
from gateway.catalogue import details, queries
from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.downloads import dataset_download_sizes, selected_files
from gateway.catalogue.facets import (
    DATASET_FACETS,
    SESSION_FACETS,
    dataset_facets,
    session_facets,
    session_facets_in_one_pass,
)
from gateway.catalogue.gateway_tables import GrantExpiry
from gateway.catalogue.icat_rules.relationships import entities
from gateway.catalogue.icat_rules.ruleset import IcatRules, RuleRow, RuleSet, compile_rules, load
from gateway.catalogue.ingest import ingest_files
from gateway.catalogue.models import (
    DataCollectionParameter,
    Datafile,
    DataPublication,
    DataPublicationUser,
    Dataset,
    Investigation,
    InvestigationGroup,
    InvestigationUser,
    PublicStep,
    Rule,
    Sample,
    User,
    UserGroup,
    icat_metadata,
)
from gateway.catalogue.pages import FACETS_COLUMN, TOTAL_COLUMN, page_statement
from gateway.catalogue.pagination import PageRequest, SortKey, decode_cursor
from gateway.catalogue.parameter_search import NUMERIC, datasets_within_all, stored_bounds
from gateway.catalogue.relations import related_statement
from gateway.catalogue.search import investigation_conditions, named_values
from gateway.catalogue.search_documents import words
from gateway.catalogue.text_search import (
    MARIADB_MIN_WORD,
    MARIADB_STOPWORDS,
    TextIndex,
    dataset_text_match,
    session_text_match,
    text_index,
)
from gateway.catalogue.visibility import Access, by_rules
from gateway.fields.catalogue import TYPES
from gateway.fields.identity import global_id
from gateway.resolvers.context import RequestContext
from gateway.schema.build import create_schema as build_schema
from gateway.schema.facets import facets_over
from gateway.settings import Settings
from tests.support import icat_rules_oracle as oracle
from tests.support.scratch import scratch_url

DATA = Path(__file__).resolve().parents[1] / "data"
DUMPS = ["icatdump-4.4.yaml", "icatdump-4.7.yaml", "icatdump-4.10.yaml", "icatdump-5.0.yaml",
         "icatdump-6.2.yaml"]  # fmt: skip
NEWEST = "icatdump-6.2.yaml"


def newest_dump_on_servers(request: pytest.FixtureRequest, settings: Settings) -> None:
    """Skip a test of every dump on PostgreSQL and MariaDB but the newest: for tests whose
    statements are the same for every dump (the dumps' rules differ, the SQL's dialect does
    not), each dump's rules are checked on SQLite and the dialects on the newest."""
    if settings.dialect != "sqlite" and request.node.callspec.params["dump"] != NEWEST:
        pytest.skip("every dump on SQLite; on PostgreSQL and MariaDB, the newest")


ROOT = "simple/root"
LISTED = {
    "Investigation": queries.investigations,
    "Dataset": queries.datasets,
    "Datafile": queries.datafiles,
    "DataPublication": queries.data_publications,
}
"""The root lists of the schema, by the entity they list."""
REACHED = [("Investigation", "samples"), ("Investigation", "parameters")]
"""Relations of a session served by the declared loaders (ICAT step of the same name)."""


def derived(type_name: str, name: str) -> Any:
    """The statement of a declared relation's loader (``relations.related_statement``)."""
    return lambda ids, access: related_statement(relation(type_name, name), ids, access)


FOLLOWED: list[tuple[str, str, Any, list[str]]] = [
    ("Investigation", "Investigation.team", queries.team_listed,
     ["investigationUsers", "user"]),
    ("Investigation", "Investigation.shifts", derived("Investigation", "shifts"), ["shifts"]),
    ("Investigation", "Investigation.publications", derived("Investigation", "publications"),
     ["publications"]),
    ("Investigation", "Investigation.fundingReferences",
     derived("Investigation", "fundingReferences"), ["fundingReferences", "funding"]),
    ("Investigation", "Investigation.studies", derived("Investigation", "studies"),
     ["studyInvestigations", "study"]),
    ("Investigation", "Investigation.facilityCycles",
     derived("Investigation", "facilityCycles"), ["investigationFacilityCycles", "facilityCycle"]),
    ("Investigation", "Investigation.instruments",
     derived("Investigation", "instruments"),
     ["investigationInstruments", "instrument"]),
    ("Dataset", "Dataset.instruments", derived("Dataset", "instruments"),
     ["datasetInstruments", "instrument"]),
    ("Dataset", "Dataset.techniques",
     derived("Dataset", "techniques"),
     ["datasetTechniques", "technique"]),
    ("Dataset", "Dataset.parameters",
     derived("Dataset", "parameters"),
     ["parameters"]),
    ("Datafile", "Datafile.parameters", derived("Datafile", "parameters"), ["parameters"]),
    ("Datafile", "Datafile.relatedDatafiles", details.related_by_datafile, ["destDatafiles"]),
    ("DataPublication", "DataPublication.fundingReferences",
     derived("DataPublication", "fundingReferences"), ["fundingReferences", "funding"]),
    ("DataPublication", "DataPublication.parameters", details.parameters_by_publication,
     ["content", "parameters"]),
]  # fmt: skip
"""Children the loaders read from readable parents (the declared relations' and the
hand-written ones), (parent entity, field,
statement of ``(ids, access)`` with ``owner_key`` and the child's ``id``, ICAT's path)."""


@pytest.fixture(scope="module")
def own_settings(
    database_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('rules') / 'rules.sqlite3'}"
    else:
        url = scratch_url(database_url, "rules")
    return dataclasses.replace(settings, database_url=url, embedded=True)


async def _empty(engine: AsyncEngine) -> None:
    await create_schema(engine, embedded=True)
    async with engine.begin() as connection:
        for table in reversed(icat_metadata.sorted_tables):
            await connection.execute(delete(table))


@pytest.fixture(scope="module", params=DUMPS)
async def dump(
    request: pytest.FixtureRequest, own_settings: Settings
) -> AsyncIterator[AsyncEngine]:
    """The catalogue holding one example dump (ingested once per dump and database)."""
    engine = create_engine(own_settings)
    await _empty(engine)
    await ingest_files(own_settings, [DATA / request.param])
    yield engine
    await engine.dispose()


async def snapshot(connection: AsyncConnection, now: datetime) -> oracle.Oracle:
    """Every row of ICAT's tables, read plainly, and the rules, for the Python side."""
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for name, model in entities().items():
        columns = [attr.columns[0].label(attr.key) for attr in model.__mapper__.column_attrs]
        found = (await connection.execute(select(*columns))).mappings().all()
        rows[name] = {row["id"]: dict(row) for row in found}
    rules = [
        oracle.RuleRow(r["id"], r["what"], r["crud_flags"] or "", r["grouping_id"])
        for r in rows["Rule"].values()
    ]
    steps = {(s["origin"], s["field"]) for s in rows["PublicStep"].values()}
    expiries = (await connection.execute(select(GrantExpiry.investigation_user_id,
                                                GrantExpiry.expires_at))).all()  # fmt: skip
    lapsed = {membership for membership, at in expiries if at <= now}
    return oracle.Oracle(rows, rules, steps, frozenset({ROOT}), now, lapsed)


async def ruled(
    dump: AsyncEngine,
    now: datetime,
    private: Sequence[str] | None,
    steps: Sequence[tuple[str, str]] = (),
) -> tuple[RuleSet, oracle.Oracle]:
    """The rules a test runs under, compiled, and the Python evaluation's snapshot of the
    catalogue under the same rules: the dump's own (``private`` None), or only rules for
    everyone reading ``private``'s WHATs, with ``steps`` as the public steps."""
    if private is None:
        ruleset = await load(dump)
    else:
        rows = [RuleRow(i + 1, what, "R", None) for i, what in enumerate(private)]
        ruleset = compile_rules(rows, list(steps))
    async with dump.connect() as connection:
        reference = await snapshot(connection, now)
    if private is not None:
        reference.rules = [oracle.RuleRow(i + 1, what, "R", None)
                           for i, what in enumerate(private)]  # fmt: skip
        reference.public_steps = set(steps)
    return ruleset, reference


def access_for(ruleset: RuleSet, user: str | None, now: datetime) -> Access:
    return Access(
        caller=Caller(user_name=user),
        now=now,
        rules=IcatRules(ruleset, root=user == ROOT),
    )


async def ids_of(connection: AsyncConnection, statement: Any) -> set[int]:
    return set((await connection.execute(select(statement.subquery().c.id))).scalars())


async def pairs_of(connection: AsyncConnection, statement: Any, owner: str = "owner_key",
                   child: str = "id") -> set[tuple[int, int]]:  # fmt: skip
    found = statement.subquery()
    return {(int(a), int(b)) for a, b in await connection.execute(
        select(found.c[owner], found.c[child]))}  # fmt: skip


def relation(type_name: str, name: str) -> Any:
    return next(r for r in TYPES[type_name].relations if r.name == name)


async def gateway_answers(
    connection: AsyncConnection, ruleset: RuleSet, user: str | None, now: datetime
) -> dict[str, set[int]]:
    """What the standard path's statements list and reach for the caller."""
    access = access_for(ruleset, user, now)
    found = {entity: await ids_of(connection, build(access)) for entity, build in LISTED.items()}
    sessions = sorted(found["Investigation"])
    for origin, name in REACHED:
        statement = related_statement(relation(origin, name), sessions, access)
        found[f"{origin}.{name}"] = await ids_of(connection, statement)
    files = queries.datafiles_of_datasets(access).where(
        Datafile.dataset_id.in_(sorted(found["Dataset"]))
    )
    found["Dataset.datafiles"] = await ids_of(connection, files)
    children: dict[str, set[Any]] = {}
    children["Investigation.datasets"] = await pairs_of(
        connection,
        queries.datasets_of_sessions(access).where(Dataset.investigation_id.in_(sessions)),
        "investigation_id",
    )
    samples = select(Dataset.sample_id).where(Dataset.id.in_(sorted(found["Dataset"])))
    children["Dataset.sample"] = await ids_of(
        connection, queries.samples_of_datasets(access).where(Sample.id.in_(samples))
    )
    teams = queries.memberships_reached(access)
    people = queries.sessions_of_people(access, teams).add_columns(teams.c.user_id)
    children["User.investigations"] = await pairs_of(connection, people, "user_id", "id")
    for origin, name, build, _ in FOLLOWED:
        parents = sorted(found[origin])
        children[name] = await pairs_of(connection, build(parents, access))
    children["download"] = (
        await pairs_of(
            connection, selected_files(sorted(found["Dataset"]), (), access), "dataset_id"
        )
        if found["Dataset"]
        else set()
    )
    sizes = dataset_download_sizes(access, sorted(found["Dataset"])).subquery()
    children["downloadSize"] = {
        (int(a), int(b)) for a, b in await connection.execute(select(*sizes.c)) if b
    }
    children |= await gateway_lookups(connection, access, found, children)
    return {**found, **children}


async def gateway_lookups(connection: AsyncConnection, access: Access,
                          found: dict[str, set[int]],
                          children: dict[str, set[Any]]) -> dict[str, set[Any]]:  # fmt: skip
    """The lookups read with the rows (``relations.row_statement``): (row, lookup's row)
    where the caller is given the lookup's columns (a dataset's type, a file's format, a
    sample's type, a parameter's type), not NULL ones."""

    async def given(statement: Any, key: str, value: str) -> set[tuple[int, int]]:
        rows = statement.subquery()
        pairs = select(rows.c.id, rows.c[key]).where(rows.c[value].is_not(None))
        return {(int(a), int(b)) for a, b in await connection.execute(pairs)}

    datasets = queries.datasets(access).where(Dataset.id.in_(sorted(found["Dataset"])))
    files = queries.datafiles(access).where(Datafile.id.in_(sorted(found["Datafile"])))
    samples = queries.samples_of_datasets(access).where(Sample.id.in_(select(Dataset.sample_id)))
    reached = sorted(found["Dataset"])
    parameters = related_statement(relation("Dataset", "parameters"), reached, access)
    published = sorted(found["DataPublication"])
    return {
        "Dataset.type": await given(datasets, "type_id", "type_name"),
        "Datafile.datafileFormat": await given(files, "datafile_format_id", "format_name"),
        "Sample.type": await given(samples, "type_id", "type_name"),
        "DatasetParameter.type": await given(parameters, "parameter_type_id", "name"),
        "DataCollectionParameter.type": await given(
            details.parameters_by_publication(published, access).add_columns(
                DataCollectionParameter.parameter_type_id.label("parameter_type_id")),
            "parameter_type_id", "name"),
    }  # fmt: skip


def python_lookups(reference: oracle.Oracle, user: str | None, found: dict[str, set[int]],
                   children: dict[str, set[Any]]) -> dict[str, set[Any]]:  # fmt: skip
    along = reference.along
    samples = {s for s in reference.rows["Sample"]
               if any(d["sample_id"] == s for d in reference.rows["Dataset"].values())}  # fmt: skip
    published = {p for _, p in children["DataPublication.parameters"]}
    return {
        "Dataset.type": along("Dataset", ["type"], found["Dataset"], user),
        "Datafile.datafileFormat": along("Datafile", ["datafileFormat"], found["Datafile"], user),
        "Sample.type": along("Sample", ["type"], samples & _samples_reached(reference, user),
                             user),
        "DatasetParameter.type": along("DatasetParameter", ["type"],
                                       {p for _, p in children["Dataset.parameters"]}, user),
        "DataCollectionParameter.type": along("DataCollectionParameter", ["type"], published,
                                              user),
    }  # fmt: skip


def _samples_reached(reference: oracle.Oracle, user: str | None) -> set[int]:
    every = set(reference.rows["Dataset"])
    return {s for _, s in reference.along("Dataset", ["sample"], every, user)}


def python_answers(reference: oracle.Oracle, user: str | None) -> dict[str, set[int]]:
    found = {entity: reference.readable(entity, user) for entity in LISTED}
    for origin, name in REACHED:
        found[f"{origin}.{name}"] = reference.reached(origin, name, found[origin], user)
    found["Dataset.datafiles"] = reference.reached("Dataset", "datafiles", found["Dataset"], user)
    children: dict[str, set[Any]] = {}
    children["Investigation.datasets"] = reference.along(
        "Investigation", ["datasets"], found["Investigation"], user
    )
    children["Dataset.sample"] = {
        sample for _, sample in reference.along("Dataset", ["sample"], found["Dataset"], user)
    }
    children["User.investigations"] = reference.along(
        "User", ["investigationUsers", "investigation"], reference.rows["User"], user
    )
    for origin, name, _, path in FOLLOWED:
        children[name] = reference.along(origin, path, found[origin], user)
    # A download of a dataset holds the files Dataset.datafiles reaches, and its size is
    # theirs.
    children["download"] = reference.along("Dataset", ["datafiles"], found["Dataset"], user)
    sizes: dict[int, int] = {}
    for dataset, datafile in children["download"]:
        size = reference.rows["Datafile"][datafile]["file_size"] or 0
        sizes[dataset] = sizes.get(dataset, 0) + size
    children["downloadSize"] = {(d, n) for d, n in sizes.items() if n}
    children |= python_lookups(reference, user, found, children)
    return {**found, **children}


async def test_each_user_of_each_dump_sees_what_the_rules_say(dump: AsyncEngine) -> None:
    now = now_utc()
    ruleset = await load(dump)
    # Every rule of python-icat's examples is translated: none denies for want of a form.
    assert ruleset.refused == ()
    async with dump.connect() as connection:
        reference = await snapshot(connection, now)
        users = sorted(row["name"] for row in reference.rows["User"].values())
        counts: dict[str | None, dict[str, int]] = {}
        for user in [None, *users]:
            sql = await gateway_answers(connection, ruleset, user, now)
            expected = python_answers(reference, user)
            differing = {name for name in expected if sql.get(name) != expected[name]}
            assert differing == set() and sql.keys() == expected.keys(), (user, differing)
            counts[user] = {entity: len(ids) for entity, ids in sql.items()}
    # Not vacuous: the rules tell users apart, and a root user reads every row.
    assert len({tuple(sorted(c.items())) for c in counts.values()}) >= 3, counts
    assert counts[ROOT]["Investigation"] == len(reference.rows["Investigation"]) == 3
    assert counts[ROOT]["Datafile"] == len(reference.rows["Datafile"])
    assert counts[None]["Investigation"] < counts[ROOT]["Investigation"]
    assert any(0 < c["Dataset"] < counts[ROOT]["Dataset"] for c in counts.values())


async def test_the_session_list_counts_what_the_rules_list(dump: AsyncEngine) -> None:
    """A root page's total under ICAT's rules (``pages.page_statement``, which counts
    without the row filter a page is read with) is the number of sessions the Python
    evaluation says the caller reads, for every user of the dump: the page's first row
    and its total agree with the list."""
    now = now_utc()
    ruleset = await load(dump)
    async with dump.connect() as connection:
        reference = await snapshot(connection, now)
        users = sorted(row["name"] for row in reference.rows["User"].values())
        totals = set()
        for user in [None, *users]:
            access = access_for(ruleset, user, now)
            statement, _ = page_statement(
                connection.dialect.name,
                queries.investigations(access),
                [SortKey(Investigation.start_date, True, True), SortKey(Investigation.id, True)],
                PageRequest(limit=1),
                total=True,
            )
            row = (await connection.execute(statement)).first()
            readable = reference.readable("Investigation", user)
            total = 0 if row is None else row._mapping[TOTAL_COLUMN]
            assert total == len(readable), (user, total, len(readable))
            assert row is None or row._mapping["id"] in readable, user
            totals.add(total)
    # Not vacuous: the callers' totals differ.
    assert len(totals) >= 2, totals


async def test_an_untranslatable_rule_denies_and_is_reported(
    dump: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A rule in a form the compiler does not read (a LEFT JOIN here) is left out: what
    only it would open stays closed, and start-up names it by id and text."""
    from gateway.catalogue.icat_rules.ruleset import RuleBook

    broken = "SELECT o FROM Investigation o LEFT JOIN o.investigationUsers AS iu WHERE 1 = 1"
    async with dump.begin() as connection:
        top = int(await connection.scalar(select(func.max(Rule.id))) or 0)
        await connection.execute(
            insert(Rule).values(
                id=top + 1,
                what=broken,
                crud_flags="R",
                create_id="t",
                mod_id="t",
                create_time=now_utc(),
                mod_time=now_utc(),
            )
        )
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.catalogue.icat_rules.ruleset"):
            ruleset = await RuleBook(60).refresh(dump, force=True)
        assert [r.id for r in ruleset.refused] == [top + 1]
        assert f"ICAT rule {top + 1}" in caplog.text and broken in caplog.text
        # Had it been read as everyone's rule for every session, anonymous would see all 3.
        async with dump.connect() as connection:
            anonymous = await ids_of(connection, queries.investigations(
                access_for(ruleset, None, now_utc())))  # fmt: skip
            reference = await snapshot(connection, now_utc())
        assert anonymous == reference.readable("Investigation", None)
        assert len(anonymous) < 3
    finally:
        async with dump.begin() as connection:
            await connection.execute(delete(Rule).where(Rule.id == top + 1))


async def test_the_rule_book_compiles_again_when_the_rules_change(dump: AsyncEngine) -> None:
    from gateway.catalogue.icat_rules.ruleset import RuleBook

    book = RuleBook(0)
    first = await book.refresh(dump)
    assert await book.refresh(dump) is first  # unchanged: the same compiled set
    async with dump.begin() as connection:
        top = int(await connection.scalar(select(func.max(PublicStep.id))) or 0)
        await connection.execute(
            insert(PublicStep).values(
                id=top + 1,
                origin="Investigation",
                field="datasets",
                create_id="t",
                mod_id="t",
                create_time=now_utc(),
                mod_time=now_utc(),
            )
        )
    try:
        second = await book.refresh(dump)
        assert second is not first and ("Investigation", "datasets") in second.public_steps
    finally:
        async with dump.begin() as connection:
            await connection.execute(delete(PublicStep).where(PublicStep.id == top + 1))


# Generated rules and catalogues --------------------------------------------------------

PATHS = {
    "Investigation": [
        ("JOIN o.investigationGroups AS g JOIN g.grouping AS gr JOIN gr.userGroups AS ug "
         "JOIN ug.user AS u", {"g": "role", "u": "name", "o": "releaseDate"}),
        ("JOIN o.investigationUsers AS iu JOIN iu.user AS u", {"u": "name", "iu": "role"}),
        ("JOIN o.investigationInstruments AS ii JOIN ii.instrument AS ins "
         "JOIN ins.instrumentScientists AS isc JOIN isc.user AS u", {"u": "name"}),
        ("", {"o": "releaseDate"}),
    ],
    "Dataset": [
        ("JOIN o.investigation AS i JOIN i.investigationGroups AS g JOIN g.grouping AS gr "
         "JOIN gr.userGroups AS ug JOIN ug.user AS u", {"g": "role", "u": "name"}),
        ("JOIN o.investigation AS i", {"i": "releaseDate", "o": "complete"}),
        ("JOIN o.type AS t", {"t": "name"}),
    ],
    "Datafile": [
        ("JOIN o.dataset AS ds JOIN ds.investigation AS i JOIN i.investigationUsers AS iu "
         "JOIN iu.user AS u", {"u": "name"}),
        ("JOIN o.dataset AS ds JOIN ds.investigation AS i", {"i": "releaseDate"}),
    ],
}  # fmt: skip
ROLES = ["owner", "reader", "writer", "Writer"]
NAMES = ["db/acord", "db/ahau", "db/jbotu", "db/jdoe", "db/nbour", "nobody", "DB/JDOE"]


@st.composite
def atoms(draw: st.DrawFn, alias: str, attribute: str) -> str:
    if attribute == "name":
        return draw(st.sampled_from([f"{alias}.name = :user", f"{alias}.name <> :user",
                                     f"{alias}.name = '{draw(st.sampled_from(NAMES))}'",
                                     f"{alias}.name IS NOT NULL"]))  # fmt: skip
    if attribute == "role":
        roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True))
        quoted = ", ".join(f"'{r}'" for r in roles)
        return draw(st.sampled_from([f"{alias}.role = '{roles[0]}'", f"{alias}.role IN ({quoted})",
                                     f"{alias}.role NOT IN ({quoted})"]))  # fmt: skip
    if attribute == "releaseDate":
        return draw(st.sampled_from([f"{alias}.releaseDate < CURRENT_TIMESTAMP",
                                     f"{alias}.releaseDate > CURRENT_TIMESTAMP",
                                     f"{alias}.releaseDate IS NULL"]))  # fmt: skip
    if attribute == "complete":
        return f"{alias}.complete = {draw(st.sampled_from(['TRUE', 'FALSE']))}"
    return f"{alias}.{attribute} = '{draw(st.sampled_from(['raw', 'processed', 'x']))}'"


@st.composite
def rules(draw: st.DrawFn, groupings: list[int]) -> oracle.RuleRow:
    entity = draw(st.sampled_from(sorted(PATHS)))
    form = draw(st.sampled_from(["bare", "old", "jpql", "jpql", "jpql"]))
    grouping = draw(st.one_of(st.none(), st.sampled_from(groupings)))
    flags = draw(st.sampled_from(["R", "CRUD", "CU", "r"]))
    if form == "bare":
        what = entity
    elif form == "old":
        what = draw(st.sampled_from({
            "Investigation": ["Investigation <-> InvestigationUser <-> User [name = :user]",
                              "Investigation [releaseDate < CURRENT_TIMESTAMP]"],
            "Dataset": ["Dataset <-> Investigation <-> InvestigationUser <-> User [name=:user]",
                        "Dataset [complete = TRUE]"],
            "Datafile": ["Datafile <-> Dataset <-> Investigation [releaseDate IS NOT NULL]"],
        }[entity]))  # fmt: skip
    else:
        joins, attributes = draw(st.sampled_from(PATHS[entity]))
        chosen = draw(st.lists(st.sampled_from(sorted(attributes.items())), max_size=3))
        conditions = [draw(atoms(alias, attribute)) for alias, attribute in chosen]
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        what = f"SELECT o FROM {entity} o {joins}{where}".replace("  ", " ")
    return oracle.RuleRow(0, what, flags, grouping)


LOOKUP_RULES = {
    "DatasetType": ["DatasetType", "SELECT o FROM DatasetType o WHERE o.name = 'raw'",
                    "SELECT o FROM DatasetType o WHERE o.name <> 'raw'",
                    "SELECT o FROM DatasetType o JOIN o.datasets AS d JOIN d.investigation AS i "
                    "JOIN i.investigationUsers AS iu JOIN iu.user AS u WHERE u.name = :user"],
    "DatafileFormat": ["DatafileFormat", "SELECT o FROM DatafileFormat o WHERE o.name = 'NeXus'"],
    "ParameterType": ["ParameterType", "SELECT o FROM ParameterType o WHERE o.units <> 'T'",
                      "SELECT o FROM ParameterType o WHERE o.name IN ('Probe', 'Last access')"],
    "SampleType": ["SampleType", "SELECT o FROM SampleType o WHERE o.name = 'NiMnGa'"],
}  # fmt: skip
"""Rules of the lookups read with a row (a dataset's type, a file's format, a parameter's
and a sample's type): none drawn hides them all, a bare one opens them all, the others
some of them."""


@st.composite
def lookup_rules(draw: st.DrawFn) -> oracle.RuleRow:
    entity = draw(st.sampled_from(sorted(LOOKUP_RULES)))
    return oracle.RuleRow(0, draw(st.sampled_from(LOOKUP_RULES[entity])), "R", None)


@st.composite
def worlds(draw: st.DrawFn, users: list[int], groupings: list[int], sessions: list[int],
           group_rows: list[int], memberships: list[int]) -> dict[str, Any]:  # fmt: skip
    drawn = draw(st.lists(rules(groupings), min_size=1, max_size=5))
    drawn += draw(st.lists(lookup_rules(), max_size=4))
    return {
        "rules": [dataclasses.replace(r, id=i + 1) for i, r in enumerate(drawn)],
        "members": draw(
            st.sets(st.tuples(st.sampled_from(users), st.sampled_from(groupings)), max_size=8)
        ),
        "roles": draw(
            st.lists(st.sampled_from(ROLES), min_size=len(group_rows), max_size=len(group_rows))
        ),
        "expiries": draw(
            st.dictionaries(st.sampled_from(memberships), st.sampled_from([-1, 1]), max_size=4)
        ),
        "released": draw(
            st.lists(
                st.sampled_from([-400, -1, 1, None]), min_size=len(sessions), max_size=len(sessions)
            )
        ),
        "steps": draw(
            st.sets(
                st.sampled_from(
                    [
                        ("Dataset", "datafiles"),
                        ("Investigation", "samples"),
                        ("Investigation", "datasets"),
                        ("Dataset", "sample"),
                        ("Investigation", "investigationUsers"),
                        ("Dataset", "type"),
                        ("DatasetParameter", "type"),
                    ]
                )
            )
        ),
    }


async def _apply(connection: AsyncConnection, world: dict[str, Any], ids: dict[str, list[int]],
                 now: datetime) -> None:  # fmt: skip
    await connection.execute(delete(UserGroup))
    await connection.execute(delete(GrantExpiry))
    for membership, days in sorted(world["expiries"].items()):
        await connection.execute(insert(GrantExpiry).values(
            investigation_user_id=membership, expires_at=now + timedelta(days=days)))  # fmt: skip
    for index, (user_id, grouping_id) in enumerate(sorted(world["members"])):
        await connection.execute(insert(UserGroup).values(
            id=10_000 + index, user_id=user_id, grouping_id=grouping_id, create_id="t",
            mod_id="t", create_time=now, mod_time=now))  # fmt: skip
    for group_id, role in zip(ids["group_rows"], world["roles"], strict=True):
        await connection.execute(
            update(InvestigationGroup).where(InvestigationGroup.id == group_id).values(role=role)
        )
    for session_id, days in zip(ids["sessions"], world["released"], strict=True):
        date = None if days is None else now + timedelta(days=days)
        await connection.execute(
            update(Investigation).where(Investigation.id == session_id).values(release_date=date)
        )


def test_generated_rules_select_what_the_python_evaluation_selects(
    own_settings: Settings, dump: AsyncEngine, request: pytest.FixtureRequest
) -> None:
    """Drawn on the 6.2 dump only (the others hold the same shapes of rows)."""
    import asyncio

    if request.node.callspec.params["dump"] != NEWEST:
        pytest.skip("drawn on the 6.2 dump")

    loop = asyncio.new_event_loop()
    engine = create_engine(own_settings)

    async def identifiers() -> dict[str, list[int]]:
        async with engine.connect() as connection:

            async def ids(model: Any) -> list[int]:
                return sorted((await connection.execute(select(model.id))).scalars())

            from gateway.catalogue.models import Grouping

            return {"users": await ids(User), "groupings": await ids(Grouping),
                    "sessions": await ids(Investigation),
                    "group_rows": await ids(InvestigationGroup),
                    "memberships": await ids(InvestigationUser)}  # fmt: skip

    try:
        ids = loop.run_until_complete(identifiers())
        checked: list[int] = []

        @settings(max_examples=15 if own_settings.dialect == "sqlite" else 6, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])  # fmt: skip
        @given(world=worlds(ids["users"], ids["groupings"], ids["sessions"], ids["group_rows"],
                            ids["memberships"]))  # fmt: skip
        def check(world: dict[str, Any]) -> None:
            loop.run_until_complete(_check(engine, world, ids, checked))

        check()
        # Not vacuous: some drawn worlds open some rows and close others.
        assert any(n > 0 for n in checked) and any(n == 0 for n in checked), checked
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


async def _check(engine: AsyncEngine, world: dict[str, Any], ids: dict[str, list[int]],
                 checked: list[int]) -> None:  # fmt: skip
    now = now_utc()
    ruleset = compile_rules(
        [RuleRow(r.id, r.what, r.crud_flags, r.grouping_id) for r in world["rules"]],
        sorted(world["steps"]),
    )
    assert ruleset.refused == (), ruleset.refused
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await _apply(connection, world, ids, now)
            reference = await snapshot(connection, now)
            reference.rules = list(world["rules"])
            reference.public_steps = set(world["steps"])
            users = [row["name"] for row in reference.rows["User"].values()]
            for user in [None, "unknown", *users]:
                access = access_for(ruleset, user, now)
                for entity, model in (("Investigation", Investigation), ("Dataset", Dataset),
                                      ("Datafile", Datafile)):  # fmt: skip
                    sql = await ids_of(connection, select(model.id).where(by_rules(access, model)))
                    assert sql == reference.readable(entity, user), (entity, user, world)
                    checked.append(len(sql))
                sql_files = await ids_of(connection, queries.datafiles_of_datasets(access))
                every = set(reference.rows["Dataset"])
                assert sql_files == reference.reached("Dataset", "datafiles", every, user)
                download = await pairs_of(
                    connection, selected_files(sorted(every), (), access), "dataset_id"
                )
                assert download == reference.along("Dataset", ["datafiles"], every, user)
                # A session's datasets and a dataset's sample, as reached from what the
                # caller reads (a PUBLICSTEP opens them all).
                sessions = reference.readable("Investigation", user)
                sql_datasets = await pairs_of(connection, queries.datasets_of_sessions(
                    access).where(Dataset.investigation_id.in_(sorted(sessions))),
                    "investigation_id")  # fmt: skip
                expected = reference.along("Investigation", ["datasets"], sessions, user)
                assert sql_datasets == expected, (user, world)
                sql_samples = await ids_of(connection, queries.samples_of_datasets(access).where(
                    Sample.id.in_(select(Dataset.sample_id))))  # fmt: skip
                team = await pairs_of(connection, queries.team_listed(sorted(sessions), access))
                assert team == reference.along(
                    "Investigation", ["investigationUsers", "user"], sessions, user
                )
                assert sql_samples == {
                    s for _, s in reference.along("Dataset", ["sample"], every, user)
                }
                # The lookups read with the rows the caller reads: given where the rules
                # let them read the lookup's row, NULL otherwise.
                found = {
                    "Dataset": reference.readable("Dataset", user),
                    "Datafile": reference.readable("Datafile", user),
                    "DataPublication": reference.readable("DataPublication", user),
                }
                children = {"Dataset.parameters": reference.along(
                    "Dataset", ["parameters"], found["Dataset"], user),
                    "DataPublication.parameters": reference.along(
                        "DataPublication", ["content", "parameters"], found["DataPublication"],
                        user)}  # fmt: skip
                sql_lookups = await gateway_lookups(connection, access, found, children)
                expected_lookups = python_lookups(reference, user, found, children)
                assert sql_lookups == expected_lookups, (user, world)
        finally:
            await transaction.rollback()


async def test_lookups_the_rules_hide_are_not_read_with_their_rows(dump: AsyncEngine) -> None:
    """A dataset's type, a file's format, a sample's and a parameter's type are read with
    their row only where the caller may read the lookup's row (``relations.
    row_statement``), as the Python evaluation says: under rules that open some types and
    formats to everyone, and the rows themselves to everyone."""
    now = now_utc()
    what = ["Investigation", "Dataset", "Datafile", "Sample", "DatasetParameter",
            "DataPublication", "DataCollection", "DataCollectionParameter",
            *(forms[1] for forms in LOOKUP_RULES.values())]  # fmt: skip
    ruleset, reference = await ruled(dump, now, what)
    async with dump.connect() as connection:
        for user in [None, ROOT]:
            access = access_for(ruleset, user, now)
            found = {entity: reference.readable(entity, user) for entity in LISTED}
            children = {
                "Dataset.parameters": reference.along(
                    "Dataset", ["parameters"], found["Dataset"], user),
                "DataPublication.parameters": reference.along(
                    "DataPublication", ["content", "parameters"], found["DataPublication"],
                    user),
            }  # fmt: skip
            given = await gateway_lookups(connection, access, found, children)
            assert given == python_lookups(reference, user, found, children), user
            if user is None:
                hidden = given
            else:
                every = given
    # Not vacuous: the rules hide some of each lookup's rows, and open others.
    for name in ("Dataset.type", "Datafile.datafileFormat", "DatasetParameter.type"):
        assert 0 < len(hidden[name]) < len(every[name]), (name, hidden[name], every[name])


def test_data_publications_are_listed_as_their_rules_say() -> None:
    """A guard on the table of root lists above: each names the entity it lists."""
    assert {DataPublication.__name__, Dataset.__name__} <= set(LISTED)


async def test_an_expired_grant_opens_nothing_under_the_rules(dump: AsyncEngine) -> None:
    """The gateway's one addition to the rules: a team row whose grant expired
    (``GATEWAY_GRANT_EXPIRY``) is not joined by a rule, as the oracle says; the row
    itself is still read (the team lists an expired member)."""
    now = now_utc()
    team = "SELECT o FROM Investigation o JOIN o.investigationUsers AS iu JOIN iu.user AS u " \
           "WHERE u.name = :user"  # fmt: skip
    ruleset = compile_rules([RuleRow(1, team, "R", None), RuleRow(2, "InvestigationUser",
                                                                  "R", None)], [])  # fmt: skip
    async with dump.connect() as connection:
        transaction = await connection.begin()
        try:
            member = (await connection.execute(
                select(InvestigationUser.id.label("id"), InvestigationUser.investigation_id.label(
                    "investigation_id"), User.name.label("name"))
                .join(User, User.id == InvestigationUser.user_id)
                .order_by(InvestigationUser.id).limit(1))).one()  # fmt: skip
            access = access_for(ruleset, member.name, now)
            before = await ids_of(connection, select(Investigation.id).where(
                by_rules(access, Investigation)))  # fmt: skip
            await connection.execute(insert(GrantExpiry).values(
                investigation_user_id=member.id, expires_at=now - timedelta(1)))  # fmt: skip
            after = await ids_of(connection, select(Investigation.id).where(
                by_rules(access, Investigation)))  # fmt: skip
            reference = await snapshot(connection, now)
            reference.rules = [oracle.RuleRow(1, team, "R", None),
                               oracle.RuleRow(2, "InvestigationUser", "R", None)]  # fmt: skip
            reference.public_steps = set()
            assert after == reference.readable("Investigation", member.name)
            others = await ids_of(connection, select(InvestigationUser.investigation_id.label(
                "id")).join(User, User.id == InvestigationUser.user_id).where(
                User.name == member.name, InvestigationUser.id != member.id))  # fmt: skip
            # Not vacuous: the session was open by that row alone, and is closed now.
            assert member.investigation_id in before
            assert (member.investigation_id in after) == (member.investigation_id in others)
            listed = await ids_of(connection, select(InvestigationUser.id).where(
                by_rules(access, InvestigationUser)))  # fmt: skip
            assert member.id in listed
        finally:
            await transaction.rollback()


# Search facets under the rules ----------------------------------------------------------


def _counted(pairs: set[tuple[int, int]], name_of: Any, facet: str) -> dict[tuple[str, str], int]:
    """Facet counts from (counted object, value's row) pairs: distinct objects per name."""
    objects: dict[str, set[int]] = {}
    for counted, value in pairs:
        name = name_of(value)
        if name is not None:
            objects.setdefault(str(name), set()).add(counted)
    return {(facet, name): len(found) for name, found in objects.items()}


def python_facets(reference: oracle.Oracle, user: str | None) -> dict[tuple[str, str], int]:
    """What each facet counts, from what the caller could list: the sessions and datasets
    they read, and each value as its list field reaches it (an INCLUDE per hop)."""
    rows = reference.rows
    sessions = reference.readable("Investigation", user)
    datasets = reference.readable("Dataset", user)
    along = reference.along

    def name(entity: str) -> Any:
        return lambda key: rows[entity][key]["name"]

    counts: dict[tuple[str, str], int] = {}
    counts |= _counted(
        along("Investigation", ["investigationInstruments", "instrument"], sessions, user),
        name("Instrument"),
        "session instrument",
    )
    counts |= _counted(
        along("Investigation", ["type"], sessions, user), name("InvestigationType"), "session type"
    )
    starts = {(s, s) for s in sessions if rows["Investigation"][s]["start_date"] is not None}
    counts |= _counted(
        starts, lambda s: rows["Investigation"][s]["start_date"].year, "session year"
    )

    def released(session: int) -> str:
        date = rows["Investigation"][session]["release_date"]
        return str(date is not None and date < reference.now).lower()

    counts |= _counted({(s, s) for s in sessions}, released, "session released")
    listed = {d: s for s, d in along("Investigation", ["datasets"], sessions, user)}
    used = along("Dataset", ["datasetTechniques", "technique"], set(listed), user)
    counts |= _counted({(listed[d], t) for d, t in used}, name("Technique"), "session technique")
    used = along("Dataset", ["datasetTechniques", "technique"], datasets, user)
    counts |= _counted(used, name("Technique"), "dataset technique")
    typed = along("Dataset", ["type"], datasets, user)
    counts |= _counted(typed, name("DatasetType"), "dataset type")
    measured = along("Dataset", ["parameters"], datasets, user)
    named = along("DatasetParameter", ["type"], {p for _, p in measured}, user)
    counts |= _counted({(d, t) for d, p in measured for q, t in named if q == p},
                       name("ParameterType"), "dataset parameter")  # fmt: skip
    return counts


async def gateway_facets(
    connection: AsyncConnection, statement: Any, kind: str
) -> dict[tuple[str, str], int]:
    return {(f"{kind} {facet}", str(value)): int(count)
            for facet, value, count in await connection.execute(statement)}  # fmt: skip


async def facets_in_page(connection: AsyncConnection, access: Access) -> dict[tuple[str, str], int]:
    """The session facets as a search's page counts them, over every session listed."""
    over = facets_over(connection.dialect, access, SESSION_FACETS)
    assert over is not None
    statement, _ = page_statement(
        connection.dialect.name,
        queries.investigations(access),
        [SortKey(Investigation.id, True)],
        PageRequest(limit=1),
        total=True,
        costly_filter=True,  # as a search's: the matches a CTE, the facets read from it
        facets=over,
    )
    row = (await connection.execute(statement)).first()
    if row is None:  # nothing listed: nothing counted (the page carries no counts)
        return {}
    value = row._mapping[FACETS_COLUMN]
    items = json.loads(value) if isinstance(value, str | bytes) else value
    return {(f"session {i['facet']}", str(i["value"])): int(i["count"]) for i in items}


@dataclasses.dataclass(frozen=True)
class NameFilter:
    """A session search by beamline or by session type (``search.SessionSearch``)."""

    instrument: str | None = None
    type: str | None = None
    proposal: None = None
    visit_id: None = None
    dates: None = None
    search: None = None
    released: None = None


@dataclasses.dataclass(frozen=True)
class UnboundedRange:
    """A parameter range by name alone (``parameter_search.Range``)."""

    name: str
    units: None = None
    min: None = None
    max: None = None


async def test_filters_find_what_the_facets_count(dump: AsyncEngine) -> None:
    """A session found by a beamline or session type filter, and a dataset by a technique
    filter or a parameter range, only where the caller could list that beamline (type,
    technique, parameter with its type) on it: as many as the facet counts, under rules
    whose link rows are private."""
    now = now_utc()
    ruleset, reference = await ruled(dump, now, PRIVATE_LINKS, [("Investigation", "datasets")])

    async def count(statement: Any) -> int:
        return int(await connection.scalar(select(func.count()).select_from(statement.subquery())))

    async with dump.connect() as connection:
        users = sorted(row["name"] for row in reference.rows["User"].values())
        every = python_facets(reference, ROOT)  # every value someone can list
        numeric = {}  # the parameters a range may name: every type of the name numeric
        for facet, value in every:
            types = [t for t in reference.rows["ParameterType"].values() if t["name"] == value]
            if facet == "dataset parameter" and all(t["value_type"] == NUMERIC for t in types):
                numeric[value] = await stored_bounds(dump, [UnboundedRange(value)])
        checked = narrowed = ranged = typed = 0
        for user in [None, *users]:
            access = access_for(ruleset, user, now)
            counted = python_facets(reference, user)
            for facet, value in every:
                expected = counted.get((facet, value), 0)
                if facet in ("session instrument", "session type"):
                    named = (
                        NameFilter(instrument=value)
                        if facet == "session instrument"
                        else NameFilter(type=value)
                    )
                    found = queries.investigations(access).where(
                        *investigation_conditions(access, named)
                    )
                elif facet == "dataset technique":
                    technique = queries.dataset_has_technique(access, value)
                    found = queries.datasets(access).where(technique)
                elif facet == "dataset parameter" and value in numeric:
                    # A range without bounds: the datasets with that parameter.
                    within = datasets_within_all(access, numeric[value])
                    found = queries.datasets(access).where(within)
                else:
                    continue
                assert await count(found) == expected, (user, facet, value)
                checked += 1
                narrowed += expected < every[facet, value]
                ranged += facet == "dataset parameter" and expected < every[facet, value]
                typed += facet == "session type" and expected < every[facet, value]
    assert checked > 0 and narrowed > 0 and ranged > 0 and typed > 0, (
        checked, narrowed, ranged, typed)  # fmt: skip


def python_text_found(reference: oracle.Oracle, user: str | None, text: str,
                      index: TextIndex) -> tuple[set[int], set[int]]:  # fmt: skip
    """The sessions and datasets a free-text search finds for the caller, from the words
    they read (``search_documents.words``, as the documents hold them): a session by its
    landing facts and the beamlines ``Investigation.instruments`` lists for the caller
    (each required word starting a word; on PostgreSQL with trigrams the phrase inside
    them), or by its data (summary, keywords, samples and datasets, all of them readable
    under the rules this is called with); a dataset by its own name and description, or by
    its session's landing facts. The words each database's index requires: on MariaDB
    only those its index holds."""
    rows = reference.rows
    terms = list(dict.fromkeys(words(text).split()))
    phrase = " ".join(terms)
    mariadb = index.dialect in ("mysql", "mariadb")
    required = [w for w in terms if not mariadb or (
        len(w) >= MARIADB_MIN_WORD and w not in MARIADB_STOPWORDS)]  # fmt: skip
    trigrams = index.dialect == "postgresql" and index.trigrams and len(phrase) >= 3

    def holds(found: str, parts: bool = False) -> bool:
        starts = bool(required) and all(
            any(word.startswith(w) for word in found.split()) for w in required)  # fmt: skip
        return starts or (parts and trigrams and phrase in found)

    def landing(session: int) -> bool:
        row = rows["Investigation"][session]
        beamlines = reference.along(
            "Investigation", ["investigationInstruments", "instrument"], {session}, user
        )
        names = sorted(rows["Instrument"][b]["name"] for _, b in beamlines)
        return holds(words(row["title"], row["name"], row["visit_id"], row["doi"], *names), True)

    def data(session: int) -> bool:
        row = rows["Investigation"][session]
        parts = [r["name"] for model in ("Keyword", "Sample", "Dataset")
                 for r in rows[model].values() if r["investigation_id"] == session]  # fmt: skip
        return holds(words(row["summary"], *parts))

    sessions = {s for s in reference.readable("Investigation", user) if landing(s) or data(s)}
    datasets = set()
    for dataset in reference.readable("Dataset", user):
        row = rows["Dataset"][dataset]
        session = reference.along("Dataset", ["investigation"], {dataset}, user)
        if holds(words(row["name"], row["description"])) or (session and landing(
                row["investigation_id"])):  # fmt: skip
            datasets.add(dataset)
    return sessions, datasets


async def test_free_text_finds_beamlines_as_the_caller_lists_them(
    dump: AsyncEngine, own_settings: Settings, request: pytest.FixtureRequest
) -> None:
    """Free text finds a session (a dataset) by a beamline's name only where the caller
    could list that beamline on the session (``Investigation.instruments``: the link rows'
    and beamlines' rules), as the Python evaluation of the rules says, for every beamline
    name, under rules whose link rows are private."""
    newest_dump_on_servers(request, own_settings)
    now = now_utc()
    steps = [("Investigation", "datasets")]
    what = [*PRIVATE_LINKS, "Keyword", "Sample"]  # the DATA halves' words all readable
    ruleset, reference = await ruled(dump, now, what, steps)
    index = await text_index(dump)
    assert index.built
    async with dump.connect() as connection:
        users = sorted(row["name"] for row in reference.rows["User"].values())
        names = sorted({row["name"] for row in reference.rows["Instrument"].values()})
        proposals = sorted({row["name"] for row in reference.rows["Investigation"].values()})
        texts = [*names, *proposals, *(f"{name} {row['name']}" for name in names
                           for row in reference.rows["Investigation"].values())]  # fmt: skip
        checked = narrowed = 0
        for user in [None, *users]:
            access = access_for(ruleset, user, now)
            for text in texts:
                expected = python_text_found(reference, user, text, index)
                sessions = session_text_match(access, text, index)
                found = await ids_of(connection, sessions.applied(queries.investigations(access)))
                datasets = dataset_text_match(access, text, index)
                listed = datasets.applied(queries.datasets_checked_by_row(access))
                assert (found, await ids_of(connection, listed)) == expected, (user, text)
                checked += bool(found)
                everyone = python_text_found(reference, ROOT, text, index)
                narrowed += found < everyone[0] & reference.readable("Investigation", user)
    # Not vacuous: beamline names find sessions, and fewer where their links are private.
    assert checked > 0 and narrowed > 0, (checked, narrowed)


MEMBER = "JOIN {}.investigation AS i JOIN i.investigationUsers AS iu JOIN iu.user AS u " \
         "WHERE u.name = :user"  # fmt: skip
PRIVATE_LINKS = [
    *("Investigation", "Instrument", "Technique"),
    "SELECT o FROM InvestigationType o WHERE o.name <> 'Experiment'",
    "SELECT o FROM DatasetType o WHERE o.name = 'raw'",
    "SELECT o FROM ParameterType o WHERE o.units <> 'T'",
    "SELECT o FROM Dataset o " + MEMBER.format("o"),
    "SELECT o FROM DatasetParameter o JOIN o.dataset AS x " + MEMBER.format("x"),
    "SELECT o FROM InvestigationInstrument o " + MEMBER.format("o"),
    "SELECT o FROM DatasetTechnique o JOIN o.technique AS t WHERE t.name <> 'Neutron Diffraction'",
]  # fmt: skip
"""Every session readable, but its beamline links, its datasets and their parameters to
its team only, with a PUBLICSTEP opening a readable session's datasets (to everyone), one
technique's links to no one, and one session type and some dataset and parameter types to no
one: what a facet counts then differs from its link rows."""


@pytest.mark.parametrize("own_rules", [True, False], ids=["dump rules", "private links"])
async def test_facets_count_what_the_caller_could_list(dump: AsyncEngine, own_rules: bool) -> None:
    """A facet value counts only the sessions (datasets) the caller could list with that
    value as listing reaches it: the beamlines through INVESTIGATIONINSTRUMENT's rules, the
    techniques through the datasets ``Investigation.datasets`` lists and DATASETTECHNIQUE's
    rules, the parameters through DATASETPARAMETER's; both forms of the session facets
    (one statement per facet, and MariaDB's single pass)."""
    now = now_utc()
    steps = [("Investigation", "datasets")]
    ruleset, reference = await ruled(dump, now, None if own_rules else PRIVATE_LINKS, steps)
    async with dump.connect() as connection:
        users = sorted(row["name"] for row in reference.rows["User"].values())
        narrowed = 0
        for user in [None, *users]:
            access = access_for(ruleset, user, now)
            expected = python_facets(reference, user)
            matched = queries.investigations(access)
            datasets = await gateway_facets(
                connection, dataset_facets(access, queries.datasets(access), DATASET_FACETS),
                "dataset")  # fmt: skip
            for counting in (session_facets, session_facets_in_one_pass):
                statement = counting(access, matched, SESSION_FACETS)
                found = await gateway_facets(connection, statement, "session") | datasets
                assert found == expected, (user, counting.__name__)
            # A search's form: counted in its page's statement, from the template compiled
            # for this shape of caller (gateway.schema.facets.facets_over).
            found = await facets_in_page(connection, access) | datasets
            assert found == expected, (user, "in the page")
            # How many counts the link rows' rules lower (or remove) for this caller.
            root = python_facets(reference, ROOT)
            narrowed += sum(1 for key, n in expected.items() if n < root.get(key, 0))
    assert narrowed > 0


REFERENCE_ROOTS = {
    "Instrument": "instruments(first: 100) { nodes { id name } }",
    "Facility": "facilities(first: 100) { nodes { id name } }",
    "Technique": "techniques(first: 100) { nodes { id name } }",
    "ParameterType": "parameterTypes(first: 100) { nodes { name } }",
}
"""The root lists of reference tables, by the entity they list."""
PRIVATE_REFERENCES = [
    *("Investigation", "Facility"),
    "SELECT o FROM Instrument o JOIN o.instrumentScientists AS s JOIN s.user AS u "
    "WHERE u.name = :user",
    "SELECT o FROM Technique o WHERE o.name <> 'Neutron Diffraction'",
    "SELECT o FROM ParameterType o WHERE o.units <> 'T'",
]  # fmt: skip
"""Beamlines readable by their scientists alone, one technique and some parameter types
by no one, facilities by everyone."""


@pytest.mark.parametrize("own_rules", [True, False], ids=["dump rules", "private references"])
async def test_reference_tables_are_served_as_their_rules_say(
    dump: AsyncEngine, own_settings: Settings, own_rules: bool
) -> None:
    """The root lists of beamlines, facilities, techniques and parameter types, a beamline
    by name, and each of their rows by id (``node``, ``instrument(id)``) answer the rows
    ICAT's rules open to the caller, as the Python evaluation says, for every user."""
    now = now_utc()
    ruleset, reference = await ruled(dump, now, None if own_rules else PRIVATE_REFERENCES)
    schema = build_schema()
    users = sorted(row["name"] for row in reference.rows["User"].values())
    numeric = {
        i for i, row in reference.rows["ParameterType"].items() if row["value_type"] == NUMERIC
    }
    every = {entity: set(reference.rows[entity]) for entity in REFERENCE_ROOTS}
    narrowed = 0
    for user in [None, *users]:
        access = access_for(ruleset, user, now)

        context = RequestContext(engine=dump, settings=own_settings, access=access)

        async def run(query: str, context: RequestContext = context) -> Any:
            result = await schema.execute(query, context_value=context)
            assert not result.errors, (query, result.errors)
            return result.data

        expected = {entity: reference.readable(entity, user) for entity in REFERENCE_ROOTS}
        expected["ParameterType"] &= numeric
        lists = await run("{ " + " ".join(REFERENCE_ROOTS.values()) + " }")
        for (entity, root), listed in zip(REFERENCE_ROOTS.items(), lists.values(), strict=True):
            # Named as listed (a parameter type has no id in the schema; names are unique).
            found = sorted(node["name"] for node in listed["nodes"])
            table = reference.rows[entity]
            assert found == sorted(table[i]["name"] for i in expected[entity]), (user, root)
        for entity in ("Instrument", "Facility", "Technique"):
            readable = reference.readable(entity, user)
            narrowed += len(every[entity] - readable)
            for icat_id in sorted(every[entity]):
                node = global_id(entity, icat_id)
                answer = await run(f'{{ node(id: "{node}") {{ id }} }}')
                assert (answer["node"] is not None) == (icat_id in readable), (user, node)
        # A beamline by name and by id: NOT_FOUND for that field alone where hidden.
        readable = reference.readable("Instrument", user)
        for icat_id, row in sorted(reference.rows["Instrument"].items()):
            node = global_id("Instrument", icat_id)
            for query in (f'{{ instrument(name: "{row["name"]}") {{ id }} }}',
                          f'{{ instrument(id: "{node}") {{ id }} }}'):  # fmt: skip
                result = await schema.execute(query, context_value=context)
                codes = {(e.extensions or {}).get("code") for e in result.errors or []}
                answered = (result.data or {}).get("instrument")
                if icat_id in readable:
                    assert answered is not None and not codes, (user, query, result.errors)
                else:
                    assert answered is None and codes == {"NOT_FOUND"}, (user, query, codes)
    # Not vacuous: the rules hid some rows from some callers.
    assert own_rules or narrowed > 0


PRIVATE_NAMES = [
    *PRIVATE_REFERENCES,
    "SELECT o FROM InvestigationType o WHERE o.name <> 'Experiment'",
]  # fmt: skip
"""Beamlines readable by their scientists alone, and one session type by no one."""
NAMED_BY_FILTER = {
    "instrument": ("Instrument", ["investigationInstruments", "instrument"]),
    "type": ("InvestigationType", ["type"]),
}
"""The session filter's arguments that name a row of a reference table: its entity, and
ICAT's path from a session to it (what the filter finds sessions by)."""
NAMING_STEPS = [("Investigation", "investigationInstruments"),
                ("InvestigationInstrument", "instrument"), ("Investigation", "type")]  # fmt: skip
"""Public steps that open a readable session's beamlines and type, whatever their own
rules (under ``PRIVATE_NAMES``: a beamline for its scientists, no 'Experiment' type)."""
TEAM_NAMES = [
    "SELECT o FROM Investigation o JOIN o.investigationUsers AS iu JOIN iu.user AS u "
    "WHERE u.name = :user" if what == "Investigation" else what
    for what in PRIVATE_NAMES
]  # fmt: skip
"""``PRIVATE_NAMES`` with sessions readable by their team alone: what the public steps
open is then what the caller's own sessions reach, not every session's."""


@pytest.mark.parametrize(
    ("private", "steps"),
    [(None, ()), (PRIVATE_NAMES, ()), (PRIVATE_NAMES, NAMING_STEPS), (TEAM_NAMES, NAMING_STEPS)],
    ids=["dump rules", "private names", "public steps", "team's public steps"],
)
async def test_suggestions_name_only_what_the_rules_open(
    dump: AsyncEngine,
    own_settings: Settings,
    private: list[str] | None,
    steps: list[tuple[str, str]],
    request: pytest.FixtureRequest,
) -> None:
    """A beamline or session type in a session filter, given exactly or with a typo, is
    answered with the nearest names only of the rows the caller may read, as the Python
    evaluation says: those INSTRUMENT's and INVESTIGATIONTYPE's rules open, and those a
    session the caller reads reaches (each hop by its own rules or a public step, as
    GateKeeper includes them). A hidden name is never suggested, and given exactly it gets
    suggestions as a name of nothing would.

    The names a caller may be offered (``search.named_values``) are compared whole with the
    oracle's for every user; the filter's answer is asked through GraphQL, in one document
    per user, for a readable and a hidden name, each exactly and with a typo."""
    newest_dump_on_servers(request, own_settings)
    now = now_utc()
    ruleset, reference = await ruled(dump, now, private, steps)
    schema = build_schema()
    users = sorted(row["name"] for row in reference.rows["User"].values())
    hidden = suggested = through_steps = 0
    for user in [None, *users]:
        access = access_for(ruleset, user, now)
        context = RequestContext(engine=dump, settings=own_settings, access=access)
        sessions = reference.readable("Investigation", user)
        asked: dict[str, tuple[str, str, str, set[str]]] = {}
        for argument, (entity, path) in NAMED_BY_FILTER.items():
            table = reference.rows[entity]
            own = {table[i]["name"] for i in reference.readable(entity, user)}
            reached = reference.along("Investigation", path, sessions, user)
            readable = own | {table[i]["name"] for _, i in reached}
            through_steps += len(readable - own)
            names = sorted({row["name"] for row in table.values()})
            hidden += len(set(names) - readable)
            statement = named_values(access, argument)
            assert statement is not None
            async with dump.connect() as connection:
                offerable = set((await connection.execute(statement)).scalars())
            assert offerable == readable, (user, argument, offerable ^ readable)
            for kind, among in (("open", readable), ("hidden", set(names) - readable)):
                for name in sorted(among)[:1]:
                    for typo, typed in ((False, name), (True, name[:-1] + "#")):
                        alias = f"{argument}_{kind}_{'typo' if typo else 'exact'}"
                        asked[alias] = (argument, typed, name, readable)
        query = "{ " + " ".join(
            f"{alias}: investigations(first: 1, filter: {{ {argument}: {json.dumps(typed)} }})"
            " { suggestions { argument given nearest } }"
            for alias, (argument, typed, _, _) in asked.items()
        ) + " }"  # fmt: skip
        result = await schema.execute(query, context_value=context)
        assert not result.errors, (query, result.errors)
        assert result.data is not None
        for alias, (argument, typed, name, readable) in asked.items():
            answered = result.data[alias]["suggestions"]
            if typed == name and name in readable:
                assert answered == [], (user, typed, answered)
                continue
            assert len(answered) == 1, (user, typed, answered)
            (suggestion,) = answered
            assert (suggestion["argument"], suggestion["given"]) == (argument, typed)
            offered = set(suggestion["nearest"])
            # Only readable names; a typo of a readable one among them.
            assert offered <= readable, (user, typed, offered - readable)
            assert (name in offered) == (name in readable), (user, typed, offered)
            suggested += bool(offered)
    # Not vacuous: names were suggested; the private names hid some from some callers
    # (with public steps from every session, the dumps' sessions name them all), and the
    # public steps open some of those again.
    every_session = private == PRIVATE_NAMES and bool(steps)
    assert suggested > 0 and (private is None or every_session or hidden > 0), (suggested,
                                                                             hidden)  # fmt: skip
    assert through_steps > 0 if steps else True, through_steps


@pytest.mark.parametrize("own_rules", [True, False], ids=["dump rules", "private links"])
async def test_sessions_sort_under_the_beamlines_the_caller_lists(
    dump: AsyncEngine, own_settings: Settings, own_rules: bool
) -> None:
    """Sessions ordered by beamline sort under the first name of the beamlines
    ``Investigation.instruments`` lists for the caller (none: NULL), as the Python
    evaluation says: a page's cursors carry that name, so a beamline whose link the rules
    hide is never in one."""
    now = now_utc()
    steps = [("Investigation", "datasets")]
    ruleset, reference = await ruled(dump, now, None if own_rules else PRIVATE_LINKS, steps)
    schema = build_schema()
    users = sorted(row["name"] for row in reference.rows["User"].values())
    names = reference.rows["Instrument"]

    def first_beamline(session: int, user: str | None) -> str | None:
        listed = reference.along(
            "Investigation", ["investigationInstruments", "instrument"], {session}, user
        )
        return min((names[b]["name"] for _, b in listed), default=None)

    query = ("{ investigations(first: 100, orderBy: {field: INSTRUMENT, direction: ASC}) "
             "{ edges { cursor node { icatId } } } }")  # fmt: skip
    checked = narrowed = 0
    for user in [None, *users]:
        context = RequestContext(
            engine=dump, settings=own_settings, access=access_for(ruleset, user, now)
        )
        result = await schema.execute(query, context_value=context)
        assert not result.errors, result.errors
        assert result.data is not None
        edges = result.data["investigations"]["edges"]
        assert {int(e["node"]["icatId"]) for e in edges} == reference.readable(
            "Investigation", user)  # fmt: skip
        for edge in edges:
            session = int(edge["node"]["icatId"])
            _, values = decode_cursor(edge["cursor"], "after")
            expected = first_beamline(session, user)
            assert values[0] == expected, (user, session, values)
            checked += 1
            narrowed += expected != first_beamline(session, ROOT)
    # Not vacuous: sessions were sorted under beamlines, some of them hidden from some callers.
    assert checked > 0 and (own_rules or narrowed > 0), (checked, narrowed)


PRIVATE_PATHS = [
    *PRIVATE_LINKS,
    *("DataPublication", "DataCollection", "DataCollectionDataset", "DataPublicationUser"),
    "SELECT o FROM User o WHERE o.name = :user",
]  # fmt: skip
"""Publications readable by everyone, but their sessions' beamline links and datasets only
by the sessions' teams, and each person only by themselves."""
BEAMLINE_PATH = ["content", "dataCollectionDatasets", "dataset", "investigation",
                 "investigationInstruments", "instrument"]  # fmt: skip
ORCID = "0000-0002-1825-0097"


@pytest.mark.parametrize("own_rules", [True, False], ids=["dump rules", "private paths"])
async def test_publications_are_found_through_what_the_rules_open(
    dump: AsyncEngine, own_settings: Settings, own_rules: bool
) -> None:
    """The Publications view finds a publication by beamline, or by a creator's ORCID iD,
    only where the caller reaches that beamline (creator) from it, hop by hop, as the
    Python evaluation of the rules says, for every user and every beamline name."""
    now = now_utc()
    async with dump.connect() as connection:
        if not await connection.scalar(select(func.count()).select_from(DataPublication)):
            pytest.skip("no data publication in this dump")
    schema = build_schema()
    async with dump.begin() as connection:  # a creator with a well-formed ORCID iD
        creator = await connection.scalar(
            select(func.min(DataPublicationUser.user_id)))  # fmt: skip
        former = await connection.scalar(select(User.orcid_id).where(User.id == creator))
        await connection.execute(update(User).where(User.id == creator).values(orcid_id=ORCID))
    try:
        ruleset, reference = await ruled(dump, now, None if own_rules else PRIVATE_PATHS)
        rows_of = reference.rows
        users = sorted(row["name"] for row in rows_of["User"].values())
        names = sorted({row["name"] for row in rows_of["Instrument"].values()})

        def expected(user: str | None) -> dict[tuple[str, str], set[str]]:
            published = {p for p in reference.readable("DataPublication", user)
                         if rows_of["DataPublication"][p]["publication_date"] < now}  # fmt: skip
            found: dict[tuple[str, str], set[str]] = {}
            for p, b in reference.along("DataPublication", BEAMLINE_PATH, published, user):
                name = rows_of["Instrument"][b]["name"]
                found.setdefault(("beamline", name), set()).add(global_id("DataPublication", p))
            for p, u in reference.along("DataPublication", ["users", "user"], published, user):
                orcid = rows_of["User"][u]["orcid_id"]
                found.setdefault(("creatorOrcid", orcid), set()).add(
                    global_id("DataPublication", p))  # fmt: skip
            return found

        everyone = expected(ROOT)
        narrowed = found_any = 0
        for user in [None, *users]:
            context = RequestContext(
                engine=dump, settings=own_settings, access=access_for(ruleset, user, now)
            )
            wanted = expected(user)
            for argument, value in [*(("beamline", n) for n in names), ("creatorOrcid", ORCID)]:
                query = (f"{{ publications(first: 100, filter: {{ {argument}: "
                         f"{json.dumps(value)} }}) {{ nodes {{ id }} }} }}")  # fmt: skip
                result = await schema.execute(query, context_value=context)
                assert not result.errors, (query, result.errors)
                assert result.data is not None
                found = {node["id"] for node in result.data["publications"]["nodes"]}
                assert found == wanted.get((argument, value), set()), (user, argument, value)
                found_any += bool(found)
                narrowed += len(found) < len(everyone.get((argument, value), set()))
    finally:
        async with dump.begin() as connection:
            await connection.execute(
                update(User).where(User.id == creator).values(orcid_id=former))  # fmt: skip
    # Not vacuous: publications were found, and the rules hid some from some callers.
    assert found_any > 0 and (own_rules or narrowed > 0), (found_any, narrowed)
