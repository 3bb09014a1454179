"""The policy and its SQL agree row by row: ``gateway.auth.policy`` (pure functions) against
``gateway.catalogue.visibility`` (the filters the database applies), on each database.

For every kind of caller (anonymous, a user unknown to the catalogue, an outsider, a team
member, the main proposer, a beamline scientist, staff) and every row, both sides answer:
may the caller read the session's DATA, see the dataset (as listed and as looked up by
id), the datafile (likewise), the data publication, the person's e-mail (PERSONAL); and,
per team row, is the role the main proposer's. The pure side decides from facts read
plainly from the tables (release dates, team rows, beamline scientists, publications),
never through the SQL under test.

The catalogues are generated: the demo generator with other seeds and sizes, edge cases
written here (a NULL release date, release and publication dates equal to, just before
and just after the instant; sessions without a team; people with several roles and
main-proposer roles in odd spellings; files published one by one), and small catalogues
that hypothesis draws from the same vocabulary.

Each catalogue exists only inside a transaction of the test's own that is rolled back:
the shared demo catalogue of the other tests is deleted inside it and is back, untouched,
once it ends, on SQLite, PostgreSQL and MariaDB alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import unicodedata
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    ColumnElement,
    Table,
    delete,
    insert,
    inspect,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.auth.policy import (
    AccessRules,
    Caller,
    FieldClass,
    InvestigationFacts,
    Publishers,
    PublishRules,
    can_publish,
    can_read,
    can_read_data_publication,
    can_read_datafile,
    can_read_dataset,
    can_read_personal,
    is_main_proposer_role,
    is_published,
    is_released,
    roles_of,
)
from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.catalogue.models import (
    DataCollection,
    DataCollectionDatafile,
    DataCollectionDataset,
    Datafile,
    DataPublication,
    Dataset,
    DatasetType,
    Facility,
    IcatBase,
    Instrument,
    InstrumentScientist,
    Investigation,
    InvestigationInstrument,
    InvestigationType,
    InvestigationUser,
    User,
)
from gateway.catalogue.visibility import (
    Access,
    data_publication_visible,
    datafile_row_visible,
    datafile_visible,
    dataset_row_visible,
    dataset_visible,
    investigation_data_visible,
    is_main_proposer,
    personal_visible,
    publishable_investigation_ids,
)
from gateway.settings import Settings

NOW = datetime(2026, 3, 14, 12, 0, 0)
"""The request's instant; whole seconds, which every database stores exactly."""
SECOND = timedelta(seconds=1)
MAIN_PROPOSER_ROLES = Settings().main_proposer_roles
ROLE_CONFIGURATIONS: tuple[frozenset[str], ...] = (
    MAIN_PROPOSER_ROLES,
    Settings(
        main_proposer_roles=frozenset({" Responsable Scientifique ", "PI"})
    ).main_proposer_roles,
    frozenset(),
)
"""The default main-proposer roles, others as a facility would configure them, none."""
STAFF = "esrf/staff1"
DEMO_CATALOGUES = (
    (11, DemoSize.for_sessions(24, datasets_per_session=3, files_per_dataset=2)),
    (29, DemoSize.for_sessions(9, datasets_per_session=2, files_per_dataset=1)),
)
"""(seed, size) of the generated demo catalogues, anchored at NOW."""

# The vocabulary of the edge cases, written by hand and drawn by hypothesis alike.
RELEASE_DATES = (
    None,
    NOW,
    NOW - SECOND,
    NOW + SECOND,
    NOW - timedelta(days=1500),
    NOW + timedelta(days=400),
)
MAIN_PROPOSER_SPELLINGS = (
    "Principal investigator",
    "PRINCIPAL INVESTIGATOR",
    "  Principal Investigator\t",
    "\nprincipal_experimenter\r\n",
    "Pi",
    "\u00a0pi\u3000",
    "\x0bMain Proposer\x0c",
)
"""Spellings of the default main-proposer roles (case and white space around them)."""
OTHER_ROLES = (
    "Participant",
    "Local contact",
    "Collaborator",
    "Co-proposer",
    "Principal investigators",
    "principal\tinvestigator",
    "P I",
    "Pí",
    "PI-delegate",
    "Responsable scientifique",
)
"""Roles that are not the main proposer's by default, some of them near misses."""
ROLES = MAIN_PROPOSER_SPELLINGS + OTHER_ROLES


# --------------------------------------------------------------------------------------
# Catalogues as rows
# --------------------------------------------------------------------------------------


Rows = dict[Table, list[dict[str, Any]]]
"""Rows to insert, per table, keyed by column."""


def audit(when: datetime = NOW) -> dict[str, Any]:
    return {"create_id": "db/root", "create_time": when, "mod_id": "db/root", "mod_time": when}


class CatalogueRows:
    """Rows of a small catalogue, built by attribute name, with ids from one counter."""

    def __init__(self, first_id: int) -> None:
        self.next_id = first_id
        self.rows: Rows = defaultdict(list)

    def add(self, model: type[IcatBase], **values: Any) -> int:
        if "id" not in values:
            values["id"] = self.next_id
            self.next_id += 1
        table: Table = model.__table__  # type: ignore[assignment]
        columns = inspect(model).columns
        # executemany wants every column in every row.
        row: dict[str, Any] = dict.fromkeys(table.columns.keys())
        row.update({columns[name].key: value for name, value in {**audit(), **values}.items()})
        self.rows[table].append(row)
        return int(values["id"])

    def facility(self, name: str) -> tuple[int, int, int]:
        """A facility with one session type and one dataset type: their three ids."""
        facility = self.add(Facility, name=name)
        session_type = self.add(InvestigationType, facility_id=facility, name="experiment")
        dataset_type = self.add(DatasetType, facility_id=facility, name="acquisition")
        return facility, session_type, dataset_type


def edge_cases(first_id: int) -> CatalogueRows:
    """The edge cases, by hand: one facility of their own, users named ``edge/...``."""
    c = CatalogueRows(first_id)
    facility, session_type, dataset_type = c.facility("EDGE")
    beamline = c.add(Instrument, facility_id=facility, name="EDGE-1")
    other_beamline = c.add(Instrument, facility_id=facility, name="EDGE-2")
    users = {
        name: c.add(User, name=f"edge/{name}", email=f"{name}@edge.example.org")
        for name in (
            "pi.upper", "pi.spaced", "pi.unicode", "pi.newline", "near.miss", "member",
            "scientist", "scientist.member", "outsider",
        )
    }  # fmt: skip
    c.add(InstrumentScientist, user_id=users["scientist"], instrument_id=beamline)
    c.add(InstrumentScientist, user_id=users["scientist.member"], instrument_id=other_beamline)
    sessions = {}
    for n, release in enumerate((*RELEASE_DATES, NOW + timedelta(days=30), None)):
        sessions[n] = c.add(
            Investigation, facility_id=facility, type_id=session_type, name=f"EDGE-{n}",
            visit_id="1", title=f"Edge case {n}", release_date=release,
        )  # fmt: skip
    no_team = (len(RELEASE_DATES), len(RELEASE_DATES) + 1)  # the last two: nobody's
    for n in (0, 2, 3, no_team[0]):
        c.add(InvestigationInstrument, investigation_id=sessions[n], instrument_id=beamline)
    c.add(InvestigationInstrument, investigation_id=sessions[1], instrument_id=other_beamline)
    team = (
        (0, "pi.upper", "PRINCIPAL INVESTIGATOR"),
        (1, "pi.spaced", "  Principal Investigator\t"),
        (1, "pi.spaced", "Participant"),
        (2, "pi.unicode", "\u00a0pi\u3000"),
        (2, "pi.unicode", "Local contact"),
        (3, "pi.newline", "\nMain Proposer\r\n"),
        (3, "near.miss", "Principal investigators"),
        (4, "near.miss", "principal\tinvestigator"),
        (5, "near.miss", "Pí"),
        (0, "member", "Collaborator"),
        (4, "member", "Participant"),
        (5, "scientist.member", "Participant"),
        (4, "pi.upper", "pi"),
        (4, "pi.upper", "Co-proposer"),
    )
    for n, who, role in team:
        c.add(InvestigationUser, user_id=users[who], investigation_id=sessions[n], role=role)
    datasets: dict[tuple[int, int], int] = {}
    datafiles: dict[tuple[int, int, int], int] = {}
    for n, session in sessions.items():
        for d in range(2):
            datasets[n, d] = c.add(
                Dataset, investigation_id=session, type_id=dataset_type, name=f"d{d}",
                complete=True, location=f"/edge/{n}/d{d}",
            )  # fmt: skip
            for f in range(2):
                datafiles[n, d, f] = c.add(
                    Datafile, dataset_id=datasets[n, d], name=f"f{f}",
                    location=f"/edge/{n}/d{d}/f{f}",
                )  # fmt: skip
    publications: Sequence[tuple[datetime | None, list[tuple[int, int]], list[tuple[int, ...]]]]
    publications = (
        (NOW - SECOND, [(0, 0), (3, 0), (5, 0)], []),
        (NOW, [(5, 1)], []),
        (NOW + SECOND, [(1, 1)], []),
        (None, [(no_team[0], 0)], []),
        (None, [(0, 1), (5, 0)], []),
        (NOW - timedelta(days=10), [], [(5, 1, 0), (0, 0, 1), (no_team[1], 0, 0)]),
        (None, [], [(3, 1, 0)]),
        (NOW + timedelta(days=10), [(2, 1)], [(4, 0, 1)]),
        (None, [], []),
    )
    for number, (date, in_datasets, in_datafiles) in enumerate(publications):
        collection = c.add(DataCollection)
        for key in in_datasets:
            c.add(DataCollectionDataset, data_collection_id=collection, dataset_id=datasets[key])
        for file_key in in_datafiles:
            c.add(
                DataCollectionDatafile, data_collection_id=collection,
                datafile_id=datafiles[file_key],  # type: ignore[index]
            )  # fmt: skip
        c.add(
            DataPublication, facility_id=facility, data_collection_id=collection,
            pid=f"10.9999/edge-{number}", title=f"Edge publication {number}",
            publication_date=date,
        )  # fmt: skip
    # Two publications of one collection: one published, one reserved.
    shared = c.add(DataCollection)
    c.add(DataCollectionDataset, data_collection_id=shared, dataset_id=datasets[4, 1])
    for number, date in ((90, None), (91, NOW - timedelta(days=1))):
        c.add(
            DataPublication, facility_id=facility, data_collection_id=shared,
            pid=f"10.9999/edge-{number}", title=f"Edge publication {number}",
            publication_date=date,
        )  # fmt: skip
    return c


async def demo_rows(directory: Path, seed: int, size: DemoSize) -> Rows:
    """Every row of a demo catalogue, generated into a scratch SQLite file and read back."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{directory / f'demo-{seed}.sqlite3'}")
    await seed_demo(settings, seed=seed, size=size, anchor=NOW)
    engine = create_engine(settings)
    rows: Rows = {}
    try:
        async with engine.connect() as connection:
            for table in IcatBase.metadata.sorted_tables:
                result = await connection.execute(select(*table.columns))
                keys = [column.key for column in table.columns]
                rows[table] = [dict(zip(keys, row, strict=True)) for row in result]
    finally:
        await engine.dispose()
    return rows


class Scratch:
    """A connection inside a transaction that is rolled back at the end, and which tables
    may hold rows in it."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.filled = set(IcatBase.metadata.sorted_tables)
        """At first every table: the shared demo catalogue is there too."""

    async def replace_catalogue(self, *parts: Rows) -> None:
        """Make these rows the whole catalogue."""
        tables = IcatBase.metadata.sorted_tables
        for table in reversed(tables):
            if table in self.filled:
                await self.connection.execute(delete(table))
        self.filled = set()
        for table in tables:
            rows = [row for part in parts for row in part.get(table, ())]
            if rows:
                await self.connection.execute(insert(table), rows)
                self.filled.add(table)


@contextlib.asynccontextmanager
async def scratch_transaction(database_url: str) -> AsyncIterator[Scratch]:
    """A connection of the test's own inside a transaction that is always rolled back; the
    catalogue the other tests share is checked to be back as it was."""
    engine = create_engine(Settings(database_url=database_url))

    async def sessions() -> list[Any]:
        async with engine.connect() as connection:
            statement = select(Investigation.id, Investigation.release_date)
            return list(await connection.execute(statement.order_by(Investigation.id)))

    try:
        await create_schema(engine, embedded=True)  # in case no other test made it yet
        before = await sessions()
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:
                yield Scratch(connection)
            finally:
                await transaction.rollback()
        assert await sessions() == before
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------------------
# The pure side: facts read plainly, decided by gateway.auth.policy
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """The catalogue as the policy needs it, read with plain SELECTs of the tables."""

    sessions: dict[int, InvestigationFacts]
    dataset_session: dict[int, int]
    datafile_dataset: dict[int, int]
    collection_datasets: dict[int, set[int]]
    collection_datafiles: dict[int, set[int]]
    publications: dict[int, tuple[int, datetime | None]]
    """DATAPUBLICATION id -> (its DATACOLLECTION id, its publication date)."""
    team_roles: dict[int, str]
    """INVESTIGATIONUSER id -> ROLE."""
    user_names: dict[int, str]
    """USER_ id -> NAME."""


async def read_facts(connection: AsyncConnection) -> Facts:
    async def rows(*columns: Any) -> list[Any]:
        return list(await connection.execute(select(*columns)))

    user_names = dict(await rows(User.id, User.name))
    team: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    team_roles = {}
    for row_id, session, user, role in await rows(
        InvestigationUser.id,
        InvestigationUser.investigation_id,
        InvestigationUser.user_id,
        InvestigationUser.role,
    ):
        team[session][user_names[user]].add(role)
        team_roles[row_id] = role
    scientists: dict[int, set[str]] = defaultdict(set)
    for instrument, user in await rows(
        InstrumentScientist.instrument_id, InstrumentScientist.user_id
    ):
        scientists[instrument].add(user_names[user])
    session_scientists: dict[int, set[str]] = defaultdict(set)
    for session, instrument in await rows(
        InvestigationInstrument.investigation_id, InvestigationInstrument.instrument_id
    ):
        session_scientists[session] |= scientists[instrument]
    sessions = {
        session: InvestigationFacts(
            release_date=release,
            team={name: frozenset(roles) for name, roles in team[session].items()},
            beamline_scientists=frozenset(session_scientists[session]),
        )
        for session, release in await rows(Investigation.id, Investigation.release_date)
    }
    collection_datasets: dict[int, set[int]] = defaultdict(set)
    for collection, dataset in await rows(
        DataCollectionDataset.data_collection_id, DataCollectionDataset.dataset_id
    ):
        collection_datasets[collection].add(dataset)
    collection_datafiles: dict[int, set[int]] = defaultdict(set)
    for collection, datafile in await rows(
        DataCollectionDatafile.data_collection_id, DataCollectionDatafile.datafile_id
    ):
        collection_datafiles[collection].add(datafile)
    return Facts(
        sessions=sessions,
        dataset_session=dict(await rows(Dataset.id, Dataset.investigation_id)),
        datafile_dataset=dict(await rows(Datafile.id, Datafile.dataset_id)),
        collection_datasets=collection_datasets,
        collection_datafiles=collection_datafiles,
        publications={
            publication: (collection, date)
            for publication, collection, date in await rows(
                DataPublication.id,
                DataPublication.data_collection_id,
                DataPublication.publication_date,
            )
        },
        team_roles=team_roles,
        user_names=user_names,
    )


PUBLISHING = {
    f"publish ({publishers.value})": PublishRules(
        AccessRules(main_proposer_roles=MAIN_PROPOSER_ROLES), publishers
    )
    for publishers in Publishers
}
"""``can_publish`` under each setting of who publishes."""

RULES = (
    *PUBLISHING,
    "session data",
    "dataset (listed)",
    "dataset (by id)",
    "datafile (listed)",
    "datafile (by id)",
    "data publication",
    "e-mail",
)


def policy_answers(facts: Facts, caller: Caller, now: datetime) -> dict[str, set[int]]:
    """What the caller may read, row by row, according to gateway.auth.policy."""
    roles = {
        session: roles_of(caller, session_facts, MAIN_PROPOSER_ROLES)
        for session, session_facts in facts.sessions.items()
    }
    released = {
        session: is_released(session_facts.release_date, now)
        for session, session_facts in facts.sessions.items()
    }
    published = {
        collection for collection, date in facts.publications.values() if is_published(date, now)
    }
    published_datasets = {d for c in published for d in facts.collection_datasets.get(c, ())}
    published_datafiles = {f for c in published for f in facts.collection_datafiles.get(c, ())}

    def dataset_readable(dataset: int) -> bool:
        session = facts.dataset_session[dataset]
        return can_read_dataset(
            roles[session],
            investigation_released=released[session],
            published=dataset in published_datasets,
        )

    def datafile_readable(datafile: int) -> bool:
        dataset = facts.datafile_dataset[datafile]
        session = facts.dataset_session[dataset]
        return can_read_datafile(
            roles[session],
            investigation_released=released[session],
            dataset_published=dataset in published_datasets,
            published=datafile in published_datafiles,
        )

    # What the caller is whatever the session (authenticated, staff), then in each session
    # whose datasets the publication holds.
    anywhere = roles_of(caller, InvestigationFacts(release_date=None), MAIN_PROPOSER_ROLES)

    def publication_readable(collection: int, date: datetime | None) -> bool:
        held = set(anywhere).union(
            *(
                roles[facts.dataset_session[d]]
                for d in facts.collection_datasets.get(collection, ())
            )
        )
        return can_read_data_publication(held, published=is_published(date, now))

    datasets = {d for d in facts.dataset_session if dataset_readable(d)}
    datafiles = {f for f in facts.datafile_dataset if datafile_readable(f)}
    publishable = {
        rule: {
            session
            for session, session_facts in facts.sessions.items()
            if can_publish(caller, session_facts, rules)
        }
        for rule, rules in PUBLISHING.items()
    }
    return {
        **publishable,
        "session data": {
            session
            for session in facts.sessions
            if can_read(FieldClass.DATA, roles[session], released=released[session])
        },
        "dataset (listed)": datasets,
        "dataset (by id)": datasets,
        "datafile (listed)": datafiles,
        "datafile (by id)": datafiles,
        "data publication": {
            publication
            for publication, (collection, date) in facts.publications.items()
            if publication_readable(collection, date)
        },
        "e-mail": {
            user for user, name in facts.user_names.items() if can_read_personal(caller, name)
        },
    }


# --------------------------------------------------------------------------------------
# The SQL side: gateway.catalogue.visibility, applied by the database
# --------------------------------------------------------------------------------------


async def sql_answers(connection: AsyncConnection, access: Access) -> dict[str, set[int]]:
    """What the caller may read, row by row, according to the SQL filters (each applied as
    a WHERE clause, as the gateway applies it; all in one statement)."""
    publishable: dict[str, tuple[Any, ColumnElement[bool]]] = {}
    for rule, rules in PUBLISHING.items():
        ids = publishable_investigation_ids(access, rules)
        publishable[rule] = (Investigation.id, true() if ids is None else Investigation.id.in_(ids))
    filters: dict[str, tuple[Any, ColumnElement[bool]]] = {
        **publishable,
        "session data": (Investigation.id, investigation_data_visible(access)),
        "dataset (listed)": (Dataset.id, dataset_visible(access)),
        "dataset (by id)": (Dataset.id, dataset_row_visible(access)),
        "datafile (listed)": (
            Datafile.id,
            datafile_visible(access, Datafile.id, Datafile.dataset_id),
        ),
        "datafile (by id)": (Datafile.id, datafile_row_visible(access)),
        "data publication": (DataPublication.id, data_publication_visible(access)),
        "e-mail": (User.id, personal_visible(access, User.name)),
    }
    statement = union_all(
        *(
            select(literal(n).label("rule"), column.label("id")).where(visible)
            for n, (column, visible) in enumerate(filters.values())
        )
    )
    answers: dict[str, set[int]] = {rule: set() for rule in filters}
    names = list(filters)
    for n, row_id in await connection.execute(statement):
        answers[names[n]].add(row_id)
    return answers


async def main_proposer_disagreements(connection: AsyncConnection, facts: Facts) -> list[str]:
    """Team rows whose role the SQL and the policy judge differently, for each of the
    configurations of main-proposer roles."""
    problems = []
    for main_proposer_roles in ROLE_CONFIGURATIONS:
        statement = select(
            InvestigationUser.id, is_main_proposer(InvestigationUser.role, main_proposer_roles)
        )
        observed: dict[int, Any] = {
            row_id: value for row_id, value in await connection.execute(statement)
        }
        for row_id, role in sorted(facts.team_roles.items()):
            expected = is_main_proposer_role(role, main_proposer_roles)
            value = observed[row_id]
            # Rendered as JSON on PostgreSQL: a boolean, never NULL.
            if value is None or bool(value) is not expected:
                problems.append(
                    f"main proposer: role {role!r} (row {row_id}) with"
                    f" {sorted(main_proposer_roles)}: policy {expected}, SQL {value!r}"
                )
    return problems


# --------------------------------------------------------------------------------------
# Callers, and the comparison
# --------------------------------------------------------------------------------------


KINDS = (
    "anonymous",
    "unknown",
    "outsider",
    "team member",
    "main proposer",
    "beamline scientist",
    "staff",
)


def callers_of(facts: Facts, rng: random.Random, per_kind: int) -> dict[str, list[Caller]]:
    """Callers of every kind for this catalogue (a sample of each kind when many)."""
    members = {name for f in facts.sessions.values() for name in f.team}
    proposers = {
        name
        for f in facts.sessions.values()
        for name, roles in f.team.items()
        if any(is_main_proposer_role(role, MAIN_PROPOSER_ROLES) for role in roles)
    }
    scientists = {name for f in facts.sessions.values() for name in f.beamline_scientists}
    known = set(facts.user_names.values())

    def sample(names: Iterable[str]) -> list[Caller]:
        ordered = sorted(names)
        return [Caller(name) for name in rng.sample(ordered, min(per_kind, len(ordered)))]

    # Unknown names that MariaDB's default collation would take for known ones.
    look_alikes = {
        variant
        for name in sorted(members)[:per_kind]
        for variant in (name.upper(), f"{name} ", f" {name}")
    } - known
    return {
        "anonymous": [Caller()],
        "unknown": [Caller("esrf/nobody"), *sample(look_alikes)],
        "outsider": sample(known - members - scientists),
        "team member": sample(members - proposers),
        "main proposer": sample(proposers),
        "beamline scientist": sample(scientists),
        "staff": [Caller(STAFF, is_staff=True), Caller("esrf/boss", is_staff=True)],
    }


@dataclass
class Comparison:
    """The outcome of comparing both sides on one catalogue."""

    problems: list[str] = field(default_factory=list)
    seen: dict[tuple[str, str], set[bool]] = field(default_factory=lambda: defaultdict(set))
    """(caller kind, rule) -> the answers given (both True and False, in a useful test)."""
    rows: dict[str, int] = field(default_factory=dict)

    def assert_agreement(self) -> None:
        assert not self.problems, "\n".join(self.problems[:40])


async def compare(
    connection: AsyncConnection,
    callers: Mapping[str, Sequence[Caller]],
    now: datetime,
    facts: Facts | None = None,
) -> Comparison:
    facts = facts or await read_facts(connection)
    outcome = Comparison(
        rows={
            "sessions": len(facts.sessions),
            "datasets": len(facts.dataset_session),
            "datafiles": len(facts.datafile_dataset),
            "publications": len(facts.publications),
            "team rows": len(facts.team_roles),
        }
    )
    everything = {
        **{rule: set(facts.sessions) for rule in PUBLISHING},
        "session data": set(facts.sessions),
        "dataset (listed)": set(facts.dataset_session),
        "dataset (by id)": set(facts.dataset_session),
        "datafile (listed)": set(facts.datafile_dataset),
        "datafile (by id)": set(facts.datafile_dataset),
        "data publication": set(facts.publications),
        "e-mail": set(facts.user_names),
    }
    for kind, group in callers.items():
        for caller in group:
            expected = policy_answers(facts, caller, now)
            observed = await sql_answers(connection, Access(caller=caller, now=now))
            for rule in RULES:
                for row_id in sorted(expected[rule] ^ observed[rule]):
                    outcome.problems.append(
                        f"{rule}, row {row_id}, {kind} {caller.user_name!r} at {now}: "
                        f"policy {row_id in expected[rule]}, SQL {row_id in observed[rule]}"
                    )
                if expected[rule]:
                    outcome.seen[kind, rule].add(True)
                if everything[rule] - expected[rule]:
                    outcome.seen[kind, rule].add(False)
    return outcome


# --------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Rows]:
    """The demo catalogues, generated once for every database."""
    directory = tmp_path_factory.mktemp("agreement")
    return [await demo_rows(directory, seed, size) for seed, size in DEMO_CATALOGUES]


async def test_policy_and_sql_agree_on_generated_catalogues(
    database_url: str, generated: list[Rows]
) -> None:
    async with scratch_transaction(database_url) as scratch:
        connection = scratch.connection
        for number, demo in enumerate(generated):
            first_free = 1 + max(row.get("ID", 0) for rows in demo.values() for row in rows)
            await scratch.replace_catalogue(demo, edge_cases(first_free).rows)
            facts = await read_facts(connection)
            callers = callers_of(facts, random.Random(number), per_kind=3)
            assert all(callers[kind] for kind in KINDS), {k: len(v) for k, v in callers.items()}
            problems = await main_proposer_disagreements(connection, facts)
            assert not problems, "\n".join(problems)
            for now in (NOW, NOW + SECOND / 2):
                outcome = await compare(connection, callers, now, facts)
                outcome.assert_agreement()
            # Not blind: for each kind of caller, every rule that can go both ways does.
            for kind in ("outsider", "team member", "main proposer", "beamline scientist"):
                for rule in RULES:
                    if rule in PUBLISHING:
                        continue  # an outsider publishes nothing, whatever the catalogue
                    assert outcome.seen[kind, rule] == {True, False}, (kind, rule)
            for rule in PUBLISHING:
                assert outcome.seen["main proposer", rule] == {True, False}, rule
                assert outcome.seen["staff", rule] == {True}, rule
                assert outcome.seen["outsider", rule] == {False}, rule
            assert outcome.seen["staff", "session data"] == {True}
            assert outcome.seen["anonymous", "e-mail"] == {False}


# hypothesis draws small catalogues from the same vocabulary as the edge cases.


@dataclass(frozen=True)
class Drawn:
    """A small catalogue drawn by hypothesis, as indices into its own lists."""

    release_dates: list[datetime | None]
    session_beamlines: list[set[int]]
    scientists: set[tuple[int, int]]
    """(user, beamline)."""
    team: set[tuple[int, int, str]]
    """(user, session, role)."""
    datasets: list[int]
    """The session of each dataset."""
    datafiles: list[int]
    """The dataset of each datafile."""
    publications: list[tuple[datetime | None, set[int], set[int]]]
    """(publication date, datasets, datafiles)."""
    users: int
    now: datetime


USERS = 5
BEAMLINES = 2


WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())


@st.composite
def spellings(draw: st.DrawFn) -> str:
    """A role as people type it: any case, white space of any kind around it."""
    role = draw(st.sampled_from([*sorted(MAIN_PROPOSER_ROLES), "participant", "p i"]))
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in role)
    around = st.text(alphabet=WHITESPACE, max_size=3)
    return draw(around) + cased + draw(around)


@st.composite
def catalogues(draw: st.DrawFn) -> Drawn:
    sessions = draw(st.integers(1, 4))
    dates = st.sampled_from(RELEASE_DATES)
    release_dates = draw(st.lists(dates, min_size=sessions, max_size=sessions))
    session_beamlines = draw(
        st.lists(
            st.sets(st.integers(0, BEAMLINES - 1), max_size=BEAMLINES),
            min_size=sessions,
            max_size=sessions,
        )
    )
    user = st.integers(0, USERS - 1)
    scientists = draw(st.sets(st.tuples(user, st.integers(0, BEAMLINES - 1)), max_size=3))
    # One spelling per (user, session, role) up to case, accents and white space: MariaDB's
    # default collation ignores them in the unique key of the team rows (ICAT's own too).
    team_rows = draw(
        st.lists(
            st.tuples(user, st.integers(0, sessions - 1), st.sampled_from(ROLES) | spellings()),
            max_size=8,
        )
    )
    team: dict[tuple[int, int, str], str] = {}
    for who, session, role in team_rows:
        team.setdefault((who, session, folded(role)), role)
    datasets = draw(st.lists(st.integers(0, sessions - 1), min_size=1, max_size=5))
    datafiles = draw(st.lists(st.integers(0, len(datasets) - 1), max_size=6))
    publications = draw(
        st.lists(
            st.tuples(
                dates,
                st.sets(st.integers(0, len(datasets) - 1), max_size=3),
                st.sets(st.integers(0, len(datafiles) - 1), max_size=3)
                if datafiles
                else st.just(set()),
            ),
            max_size=4,
        )
    )
    now = draw(st.sampled_from((NOW, NOW - SECOND, NOW + SECOND / 2)))
    return Drawn(
        release_dates=release_dates,
        session_beamlines=session_beamlines,
        scientists=scientists,
        team={(who, session, role) for (who, session, _), role in team.items()},
        datasets=datasets,
        datafiles=datafiles,
        publications=publications,
        users=USERS,
        now=now,
    )


def folded(text: str) -> str:
    """Lower case, without accents or white space around it."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def drawn_rows(drawn: Drawn) -> CatalogueRows:
    c = CatalogueRows(first_id=1)
    facility, session_type, dataset_type = c.facility("DRAWN")
    beamlines = [c.add(Instrument, facility_id=facility, name=f"BL-{n}") for n in range(BEAMLINES)]
    users = [c.add(User, name=f"drawn/user{n}") for n in range(drawn.users)]
    for who, beamline in sorted(drawn.scientists):
        c.add(InstrumentScientist, user_id=users[who], instrument_id=beamlines[beamline])
    sessions = [
        c.add(
            Investigation,
            facility_id=facility,
            type_id=session_type,
            name=f"S-{n}",
            visit_id="1",
            title="drawn",
            release_date=release,
        )
        for n, release in enumerate(drawn.release_dates)
    ]
    for session, used in zip(sessions, drawn.session_beamlines, strict=True):
        for beamline in sorted(used):
            c.add(
                InvestigationInstrument, investigation_id=session, instrument_id=beamlines[beamline]
            )
    for who, session, role in sorted(drawn.team):
        c.add(InvestigationUser, user_id=users[who], investigation_id=sessions[session], role=role)
    datasets = [
        c.add(
            Dataset, investigation_id=sessions[s], type_id=dataset_type, name=f"d{n}", complete=True
        )
        for n, s in enumerate(drawn.datasets)
    ]
    datafiles = [
        c.add(Datafile, dataset_id=datasets[d], name=f"f{n}") for n, d in enumerate(drawn.datafiles)
    ]
    for n, (date, in_datasets, in_datafiles) in enumerate(drawn.publications):
        collection = c.add(DataCollection)
        for d in sorted(in_datasets):
            c.add(DataCollectionDataset, data_collection_id=collection, dataset_id=datasets[d])
        for f in sorted(in_datafiles):
            c.add(DataCollectionDatafile, data_collection_id=collection, datafile_id=datafiles[f])
        c.add(
            DataPublication, facility_id=facility, data_collection_id=collection,
            pid=f"10.9999/drawn-{n}", title="drawn", publication_date=date,
        )  # fmt: skip
    return c


def drawn_callers(drawn: Drawn) -> dict[str, list[Caller]]:
    """Every user of the drawn catalogue, by what they are somewhere in it."""
    members = {who for who, _, _ in drawn.team}
    scientists = {who for who, _ in drawn.scientists}
    by_kind: dict[str, list[Caller]] = defaultdict(list)
    for who in range(drawn.users):
        kind = "team member" if who in members else "outsider"
        kind = "beamline scientist" if who in scientists else kind
        by_kind[kind].append(Caller(f"drawn/user{who}"))
    by_kind["anonymous"] = [Caller()]
    by_kind["unknown"] = [Caller("drawn/nobody"), Caller("DRAWN/USER0"), Caller("drawn/user0 ")]
    by_kind["staff"] = [Caller("drawn/user1", is_staff=True)]
    return by_kind


@pytest.mark.timeout(600)  # passing takes seconds; shrinking a disagreement, a minute or two
def test_policy_and_sql_agree_on_drawn_catalogues(database_url: str) -> None:
    """Small catalogues drawn by hypothesis: the shrunk one is reported if they disagree.

    Driven synchronously on a loop of its own, as hypothesis needs, like
    ``test_no_embargo_leaks``.
    """
    loop = asyncio.new_event_loop()
    scratch = scratch_transaction(database_url)
    try:
        scratched = loop.run_until_complete(scratch.__aenter__())

        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(drawn=catalogues())
        def check(drawn: Drawn) -> None:
            async def run() -> list[str]:
                await scratched.replace_catalogue(drawn_rows(drawn).rows)
                connection = scratched.connection
                facts = await read_facts(connection)
                outcome = await compare(connection, drawn_callers(drawn), drawn.now, facts)
                return outcome.problems + await main_proposer_disagreements(connection, facts)

            problems = loop.run_until_complete(run())
            assert not problems, "\n".join(problems[:40])

        check()
    finally:
        loop.run_until_complete(scratch.__aexit__(None, None, None))
        loop.close()
