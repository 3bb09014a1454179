"""Free text through the search index, ranked and faceted, and parameters in any units.

A demo catalogue of the module's own (a scratch database beside the configured one, a
file on SQLite) with a few recognisable words written into it: a word only in an
embargoed session's summary (it must match for the session's team and staff, never for
anonymous or an outsider), words for the ranking, and an energy stored in keV, in eV and
in units pint cannot read.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import pytest
from sqlalchemy import (
    String,
    Table,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.app import now_utc
from gateway.auth.policy import Caller
from gateway.catalogue import queries, search_documents
from gateway.catalogue.database import create_engine
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.catalogue.facets import session_facets, session_facets_in_one_pass
from gateway.catalogue.gateway_tables import DatasetSearchDocument, SearchState
from gateway.catalogue.icat_rules.ruleset import RuleRow, compile_rules
from gateway.catalogue.models import (
    DataCollectionDataset,
    Dataset,
    DatasetParameter,
    DatasetTechnique,
    Facility,
    Instrument,
    InstrumentScientist,
    Investigation,
    InvestigationInstrument,
    InvestigationUser,
    Keyword,
    ParameterType,
    Sample,
    Technique,
    User,
)
from gateway.catalogue.pages import evaluated_once
from gateway.catalogue.search_documents import (
    INDEX_STATES,
    IndexStates,
    forget_index_states,
    naive_utc_now,
    refresh,
    vector_name,
)
from gateway.catalogue.text_search import (
    TextIndex,
    dataset_text_match,
    session_text_match,
    text_index,
)
from gateway.catalogue.visibility import Access
from gateway.fields.identity import global_id
from gateway.schema.kept import KEPT_STATEMENTS
from gateway.settings import Settings
from tests.conftest import STAFF, Client
from tests.support.icat_rules_demo import DEMO_RULES, DEMO_STEPS, RulesClient, demo_ruleset
from tests.support.scratch import scratch_url

SIZE = DemoSize.for_sessions(14, datasets_per_session=2, files_per_dataset=1)
SECRET = "zqxsecret"
SECRET_DATASET = "zqxdataset"
SECRET_SAMPLE = "zqxsample"
SECRET_KEYWORD = "zqxkeyword"
RANKED = "zqxrank"
DESCRIBED = "zqxdescribed"
GONE = "zqxgone"
ENERGY = "zqx_energy"


@dataclasses.dataclass
class Written:
    """The rows the module wrote its words and values into."""

    embargoed: int
    embargoed_title_word: str
    ranked: list[int]
    """Sessions in their expected order: the word three times in the title, once in the
    title, only in the summary."""
    datasets: dict[str, int]
    """The datasets holding the energy: in keV, in eV, in units pint cannot read."""


@dataclasses.dataclass
class SearchCatalogue:
    client: Client
    written: Written


async def _write(engine: AsyncEngine) -> Written:
    now = naive_utc_now()
    async with engine.begin() as connection:
        pi1_sessions = select(InvestigationUser.investigation_id).join(
            User, User.id == InvestigationUser.user_id
        )
        embargoed, title = (
            await connection.execute(
                select(Investigation.id, Investigation.title)
                .where(
                    Investigation.id.in_(pi1_sessions.where(User.name == "esrf/pi1")),
                    Investigation.release_date > now,
                    # None of its datasets published: all of them hidden from outsiders.
                    ~Investigation.id.in_(
                        select(Dataset.investigation_id).join(
                            DataCollectionDataset, DataCollectionDataset.dataset_id == Dataset.id
                        )
                    ),
                )
                .order_by(Investigation.id)
                .limit(1)
            )
        ).one()
        released = list(
            await connection.scalars(
                select(Investigation.id)
                .where(Investigation.release_date < now)
                .order_by(Investigation.id)
                .limit(3)
            )
        )
        assert len(released) == 3
        summary = f"Findings about {SECRET} under embargo."
        await connection.execute(
            update(Investigation)
            .where(Investigation.id == embargoed)
            .values({Investigation.summary: summary})
        )
        # The other data fields of the session hold a word of their own each.
        await connection.execute(
            update(Dataset)
            .where(Dataset.investigation_id == embargoed)
            .values({Dataset.name: literal(f"{SECRET_DATASET}_") + sql_cast(Dataset.id, String)})
        )
        await connection.execute(
            update(Sample)
            .where(Sample.investigation_id == embargoed)
            .values({Sample.name: literal(f"{SECRET_SAMPLE}_") + sql_cast(Sample.id, String)})
        )
        keyword_id = int(await connection.scalar(select(func.max(Keyword.id))) or 0) + 1
        await connection.execute(
            insert(cast(Table, Keyword.__table__)).values(
                ID=keyword_id, INVESTIGATION_ID=embargoed, NAME=SECRET_KEYWORD, CREATE_ID="test",
                CREATE_TIME=now, MOD_ID="test", MOD_TIME=now,
            )
        )  # fmt: skip
        changes: tuple[dict[Any, str], ...] = (
            {Investigation.title: f"{RANKED} {RANKED} {RANKED} alpha study"},
            {Investigation.title: f"{RANKED} beta"},
            {Investigation.summary: f"A summary that names {RANKED} once."},
        )
        for session, values in zip(released, changes, strict=True):
            await connection.execute(
                update(Investigation).where(Investigation.id == session).values(values)
            )
        datasets: dict[str, int] = {}
        for units, session in zip(("keV", "eV", "weird-unit"), released, strict=True):
            datasets[units] = int(
                await connection.scalar(
                    select(func.min(Dataset.id)).where(Dataset.investigation_id == session)
                )
                or 0
            )
        await connection.execute(
            update(Dataset)
            .where(Dataset.id == datasets["keV"])
            .values({Dataset.description: f"Calibrated with {DESCRIBED} optics."})
        )
        facility = await connection.scalar(select(func.min(Facility.id)))
        type_id = int(await connection.scalar(select(func.max(ParameterType.id))) or 0)
        parameter_id = int(await connection.scalar(select(func.max(DatasetParameter.id))) or 0)
        audit = {"CREATE_ID": "test", "CREATE_TIME": now, "MOD_ID": "test", "MOD_TIME": now}
        for offset, (units, value) in enumerate(
            (("keV", 12.0), ("eV", 11500.0), ("weird-unit", 11.8)), start=1
        ):
            await connection.execute(
                insert(cast(Table, ParameterType.__table__)).values(
                    ID=type_id + offset,
                    FACILITY_ID=facility,
                    NAME=ENERGY,
                    UNITS=units,
                    VALUETYPE=1,
                    **audit,
                )
            )
            await connection.execute(
                insert(cast(Table, DatasetParameter.__table__)).values(
                    ID=parameter_id + offset,
                    DATASET_ID=datasets[units],
                    PARAMETER_TYPE_ID=type_id + offset,
                    NUMERIC_VALUE=value,
                    **audit,
                )
            )
    words = [word for word in title.split() if len(word) > 4 and word.isalpha()]
    await refresh(engine, naive_utc_now(), full=True)
    return Written(embargoed, words[0], released, datasets)


@pytest.fixture(scope="module")
async def search_catalogue(
    database_url: str, settings: Settings, schema: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SearchCatalogue]:
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('search') / 'search.sqlite3'}"
    else:
        url = await asyncio.to_thread(scratch_url, database_url, "search")
    own = dataclasses.replace(settings, database_url=url)
    await seed_demo(own, seed=5, size=SIZE, reset=True)
    engine = create_engine(own)
    try:
        written = await _write(engine)
        yield SearchCatalogue(Client(engine, own, schema), written)
    finally:
        await engine.dispose()


SEARCH = """query Search($filter: InvestigationFilter, $orderBy: InvestigationOrder,
                         $first: Int, $after: String) {
  investigations(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { icatId }
  }
}"""


async def found(
    client: Client, search: str, user: str | None = None, **variables: Any
) -> list[int]:
    data = await client.data(SEARCH, {"filter": {"search": search}, **variables}, user=user)
    connection = data["investigations"]
    ids = [node["icatId"] for node in connection["nodes"]]
    assert connection["totalCount"] == len(ids)
    return ids


@pytest.mark.parametrize("user", [None, "esrf/outsider1", "esrf/pi1", STAFF])
async def test_a_word_only_in_an_embargoed_summary_matches_only_for_those_who_read_it(
    search_catalogue: SearchCatalogue, user: str | None
) -> None:
    client, written = search_catalogue.client, search_catalogue.written
    readers = {"esrf/pi1", STAFF}
    expected = [written.embargoed] if user in readers else []
    assert await found(client, SECRET, user) == expected
    assert await found(client, SECRET_DATASET, user) == expected
    assert await found(client, SECRET_SAMPLE, user) == expected
    # With a word of its (public) title: the landing half alone does not hold both words.
    assert await found(client, f"{written.embargoed_title_word} {SECRET}", user) == expected
    facets = await client.data(
        "query($s: String) { investigations(filter: {search: $s}) "
        "{ facets { instrument { value count } released { value count } } } }",
        {"s": SECRET},
        user=user,
    )
    counted = facets["investigations"]["facets"]
    assert sum(c["count"] for c in counted["released"]) == len(expected)


async def test_results_are_ranked_and_pages_follow_the_ranking(
    search_catalogue: SearchCatalogue,
) -> None:
    client, written = search_catalogue.client, search_catalogue.written
    ranked = await found(client, RANKED, first=50)
    assert set(ranked) == set(written.ranked)
    # The word three times in the title, then once: landing facts rank above a summary.
    assert ranked[:2] == written.ranked[:2]
    assert ranked == await found(
        client, RANKED, orderBy={"field": "RELEVANCE", "direction": "DESC"}
    )
    paged: list[int] = []
    after = None
    while True:
        data = await client.data(SEARCH, {"filter": {"search": RANKED}, "first": 1, "after": after})
        paged += [node["icatId"] for node in data["investigations"]["nodes"]]
        # The total is the list's on every page, not what follows the cursor.
        assert data["investigations"]["totalCount"] == len(ranked)
        if not data["investigations"]["pageInfo"]["hasNextPage"]:
            break
        after = data["investigations"]["pageInfo"]["endCursor"]
    assert paged == ranked
    ascending = await found(client, RANKED, orderBy={"field": "RELEVANCE", "direction": "ASC"})
    assert ascending == list(reversed(ranked))


async def test_relevance_without_a_search_and_bad_texts_are_refused(
    search_catalogue: SearchCatalogue,
) -> None:
    client = search_catalogue.client
    for query in (
        "{ investigations(orderBy: {field: RELEVANCE}) { totalCount } }",
        '{ investigations(filter: {search: "-- !!"}) { totalCount } }',
        '{ investigations(filter: {search: "'
        + " ".join(f"word{n}" for n in range(17))
        + '"}) { totalCount } }',
        '{ investigations(filter: {search: "' + "x" * 201 + '"}) { totalCount } }',
    ):
        result = await client.execute(query)
        assert result.errors and result.errors[0].extensions["code"] == "BAD_USER_INPUT", query


FACETED = """query Faceted($filter: InvestigationFilter) {
  investigations(filter: $filter, first: 100) {
    totalCount
    nodes {
      startDate isReleased type { name } instruments { name }
      datasets(first: 100) { nodes { techniques { name } } }
    }
    facets {
      instrument { value count } year { value count } type { value count }
      released { value count } technique { value count }
    }
  }
}"""


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
@pytest.mark.parametrize("search", [None, "struct", RANKED])
async def test_facets_are_the_counts_of_the_visible_matches(
    search_catalogue: SearchCatalogue, user: str | None, search: str | None
) -> None:
    client = search_catalogue.client
    filter = {"search": search} if search is not None else None
    data = (await client.data(FACETED, {"filter": filter}, user=user))["investigations"]
    nodes = data["nodes"]
    assert len(nodes) == data["totalCount"] > 0
    expected: dict[str, Counter[str]] = {
        "instrument": Counter(i["name"] for n in nodes for i in n["instruments"]),
        "year": Counter(n["startDate"][:4] for n in nodes if n["startDate"]),
        "type": Counter(n["type"]["name"] for n in nodes),
        "released": Counter(str(n["isReleased"]).lower() for n in nodes),
        "technique": Counter(
            name
            for n in nodes
            for name in {t["name"] for d in n["datasets"]["nodes"] for t in d["techniques"]}
        ),
    }
    for facet, counts in data["facets"].items():
        assert {c["value"]: c["count"] for c in counts} == dict(expected[facet]), facet
        assert [c["count"] for c in counts] == sorted((c["count"] for c in counts), reverse=True)


BEAMLINES = """query($filter: InvestigationFilter) {
  investigations(filter: $filter, first: 100) {
    nodes { icatId instruments { name } }
    facets { instrument { value count } }
  }
}"""


@pytest.mark.parametrize("search", [None, RANKED])
async def test_a_beamline_name_of_two_facilities_counts_a_session_once(
    search_catalogue: SearchCatalogue, search: str | None
) -> None:
    """The beamline facet counts sessions per beamline id where no two beamlines share a
    name (``facets._instrument_facet``); a session linked to beamlines of one name from
    two facilities is still one session under that name (counted by distinct sessions
    then), in the search's page (a word) and on its own (no word)."""
    client = search_catalogue.client
    engine = client.engine
    filter = {"search": search} if search is not None else None
    before = (await client.data(BEAMLINES, {"filter": filter}))["investigations"]
    session = next(n for n in before["nodes"] if n["instruments"])
    name = session["instruments"][0]["name"]
    now = naive_utc_now()
    audit = {"CREATE_ID": "test", "CREATE_TIME": now, "MOD_ID": "test", "MOD_TIME": now}
    async with engine.begin() as connection:
        top = await connection.scalar(select(func.max(Facility.id)))
        facility, instrument = int(top or 0) + 1000, 990_001
        await connection.execute(
            insert(cast(Table, Facility.__table__)).values(
                ID=facility, NAME="other facility", **audit
            )
        )
        await connection.execute(
            insert(cast(Table, Instrument.__table__)).values(
                ID=instrument, FACILITY_ID=facility, NAME=name, **audit
            )
        )
        await connection.execute(
            insert(cast(Table, InvestigationInstrument.__table__)).values(
                ID=990_001, INVESTIGATION_ID=session["icatId"], INSTRUMENT_ID=instrument, **audit
            )
        )
    try:
        data = (await client.data(BEAMLINES, {"filter": filter}))["investigations"]
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                delete(InvestigationInstrument).where(InvestigationInstrument.id == 990_001)
            )
            await connection.execute(delete(Instrument).where(Instrument.id == instrument))
            await connection.execute(delete(Facility).where(Facility.id == facility))
    expected = Counter(
        beamline for n in data["nodes"] for beamline in {i["name"] for i in n["instruments"]}
    )
    assert (
        sum(
            i["name"] == name
            for i in next(n for n in data["nodes"] if n["icatId"] == session["icatId"])[
                "instruments"
            ]
        )
        == 2
    )
    counts = {c["value"]: c["count"] for c in data["facets"]["instrument"]}
    assert counts == dict(expected)
    assert counts == {c["value"]: c["count"] for c in before["facets"]["instrument"]}


TECHNIQUES = """query($filter: InvestigationFilter) {
  investigations(filter: $filter, first: 2) { facets { technique { value count } } }
}"""


class DatasetsOpened(RulesClient):
    """The demo's ICAT rules with a PUBLICSTEP from a session to its datasets: every
    dataset of a listed session is listed (the technique facet may read the summary)."""

    ruleset = compile_rules(
        [RuleRow(i + 1, what, "R", None) for i, what in enumerate(DEMO_RULES)],
        (*DEMO_STEPS, ("Investigation", "datasets")),
    )


class DatasetsOpenedLanding(DatasetsOpened):
    """:class:`DatasetsOpened` with landing facts public (``icat_rules_public_landing``):
    every session listed, the datasets of the readable ones opened by the step."""

    async def access(self, user_name: str | Caller | None, now: datetime | None = None) -> Access:
        access = await super().access(user_name, now)
        assert access.rules is not None
        return dataclasses.replace(
            access, rules=dataclasses.replace(access.rules, public_landing=True)
        )


async def _technique_counts(engine: AsyncEngine, statement: Any) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(statement)
        return {value: int(count) for facet, value, count in rows if facet == "technique"}


async def _techniques_as_without_the_summary(
    search_catalogue: SearchCatalogue,
    users: dict[str, list[str | None]],
    every_form: Sequence[str | None],
    searches: Sequence[str | None] = (None, "struct"),
) -> tuple[int, int]:
    """For each client's users and each filter (``searches``: none, a word), the technique
    facet as the
    API answers it (counted in the search's page, or on its own) and, for the users of
    ``every_form``, as both forms of the statement count it with the summary, against the
    statement without the summary (the datasets one by one, as before it). Returns how
    many answers were not empty, and how many statements read the summary."""
    client = search_catalogue.client
    engine = client.engine
    index = await text_index(engine)
    assert index.built
    read: list[str] = []

    def capture(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "GATEWAY_SESSION_TECHNIQUE" in statement:
            read.append(statement)

    clients = {
        "built-in": client,
        "rules per dataset": RulesClient(engine, client.settings, client.schema),
        "rules": DatasetsOpened(engine, client.settings, client.schema),
        "rules, public landing": DatasetsOpenedLanding(engine, client.settings, client.schema),
    }
    filled = 0
    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        for name, callers in users.items():
            using = clients[name]
            for user in callers:
                access = await using.access(user)
                for search in searches:
                    matched = queries.investigations(access)
                    if search is not None:
                        matched = session_text_match(access, search, index, ranked=False).applied(
                            matched
                        )
                    names = ["technique"]
                    dialect = engine.dialect.name
                    before = await _technique_counts(
                        engine, session_facets(access, matched, names, dialect, summarised=False)
                    )
                    forms = (
                        session_facets(access, matched, names, dialect, summarised=True),
                        session_facets_in_one_pass(access, matched, names, summarised=True),
                    )
                    for statement in forms if user in every_form else ():
                        assert await _technique_counts(engine, statement) == before, (
                            name, user, search
                        )  # fmt: skip
                    filter = None if search is None else {"search": search}
                    data = await using.data(TECHNIQUES, {"filter": filter}, user=user)
                    counts = data["investigations"]["facets"]["technique"]
                    answered = {c["value"]: c["count"] for c in counts}
                    assert answered == before, (name, user, search)
                    filled += bool(before)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    return filled, len(read)


async def test_the_technique_facet_counts_as_without_its_summary_after_links_change(
    search_catalogue: SearchCatalogue,
) -> None:
    """The technique facet reads the techniques summarised per session by the search
    documents' refresh (``GATEWAY_SESSION_TECHNIQUE``) for the sessions whose every dataset
    the caller sees: for the demo's fixed users and anonymous, under the built-in policy
    and ICAT's rules (the demo's, whose datasets are read one by one, and two with a
    PUBLICSTEP from a session to its datasets), it counts what it counted reading the
    datasets one by one, also after a technique is linked to a dataset of an embargoed
    session and of a released one and every link of another released session to a
    technique is deleted, and the ingest's refresh (an incremental one) has run, then for
    every user with a role in the catalogue (team member or beamline scientist) too."""
    client, written = search_catalogue.client, search_catalogue.written
    engine = client.engine
    async with engine.connect() as connection:
        # Every user with a role in the catalogue (the others read what outsider1 reads).
        roles = union_all(
            select(InvestigationUser.user_id.label("id")), select(InstrumentScientist.user_id)
        ).subquery("roles")
        names = sorted(
            await connection.scalars(select(User.name).where(User.id.in_(select(roles.c.id))))
        )
    fixed = [None, "esrf/pi1", "esrf/member1", "esrf/scientist1", "esrf/outsider1", STAFF]
    users: dict[str, list[str | None]] = {
        "built-in": fixed,
        "rules per dataset": fixed,
        "rules": fixed,
        "rules, public landing": fixed,
    }
    filled, read = await _techniques_as_without_the_summary(search_catalogue, users, fixed)
    assert filled and read
    now = naive_utc_now()
    audit = {"CREATE_ID": "test", "CREATE_TIME": now, "MOD_ID": "test", "MOD_TIME": now}
    links = cast(Table, DatasetTechnique.__table__)
    async with engine.begin() as connection:
        techniques = list(await connection.scalars(select(Technique.id).order_by(Technique.id)))
        top = int(await connection.scalar(select(func.max(DatasetTechnique.id))) or 0)
        added = []
        for offset, session in enumerate((written.embargoed, written.ranked[0]), start=1):
            dataset = await connection.scalar(
                select(func.min(Dataset.id)).where(Dataset.investigation_id == session)
            )
            have = set(
                await connection.scalars(
                    select(DatasetTechnique.technique_id)
                    .join(Dataset, Dataset.id == DatasetTechnique.dataset_id)
                    .where(Dataset.investigation_id == session)
                )
            )
            technique = next(t for t in reversed(techniques) if t not in have)
            added.append(top + offset)
            await connection.execute(
                insert(links).values(
                    ID=top + offset, DATASET_ID=dataset, TECHNIQUE_ID=technique, **audit
                )
            )
        # Every link of a released session (not one of those above) to one technique,
        # deleted: no MOD_TIME is left behind.
        session, technique = (
            await connection.execute(
                select(Dataset.investigation_id, DatasetTechnique.technique_id)
                .join(Dataset, Dataset.id == DatasetTechnique.dataset_id)
                .join(Investigation, Investigation.id == Dataset.investigation_id)
                .where(
                    Investigation.release_date < now,
                    Investigation.id.not_in((written.embargoed, written.ranked[0])),
                    DatasetTechnique.id.not_in(added),
                )
                .order_by(Dataset.investigation_id, DatasetTechnique.technique_id)
                .limit(1)
            )
        ).one()
        deleted = (
            await connection.execute(
                select(links)
                .join(Dataset, Dataset.id == DatasetTechnique.dataset_id)
                .where(
                    Dataset.investigation_id == session, DatasetTechnique.technique_id == technique
                )
            )
        ).all()
        assert deleted
        await connection.execute(delete(links).where(links.c.ID.in_([d.ID for d in deleted])))
    try:
        assert not (await refresh(engine, naive_utc_now())).full
        filled, read = await _techniques_as_without_the_summary(search_catalogue, users, fixed)
        assert filled and read
        # Every user with a role, over the whole list (the summary serves each the same way
        # with or without words).
        every: dict[str, list[str | None]] = {
            "built-in": [name for name in names if name not in fixed]
        }
        filled, read = await _techniques_as_without_the_summary(
            search_catalogue, every, (), (None,)
        )
        assert filled and read
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(links).where(links.c.ID.in_(added)))
            await connection.execute(insert(links), [row._asdict() for row in deleted])
        await refresh(engine, naive_utc_now(), full=True)


DATASETS = """query($parameters: [ParameterRange!]) {
  datasets(filter: {parameters: $parameters}, first: 50) { nodes { icatId } }
}"""


PAST_THE_END = """query($filter: InvestigationFilter, $after: String) {
  investigations(filter: $filter, first: 100, after: $after) {
    pageInfo { endCursor }
    nodes { icatId }
    facets {
      instrument { value count } year { value count } type { value count }
      released { value count } technique { value count }
    }
  }
}"""


@pytest.mark.parametrize("user", [None, "esrf/pi1"])
async def test_the_facets_of_a_page_past_the_last_match_are_those_of_the_whole_list(
    search_catalogue: SearchCatalogue, user: str | None
) -> None:
    # A search's page carries its facets; a page with no rows counts them on its own.
    client = search_catalogue.client
    filter = {"search": RANKED}
    whole = (await client.data(PAST_THE_END, {"filter": filter}, user=user))["investigations"]
    assert whole["nodes"] and whole["facets"]["released"]
    after = whole["pageInfo"]["endCursor"]
    past = (await client.data(PAST_THE_END, {"filter": filter, "after": after}, user=user))[
        "investigations"
    ]
    assert past["nodes"] == []
    assert past["facets"] == whole["facets"]


@pytest.mark.parametrize("user", [None, "esrf/pi1"])
async def test_a_search_with_facets_reads_the_index_once(
    search_catalogue: SearchCatalogue, user: str | None
) -> None:
    """Every database counts the facets in the page's statement, over the matches its
    page and total read (a CTE each fills once: ``pages.evaluated_once``)."""
    client = search_catalogue.client
    searching: list[str] = []

    def capture(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "GATEWAY_SEARCH_FTS" in statement or "GATEWAY_SEARCH_DOCUMENT" in statement:
            searching.append(statement)

    event.listen(client.engine.sync_engine, "before_cursor_execute", capture)
    try:
        data = await client.data(FACETED, {"filter": {"search": RANKED}}, user=user)
    finally:
        event.remove(client.engine.sync_engine, "before_cursor_execute", capture)
    assert data["investigations"]["facets"]["released"]
    assert len(searching) == 1, searching


async def test_a_cte_evaluated_once_is_filled_once_for_all_its_readers(
    search_catalogue: SearchCatalogue,
) -> None:
    """The CTE a page, its total and its facets read is filled once on every database
    (``MATERIALIZED``; MariaDB, which fills a plain CTE again for each reader, a recursive
    one): three readers of random numbers see the same ones."""
    engine = search_catalogue.client.engine
    dialect = engine.dialect.name
    random = func.rand if dialect in ("mariadb", "mysql") else func.random
    numbers = union_all(*(select(random().label("r")) for _ in range(3)))
    shared = evaluated_once(select(numbers.subquery().c.r), "numbers", dialect)
    # (The largest of each reader's numbers: SQLite's are 64-bit integers, a sum overflows.)
    readers = [select(func.max(shared.c.r)).scalar_subquery() for _ in range(3)]
    async with engine.connect() as connection:
        seen = (await connection.execute(select(*readers))).one()
    assert len(set(seen)) == 1, seen


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ({"min": 11, "max": 12.5, "units": "keV"}, {"keV", "eV", "weird-unit"}),
        ({"min": 11000, "max": 11600, "units": "eV"}, {"eV"}),
        ({"min": 1.8e-15, "max": 2.0e-15, "units": "J"}, {"keV", "eV"}),  # 1.84, 1.92
        ({"min": 11, "max": 12.5}, {"keV", "weird-unit"}),
        ({"min": 11, "max": 12.5, "units": "mm"}, {"weird-unit"}),
        ({"min": 11.9, "units": "keV"}, {"keV"}),
    ],
)
async def test_a_range_in_one_unit_matches_values_stored_in_another(
    search_catalogue: SearchCatalogue, bounds: dict[str, Any], expected: set[str]
) -> None:
    client, written = search_catalogue.client, search_catalogue.written
    data = await client.data(DATASETS, {"parameters": [{"name": ENERGY, **bounds}]}, user=STAFF)
    ids = {node["icatId"] for node in data["datasets"]["nodes"]}
    assert ids == {written.datasets[units] for units in expected}


async def test_unknown_units_are_bad_user_input(search_catalogue: SearchCatalogue) -> None:
    result = await search_catalogue.client.execute(
        DATASETS, {"parameters": [{"name": ENERGY, "min": 1, "units": "furlongz"}]}
    )
    assert result.errors and result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert "furlongz" in result.errors[0].message
    many = [{"name": ENERGY, "min": n} for n in range(11)]
    result = await search_catalogue.client.execute(DATASETS, {"parameters": many})
    assert result.errors and result.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_without_the_index_search_still_answers_and_keeps_the_embargo(
    search_catalogue: SearchCatalogue,
) -> None:
    client, written = search_catalogue.client, search_catalogue.written
    assert (await text_index(client.engine)).built  # held by the process from now
    async with client.engine.begin() as connection:
        await connection.execute(delete(SearchState))
    forget_index_states()  # else held for INDEX_STATE_SECONDS: read it again now
    try:
        assert not (await text_index(client.engine)).built
        assert await found(client, SECRET) == []
        assert await found(client, SECRET, "esrf/pi1") == [written.embargoed]
    finally:
        await refresh(client.engine, naive_utc_now(), full=True)


async def test_the_index_state_is_read_again_after_its_time_or_when_forgotten(
    search_catalogue: SearchCatalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search reads the index's state through the process's ``INDEX_STATES``: held for
    ``ttl`` seconds of its clock, read again after them, and at once after a refresh or
    ``forget_index_states``. The clock is injected: no sleeping."""
    client, written = search_catalogue.client, search_catalogue.written
    clock = [1000.0]
    monkeypatch.setattr(INDEX_STATES, "clock", lambda: clock[0])
    forget_index_states()
    assert (await text_index(client.engine)).built
    async with client.engine.begin() as connection:
        await connection.execute(delete(SearchState))
    try:
        # Held: the state read before the delete, for searches too (the index's words).
        clock[0] += INDEX_STATES.ttl - 0.01
        assert (await text_index(client.engine)).built
        assert await found(client, SECRET, "esrf/pi1") == [written.embargoed]
        # Its time is up: read again, the fallback.
        clock[0] += 0.01
        assert not (await text_index(client.engine)).built
        assert await found(client, SECRET, "esrf/pi1") == [written.embargoed]
        # A refresh by this process is seen at once, whatever the clock says.
        await refresh(client.engine, naive_utc_now(), full=True)
        assert (await text_index(client.engine)).built
        async with client.engine.begin() as connection:
            await connection.execute(delete(SearchState))
        assert (await text_index(client.engine)).built
        forget_index_states()
        assert not (await text_index(client.engine)).built
    finally:
        await refresh(client.engine, naive_utc_now(), full=True)
    assert (await text_index(client.engine)).built


def test_a_state_read_across_a_forget_is_not_held() -> None:
    """A state whose reading began before a ``forget`` may predate the change announced:
    not held. One that began after is, until its time is up."""
    clock = [0.0]
    states = IndexStates(5.0, clock=lambda: clock[0])
    engine = create_async_engine("sqlite+aiosqlite://")
    reading = states.reading()
    states.forget()
    states.put(engine, "before", reading)
    assert states.get(engine) is None
    states.put(engine, "after", states.reading())
    assert states.get(engine) == "after"
    clock[0] = 4.99
    assert states.get(engine) == "after"
    clock[0] = 5.0
    assert states.get(engine) is None


async def test_a_search_builds_its_index_match_once_per_dialect_and_words(
    search_catalogue: SearchCatalogue,
) -> None:
    """The index match is memoised by dialect, trigram index and words (not by caller):
    the same words share one; other words, the unranked form, another dialect do not;
    and its answers are those of a match built afresh."""
    client, written = search_catalogue.client, search_catalogue.written
    index = await text_index(client.engine)
    anonymous = Access(Caller(user_name=None), now_utc())
    pi = Access(Caller(user_name="esrf/pi1"), now_utc())
    first = session_text_match(anonymous, f"{SECRET} ", index)
    again = session_text_match(pi, SECRET.upper(), index)
    assert first.scores is again.scores
    assert session_text_match(anonymous, "other words", index).scores is not first.scores
    assert session_text_match(anonymous, SECRET, index, ranked=False).scores is not first.scores
    other = "sqlite" if index.dialect != "sqlite" else "postgresql"
    elsewhere = TextIndex(other, index.state, index.trigrams)
    assert session_text_match(anonymous, SECRET, elsewhere).scores is not first.scores
    assert dataset_text_match(anonymous, SECRET, index).scores is (
        dataset_text_match(pi, SECRET, index).scores
    )
    assert await found(client, SECRET, "esrf/pi1") == [written.embargoed]
    assert await found(client, SECRET, "esrf/pi1") == [written.embargoed]


KEPT_QUERY = """query Kept($s: String!, $order: InvestigationOrder, $first: Int, $last: Int) {
  investigations(filter: {search: $s}, orderBy: $order, first: $first, last: $last) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { icatId title summary releaseDate }
    facets { instrument { value count } year { value count } type { value count }
             released { value count } technique { value count } }
    highlights { title }
  }
}"""

KEPT_DATASETS = """query Kept($s: String!, $order: DatasetOrder, $first: Int, $last: Int) {
  datasets(filter: {search: $s}, orderBy: $order, first: $first, last: $last) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { icatId name description startDate endDate doi sample { name } techniques { name } }
  }
}"""

KEPT_SEARCHES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "investigations": (
        KEPT_QUERY,
        [
            {"order": {"field": "RELEVANCE", "direction": "ASC"}},
            {"order": {"field": "START_DATE", "direction": "DESC"}, "first": 4},
        ],
    ),
    "datasets": (
        KEPT_DATASETS,
        [
            {"order": {"field": "NAME", "direction": "DESC"}},
            {"order": {"field": "END_DATE", "direction": "DESC"}, "first": 4},
        ],
    ),
}


def _answer(result: Any) -> tuple[Any, list[tuple[str, Any, Any]]]:
    """The data and the errors (message, path, code) of a result."""
    errors = [
        (error.message, error.path, (error.extensions or {}).get("code"))
        for error in result.errors or []
    ]
    return result.data, sorted(errors, key=repr)


@pytest.mark.parametrize("search", sorted(KEPT_SEARCHES))
@pytest.mark.parametrize("user", [None, "esrf/outsider1", "esrf/pi1", STAFF])
async def test_a_search_kept_for_its_shape_answers_as_one_built_for_the_request(
    search_catalogue: SearchCatalogue, user: str | None, search: str
) -> None:
    """A search (of sessions, of datasets) runs the statement kept for its shape, its
    words, clock and user name bound (``gateway.schema.kept``): for words of every kind
    (landing, data, embargoed, two words, a prefix) and shapes of page and order, the
    answers are those of the statement built for the request (``compiled_sql`` off); each
    shape is built once, and every one was kept (none held the words outside their
    parameters)."""
    client, written = search_catalogue.client, search_catalogue.written
    standard = client.using(compiled_sql=False)
    query, orders = KEPT_SEARCHES[search]
    words = [
        SECRET,
        SECRET_DATASET,
        SECRET_SAMPLE,
        RANKED,
        RANKED[:5],
        written.embargoed_title_word,
        f"{written.embargoed_title_word} {SECRET}",
        "zqxnothing",
    ]
    shapes: list[dict[str, Any]] = [{}, {"first": 2}, {"last": 3}, *orders]
    held: Mapping[Hashable, Any] = KEPT_STATEMENTS.get(client.engine, {})
    answered = added = 0
    for shape in shapes:
        for number, word in enumerate(words):
            variables = {"s": word, **shape}
            before = len(held)
            kept = _answer(await client.execute(query, variables, user=user))
            assert kept == _answer(await standard.execute(query, variables, user=user)), variables
            answered += kept[0][search]["totalCount"] > 0
            held = KEPT_STATEMENTS[client.engine]
            # Built by the shape's first search (unless a caller of the same shape, an
            # earlier case, did), then reused.
            assert len(held) - before <= (1 if number == 0 else 0), variables
            added += len(held) - before
    assert answered >= len(shapes) * 3
    assert added in (0, len(shapes))
    # The search's own shapes (its key begins with its list's name), every one kept.
    own = [kept for key, kept in held.items() if key[0] == search]  # type: ignore[index]
    assert len(own) >= len(shapes) and all(kept is not None for kept in own)


class PrivateKeywords(RulesClient):
    """Under the demo's ICAT rules with keywords readable by no one but root users."""

    ruleset = demo_ruleset(
        (
            *(rule for rule in DEMO_RULES if rule != "Keyword"),
            "SELECT o FROM Keyword o WHERE o.name = 'no such keyword'",
        )
    )


@pytest.mark.parametrize("indexed", [True, False], ids=["index", "without the index"])
async def test_under_icat_rules_a_keyword_the_caller_may_not_read_finds_nothing(
    search_catalogue: SearchCatalogue, indexed: bool
) -> None:
    """The principal investigator reads the embargoed session, its summary, samples and
    datasets under the rules, but not its keywords: a word only in a keyword does not find
    the session (the index's DATA half holds it), the other words still do."""
    client, written = search_catalogue.client, search_catalogue.written
    private = PrivateKeywords(client.engine, client.settings, client.schema)
    demo = RulesClient(client.engine, client.settings, client.schema)
    assert (await text_index(client.engine)).built  # held by the process from now
    if not indexed:
        async with client.engine.begin() as connection:
            await connection.execute(delete(SearchState))
        forget_index_states()
    try:
        assert (await text_index(client.engine)).built is indexed
        session = [written.embargoed]
        assert await found(private, SECRET_KEYWORD, "esrf/pi1") == []
        assert await found(private, SECRET, "esrf/pi1") == session
        if indexed:  # without the index, free text reads summaries and keywords only
            assert await found(private, SECRET_SAMPLE, "esrf/pi1") == session
            assert await found(private, SECRET_DATASET, "esrf/pi1") == session
        # Not vacuous: where the rules let them read keywords (the demo's), or to a root
        # user, the keyword finds the session.
        assert await found(demo, SECRET_KEYWORD, "esrf/pi1") == session
        assert await found(private, SECRET_KEYWORD, STAFF) == session
        assert await found(private, SECRET_KEYWORD, "esrf/outsider1") == []
    finally:
        if not indexed:
            await refresh(client.engine, naive_utc_now(), full=True)


# EXPLAIN: the index serves each half ---------------------------------------------------


def _positional(engine: AsyncEngine, statement: Any) -> tuple[str, Any]:
    translate = engine.get_execution_options().get("schema_translate_map")
    compiled = statement.compile(dialect=engine.dialect, schema_translate_map=translate)
    # What execution does to the gateway schema's placeholder (the engine's translate map).
    sql = compiled.preparer._render_schema_translates(str(compiled), translate or {})
    if compiled.positional:
        return sql, tuple(compiled.params[name] for name in compiled.positiontup or ())
    return sql, compiled.params


async def explain(engine: AsyncEngine, statement: Any, *, verbose: bool = False) -> str:
    """The plan of a statement on the engine's dialect, as text (PostgreSQL ``verbose``:
    with each node's output expressions)."""
    sql, params = _positional(engine, statement)
    dialect = engine.dialect.name
    async with engine.connect() as connection:
        if dialect == "postgresql":
            # Tiny tables: without this a sequential scan is cheaper. It only makes a scan
            # the last resort; a statement no index can serve still shows one.
            await connection.exec_driver_sql("SET enable_seqscan = off")
            command = "EXPLAIN (VERBOSE) " if verbose else "EXPLAIN "
            rows = await connection.exec_driver_sql(command + sql, params)
            plan = "\n".join(row[0] for row in rows)
        elif dialect == "sqlite":
            rows = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)
            plan = "\n".join(str(row[-1]) for row in rows)
        else:
            result = await connection.exec_driver_sql("EXPLAIN " + sql, params)
            keys = list(result.keys())
            plan = "\n".join(str(dict(zip(keys, row, strict=True))) for row in result)
        await connection.rollback()
    return plan


@pytest.mark.parametrize("user", [None, "esrf/outsider1"])
async def test_the_search_reads_the_index_not_every_session(
    search_catalogue: SearchCatalogue, user: str | None
) -> None:
    client = search_catalogue.client
    engine = client.engine
    index: TextIndex = await text_index(engine)
    access = Access(Caller(user_name=user), datetime.fromisoformat(now_utc().isoformat()))
    match = session_text_match(access, f"{RANKED} study", index)
    statement = (
        match.applied(queries.investigations(access)).order_by(match.relevance.desc()).limit(10)
    )
    plan = await explain(engine, statement)
    dialect = engine.dialect.name
    if dialect == "postgresql":
        assert 'Bitmap Index Scan on "GATEWAY_SD_LANDING_FTS"' in plan, plan
        assert 'Bitmap Index Scan on "GATEWAY_SD_DATA_FTS"' in plan, plan
        assert 'Seq Scan on "INVESTIGATION"' not in plan, plan
        assert 'Seq Scan on "GATEWAY_SEARCH_DOCUMENT"' not in plan, plan
    elif dialect == "sqlite":
        fts = [line for line in plan.splitlines() if "GATEWAY_SEARCH_FTS" in line]
        assert len(fts) == 2 and all("VIRTUAL TABLE INDEX" in line for line in fts), plan
        assert "SCAN INVESTIGATION\n" not in plan + "\n", plan
    else:
        assert "'type': 'fulltext'" in plan and "GATEWAY_SD_LANDING_FTS" in plan, plan
        assert "GATEWAY_SD_DATA_FTS" in plan, plan
        assert "'table': 'INVESTIGATION', 'type': 'ALL'" not in plan, plan


async def test_postgresql_matches_and_ranks_by_the_stored_vectors(
    search_catalogue: SearchCatalogue,
) -> None:
    """PostgreSQL: both searches match each text by its stored ``tsvector`` (the GIN
    index over that column) and rank by it; no ``to_tsvector`` parses a document's text
    again for each match (revision ``09_h21_stored_vectors``)."""
    engine = search_catalogue.client.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the stored vectors are PostgreSQL's")
    index: TextIndex = await text_index(engine)
    access = Access(Caller(user_name=None), datetime.fromisoformat(now_utc().isoformat()))
    sessions = session_text_match(access, f"{RANKED} study", index)
    datasets = dataset_text_match(access, f"{DESCRIBED} optics", index)
    statements = {
        "sessions": sessions.applied(queries.investigations(access))
        .order_by(sessions.relevance.desc())
        .limit(10),
        "datasets": datasets.applied(queries.datasets_checked_by_row(access))
        .order_by(datasets.relevance.desc())
        .limit(10),
    }
    vectors = {"sessions": ("LANDING", "DATA"), "datasets": ("LANDING", "WORDS")}
    for name, statement in statements.items():
        plan = await explain(engine, statement, verbose=True)
        assert "to_tsvector" not in plan, plan
        lines = plan.splitlines()
        for text_column in vectors[name]:
            vector = f'."{vector_name(text_column)}"'
            assert any("Recheck Cond" in line and f"{vector} @@" in line for line in lines), plan
            assert any("ts_rank(" in line and f"{vector}," in line for line in lines), plan


@pytest.mark.parametrize("user", [None, "esrf/outsider1"])
async def test_dataset_free_text_reads_the_indexes_not_every_dataset(
    search_catalogue: SearchCatalogue, user: str | None
) -> None:
    engine = search_catalogue.client.engine
    index: TextIndex = await text_index(engine)
    access = Access(Caller(user_name=user), datetime.fromisoformat(now_utc().isoformat()))
    match = dataset_text_match(access, f"{DESCRIBED} optics", index)
    statement = match.applied(queries.datasets_checked_by_row(access)).limit(10)
    plan = await explain(engine, statement)
    dialect = engine.dialect.name
    if dialect == "postgresql":
        assert 'Bitmap Index Scan on "GATEWAY_DD_WORDS_FTS"' in plan, plan
        assert 'Bitmap Index Scan on "GATEWAY_SD_LANDING_FTS"' in plan, plan
        for table in ("DATASET", "INVESTIGATION", "GATEWAY_DATASET_DOCUMENT"):
            assert f'Seq Scan on "{table}"' not in plan, plan
    elif dialect == "sqlite":
        fts = [line for line in plan.splitlines() if "_FTS VIRTUAL TABLE" in line]
        assert len(fts) == 2 and all("VIRTUAL TABLE INDEX" in line for line in fts), plan
        assert {"GATEWAY_DATASET_FTS", "GATEWAY_SEARCH_FTS"} == {line.split()[1] for line in fts}, (
            plan
        )
        assert "SCAN DATASET\n" not in plan + "\n", plan
    else:
        assert "'type': 'fulltext'" in plan and "GATEWAY_DD_WORDS_FTS" in plan, plan
        assert "GATEWAY_SD_LANDING_FTS" in plan, plan
        assert "'table': 'DATASET', 'type': 'ALL'" not in plan, plan


DATASET_SEARCH = """query($search: String, $session: ID) {
  datasets(filter: {search: $search, investigationId: $session}, first: 100) {
    totalCount nodes { icatId }
  }
}"""


async def datasets_found(
    client: Client, search: str | None, user: str | None = None, session: int | None = None
) -> set[int]:
    session_id = global_id("Investigation", session) if session is not None else None
    data = await client.data(DATASET_SEARCH, {"search": search, "session": session_id}, user=user)
    ids = {node["icatId"] for node in data["datasets"]["nodes"]}
    assert data["datasets"]["totalCount"] == len(ids)
    return ids


@pytest.mark.parametrize("user", [None, "esrf/outsider1", "esrf/pi1", STAFF])
async def test_dataset_free_text_finds_what_the_caller_may_see(
    search_catalogue: SearchCatalogue, user: str | None
) -> None:
    client, written = search_catalogue.client, search_catalogue.written
    async with client.engine.connect() as connection:
        embargoed = set(
            await connection.scalars(
                select(Dataset.id).where(Dataset.investigation_id == written.embargoed)
            )
        )
        proposal = await connection.scalar(
            select(Investigation.name).where(Investigation.id == written.embargoed)
        )
    visible = await datasets_found(client, None, user, session=written.embargoed)
    assert visible <= embargoed
    assert visible == (embargoed if user in ("esrf/pi1", STAFF) else set())
    # Words of the embargoed session's dataset names: only the datasets the caller sees.
    assert await datasets_found(client, SECRET_DATASET, user) == visible
    # Its proposal, a landing fact of the session: the same datasets, no others of it.
    assert await datasets_found(client, proposal, user) & embargoed == visible
    # A word of a released dataset's description, with a prefix.
    assert await datasets_found(client, DESCRIBED[:-2], user) == {written.datasets["keV"]}


async def test_an_incremental_refresh_forgets_deleted_children(
    search_catalogue: SearchCatalogue,
) -> None:
    client, written = search_catalogue.client, search_catalogue.written
    engine = client.engine
    session = written.ranked[2]
    now = naive_utc_now()
    audit = {"CREATE_ID": "test", "CREATE_TIME": now, "MOD_ID": "test", "MOD_TIME": now}
    async with engine.begin() as connection:
        keyword = int(await connection.scalar(select(func.max(Keyword.id))) or 0) + 1
        await connection.execute(
            insert(cast(Table, Keyword.__table__)).values(
                ID=keyword, INVESTIGATION_ID=session, NAME=GONE, **audit
            )
        )
        dataset_table = cast(Table, Dataset.__table__)
        model = (
            await connection.execute(select(dataset_table).filter_by(ID=written.datasets["eV"]))
        ).one()
        dataset = int(await connection.scalar(select(func.max(Dataset.id))) or 0) + 1
        row = {**model._asdict(), **audit, "ID": dataset, "NAME": f"{GONE}_set"}
        row.update(INVESTIGATION_ID=session, SAMPLE_ID=None)
        await connection.execute(insert(dataset_table).values(row))
    assert not (await refresh(engine, naive_utc_now())).full
    assert await found(client, GONE, STAFF) == [session]
    assert await datasets_found(client, GONE, STAFF) == {dataset}
    async with engine.begin() as connection:
        await connection.execute(delete(Keyword).where(Keyword.id == keyword))
        await connection.execute(delete(Dataset).where(Dataset.id == dataset))
    refreshed = await refresh(engine, naive_utc_now())
    assert not refreshed.full and refreshed.documents >= 1
    assert await found(client, GONE, STAFF) == []
    assert await datasets_found(client, GONE, STAFF) == set()
    assert await found(client, RANKED, STAFF, first=50) != []  # the rest stays found


async def test_a_dataset_moved_to_another_session_keeps_one_document(
    search_catalogue: SearchCatalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, written = search_catalogue.client, search_catalogue.written
    engine = client.engine
    # One session per batch, the new session's first: its batch meets the document the
    # dataset still has under its old session.
    monkeypatch.setattr(search_documents, "BATCH", 1)
    dataset = written.datasets["weird-unit"]
    async with engine.connect() as connection:
        old = await connection.scalar(select(Dataset.investigation_id).where(Dataset.id == dataset))
        new = await connection.scalar(
            select(func.min(Investigation.id)).where(Investigation.id < old)
        )
    assert new is not None
    now = naive_utc_now()
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Dataset)
                .where(Dataset.id == dataset)
                .values({Dataset.investigation_id: new, Dataset.mod_time: now})
            )
        await refresh(engine, naive_utc_now())
        async with engine.connect() as connection:
            owners = list(
                await connection.scalars(
                    select(DatasetSearchDocument.investigation_id).where(
                        DatasetSearchDocument.dataset_id == dataset
                    )
                )
            )
        assert owners == [new]
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                update(Dataset).where(Dataset.id == dataset).values({Dataset.investigation_id: old})
            )
        await refresh(engine, naive_utc_now(), full=True)


async def test_the_trigram_index_finds_parts_of_words_on_postgresql(
    search_catalogue: SearchCatalogue,
) -> None:
    client = search_catalogue.client
    if client.engine.dialect.name != "postgresql":
        pytest.skip("trigrams are PostgreSQL's")
    index = await text_index(client.engine)
    assert index.trigrams
    async with client.engine.connect() as connection:
        proposal = await connection.scalar(
            text('SELECT "NAME" FROM "INVESTIGATION" ORDER BY "ID" LIMIT 1')
        )
    digits = "".join(ch for ch in proposal if ch.isdigit())
    assert len(digits) >= 3
    # The middle of the number: no word starts with it.
    assert await found(client, digits[1:]), proposal


DATASET_FACETS = """{
  datasets(first: 100) {
    totalCount
    nodes { type { name } techniques { name } parameters { name } }
    facets { technique { value count } type { value count } parameter { value count } }
  }
}"""


@pytest.mark.parametrize("user", [None, STAFF])
async def test_dataset_facets_are_the_counts_of_the_visible_datasets(
    search_catalogue: SearchCatalogue, user: str | None
) -> None:
    data = (await search_catalogue.client.data(DATASET_FACETS, user=user))["datasets"]
    nodes = data["nodes"]
    assert len(nodes) == data["totalCount"] > 0
    expected: dict[str, Counter[str]] = {
        "technique": Counter(name for n in nodes for name in {t["name"] for t in n["techniques"]}),
        "type": Counter(n["type"]["name"] for n in nodes),
        "parameter": Counter(
            name for n in nodes for name in {p["name"] for p in n["parameters"] or []}
        ),
    }
    for facet, counts in data["facets"].items():
        assert {c["value"]: c["count"] for c in counts} == dict(expected[facet]), facet


async def test_parameter_types_say_their_units_for_a_filter_panel(
    search_catalogue: SearchCatalogue,
) -> None:
    data = await search_catalogue.client.data(
        '{ parameterTypes(search: "zqx energy") { totalCount nodes { name units siUnits } } }'
    )
    found = {n["units"]: n for n in data["parameterTypes"]["nodes"]}
    assert data["parameterTypes"]["totalCount"] == 3 and set(found) == {"keV", "eV", "weird-unit"}
    assert (
        found["keV"]["siUnits"] == found["eV"]["siUnits"] == "kilogram * meter ** 2 / second ** 2"
    )
    assert found["weird-unit"]["siUnits"] is None
    assert {n["name"] for n in found.values()} == {ENERGY}


async def test_filters_take_names_in_the_case_people_type(
    search_catalogue: SearchCatalogue,
) -> None:
    client = search_catalogue.client
    query = """query($f: InvestigationFilter) { investigations(filter: $f, first: 100) {
        nodes { icatId proposal instruments { name } type { name } } } }"""
    nodes = (await client.data(query, user=STAFF))["investigations"]["nodes"]
    some = nodes[0]
    for field, value in (
        ("instrument", some["instruments"][0]["name"]),
        ("proposal", some["proposal"]),
        ("type", some["type"]["name"]),
    ):
        exact = await client.data(query, {"f": {field: value}}, user=STAFF)
        for spelling in (value.lower(), value.upper(), f" {value} "):
            other = await client.data(query, {"f": {field: spelling}}, user=STAFF)
            assert other == exact and exact["investigations"]["nodes"], (field, spelling)


async def test_highlights_mark_the_searched_words_in_the_titles_of_the_page(
    search_catalogue: SearchCatalogue,
) -> None:
    client, written = search_catalogue.client, search_catalogue.written
    data = await client.data(
        '{ investigations(filter: {search: "zqxran"}) { nodes { id title } '
        "highlights { investigationId title } } }"
    )
    connection = data["investigations"]
    nodes, highlights = connection["nodes"], connection["highlights"]
    assert [h["investigationId"] for h in highlights] == [n["id"] for n in nodes]
    assert len(nodes) == len(written.ranked)
    by_session = {h["investigationId"]: h["title"] for h in highlights}
    ids = {n["id"]: n for n in nodes}
    three, once, summary_only = (
        next(i for i in ids if f"{RANKED} {RANKED} {RANKED}" in ids[i]["title"]),
        next(i for i in ids if ids[i]["title"].startswith(f"{RANKED} beta")),
        next(i for i in ids if RANKED not in ids[i]["title"]),
    )
    assert by_session[three].count(f"<mark>{RANKED}</mark>") == 3
    assert by_session[three].endswith("alpha study")
    assert by_session[once] == f"<mark>{RANKED}</mark> beta"
    assert by_session[summary_only] is None


async def test_a_beamline_that_names_none_suggests_the_nearest(
    search_catalogue: SearchCatalogue,
) -> None:
    client = search_catalogue.client
    query = """query($f: InvestigationFilter) { investigations(filter: $f) {
        totalCount suggestions { argument given nearest } } }"""
    names = await client.data("{ instruments(first: 100) { nodes { name } } }")
    beamline = next(n["name"] for n in names["instruments"]["nodes"] if "-" in n["name"])
    typo = beamline.replace("-", "").lower()
    data = (await client.data(query, {"f": {"instrument": typo}}))["investigations"]
    assert data["totalCount"] == 0
    assert data["suggestions"][0]["argument"] == "instrument"
    assert data["suggestions"][0]["nearest"][0] == beamline
    exact = (await client.data(query, {"f": {"instrument": beamline}}))["investigations"]
    assert exact["suggestions"] == [] and exact["totalCount"] > 0
