"""Compiled execution answers exactly as the standard path does (every database).

Every query runs on the same catalogue, as the same caller at the same instant: with
``compiled_sql`` on (items rendered as JSON by the page's statement) and off (every field
resolved by the loaders); data and errors must be identical, byte for byte once
serialised. Where the operation gets a plan (``gateway.compiled.operations``: the whole
operation in one statement), the plan's answer must hold the same data too. A
generated-query property widens the net beyond the hand-written corpus.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

import graphql
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.app import now_utc
from gateway.catalogue.models import Datafile, Dataset, Investigation
from gateway.catalogue.text_search import text_index
from gateway.compiled.dialects import compiles_on
from gateway.compiled.operations import Operations
from gateway.resolvers.context import RequestContext
from gateway.schema.node import global_id
from tests.conftest import STAFF, Client, StatementCounter
from tests.integration.test_sentinel_leaks import full_selection
from tests.support.icat_rules_demo import (
    DEMO_RULES,
    PRIVATE_PEOPLE_RULES,
    RulesClient,
    demo_ruleset,
)
from tests.support.rendered import json_statements, renders_json

USERS = [None, "esrf/pi1", "esrf/member1", "esrf/scientist1", "esrf/outsider1", STAFF]

SESSION_FIELDS = """
  id icatId proposal visitId title startDate endDate releaseDate doi isReleased canReadData
  __typename
"""

CORPUS: list[tuple[str, dict[str, Any]]] = [
    # The portal's session list.
    (
        """query($first: Int!) { investigations(filter: {released: true},
             orderBy: {field: START_DATE, direction: DESC}, first: $first) {
           totalCount pageInfo { hasNextPage }
           nodes { LANDING fileSize fileCount instruments { name }
                   team { nodes { role user { name fullName } } } datasets { totalCount } } } }""",
        {"first": 30},
    ),
    # Every session, embargoed ones too, DATA fields included (rows fall back per row).
    (
        """{ investigations(first: 60, orderBy: {field: PROPOSAL, direction: ASC}) {
           nodes { LANDING summary keywords fileSize myRoles
                   facility { id name fullName daysUntilRelease } type { name description }
                   instruments { id icatId name fullName type url description
                                 facility { name } scientists { nodes { name orcidId } } }
                   team { nodes { role isMainProposer user { id icatId name fullName givenName
                          familyName orcidId affiliation } } }
                   parameters { name units valueKind numericValue stringValue dateTimeValue }
                   samples { id name typeName molecularFormula pid }
                   datasets(first: 3, orderBy: {field: NAME, direction: DESC}) {
                     totalCount pageInfo { hasNextPage hasPreviousPage }
                     nodes { id icatId name description location doi startDate endDate
                             complete fileSize fileCount type { name description }
                             sample { id icatId name typeName molecularFormula
                                      parameters { name numericValue } }
                             techniques { id icatId name pid description }
                             parameters { name units unitsFullName valueKind numericValue
                                          stringValue dateTimeValue error rangeBottom
                                          rangeTop }
                             investigation { proposal canReadData isReleased }
                             datafiles(first: 2) { totalCount
                               nodes { id icatId name description location fileSize
                                       checksum createTime modTime doi format } } } } } } }""",
        {},
    ),
    # Landing fields only: nothing falls back, whoever asks.
    (
        """{ investigations(last: 7, orderBy: {field: END_DATE, direction: ASC}) {
           edges { cursor node { id proposal startDate } }
           pageInfo { startCursor endCursor } } }""",
        {},
    ),
    # Aliases, fragments, inline fragments, directives, __typename everywhere.
    (
        """query($skip: Boolean!, $with: Boolean!) {
           page: investigations(first: 12, filter: {search: "structure"}) {
             totalCount
             nodes { ...landing key: proposal again: proposal
                     ... on Investigation { title @skip(if: $skip) endDate @include(if: $with) }
                     ... on Node { id }
                     t1: team { nodes { __typename role } } t2: team { nodes { user { name } } }
                     ds: datasets(first: 2) { __typename nodes { __typename ...dataset } } } } }
           fragment landing on Investigation { doi visitId startDate @skip(if: $with) }
           fragment dataset on Dataset { name n2: name techniques { name } }""",
        {"skip": True, "with": True},
    ),
    # The session page: one session's datasets with their details.
    (
        """query($id: ID!) { investigation(id: $id) { proposal
             datasets(first: 50) { totalCount nodes { id name location startDate endDate
               fileSize fileCount type { name } sample { name typeName molecularFormula }
               techniques { name pid }
               parameters { name units valueKind numericValue stringValue
                            dateTimeValue } } } } }""",
        {"id": "SESSION"},
    ),
    # A file listing, forwards and backwards, with cursors.
    (
        """query($id: ID!) { dataset(id: $id) {
             a: datafiles(first: 2) { pageInfo { hasNextPage endCursor }
                                      nodes { id icatId name location fileSize checksum
                                              createTime modTime format } }
             b: datafiles(last: 2, orderBy: {field: FILE_SIZE, direction: DESC}) {
                  edges { cursor node { name fileSize } } } } }""",
        {"id": "DATASET"},
    ),
    # Root lists of datasets, beamlines, facilities, techniques.
    (
        """{ datasets(first: 40, filter: {search: "a"}) { totalCount
               nodes { id name type { name } sample { name } investigation { proposal title }
                       datafiles(first: 1) { nodes { name } } } }
             instruments(first: 5) {
               nodes { name facility { name } scientists { nodes { name } } } }
             facilities { nodes { id name url } }
             techniques(first: 3) { nodes { id name pid } } }""",
        {},
    ),
    # "My data".
    (
        """{ me { investigations(first: 20) { totalCount nodes { proposal summary myRoles
               datasets(first: 1) { nodes { name location } } } } } }""",
        {},
    ),
    # A DOI and lookups by id, with a root __typename and aliases (operation plans).
    (
        """query($doi: String!, $id: ID!) { __typename
             doi(doi: $doi) { __typename ... on Investigation { LANDING summary
                 instruments { name } team { nodes { role user { name fullName } } } }
               ... on Dataset { name } }
             same: investigation(id: $id) { proposal fileCount datasets { totalCount } } }""",
        {"doi": "DOI", "id": "SESSION"},
    ),
    # A PERSONAL field: standard path, FORBIDDEN for all but the owner and staff.
    (
        """{ investigations(first: 3) { nodes { proposal
             team { nodes { user { name email } } } } } }""",
        {},
    ),
]
BAD_INPUT = (
    # Bad input inside a compiled subtree reports the standard way.
    """{ investigations(first: 3) { nodes { proposal datasets(first: 5000) { totalCount } } } }"""
)
CORPUS.append((BAD_INPUT, {}))


async def run_corpus(client: Client, number: int, user: str | None) -> tuple[str, bytes, bytes]:
    """The corpus's query ``number`` (its ids those of ``client``'s catalogue) and its
    serialised answers compiled and standard (:func:`run_both`)."""
    query, variables = CORPUS[number]
    query = query.replace("LANDING", SESSION_FIELDS)
    ids = await _ids(client)
    variables = {name: ids.get(value, value) for name, value in variables.items()}
    compiled, standard = await run_both(client, query, variables, user, now_utc())
    return query, compiled, standard


async def _ids(client: Client) -> dict[str, str]:
    async with client.engine.connect() as connection:
        session = (
            await connection.execute(
                select(Dataset.investigation_id).order_by(Dataset.investigation_id).limit(1)
            )
        ).scalar_one()
        dataset = (
            await connection.execute(select(Dataset.id).order_by(Dataset.id).limit(1))
        ).scalar_one()
        doi = (
            await connection.execute(select(Investigation.doi).where(Investigation.id == session))
        ).scalar_one()
    return {
        "SESSION": global_id("Investigation", session),
        "DATASET": global_id("Dataset", dataset),
        "DOI": f"https://doi.org/{doi}",
    }


PLANNED: list[str] = []
"""Queries the operation plans answered (reset by the tests that count them)."""


async def run_both(
    client: Client, query: str, variables: dict[str, Any], user: str | None, now: datetime
) -> tuple[bytes, bytes]:
    """The serialised result of a query with compiled execution on and off. Compiled, it
    runs twice: JSON as text passed through (``orjson.Fragment``, as over HTTP) and parsed;
    both must hold the same values, and so must the operation's plan where it answers."""
    access = await client.access(user, now)
    answers: list[bytes] = []
    errors = False
    with json_statements(client.engine) as rendered:
        for compiled, fragments in ((True, True), (True, False), (False, False)):
            if answers and not rendered:
                # No statement rendered JSON: the compiled run was the standard resolvers
                # on the same rows, and so would the others be (``tests.support.rendered``).
                answers.append(answers[0])
                continue
            settings_ = client.using(compiled_sql=compiled).settings
            context = RequestContext(
                engine=client.engine, settings=settings_, access=access, json_fragments=fragments
            )
            result = await client.schema.execute(
                query, variable_values=variables, context_value=context
            )
            answers.append(serialise(result))
            if compiled:
                errors = bool(result.errors)
    # PostgreSQL writes its JSON with spaces after colons and commas: compare values.
    assert orjson.loads(answers[0]) == orjson.loads(answers[1]), query
    planned = await run_planned(client, query, variables, access, errors=errors)
    if planned is not None:
        assert orjson.loads(answers[1]) == {"data": planned, "errors": []}, query
        PLANNED.append(query)
    return answers[1], answers[2]


async def run_planned(
    client: Client,
    query: str,
    variables: dict[str, Any],
    access: Any,
    *,
    errors: bool | None = None,
) -> Any | None:
    """The operation's answer from its plan, made as the endpoint makes it (after a
    clean compiled run: ``errors`` says whether the caller's own had errors, else it runs
    here), or None if it has none or the plan declined."""
    if not Operations.applies(client.settings, client.engine):
        return None
    operations = Operations(client.schema, client.settings, client.engine.dialect)
    outcome = await operations.answer(client.engine, query, None, variables, access)
    assert outcome.text is None and outcome.learn in (True, False)
    if errors is None:
        context = RequestContext(engine=client.engine, settings=client.settings, access=access)
        result = await client.schema.execute(
            query, variable_values=variables, context_value=context
        )
        errors = bool(result.errors)
    if not outcome.learn or errors:
        return None
    # The free-text index's state as the request read it (a search is planned for it).
    operations.learn(query, None, variables, access, text_index=await text_index(client.engine))
    outcome = await operations.answer(client.engine, query, None, variables, access)
    return orjson.loads(outcome.text) if outcome.text is not None else None


def serialise(result: Any) -> bytes:
    errors = sorted(
        (
            {
                "message": error.message,
                "path": error.path,
                "code": (error.extensions or {}).get("code"),
            }
            for error in result.errors or []
        ),
        key=lambda error: orjson.dumps(error),
    )
    return orjson.dumps({"data": result.data, "errors": errors})


@pytest.fixture
def compiling(client: Client) -> Client:
    """The catalogue on every database: the renderer speaks each one's JSON."""
    assert compiles_on(client.engine.dialect.name), client.engine.dialect.name
    return client


@pytest.fixture
def planning(client: Client) -> Client:
    """The catalogue on every database: operation plans run on each."""
    assert Operations.applies(client.settings, client.engine), client.engine.dialect.name
    return client


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("number", range(len(CORPUS)))
async def test_compiled_and_standard_answers_are_identical(
    compiling: Client, statement_counter: StatementCounter, number: int, user: str | None
) -> None:
    query, compiled, standard = await run_corpus(compiling, number, user)
    assert compiled == standard
    if user == STAFF and query != BAD_INPUT:
        # The query itself is sound (others may meet a non-null DATA list).
        assert b'"data":null' not in standard


async def test_the_corpus_does_take_the_compiled_path(
    compiling: Client, statement_counter: StatementCounter
) -> None:
    """Not vacuous: the session list takes far fewer statements compiled."""
    query, variables = CORPUS[0]
    query = query.replace("LANDING", SESSION_FIELDS)
    access = await compiling.access(STAFF)
    counts = []
    for compiled in (True, False):
        context = RequestContext(
            engine=compiling.engine,
            settings=compiling.using(compiled_sql=compiled).settings,
            access=access,
        )
        statement_counter.reset()
        result = await compiling.schema.execute(
            query, variable_values=variables, context_value=context
        )
        assert result.errors is None
        counts.append(statement_counter.count)
    assert counts[0] == 1 < counts[1], counts  # the page, which counts the list too


@st.composite
def selection(draw: st.DrawFn, schema: Any, type_name: str, depth: int) -> str:
    """A random selection on an object type: any of its fields (compiled or not), nested
    objects and connections down to ``depth``, small pages, orderings, aliases."""
    object_type = schema.get_type(type_name)
    names = sorted(object_type.fields)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=7, unique=True))
    parts = []
    for number, name in enumerate(chosen):
        field = object_type.fields[name]
        if any(graphql.is_required_argument(arg) for arg in field.args.values()):
            continue
        named = graphql.get_named_type(field.type)
        arguments = []
        if "first" in field.args:
            arguments.append(f"first: {draw(st.integers(0, 4))}")
        order = field.args.get("orderBy")
        if order is not None and draw(st.booleans()):
            order_type = graphql.get_named_type(order.type)
            sort = draw(st.sampled_from(sorted(order_type.fields["field"].type.of_type.values)))
            direction = draw(st.sampled_from(["ASC", "DESC"]))
            arguments.append(f"orderBy: {{field: {sort}, direction: {direction}}}")
        head = f"f{number}: {name}" if draw(st.booleans()) else name
        if arguments:
            head += "(" + ", ".join(arguments) + ")"
        if isinstance(named, graphql.GraphQLObjectType):
            if depth > 0:
                parts.append(f"{head} {{ {draw(selection(schema, named.name, depth - 1))} }}")
        elif not isinstance(named, graphql.GraphQLInterfaceType | graphql.GraphQLUnionType):
            parts.append(head)
    return " ".join(parts) or "__typename"


@st.composite
def page_queries(draw: st.DrawFn, schema: Any) -> str:
    root, item = draw(
        st.sampled_from([("investigations", "Investigation"), ("datasets", "Dataset")])
    )
    first = draw(st.integers(1, 25))
    return f"{{ {root}(first: {first}) {{ nodes {{ {draw(selection(schema, item, 3))} }} }} }}"


@pytest.mark.parametrize("user", [None, "esrf/pi1"])
def test_generated_queries_answer_identically(compiling: Client, user: str | None) -> None:
    with compiling.own_loop() as (loop, compiling), json_statements(compiling.engine) as rendered:
        now = now_utc()
        schema = compiling.schema._schema
        answered = []
        compiled_queries = []

        @settings(
            max_examples=120,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        @given(query=page_queries(schema))
        def check(query: str) -> None:
            rendered.clear()
            compiled, standard = loop.run_until_complete(run_both(compiling, query, {}, user, now))
            assert compiled == standard, query
            if b'"data":null' not in standard:
                answered.append(query)
                if rendered:
                    compiled_queries.append(query)

        check()
        # Not vacuous: most generated queries answered, and many of them compiled.
        assert len(answered) >= 60, len(answered)
        assert len(compiled_queries) >= 30, len(compiled_queries)


DOI_QUERY = """query($doi: String!) { doi(doi: $doi) { __typename
  ... on Investigation { id proposal title releaseDate instruments { name }
                         team { nodes { role user { name fullName } } } }
  ... on Dataset { name } } }"""


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
async def test_operation_plans_answer_other_values_of_their_lookups(
    planning: Client, user: str | None
) -> None:
    """A plan learnt from one request answers the next ones, whatever their DOI or id, as
    the standard path does; what it cannot answer (not a session, unknown, an empty DOI, a
    row whose DATA fields the caller may not read) it declines."""
    async with planning.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(Investigation.id, Investigation.doi.label("doi")).order_by(Investigation.id)
            )
        ).all()
        dataset_doi = (
            await connection.execute(select(Dataset.doi).where(Dataset.doi.is_not(None)).limit(1))
        ).scalar()
    access = await planning.access(user)
    context = RequestContext(engine=planning.engine, settings=planning.settings, access=access)
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    page_query = """query($id: ID!) { investigation(id: $id) { proposal summary fileCount
        datasets(first: 3) { totalCount nodes { name } } } }"""
    learnt = {DOI_QUERY: {"doi": rows[0].doi}, page_query: {"id": global_id("Investigation", 1)}}
    for query, variables in learnt.items():
        outcome = await operations.answer(planning.engine, query, None, variables, access)
        assert outcome.text is None and outcome.learn
        operations.learn(query, None, variables, access)
    answered = declined = 0
    asks = [(DOI_QUERY, {"doi": doi.lower()}) for _, doi in rows]
    asks += [(page_query, {"id": global_id("Investigation", i)}) for i, _ in rows]
    asks += [(DOI_QUERY, {"doi": dataset_doi}), (DOI_QUERY, {"doi": "10.0/none"})]
    asks += [(DOI_QUERY, {"doi": "  "}), (page_query, {"id": "not an id"})]
    for query, variables in asks:
        outcome = await operations.answer(planning.engine, query, None, variables, access)
        result = await planning.schema.execute(
            query, variable_values=variables, context_value=context
        )
        if outcome.text is None:
            declined += 1
            continue
        answered += 1
        assert result.errors is None, (variables, result.errors)
        assert orjson.loads(outcome.text) == result.data, variables
    # Not vacuous: sessions answered; the dataset's DOI, the unknown one, the bad input
    # and (unless staff) DATA fields of sessions the caller may not read declined.
    assert answered >= len(rows), (answered, declined)
    assert declined >= 4
    if user == STAFF:
        assert declined == 4


@pytest.mark.parametrize("icat_id", [2**63, 10**20, 0, -(10**20)])
@pytest.mark.parametrize("root", ["investigation", "dataset", "datafile"])
async def test_operation_plans_decline_an_id_no_row_can_have(
    planning: Client, root: str, icat_id: int
) -> None:
    """A plan binds its lookup's id as a BIGINT: one beyond 64 bits would make the driver
    raise mid-request. The plan declines it, and the standard path says BAD_USER_INPUT."""
    type_name = root.capitalize()
    query = f"query($id: ID!) {{ {root}(id: $id) {{ id }} }}"
    ids = {"investigation": Investigation.id, "dataset": Dataset.id, "datafile": Datafile.id}
    async with planning.engine.connect() as connection:
        known = (await connection.execute(select(ids[root]).limit(1))).scalar_one()
    access = await planning.access(STAFF)
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    operations.learn(query, None, {"id": global_id(type_name, known)}, access)
    bad = {"id": global_id(type_name, icat_id)}
    outcome = await operations.answer(planning.engine, query, None, bad, access)
    assert outcome.text is None
    context = RequestContext(engine=planning.engine, settings=planning.settings, access=access)
    result = await planning.schema.execute(query, variable_values=bad, context_value=context)
    assert [e.extensions["code"] for e in result.errors or []] == ["BAD_USER_INPUT"]
    # Not vacuous: the plan exists, and answers an id in range.
    good = {"id": global_id(type_name, known)}
    assert (await operations.answer(planning.engine, query, None, good, access)).text


async def test_the_portal_queries_get_plans(planning: Client) -> None:
    """The session list, the session page and a DOI are planned for every kind of caller."""
    ids = await _ids(planning)
    queries = [
        (CORPUS[0][0].replace("LANDING", SESSION_FIELDS), CORPUS[0][1]),
        (CORPUS[4][0], {"id": ids["SESSION"]}),
        (DOI_QUERY, {"doi": ids["DOI"]}),
    ]
    for user in (None, "esrf/pi1", STAFF):
        access = await planning.access(user)
        for query, variables in queries:
            assert await run_planned(planning, query, variables, access) is not None, (
                user,
                query,
            )


@pytest.mark.parametrize("user", [None, "esrf/pi1"])
async def test_planned_pages_end_where_the_standard_pages_end(
    planning: Client, user: str | None
) -> None:
    """Page sizes around the list's length (and 0): the same nodes, total and page info."""
    access = await planning.access(user)
    context = RequestContext(engine=planning.engine, settings=planning.settings, access=access)
    query = """query($first: Int, $released: Boolean) {
      investigations(first: $first, filter: {released: $released}) {
        __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage }
        nodes { proposal startDate } } }"""
    counted = await planning.schema.execute(
        query, variable_values={"first": 0, "released": True}, context_value=context
    )
    assert counted.data is not None
    total = counted.data["investigations"]["totalCount"]
    assert 0 < total < 200
    answered = 0
    for released in (True, False):
        for first in (0, 1, total - 1, total, total + 1, None):
            variables = {"first": first, "released": released}
            planned = await run_planned(planning, query, variables, access)
            result = await planning.schema.execute(
                query, variable_values=variables, context_value=context
            )
            assert planned is not None, variables
            assert planned == result.data, variables
            answered += 1
    assert answered == 12


@pytest.mark.parametrize("user", [None, "esrf/pi1"])
async def test_a_session_list_of_every_compiled_field_is_planned(
    planning: Client, user: str | None
) -> None:
    """The deepest selection a plan answers: every compiled field of released sessions (as
    the sentinel corpus asks). Nested as subqueries, its plan was refused by SQLite's
    parser (``parser stack overflow``), and every such request ran the standard way."""
    access = await planning.access(user)
    context = RequestContext(engine=planning.engine, settings=planning.settings, access=access)
    schema = planning.schema._schema
    selection = full_selection(schema, "InvestigationConnection", (), True, False)
    query = f"{{ investigations(first: 50, filter: {{released: true}}) {{ {selection} }} }}"
    planned = await run_planned(planning, query, {}, access)
    result = await planning.schema.execute(query, context_value=context)
    assert result.errors is None and result.data["investigations"]["nodes"]
    assert planned == result.data


async def test_an_operation_that_cannot_be_planned_is_given_up(planning: Client) -> None:
    """``me`` has no plan: after a few shapes (page sizes here; cursors in practice) the
    operation is no longer planned, and stops costing a planning attempt per request."""
    query = """query($n: Int) { me { userName } investigations(first: $n) { nodes { id } } }"""
    access = await planning.access("esrf/pi1")
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    tries = 0
    for n in range(1, 20):
        outcome = await operations.answer(planning.engine, query, None, {"n": n}, access)
        assert outcome.text is None
        if not outcome.learn:
            break
        tries += 1
        operations.learn(query, None, {"n": n}, access)
    assert tries == 8


async def test_operation_plans_and_their_documents_are_bounded_in_bytes(
    planning: Client,
) -> None:
    """1,200 distinct 250 kB queries grew a worker by 215 MB: 256 documents and 512 plans
    were kept whatever their size. Now both caches are bounded by the bytes they hold:
    here 40 distinct operations of 30 kB each (a DOI literal, which the plan keeps, and a
    filter value, which shapes it) against half a megabyte per cache."""
    settings = replace(planning.settings, plan_cache_bytes=1_000_000)
    operations = Operations(planning.schema, settings, planning.engine.dialect)
    access = await planning.access(None)
    for i in range(40):
        query = f'{{ doi(doi: "10.0/{i}-{"x" * 30_000}") {{ __typename }} }}'
        outcome = await operations.answer(planning.engine, query, None, {}, access)
        assert outcome.text is None
        operations.learn(query, None, {}, access)
        filtered = "query($t: String) { investigations(filter: {text: $t}) { totalCount } }"
        variables = {"t": f"{i}{'y' * 30_000}"}
        await operations.answer(planning.engine, filtered, None, variables, access)
        operations.learn(filtered, None, variables, access)
    half = 500_000
    plans = [v[0] if isinstance(v, tuple) else v for v in operations._plans._items.values()]
    held = sum(len(repr(plan)) for plan in plans)  # the SQL and literals each plan holds
    assert 0 < held <= half, held
    # Each document's tree holds its 30 kB literal or more.
    assert len(operations._documents) * 30_000 <= half


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
@pytest.mark.parametrize("root", ["investigations", "datasets"])
async def test_every_compiled_field_answers_identically(
    compiling: Client, statement_counter: StatementCounter, root: str, user: str | None
) -> None:
    """Not blind to a new field or relation: the selection is every field the catalogue
    declares compiled, derived from the schema, and it must take the compiled path."""
    schema = compiling.schema._schema
    item = {"investigations": "Investigation", "datasets": "Dataset"}[root]
    query = f"{{ {root}(first: 8) {{ totalCount nodes {{ "
    # The sentinel test's generator: compiled fields only, PERSONAL ones left out.
    query += full_selection(schema, item, (item,), True, False) + " } } }"
    statement_counter.reset()
    compiled, standard = await run_both(compiling, query, {}, user, now_utc())
    assert compiled == standard, query
    assert b'"data":null' not in standard
    assert any(renders_json(statement) for statement in statement_counter.statements)


# Under ICAT's own rules (``icat-rules`` authorization) -----------------------------------


@pytest.fixture
def ruled(compiling: Client) -> RulesClient:
    """The same catalogue read under the demo facility's ICAT rules."""
    return RulesClient(compiling.engine, compiling.settings, compiling.schema)


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("number", range(len(CORPUS)))
async def test_compiled_and_standard_answers_are_identical_under_icat_rules(
    ruled: RulesClient, number: int, user: str | None
) -> None:
    _, compiled, standard = await run_corpus(ruled, number, user)
    assert compiled == standard


async def test_icat_rules_change_what_the_corpus_answers(
    ruled: RulesClient, compiling: Client, statement_counter: StatementCounter
) -> None:
    """Not vacuous: under the rules an outsider is listed fewer sessions than the built-in
    policy lists (it lists every session's landing facts), and the session list still
    takes the compiled path (one statement)."""
    query = "{ investigations(first: 500) { totalCount nodes { proposal summary } } }"
    builtin = (await compiling.execute(query, user="esrf/outsider1")).data  # DATA refused
    ruled_data = (await run_both(ruled, query, {}, "esrf/outsider1", now_utc()))[1]
    ruled_total = orjson.loads(ruled_data)["data"]["investigations"]["totalCount"]
    assert 0 < ruled_total < builtin["investigations"]["totalCount"]
    access = await ruled.access("esrf/outsider1")
    context = RequestContext(engine=ruled.engine, settings=ruled.settings, access=access)
    statement_counter.reset()
    result = await ruled.schema.execute(query, context_value=context)
    assert result.errors is None and statement_counter.count == 1, statement_counter.count


@pytest.mark.parametrize("user", [None, "esrf/pi1", "esrf/scientist1", STAFF])
async def test_operation_plans_answer_as_the_standard_path_under_icat_rules(
    planning: Client, user: str | None
) -> None:
    """A plan learnt under the rules answers other sessions as the standard path does."""
    ruled = RulesClient(planning.engine, planning.settings, planning.schema)
    async with planning.engine.connect() as connection:
        sessions = await connection.execute(select(Investigation.id).order_by(Investigation.id))
        ids = [row[0] for row in sessions][:30]
    access = await ruled.access(user)
    context = RequestContext(engine=ruled.engine, settings=ruled.settings, access=access)
    operations = Operations(ruled.schema, ruled.settings, ruled.engine.dialect)
    query = """query($id: ID!) { investigation(id: $id) { proposal summary fileCount
        samples { name } parameters { name }
        datasets(first: 3) { totalCount nodes { name datafiles(first: 2) { totalCount } } } } }"""
    first = {"id": global_id("Investigation", ids[0])}
    await operations.answer(ruled.engine, query, None, first, access)
    operations.learn(query, None, first, access)
    answered = 0
    for icat_id in ids:
        variables = {"id": global_id("Investigation", icat_id)}
        outcome = await operations.answer(ruled.engine, query, None, variables, access)
        result = await ruled.schema.execute(query, variable_values=variables, context_value=context)
        if outcome.text is None:
            continue
        answered += 1
        assert result.errors is None, result.errors
        assert orjson.loads(outcome.text) == result.data, icat_id
    assert answered > 0


class PrivatePeopleClient(RulesClient):
    """Under the demo's rules with people private (``PRIVATE_PEOPLE_RULES``)."""

    ruleset = demo_ruleset(PRIVATE_PEOPLE_RULES)


@pytest.mark.parametrize("user", [None, "esrf/pi1", "esrf/outsider1", STAFF])
@pytest.mark.parametrize("number", range(len(CORPUS)))
async def test_compiled_and_standard_answers_are_identical_with_people_private(
    compiling: Client, number: int, user: str | None
) -> None:
    """A member whose USER_ row the caller may not read is left out of a session's team by
    the standard path (``TeamMember.user`` is never null); the compiled path and the plans
    must leave them out too, not answer the member with a null person."""
    private = PrivatePeopleClient(compiling.engine, compiling.settings, compiling.schema)
    _, compiled, standard = await run_corpus(private, number, user)
    assert compiled == standard


async def test_people_private_narrow_the_team(
    compiling: Client, statement_counter: StatementCounter
) -> None:
    """Not vacuous: with people private, the principal investigator's session lists their
    own roles only (the demo's rules list its whole team); to root users, everyone. The
    compiled path renders the teams."""
    query = """{ investigations(first: 100, filter: {released: false}) {
        nodes { proposal team { nodes { role user { name } } } } } }"""
    private = PrivatePeopleClient(compiling.engine, compiling.settings, compiling.schema)
    demo = RulesClient(compiling.engine, compiling.settings, compiling.schema)
    for user in ("esrf/pi1", STAFF):
        teams = []
        for client in (private, demo):
            compiled, standard = await run_both(client, query, {}, user, now_utc())
            assert compiled == standard
            nodes = orjson.loads(standard)["data"]["investigations"]["nodes"]
            teams.append([member for node in nodes for member in node["team"]["nodes"]])
        assert any(renders_json(statement) for statement in statement_counter.statements)
        names = {member["user"]["name"] for member in teams[0]}
        if user == STAFF:
            assert teams[0] == teams[1]
        else:
            assert names == {user}, names
            assert 0 < len(teams[0]) < len(teams[1])


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
async def test_a_facility_the_rules_hide_answers_as_the_standard_path(
    compiling: Client, user: str | None
) -> None:
    """``Investigation.facility`` is never null: where the rules hide the facility, the
    compiled path does not answer null in its place but leaves the field to the standard
    path, which reports it."""

    class HiddenFacility(RulesClient):
        ruleset = demo_ruleset(
            (
                *(rule for rule in DEMO_RULES if rule != "Facility"),
                "SELECT o FROM Facility o WHERE o.name = 'no such facility'",
            )
        )

    hidden = HiddenFacility(compiling.engine, compiling.settings, compiling.schema)
    query = "query($id: ID!) { investigation(id: $id) { proposal facility { name } } }"
    variables = {"id": (await _ids(hidden))["SESSION"]}
    compiled, standard = await run_both(hidden, query, variables, user, now_utc())
    assert compiled == standard
    answer = orjson.loads(standard)
    paths = [error["path"] for error in answer["errors"]]
    if user == STAFF:
        assert paths == [] and answer["data"]["investigation"]["facility"]
    elif user == "esrf/pi1":  # reads the session, not its facility
        assert paths == [["investigation", "facility"]], answer
        (error,) = answer["errors"]
        assert error["code"] == "FORBIDDEN", error


LOOKUP_ENTITIES = ("DatasetType", "DatafileFormat", "ParameterType", "SampleType")


class HiddenLookups(RulesClient):
    """Under the demo's rules with the lookups read with a row partly hidden: one dataset
    type, one file format, all parameter types but one, no sample type."""

    ruleset = demo_ruleset(
        (
            *(rule for rule in DEMO_RULES if rule not in LOOKUP_ENTITIES),
            "SELECT o FROM DatasetType o WHERE o.name = 'acquisition'",
            "SELECT o FROM DatafileFormat o WHERE o.name = 'HDF5'",
            "SELECT o FROM ParameterType o WHERE o.name <> 'InstrumentSource_current'",
            "SELECT o FROM SampleType o WHERE o.name = 'no such type'",
        )
    )


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
@pytest.mark.parametrize("number", range(len(CORPUS)))
async def test_compiled_and_standard_answers_are_identical_with_lookups_hidden(
    compiling: Client, number: int, user: str | None
) -> None:
    """A lookup read with its row (a dataset's type, a file's format, a parameter's or a
    sample's type) whose row the rules hide is null, or FORBIDDEN where never null, on the
    standard path; the compiled path and the plans answer the same (they leave such a field
    to the standard path)."""
    hidden = HiddenLookups(compiling.engine, compiling.settings, compiling.schema)
    _, compiled, standard = await run_corpus(hidden, number, user)
    assert compiled == standard


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
async def test_lookups_the_rules_hide_answer_null_or_forbidden(
    compiling: Client, user: str | None
) -> None:
    """Not vacuous: a hidden file format, sample type and parameter units are null; a
    dataset's hidden type answers FORBIDDEN at its path (it is never null, so its dataset
    is null), and so does a parameter's name; the others are read; to root users, all."""
    hidden = HiddenLookups(compiling.engine, compiling.settings, compiling.schema)
    query = """{ datasets(first: 60) { nodes { id name parameters { units }
        sample { typeName } datafiles(first: 3) { nodes { format } } } } }"""
    compiled, standard = await run_both(hidden, query, {}, user, now_utc())
    assert compiled == standard
    answer = orjson.loads(standard)
    assert not answer.get("errors"), answer["errors"]
    nodes = answer["data"]["datasets"]["nodes"]
    formats = {f["format"] for n in nodes for f in n["datafiles"]["nodes"]}
    samples = {n["sample"]["typeName"] for n in nodes if n["sample"] is not None}
    units = {p["units"] for n in nodes for p in n["parameters"] or []}
    if user == STAFF:
        assert len(formats - {None}) > 1 and samples - {None}
    else:
        assert formats == {"HDF5", None} and samples == {None}, (formats, samples)
    seen: dict[str, set[str]] = {"type": set(), "name": set()}
    for node in nodes[:20]:
        one = """query($id: ID!) { dataset(id: $id) { type { name } } }"""
        compiled, standard = await run_both(hidden, one, {"id": node["id"]}, user, now_utc())
        assert compiled == standard
        answer = orjson.loads(standard)
        for error in answer.get("errors", []):
            assert error["code"] == "FORBIDDEN" and error["path"] == ["dataset", "type"], error
            seen["type"].add("FORBIDDEN")
        if answer["data"]["dataset"] is not None:
            seen["type"].add(answer["data"]["dataset"]["type"]["name"])
        many = """query($id: ID!) { dataset(id: $id) { parameters { name } } }"""
        compiled, standard = await run_both(hidden, many, {"id": node["id"]}, user, now_utc())
        assert compiled == standard
        for error in orjson.loads(standard).get("errors", []):
            assert error["code"] == "FORBIDDEN" and error["path"][-1] == "name", error
            seen["name"].add("FORBIDDEN")
    if user == STAFF:
        assert seen == {"type": {"acquisition", "processed"}, "name": set()}, seen
    else:
        assert seen == {"type": {"acquisition", "FORBIDDEN"}, "name": {"FORBIDDEN"}}, seen
    assert units  # (read as the rules say: null where the type is hidden)


# Nested pages after a cursor ---------------------------------------------------------

NESTED_PAGES = [
    # (root, the query with $id and $after, its ordering) the files of the dataset with
    # the most, the datasets of the session with the most, a session's team, and the
    # scientists of every beamline (a cursor of one beamline's page used for all).
    (
        "DATASET",
        """query($id: ID!, $after: String) { dataset(id: $id) {
             datafiles(first: 3, after: $after ORDER) { __typename totalCount
               pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
               edges { __typename cursor node { name fileSize createTime } }
               nodes { id name } } } }""",
        [
            "",
            *(
                f", orderBy: {{field: {f}, direction: {d}}}"
                for f in ("NAME", "CREATE_TIME", "FILE_SIZE")
                for d in ("ASC", "DESC")
            ),
        ],
    ),
    (
        "SESSION",
        """query($id: ID!, $after: String) { investigation(id: $id) {
             datasets(first: 2, after: $after ORDER) { totalCount
               pageInfo { hasNextPage endCursor } edges { cursor node { name startDate } } } } }""",
        [
            "",
            *(
                f", orderBy: {{field: {f}, direction: {d}}}"
                for f in ("START_DATE", "END_DATE", "NAME")
                for d in ("ASC", "DESC")
            ),
        ],
    ),
    (
        "TEAM",
        """query($id: ID!, $after: String) { investigation(id: $id) {
             team(first: 1, after: $after ORDER) { totalCount
               pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
               edges { cursor node { role } } nodes { role } } } }""",
        [""],
    ),
    (
        "",
        """query($after: String) { instruments(first: 50) { nodes { name
             scientists(first: 1, after: $after ORDER) { totalCount
               pageInfo { hasNextPage startCursor endCursor } edges { cursor } } } } }""",
        [""],
    ),
]


async def _nested_page_parents(client: Client) -> dict[str, str]:
    """The parents with the longest lists: a dataset's files, a session's datasets and
    team."""
    from sqlalchemy import func

    from gateway.catalogue.models import InvestigationUser

    async with client.engine.connect() as connection:

        async def most(column: Any) -> Any:
            statement = select(column).group_by(column).order_by(func.count().desc(), column)
            return (await connection.execute(statement.limit(1))).scalar_one()

        return {
            "DATASET": global_id("Dataset", await most(Datafile.dataset_id)),
            "SESSION": global_id("Investigation", await most(Dataset.investigation_id)),
            "TEAM": global_id("Investigation", await most(InvestigationUser.investigation_id)),
        }


def _cursors(data: Any) -> list[str]:
    """Every cursor an answer holds (edges' and page infos'), in order."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("cursor", "startCursor", "endCursor") and isinstance(value, str):
                found.append(value)
            else:
                found += _cursors(value)
    elif isinstance(data, list):
        for item in data:
            found += _cursors(item)
    return found


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
async def test_nested_pages_after_a_cursor_answer_identically(
    compiling: Client, statement_counter: StatementCounter, user: str | None
) -> None:
    """Nested connections paged with ``after`` (hand-written ones, in every ordering, NULL
    sort keys included, and declared page relations): every page the standard path
    gives, and the page after each cursor it gives, answer byte for byte alike compiled,
    edges, cursors and page info included. Where the dialect compiles them
    (``JsonDialect.cursor_pages``: every database here), compiled they take one
    statement; elsewhere the standard path answers them."""
    from gateway.compiled.dialects import json_dialect

    dialect = json_dialect(compiling.engine.dialect.name)
    assert dialect is not None
    compiles = dialect.cursor_pages
    parents = await _nested_page_parents(compiling)
    planned_before = len(PLANNED)
    now = now_utc()
    access = await compiling.access(user, now)
    pages = compiled_pages = plannable = 0
    for parent, template, orderings in NESTED_PAGES:
        for ordering in orderings:
            query = template.replace("ORDER", ordering)
            seen: set[str | None] = set()
            waiting: list[str | None] = [None]
            while waiting and len(seen) < 6:
                after = waiting.pop(0)
                if after in seen:
                    continue
                seen.add(after)
                variables = {"after": after}
                if "$id" in query:
                    variables["id"] = parents[parent]
                compiled, standard = await run_both(compiling, query, variables, user, now)
                assert compiled == standard, (query, variables)
                data = orjson.loads(standard)
                assert data["errors"] == [], (query, variables)
                waiting += _cursors(data["data"])
                pages += 1
                plannable += 1 if parent else 0  # the root ``instruments`` has no plans
                context = RequestContext(
                    engine=compiling.engine, settings=compiling.settings, access=access
                )
                statement_counter.reset()
                await compiling.schema.execute(
                    query, variable_values=variables, context_value=context
                )
                if statement_counter.count == 1:
                    compiled_pages += 1
    # Not vacuous: many pages after a cursor, each answered by one compiled statement
    # (or none of them, on a database that leaves them to the standard path).
    assert pages >= 60, pages
    assert compiled_pages == (pages if compiles else 0), (compiled_pages, pages)
    # And operation plans answer them, the cursors bound as parameters (run_both checks
    # each plan's answer against the standard one).
    planned = len(PLANNED) - planned_before
    assert planned == (plannable if compiles else 0), (planned, plannable)


async def test_the_pages_after_every_cursor_of_a_listing_share_one_template(
    compiling: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cursor's values are bound to a template, not written into it: after the first
    page after a cursor, the pages after the next cursors of the same listing make no
    template of their own (with the values as literals, each cursor compiled one, and the
    quick bench's file listing rose to 3.4-12x of hand-written SQL)."""
    from gateway.compiled.dialects import json_dialect
    from gateway.compiled.templates import template as compiled_template

    dialect = json_dialect(compiling.engine.dialect.name)
    assert dialect is not None
    monkeypatch.setattr(dialect, "cursor_pages", True)
    parents = await _nested_page_parents(compiling)
    query = NESTED_PAGES[0][1].replace("ORDER", "").replace("first: 3", "first: 1")
    compiled_template.cache_clear()
    variables: dict[str, Any] = {"id": parents["DATASET"], "after": None}
    made: list[int] = []
    while len(made) < 6:
        data = await compiling.data(query, variables, user=STAFF)
        made.append(compiled_template.cache_info().misses)
        page = data["dataset"]["datafiles"]["pageInfo"]
        if not page["hasNextPage"]:
            break
        variables["after"] = page["endCursor"]
    compiled_template.cache_clear()
    assert len(made) >= 3, f"the listing should hold 3 pages of one file: {len(made)}"
    # The first page and the first page after a cursor each made their template (they
    # differ: one has a keyset condition); the pages after the next cursors made none.
    assert made[0] >= 1 and made[1] > made[0], made
    assert made[-1] == made[1], made


AWKWARD_NAMES = [
    "plain.h5",
    "",
    'a "quoted" \\back\\slashed/ name',
    "tab\tnew\nline\rform\x0cbell\x07",
    "\x0b\x0e\x0f\x1a\x1b\x1c\x1d\x1e\x1f\x7f",
    "\\u001F and \\\\u000B as text",
    "é ß 中 😀 \u2028 \u00a0 \ufeff",
    "long " * 40,
]


async def test_cursors_written_in_sql_are_those_the_standard_path_writes(
    compiling: Client,
) -> None:
    """``render.cursor_text`` in each database's SQL, byte for byte as
    ``pagination.encode_cursor``: texts with quotes, backslashes, control characters and
    text that looks like escapes, non-ASCII, a cursor past base64's 76-character lines,
    date-times with and without microseconds, NULLs, large and negative ids."""
    from sqlalchemy import BigInteger, DateTime, String, literal

    from gateway.catalogue.pagination import SortKey, encode_cursor
    from gateway.compiled.dialects import json_dialect
    from gateway.compiled.render import cursor_text

    dialect = json_dialect(compiling.engine.dialect.name)
    assert dialect is not None
    keys = [
        SortKey(Datafile.name),
        SortKey(Datafile.datafile_create_time, nullable=True),
        SortKey(Datafile.id),
    ]
    listing = "datafiles_of_dataset:CREATE_TIME:desc"
    times = [datetime(2024, 5, 1, 10, 0, 0), datetime(1999, 12, 31, 23, 59, 59, 1), None]
    ids = [1, -7, 2**62 + 3]
    checked = 0
    async with compiling.engine.connect() as connection:
        for number, name in enumerate(AWKWARD_NAMES):
            time, icat_id = times[number % 3], ids[number % 3]
            values = [
                literal(name, String()),
                literal(time, DateTime()),
                literal(icat_id, BigInteger()),
            ]
            written = cursor_text(dialect, listing, values, keys)
            got = (await connection.execute(select(written))).scalar_one()
            assert got == encode_cursor(listing, [name, time, icat_id]), name
            checked += 1
    assert checked == len(AWKWARD_NAMES)


PAGE_AFTER = """query($id: ID!, $after: String) { dataset(id: $id) {
  datafiles(first: 2, after: $after) { pageInfo { hasNextPage endCursor }
    nodes { id name fileSize } } } }"""


async def test_mariadb_plans_fill_no_temporary_table_on_disk(planning: Client) -> None:
    """On MariaDB an aggregate over JSON (a session's instruments) or a derived table with
    a JSON column (a page of files) was a temporary table of Aria's, made on disk per
    statement: half of a DOI lookup's statement. A plan aggregates rows' JSON as bounded
    text (``dialects.MariaDBJson``), in memory; its statements make none, and answer as
    the standard path."""
    if planning.engine.dialect.name not in ("mysql", "mariadb"):
        pytest.skip("MariaDB's temporary tables")
    ids = await _ids(planning)
    parents = await _nested_page_parents(planning)
    access = await planning.access(None)
    context = RequestContext(engine=planning.engine, settings=planning.settings, access=access)
    first = await planning.schema.execute(
        PAGE_AFTER, variable_values={"id": parents["DATASET"]}, context_value=context
    )
    assert first.errors is None and first.data is not None
    after = first.data["dataset"]["datafiles"]["pageInfo"]["endCursor"]
    asks = [
        (DOI_QUERY, {"doi": ids["DOI"]}),
        (PAGE_AFTER, {"id": parents["DATASET"], "after": after}),
    ]
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    for query, variables in asks:
        assert (await operations.answer(planning.engine, query, None, variables, access)).learn
        operations.learn(query, None, variables, access)
        planned = await operations.answer(planning.engine, query, None, variables, access)
        assert planned.text is not None, query
        standard = await planning.schema.execute(
            query, variable_values=variables, context_value=context
        )
        assert orjson.loads(planned.text) == standard.data, query
    plans = [plan for plan, _ in operations._plans._items.values()]
    assert len(plans) == len(asks) and all(plan.bounded for plan in plans)  # type: ignore[union-attr]
    async with planning.engine.connect() as connection:

        async def on_disk() -> int:
            status = "SHOW SESSION STATUS LIKE 'Created_tmp_disk_tables'"
            return int((await connection.exec_driver_sql(status)).one()[1])

        for plan, (_, variables) in zip(plans, asks, strict=True):
            arguments = tuple(plan.arguments(variables, access))  # type: ignore[union-attr]
            before = await on_disk()
            await connection.exec_driver_sql(plan.sql, arguments)  # type: ignore[union-attr]
            assert await on_disk() == before, plan.sql  # type: ignore[union-attr]


def test_a_cursor_whose_warnings_cannot_be_read_counts_as_warned() -> None:
    """``operations.warned`` reads the driver's result; without one, the plan declines."""
    from types import SimpleNamespace

    from gateway.compiled.operations import warned

    def adapted(result: Any) -> Any:
        return SimpleNamespace(_cursor=SimpleNamespace(_result=result))

    assert not warned(adapted(SimpleNamespace(warning_count=0)))
    assert warned(adapted(SimpleNamespace(warning_count=2)))
    assert warned(adapted(None)) and warned(SimpleNamespace())


async def test_a_cut_value_is_not_written_to_the_log(
    planning: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """asyncmy logs a statement's warnings itself: a bounded plan's cut text ("Truncated
    incorrect CHAR(512) value: '...'") would put the caller's data in the operator's log.
    Where plans check warnings, the warning is logged with its value withheld."""
    if planning.engine.dialect.name not in ("mysql", "mariadb"):
        pytest.skip("MariaDB's warnings, logged by asyncmy")
    Operations(planning.schema, planning.settings, planning.engine.dialect)
    with caplog.at_level(logging.WARNING, logger="asyncmy"):
        async with planning.engine.connect() as connection:
            cut = "SELECT CAST(REPEAT('sentinel ', 100) AS CHAR(512))"
            assert len((await connection.exec_driver_sql(cut)).scalar_one()) == 512
    logged = [r.getMessage() for r in caplog.records if r.name == "asyncmy"]
    assert logged and all("(withheld)" in m for m in logged), logged
    assert not any("sentinel" in m for m in logged), logged
