"""Operation plans are kept per shape of a request, not per value.

The texts a request's variables hold (search words, proposals, beamlines), its DOIs and
its ids are bind parameters of one kept statement: the second word searched for is
answered by the plan the first one made, and so is the hundredth. Every answer equals the
standard path's.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from gateway.catalogue.models import Instrument, Investigation, Keyword
from gateway.catalogue.search_documents import INDEX_STATES, forget_index_states
from gateway.catalogue.text_search import TextIndex, text_index
from gateway.compiled.operations import Operations
from gateway.resolvers.context import RequestContext
from tests.conftest import STAFF, Client

SEARCH = """query($text: String!, $first: Int) {
  investigations(filter: {search: $text}, first: $first) {
    totalCount nodes { id proposal title releaseDate } } }"""

BY_PROPOSAL = """query($text: String!, $first: Int) {
  investigations(filter: {proposal: $text}, first: $first) {
    totalCount nodes { id proposal title releaseDate } } }"""

FILTERED = """query($filter: InvestigationFilter) {
  investigations(filter: $filter, first: 5) { totalCount nodes { id proposal } } }"""

DOI = """query($doi: String!) { doi(doi: $doi) { __typename
  ... on Investigation { id proposal title } } }"""


@pytest.fixture
def planning(client: Client) -> Client:
    """The catalogue on every database: operation plans run on each."""
    assert Operations.applies(client.settings, client.engine), client.engine.dialect.name
    return client


async def _answers(
    client: Client,
    operations: Operations,
    query: str,
    asks: list[dict[str, Any]],
    user: str | None,
) -> tuple[int, int]:
    """Each request as the endpoint runs it (plan, else the standard way and learn);
    every planned answer is compared with the standard path's. (answered, asked)."""
    access = await client.access(user)
    context = RequestContext(engine=client.engine, settings=client.settings, access=access)
    answered = 0
    for variables in asks:
        outcome = await operations.answer(client.engine, query, None, variables, access)
        standard = await client.schema.execute(
            query, variable_values=variables, context_value=context
        )
        assert not standard.errors, standard.errors
        if outcome.text is not None:
            answered += 1
            assert orjson.loads(outcome.text) == standard.data, variables
        elif outcome.learn:
            index = await text_index(client.engine)  # as the request read it
            operations.learn(query, None, variables, access, text_index=index)
    return answered, len(asks)


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
async def test_texts_share_one_plan(planning: Client, user: str | None) -> None:
    """Proposals, a text a filter compares ignoring case: one plan for every value."""
    async with planning.engine.connect() as connection:
        proposals = (await connection.scalars(select(Investigation.name).distinct().limit(6))).all()
    assert len(proposals) >= 3
    # As typed: in lower case, with spaces around (the filter ignores both, and a plan
    # must too, as the standard path does).
    typed = [proposals[0].lower(), f"  {proposals[1]} "]
    asks = [{"text": p, "first": 10} for p in [*proposals, *typed, "NO-SUCH-PROPOSAL"]]
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    answered, asked = await _answers(planning, operations, BY_PROPOSAL, asks, user)
    assert operations.kept == 1  # one plan for every proposal
    assert answered == asked - 1  # all but the first, which made the plan
    # A page size is part of the statement (its LIMIT): another size, another plan.
    again = [{"text": proposals[0], "first": 3}] * 2
    await _answers(planning, operations, BY_PROPOSAL, again, user)
    assert operations.kept == 2


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
async def test_free_text_shares_one_plan(planning: Client, user: str | None) -> None:
    """The indexed, ranked search (catalogue.text_search): its words are bind parameters
    of one plan, which answers every later word as the standard path does. Words of
    another shape than the plan's (PostgreSQL: too short for the trigrams; MariaDB: none
    in its index) and texts that are no search are left to the standard path."""
    async with planning.engine.connect() as connection:
        words = (
            await connection.scalars(
                select(func.lower(Keyword.name)).group_by(func.lower(Keyword.name)).limit(4)
            )
        ).all()
    assert len(words) == 4
    asks = [{"text": word, "first": 10} for word in [*words, f"{words[0]} {words[1]}"]]
    asks += [{"text": "  ESRF  ", "first": 10}, {"text": "NO-SUCH-WORD", "first": 10}]
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    answered, asked = await _answers(planning, operations, SEARCH, asks, user)
    assert operations.kept == 1
    assert answered == asked - 1  # all but the first, which made the plan
    declined = [{"text": "x" * 201, "first": 10}]  # too long: BAD_USER_INPUT, standard
    if planning.engine.dialect.name != "sqlite":  # SQLite's FTS5 reads any word alike
        declined.append({"text": "ab", "first": 10})
    before = operations.answered
    for variables in declined:
        outcome = await operations.answer(
            planning.engine, SEARCH, None, variables, await planning.access(user)
        )
        assert outcome.text is None
    assert operations.answered == before


ORDERED_SEARCH = """query($text: String!, $first: Int, $order: InvestigationOrder) {
  investigations(filter: {search: $text}, first: $first, orderBy: $order) {
    totalCount pageInfo { hasNextPage hasPreviousPage } nodes { id proposal } } }"""


async def test_planned_searches_answer_every_ordering_and_page_size(planning: Client) -> None:
    """A search's plan per ordering and page size (none, relevance either way, a date,
    a title; an empty page): each answers the later words as the standard path does,
    a word that matches nothing included."""
    async with planning.engine.connect() as connection:
        words = (
            await connection.scalars(
                select(func.lower(Keyword.name)).group_by(func.lower(Keyword.name)).limit(2)
            )
        ).all()
    orders: list[tuple[int, dict[str, str] | None]] = [
        (3, None),
        (0, None),
        (4, {"field": "RELEVANCE", "direction": "ASC"}),
        (4, {"field": "START_DATE", "direction": "DESC"}),
        (2, {"field": "TITLE", "direction": "ASC"}),
    ]
    asks = [
        {"text": word, "first": first, "order": order}
        for first, order in orders
        for word in [*words, "nosuchwordanywhere"]
    ]
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    answered, asked = await _answers(planning, operations, ORDERED_SEARCH, asks, "esrf/pi1")
    assert operations.kept == len(orders)
    assert answered == asked - len(orders)


async def test_a_search_plan_follows_the_index_state(planning: Client) -> None:
    """A search's plan is made for the index's state the request read: when the process
    reads another (here: as if the documents were never built), the plan is dropped and
    the request runs the standard way; no plan is made until the index is built."""
    engine = planning.engine
    access = await planning.access(None)
    operations = Operations(planning.schema, planning.settings, engine.dialect)
    asked = {"text": "esrf", "first": 5}
    await _answers(planning, operations, SEARCH, [asked] * 2, None)
    assert operations.kept == 1 and operations.answered == 1
    built = await text_index(engine)
    unbuilt = TextIndex(built.dialect, None, built.trigrams)
    INDEX_STATES.put(engine, unbuilt, INDEX_STATES.reading())
    try:
        outcome = await operations.answer(engine, SEARCH, None, asked, access)
        assert outcome.text is None and outcome.learn
        assert operations.kept == 0
        operations.learn(SEARCH, None, asked, access, text_index=unbuilt)
        assert operations.kept == 0  # not planned, nor marked unplanned
    finally:
        forget_index_states()
    await _answers(planning, operations, SEARCH, [asked] * 2, None)
    assert operations.kept == 1 and operations.answered == 2


async def test_texts_inside_an_input_object_are_bound(planning: Client) -> None:
    async with planning.engine.connect() as connection:
        proposals = (await connection.scalars(select(Investigation.name).limit(4))).all()
        beamlines = (await connection.scalars(select(Instrument.name).limit(3))).all()
    asks: list[dict[str, Any]] = [{"filter": {"proposal": p}} for p in proposals]
    asks += [{"filter": {"instrument": b, "released": True}} for b in beamlines]
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    answered, asked = await _answers(planning, operations, FILTERED, asks, STAFF)
    # Two shapes (a proposal; a beamline and released): two plans, each made once.
    assert operations.kept == 2
    assert answered == asked - 2


async def test_dois_share_one_plan(planning: Client) -> None:
    async with planning.engine.connect() as connection:
        dois = (
            await connection.scalars(
                select(Investigation.doi).where(Investigation.doi.is_not(None)).limit(5)
            )
        ).all()
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    answered, asked = await _answers(
        planning, operations, DOI, [{"doi": doi} for doi in dois], STAFF
    )
    assert operations.kept == 1
    assert answered == asked - 1


ORDERED = """query($order: InvestigationOrder, $text: String!) {
  investigations(orderBy: $order, filter: {instrument: $text}, first: 4) {
    nodes { id proposal title } } }"""


async def test_an_ordering_keys_the_plan(planning: Client) -> None:
    """An enum is not a text: each ordering is a plan of its own, whatever the beamline."""
    async with planning.engine.connect() as connection:
        words = (await connection.scalars(select(Instrument.name).limit(3))).all()
    orders = [
        {"field": "TITLE", "direction": "ASC"},
        {"field": "TITLE", "direction": "DESC"},
        {"field": "START_DATE", "direction": "DESC"},
    ]
    asks = [{"order": order, "text": word} for order in orders for word in words]
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    answered, asked = await _answers(planning, operations, ORDERED, asks, "esrf/pi1")
    assert operations.kept == len(orders)
    assert answered == asked - len(orders)


PAGES = """query($first: Int, $after: String, $last: Int, $before: String,
  $order: InvestigationOrder) {
  investigations(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id proposal startDate } } }"""


@pytest.mark.parametrize("user", [None, "esrf/pi1", STAFF])
@pytest.mark.parametrize(
    "order", [None, {"field": "TITLE", "direction": "ASC"}], ids=["newest", "title"]
)
async def test_cursor_pages_share_one_plan(
    planning: Client, user: str | None, order: dict[str, str] | None
) -> None:
    """Every page of a list, forwards then backwards, its cursors given as variables: one
    plan per direction, whatever the cursor; each page equals the standard path's (its
    cursors, its pageInfo, its total)."""
    access = await planning.access(user)
    context = RequestContext(engine=planning.engine, settings=planning.settings, access=access)
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    answered = asked = 0

    async def page(variables: dict[str, Any]) -> Any:
        nonlocal answered, asked
        variables = {**variables, "order": order}
        outcome = await operations.answer(planning.engine, PAGES, None, variables, access)
        standard = await planning.schema.execute(
            PAGES, variable_values=variables, context_value=context
        )
        assert not standard.errors, standard.errors
        asked += 1
        if outcome.text is not None:
            answered += 1
            assert orjson.loads(outcome.text) == standard.data, variables
        elif outcome.learn:
            operations.learn(PAGES, None, variables, access)
        return standard.data["investigations"]

    seen: list[str] = []
    cursor = None
    while True:  # forwards, three at a time
        data = await page({"first": 3, "after": cursor})
        seen += [node["id"] for node in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        cursor = data["pageInfo"]["endCursor"]
    assert len(seen) == data["totalCount"] >= 7
    backwards: list[str] = []
    cursor = None
    while True:  # backwards, from the end
        data = await page({"last": 3, "before": cursor})
        backwards = [node["id"] for node in data["nodes"]] + backwards
        if not data["pageInfo"]["hasPreviousPage"]:
            break
        cursor = data["pageInfo"]["startCursor"]
    assert backwards == seen
    # First pages, pages after a cursor, last pages, pages before one: a plan each (and
    # another for a cursor whose sort key is NULL, where the list has such rows).
    assert operations.kept <= 6, operations.kept
    assert answered >= asked - 6 and answered >= len(seen) // 3, (answered, asked)


async def test_a_cursor_of_another_ordering_is_the_standard_paths_to_refuse(
    planning: Client,
) -> None:
    """A cursor of the same list in the other direction holds values of the same types:
    only its listing tells it apart, and the plan declines it as the standard path does."""
    access = await planning.access(STAFF)
    context = RequestContext(engine=planning.engine, settings=planning.settings, access=access)
    operations = Operations(planning.schema, planning.settings, planning.engine.dialect)
    ascending = {"field": "TITLE", "direction": "ASC"}
    descending = {"field": "TITLE", "direction": "DESC"}
    cursors = {}
    for order in (ascending, descending):
        first = await planning.schema.execute(
            PAGES, variable_values={"first": 2, "order": order}, context_value=context
        )
        cursors[order["direction"]] = first.data["investigations"]["pageInfo"]["endCursor"]
    for _ in range(2):  # planned with a cursor of the descending list
        variables = {"first": 2, "after": cursors["DESC"], "order": descending}
        if (await operations.answer(planning.engine, PAGES, None, variables, access)).learn:
            operations.learn(PAGES, None, variables, access)
    assert operations.answered == 1
    wrong = {"first": 2, "after": cursors["ASC"], "order": descending}
    outcome = await operations.answer(planning.engine, PAGES, None, wrong, access)
    assert outcome.text is None
    refused = await planning.schema.execute(PAGES, variable_values=wrong, context_value=context)
    assert refused.errors and refused.errors[0].extensions["code"] == "BAD_USER_INPUT"
