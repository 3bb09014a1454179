"""The read API on the demo catalogue, on every database that answers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from gateway.catalogue.pagination import cursor_listing, encode_cursor
from gateway.schema.node import global_id
from tests.conftest import STAFF, Client, StatementCounter

SESSIONS = """
query Sessions($first: Int, $after: String, $last: Int, $before: String,
               $filter: InvestigationFilter, $orderBy: InvestigationOrder) {
  investigations(first: $first, after: $after, last: $last, before: $before,
                 filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id proposal visitId title startDate releaseDate isReleased doi
                          instruments { name } } }
  }
}
"""


async def all_sessions(client: Client, **variables: Any) -> list[dict[str, Any]]:
    """Follow the cursors to the end, 7 at a time."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = await client.data(SESSIONS, {"first": 7, "after": after, **variables})
        connection = data["investigations"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            assert len(nodes) == connection["totalCount"]
            return nodes
        after = connection["pageInfo"]["endCursor"]


async def test_first_ten_sessions_with_beamline_team_and_dataset_counts(client: Client) -> None:
    data = await client.data(
        """{ investigations(first: 10) { totalCount nodes {
               proposal visitId title instruments { name } team { nodes { role user { fullName } } }
               datasets { totalCount } } } }"""
    )
    nodes = data["investigations"]["nodes"]
    assert len(nodes) == 10
    assert data["investigations"]["totalCount"] >= 10
    for node in nodes:
        assert node["instruments"], node
        assert any(member["role"] == "Principal investigator" for member in node["team"]["nodes"])
        assert node["datasets"]["totalCount"] >= 0


async def test_paging_forward_visits_every_session_once_in_order(client: Client) -> None:
    nodes = await all_sessions(client)
    ids = [node["id"] for node in nodes]
    assert len(ids) == len(set(ids)) == 60
    starts = [node["startDate"] for node in nodes if node["startDate"] is not None]
    assert starts == sorted(starts, reverse=True)


async def test_paging_backward_mirrors_forward(client: Client) -> None:
    forward = [
        node["id"]
        for node in await all_sessions(client, orderBy={"field": "PROPOSAL", "direction": "ASC"})
    ]
    backward: list[str] = []
    before = None
    while True:
        data = await client.data(
            SESSIONS,
            {"last": 9, "before": before, "orderBy": {"field": "PROPOSAL", "direction": "ASC"}},
        )
        connection = data["investigations"]
        backward = [edge["node"]["id"] for edge in connection["edges"]] + backward
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]
    assert backward == forward


@pytest.mark.parametrize(
    "field", ["START_DATE", "END_DATE", "RELEASE_DATE", "PROPOSAL", "INSTRUMENT", "TITLE"]
)
async def test_every_ordering_pages_consistently(client: Client, field: str) -> None:
    for direction in ("ASC", "DESC"):
        nodes = await all_sessions(client, orderBy={"field": field, "direction": direction})
        assert len({node["id"] for node in nodes}) == 60
        if field == "PROPOSAL":
            keys = [(n["proposal"], n["visitId"]) for n in nodes]
            assert keys == sorted(keys, reverse=direction == "DESC")
        if field == "RELEASE_DATE":
            dated = [n["releaseDate"] for n in nodes if n["releaseDate"] is not None]
            assert dated == sorted(dated, reverse=direction == "DESC")
            # NULLs (never released) sort last in both directions.
            nulls = [n["releaseDate"] is None for n in nodes]
            assert nulls == sorted(nulls)


async def test_filters(client: Client) -> None:
    everything = await all_sessions(client)
    some = everything[3]
    by_proposal = await all_sessions(client, filter={"proposal": some["proposal"]})
    assert by_proposal and all(n["proposal"] == some["proposal"] for n in by_proposal)
    beamline = some["instruments"][0]["name"]
    by_beamline = await all_sessions(client, filter={"instrument": beamline})
    assert by_beamline and all(
        beamline in {i["name"] for i in n["instruments"]} for n in by_beamline
    )
    released = await all_sessions(client, filter={"released": True})
    embargoed = await all_sessions(client, filter={"released": False})
    assert len(released) + len(embargoed) == len(everything)
    assert all(n["isReleased"] for n in released) and not any(n["isReleased"] for n in embargoed)
    word = some["title"].split()[0]
    found = await all_sessions(client, filter={"search": word.upper()})
    assert some["id"] in {n["id"] for n in found}


@pytest.mark.parametrize("field", ["START_DATE", "PROPOSAL", "INSTRUMENT"])
async def test_free_text_pages_forward_and_backward_alike(client: Client, field: str) -> None:
    """Free text counts and pages its matches in one evaluation (PostgreSQL): pages
    followed forwards and backwards hold the same sessions, and as many as the total."""
    order = {"field": field, "direction": "DESC"}
    for user in (None, STAFF):
        search = {"search": "struct"}  # the start of a word: structure, structural...
        forward = await all_sessions(client, filter=search, orderBy=order)
        assert len(forward) > 7  # more than a page
        backward: list[dict[str, Any]] = []
        before = None
        while True:
            data = await client.data(
                SESSIONS,
                {"last": 5, "before": before, "filter": search, "orderBy": order},
                user=user,
            )
            connection = data["investigations"]
            backward = [edge["node"] for edge in connection["edges"]] + backward
            if not connection["pageInfo"]["hasPreviousPage"]:
                break
            before = connection["pageInfo"]["startCursor"]
        if user is None:
            assert [n["id"] for n in backward] == [n["id"] for n in forward]
        assert len(backward) == connection["totalCount"]


async def test_date_range_filter(client: Client) -> None:
    everything = await all_sessions(client)
    dated = sorted(n["startDate"] for n in everything if n["startDate"])
    since, until = dated[10], dated[30]
    within = await all_sessions(client, filter={"dates": {"since": since, "until": until}})
    assert within
    assert all(n["startDate"] <= until for n in within)


async def test_one_session_by_id_doi_and_proposal(client: Client) -> None:
    some = (await all_sessions(client))[5]
    query = """query($id: ID, $doi: String, $proposal: String, $visitId: String) {
      investigation(id: $id, doi: $doi, proposal: $proposal, visitId: $visitId) { id } }"""
    for variables in (
        {"id": some["id"]},
        {"doi": some["doi"]},
        {"doi": "https://doi.org/" + some["doi"].lower()},
        {"proposal": some["proposal"], "visitId": some["visitId"]},
    ):
        assert (await client.data(query, variables))["investigation"]["id"] == some["id"]


async def test_doi_lookup_resolves_sessions_and_publications(client: Client) -> None:
    some = (await all_sessions(client))[0]
    data = await client.data(
        "query($doi: String!) { doi(doi: $doi) { __typename ... on Investigation { id } } }",
        {"doi": some["doi"]},
    )
    assert data["doi"] == {"__typename": "Investigation", "id": some["id"]}
    publications = await client.data(
        "{ dataPublications(first: 50) { nodes { doi isPublished } } }"
    )
    published = [p for p in publications["dataPublications"]["nodes"] if p["isPublished"]]
    assert published
    data = await client.data(
        "query($doi: String!) { doi(doi: $doi) { __typename ... on DataPublication { doi } } }",
        {"doi": published[0]["doi"]},
    )
    assert data["doi"]["__typename"] == "DataPublication"
    assert (await client.data('{ doi(doi: "10.5072/NOPE") { __typename } }'))["doi"] is None


async def test_dataset_filters_by_technique_and_parameter_range(client: Client) -> None:
    data = await client.data(
        """{ datasets(first: 50) { totalCount nodes { id techniques { name }
               parameters { name units valueKind numericValue } } } }""",
        user="esrf/staff1",
    )
    datasets = data["datasets"]["nodes"]
    technique = datasets[0]["techniques"][0]["name"]
    with_technique = await client.data(
        """query($t: String) { datasets(first: 1000, filter: {technique: $t}) {
             nodes { techniques { name } } } }""",
        {"t": technique},
        user="esrf/staff1",
    )
    assert with_technique["datasets"]["nodes"]
    assert all(
        technique in {t["name"] for t in d["techniques"]}
        for d in with_technique["datasets"]["nodes"]
    )
    numeric = next(p for d in datasets for p in d["parameters"] if p["valueKind"] == "NUMERIC")
    value = numeric["numericValue"]
    ranged = await client.data(
        """query($p: [ParameterRange!]) { datasets(first: 1000, filter: {parameters: $p}) {
             nodes { parameters { name numericValue } } } }""",
        {"p": [{"name": numeric["name"], "min": value - 1e-9, "max": value + 1e-9}]},
        user="esrf/staff1",
    )
    assert ranged["datasets"]["nodes"]
    for dataset in ranged["datasets"]["nodes"]:
        values = [p["numericValue"] for p in dataset["parameters"] if p["name"] == numeric["name"]]
        assert any(abs(v - value) < 1e-6 for v in values)


@pytest.mark.timeout(60)
async def test_ten_parameter_ranges_answer_with_one_subquery_for_all(
    client: Client, statement_counter: StatementCounter
) -> None:
    """8 ranges took 1.8 s on MariaDB and 10 did not answer within the 10 s timeout: one
    EXISTS per range, each flattened into a semi-join whose orders MariaDB's optimizer
    weighed. Now every range is a condition of one grouped subquery: the statement reads
    DATASETPARAMETER once whatever the number of ranges, and 10 ranges (of which each
    dataset found meets every one) answer on every database."""
    data = await client.data(
        "{ datasets(first: 50) { nodes { id parameters { name numericValue } } } }",
        user="esrf/staff1",
    )
    dataset = next(
        d
        for d in data["datasets"]["nodes"]
        if sum(p["numericValue"] is not None for p in d["parameters"]) >= 2
    )
    numeric = [p for p in dataset["parameters"] if p["numericValue"] is not None]
    query = """query($p: [ParameterRange!]) { datasets(first: 1000, filter: {parameters: $p}) {
        totalCount nodes { id } } }"""
    reads = []
    for count in (1, 10):
        ranges = [
            {"name": p["name"], "min": p["numericValue"] - 1, "max": p["numericValue"] + 1}
            for p in (numeric * 10)[:count]
        ]
        before = len(statement_counter.statements)
        found = await client.data(query, {"p": ranges}, user="esrf/staff1")
        assert dataset["id"] in {d["id"] for d in found["datasets"]["nodes"]}
        sent = " ".join(statement_counter.statements[before:]).upper()
        reads.append(len(re.findall(r"(?:FROM|JOIN) [`\"]?DATASETPARAMETER\b", sent)))
    assert reads[0] == reads[1] > 0, reads


async def test_instruments_and_node(client: Client) -> None:
    data = await client.data(
        "{ instruments(first: 100) { totalCount nodes { id name facility { name } } } }"
    )
    instruments = data["instruments"]["nodes"]
    assert len(instruments) == data["instruments"]["totalCount"] >= 10
    names = [i["name"] for i in instruments]
    assert names == sorted(names)
    node = await client.data(
        "query($id: ID!) { node(id: $id) { __typename ... on Instrument { name } } }",
        {"id": instruments[0]["id"]},
    )
    assert node["node"] == {"__typename": "Instrument", "name": instruments[0]["name"]}


def error_codes(result: Any) -> list[str]:
    assert result.errors, "expected errors"
    return [error.extensions["code"] for error in result.errors]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('{ investigation(id: "SW52ZXN0aWdhdGlvbjo5OTk5OTk5") { id } }', "NOT_FOUND"),
        ('{ investigation(id: "garbage") { id } }', "BAD_USER_INPUT"),
        ('{ investigation(id: "RGF0YXNldDox") { id } }', "BAD_USER_INPUT"),
        ("{ investigation { id } }", "BAD_USER_INPUT"),
        ('{ investigations(after: "nonsense") { totalCount } }', "BAD_USER_INPUT"),
        ("{ investigations(first: 100000) { totalCount } }", "BAD_USER_INPUT"),
        ("{ investigations(first: -1) { totalCount } }", "BAD_USER_INPUT"),
        (
            """{ investigations(filter: {dates: {since: "2024-01-02T00:00:00",
                                                  until: "2023-01-01T00:00:00"}}) {
                   totalCount } }""",
            "BAD_USER_INPUT",
        ),
        ('{ investigations(filter: {search: "   "}) { totalCount } }', "BAD_USER_INPUT"),
        (
            '{ datasets(filter: {parameters: [{name: "x", min: 2, max: 1}]}) { totalCount } }',
            "BAD_USER_INPUT",
        ),
        ('{ dataset(id: "RGF0YXNldDo5OTk5OTk5OQ==") { id } }', "NOT_FOUND"),
        ("{ investigations { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ('{ investigations(first: "ten") { totalCount } }', "GRAPHQL_VALIDATION_FAILED"),
        ("{ investigations(", "GRAPHQL_PARSE_FAILED"),
    ],
)
async def test_bad_input_is_a_coded_graphql_error(client: Client, query: str, code: str) -> None:
    result = await client.execute(query)
    assert error_codes(result) == [code]
    assert "Traceback" not in str(result.errors[0].message)


@pytest.mark.parametrize(
    "lookup",
    [
        'investigation(id: "SW52ZXN0aWdhdGlvbjo5OTk5OTk5") { id }',
        'investigation(proposal: "NO-SUCH", visitId: "1") { id }',
        'dataset(id: "RGF0YXNldDo5OTk5OTk5OQ==") { id }',
        'datafile(id: "RGF0YWZpbGU6OTk5OTk5OTk=") { id }',
        'instrument(name: "NO-SUCH") { id }',
    ],
)
async def test_a_root_lookup_not_found_nulls_that_field_alone(client: Client, lookup: str) -> None:
    """As GitHub's and Shopify's APIs do: the sibling root field keeps its answer."""
    result = await client.execute(
        f"{{ missing: {lookup} beside: investigations {{ totalCount }} }}"
    )
    assert error_codes(result) == ["NOT_FOUND"], result.errors
    assert result.errors[0].path == ["missing"]
    assert result.data is not None and result.data["missing"] is None
    assert result.data["beside"]["totalCount"] > 0


OUT_OF_RANGE_IDS = [2**63, 10**20, 0, -1, -(10**20)]
"""ICAT ids no row can have: beyond BIGINT (which the drivers refuse to bind), and not
positive."""

ID_PATHS = {
    "node": ("query($id: ID!) { node(id: $id) { id } }", "Investigation"),
    "investigation": ("query($id: ID!) { investigation(id: $id) { id } }", "Investigation"),
    "dataset": ("query($id: ID!) { dataset(id: $id) { id } }", "Dataset"),
    "datafile": ("query($id: ID!) { datafile(id: $id) { id } }", "Datafile"),
    "instrument": ("query($id: ID!) { instrument(id: $id) { id } }", "Instrument"),
    "datasets by session": (
        "query($id: ID!) { datasets(filter: {investigationId: $id}) { totalCount } }",
        "Investigation",
    ),
    "datasets by sample": (
        "query($id: ID!) { datasets(filter: {sampleId: $id}) { totalCount } }",
        "Sample",
    ),
    "grantAccess": (
        """mutation($id: ID!) { grantAccess(input: {investigationIds: [$id],
             grantee: {userName: "esrf/pi1"}}) { grants { members { role } } } }""",
        "Investigation",
    ),
    "changeReleaseDate": (
        """mutation($id: ID!) { changeReleaseDate(input: {investigationId: $id,
             releaseDate: null, reason: "test"}) { changeId } }""",
        "Investigation",
    ),
}


@pytest.mark.parametrize("icat_id", OUT_OF_RANGE_IDS)
@pytest.mark.parametrize("path", list(ID_PATHS))
async def test_an_id_no_row_can_have_is_bad_user_input(
    client: Client, path: str, icat_id: int
) -> None:
    """Refused when the id is parsed, before a driver is asked to bind it (PostgreSQL's
    and SQLite's refuse a number beyond 64 bits: that would be an internal error)."""
    query, type_name = ID_PATHS[path]
    result = await client.execute(query, {"id": global_id(type_name, icat_id)}, user=STAFF)
    assert error_codes(result) == ["BAD_USER_INPUT"], result.errors
    assert "ICAT ids lie between 1 and" in result.errors[0].message


@pytest.mark.parametrize("icat_id", OUT_OF_RANGE_IDS)
async def test_a_federation_reference_with_an_id_no_row_can_have_is_bad_user_input(
    client: Client, icat_id: int
) -> None:
    result = await client.execute(
        """query($r: [_Any!]!) { _entities(representations: $r) {
             ... on Investigation { id } } }""",
        {"r": [{"__typename": "Investigation", "id": global_id("Investigation", icat_id)}]},
    )
    assert error_codes(result) == ["BAD_USER_INPUT"], result.errors


async def test_a_cursor_with_an_id_beyond_64_bits_is_bad_user_input(client: Client) -> None:
    listing = cursor_listing("investigations", ("START_DATE", True))
    cursor = encode_cursor(listing, [datetime(2024, 1, 1), 2**63])
    result = await client.execute(
        "query($after: String) { investigations(after: $after) { nodes { id } } }",
        {"after": cursor},
    )
    assert error_codes(result) == ["BAD_USER_INPUT"], result.errors


@pytest.mark.parametrize(
    "values", [["2024-01-01", 5], [datetime(2024, 1, 1), "5"], [1.5, 5], [datetime(2024, 1, 1)]]
)
async def test_a_made_up_cursor_of_the_right_list_is_bad_user_input(
    client: Client, values: list[Any]
) -> None:
    """Values that do not fit the ordering's keys: PostgreSQL's driver refused to bind
    them (an internal error)."""
    cursor = encode_cursor(cursor_listing("investigations", ("START_DATE", True)), values)
    result = await client.execute(
        "query($before: String) { investigations(last: 2, before: $before) { totalCount } }",
        {"before": cursor},
    )
    assert error_codes(result) == ["BAD_USER_INPUT"], result.errors
    assert result.errors[0].extensions["argument"] == "before"


async def test_the_largest_id_is_merely_not_found(client: Client) -> None:
    result = await client.execute(
        "query($id: ID!) { investigation(id: $id) { id } }",
        {"id": global_id("Investigation", 2**63 - 1)},
    )
    assert error_codes(result) == ["NOT_FOUND"], result.errors


NESTED = """
query Nested($first: Int!) {
  investigations(first: $first, orderBy: {field: PROPOSAL, direction: ASC}) {
    totalCount
    nodes {
      proposal facility { name } type { name }
      instruments { name scientists { nodes { name } } }
      team { nodes { role user { fullName } } }
      summary
      datasets(first: 3) {
        totalCount
        nodes { name type { name } sample { name } techniques { name } parameters { name units }
                datafiles(first: 2) { totalCount nodes { name fileSize format } } }
      }
    }
  }
}
"""


@pytest.mark.parametrize("user", [None, "esrf/pi1", "esrf/staff1"])
async def test_statement_count_does_not_grow_with_the_page(
    client: Client, statement_counter: StatementCounter, user: str | None
) -> None:
    """The standard path (every field resolved by the loaders)."""
    client = client.using(compiled_sql=False)
    counts = {}
    for first in (5, 60):
        await client.access(user)  # resolve the caller outside the measured window
        statement_counter.reset()
        result = await client.execute(NESTED, {"first": first}, user=user)
        # Embargoed summaries are FORBIDDEN for some callers: that's expected here.
        assert all(error.extensions["code"] == "FORBIDDEN" for error in result.errors or [])
        assert len(result.data["investigations"]["nodes"]) == first
        counts[first] = statement_counter.count
    assert counts[5] == counts[60], counts
    # One statement per relation per level: page + total + facility, type, instruments,
    # scientists, team, datasets page + count, dataset type, sample, techniques,
    # parameters, datafiles page + count, format.
    assert counts[60] <= 17, statement_counter.statements


async def test_nested_pages_hold_what_their_totals_promise(client: Client) -> None:
    data = await client.data(
        """{ investigations(first: 60) { nodes { datasets(first: 3) { totalCount
               nodes { name datafiles(first: 2) { totalCount nodes { name } } } } } } }""",
        user="esrf/staff1",
    )
    sessions = data["investigations"]["nodes"]
    assert sum(s["datasets"]["totalCount"] for s in sessions) == 60 * 4
    for session in sessions:
        datasets = session["datasets"]
        assert len(datasets["nodes"]) == min(3, datasets["totalCount"])
        for dataset in datasets["nodes"]:
            files = dataset["datafiles"]
            assert files["totalCount"] == 3
            assert len(files["nodes"]) == 2


async def test_nested_cursors_page_through_one_sessions_datasets(client: Client) -> None:
    query = """query($id: ID, $after: String) { investigation(id: $id) {
      datasets(first: 1, after: $after, orderBy: {field: NAME, direction: ASC}) {
        totalCount pageInfo { hasNextPage endCursor } nodes { name } } } }"""
    session = (await all_sessions(client))[0]
    names: list[str] = []
    after = None
    while True:
        data = await client.data(query, {"id": session["id"], "after": after}, user="esrf/staff1")
        datasets = data["investigation"]["datasets"]
        names += [node["name"] for node in datasets["nodes"]]
        if not datasets["pageInfo"]["hasNextPage"]:
            break
        after = datasets["pageInfo"]["endCursor"]
    assert names == sorted(names) and len(names) == datasets["totalCount"] == 4


GROWING_LISTS = {
    # field: (root list, parent type, what is asked of an item, its sort key or None)
    "team": ("investigations", "Investigation", "role user { name }", None),
    "scientists": ("instruments", "Instrument", "name", "name"),
}


@pytest.mark.parametrize("field", sorted(GROWING_LISTS))
async def test_a_growing_list_is_a_connection_paged_by_its_cursors(
    client: Client, field: str
) -> None:
    """A session's team and a beamline's scientists page as every connection does: one
    item at a time by `after`, in the order of the whole list, as many as `totalCount`;
    a bad cursor, another list's cursor and too large a page are BAD_USER_INPUT."""
    root, parent_type, item, key = GROWING_LISTS[field]
    whole = await client.data(
        f"""{{ {root}(first: 1000) {{ nodes {{ id
              {field}(first: 1000) {{ totalCount nodes {{ {item} }} }} }} }} }}""",
        user=STAFF,
    )
    parents = whole[root]["nodes"]
    parent = max(parents, key=lambda p: p[field]["totalCount"])
    listed = parent[field]["nodes"]
    assert len(listed) == parent[field]["totalCount"] >= 2, parent
    if key is not None:
        assert [n[key] for n in listed] == sorted(n[key] for n in listed)
    page = f"""query($id: ID!, $first: Int, $after: String) {{ node(id: $id) {{
      ... on {parent_type} {{ {field}(first: $first, after: $after) {{ totalCount
        pageInfo {{ hasNextPage hasPreviousPage endCursor }}
        edges {{ cursor node {{ {item} }} }} }} }} }} }}"""
    paged: list[Any] = []
    after = None
    while True:
        data = await client.data(page, {"id": parent["id"], "first": 1, "after": after}, user=STAFF)
        connection = data["node"][field]
        assert connection["totalCount"] == len(listed)
        assert len(connection["edges"]) == 1
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        paged += [edge["node"] for edge in connection["edges"]]
        after = connection["pageInfo"]["endCursor"]
        assert connection["edges"][-1]["cursor"] == after
        if not connection["pageInfo"]["hasNextPage"]:
            break
    assert paged == listed
    datasets = await end_cursor(
        client, SESSION_DATASETS_PAGE, {"id": (await all_sessions(client))[0]["id"]},
        "investigation", "datasets",
    )  # fmt: skip
    maximum = client.settings.max_page_size
    for first, cursor, argument in [
        (1, "not a cursor", "after"),
        (1, datasets, "after"),
        (maximum + 1, None, "first"),
    ]:
        result = await client.execute(
            page, {"id": parent["id"], "first": first, "after": cursor}, user=STAFF
        )
        assert error_codes(result) == ["BAD_USER_INPUT"], (first, cursor, result.errors)
        assert result.errors[0].extensions["argument"] == argument


SESSIONS_PAGE = """query($orderBy: InvestigationOrder) {
  investigations(first: 2, orderBy: $orderBy) { pageInfo { endCursor } } }"""

SESSION_DATASETS_PAGE = """query($id: ID!) { investigation(id: $id) {
  datasets(first: 1) { pageInfo { endCursor } } } }"""


async def end_cursor(client: Client, query: str, variables: dict[str, Any], *path: str) -> str:
    """The end cursor of the connection at ``path`` in the query's answer."""
    connection = await client.data(query, variables, user=STAFF)
    for name in path:
        connection = connection[name]
    cursor = connection["pageInfo"]["endCursor"]
    assert isinstance(cursor, str)
    return cursor


@pytest.mark.parametrize("argument", ["after", "before"])
async def test_a_cursor_is_refused_on_another_list_or_ordering(
    client: Client, argument: str
) -> None:
    """A cursor is a position in one ordering of one list; elsewhere it would compare its
    values with other columns. Refused as BAD_USER_INPUT naming the argument."""
    by_title = {"field": "TITLE", "direction": "ASC"}
    session = (await all_sessions(client))[0]["id"]
    of_sessions = await end_cursor(client, SESSIONS_PAGE, {"orderBy": by_title}, "investigations")
    of_session_datasets = await end_cursor(
        client, SESSION_DATASETS_PAGE, {"id": session}, "investigation", "datasets"
    )
    size = "first" if argument == "after" else "last"
    misuses: list[tuple[str, dict[str, Any]]] = [
        # Sessions by title, used on datasets.
        (
            f"query($c: String) {{ datasets({size}: 2, {argument}: $c) {{ totalCount }} }}",
            {"c": of_sessions},
        ),
        # Sessions by title, used on sessions in another order, or direction.
        (
            f"""query($c: String, $o: InvestigationOrder) {{
                 investigations({size}: 2, {argument}: $c, orderBy: $o) {{ totalCount }} }}""",
            {"c": of_sessions, "o": {"field": "START_DATE", "direction": "ASC"}},
        ),
        (
            f"""query($c: String, $o: InvestigationOrder) {{
                 investigations({size}: 2, {argument}: $c, orderBy: $o) {{ totalCount }} }}""",
            {"c": of_sessions, "o": {"field": "TITLE", "direction": "DESC"}},
        ),
        # The root list's cursor, used on "My data" (another list of sessions).
        (
            f"""query($c: String, $o: InvestigationOrder) {{ me {{
                 investigations({size}: 2, {argument}: $c, orderBy: $o) {{ totalCount }} }} }}""",
            {"c": of_sessions, "o": by_title},
        ),
        # A session's datasets cursor, used on the root datasets and on a dataset's files.
        (
            f"query($c: String) {{ datasets({size}: 2, {argument}: $c) {{ totalCount }} }}",
            {"c": of_session_datasets},
        ),
        (
            f"""query($c: String) {{ datasets(first: 1) {{ nodes {{
                 datafiles({size}: 2, {argument}: $c) {{ totalCount }} }} }} }}""",
            {"c": of_session_datasets},
        ),
        # ... and on the session's datasets in another order.
        (
            f"""query($id: ID!, $c: String) {{ investigation(id: $id) {{
                 datasets({size}: 2, {argument}: $c, orderBy: {{field: NAME}}) {{
                   totalCount }} }} }}""",
            {"id": session, "c": of_session_datasets},
        ),
    ]
    for query, variables in misuses:
        result = await client.execute(query, variables, user=STAFF)
        assert error_codes(result) == ["BAD_USER_INPUT"], (query, result.errors)
        assert result.errors[0].extensions["argument"] == argument
        assert "another list or ordering" in result.errors[0].message


async def test_a_nested_cursor_pages_another_parent_of_the_same_list(client: Client) -> None:
    """The datasets of session A and of session B are one listing: a cursor of A's
    page is a position in the same ordering, and pages B's datasets from there (every
    session's, here, in the one batched statement the cursor makes them share)."""
    query = """query($c: String) { investigations(first: 60) { nodes { id
      datasets(first: 100, after: $c) { nodes { name } } } } }"""
    every = (await client.data(query, {"c": None}, user=STAFF))["investigations"]["nodes"]
    middle = every[len(every) // 2]["id"]
    cursor = await end_cursor(
        client, SESSION_DATASETS_PAGE, {"id": middle}, "investigation", "datasets"
    )
    after = (await client.data(query, {"c": cursor}, user=STAFF))["investigations"]["nodes"]
    kept = cut = 0
    for session, paged in zip(every, after, strict=True):
        names = [n["name"] for n in session["datasets"]["nodes"]]
        rest = [n["name"] for n in paged["datasets"]["nodes"]]
        # The datasets of B from that position on, in their order.
        assert rest == names[len(names) - len(rest) :]
        kept += bool(rest)
        cut += len(rest) < len(names)
    assert kept and cut  # not vacuous: the position is within the other sessions' dates


async def test_my_data_is_searchable_and_sortable(client: Client) -> None:
    data = await client.data(
        """{ me { investigations(filter: {instrument: "ID30A-1"},
                                 orderBy: {field: START_DATE, direction: ASC}) {
               totalCount nodes { startDate instruments { name } myRoles } } } }""",
        user="esrf/pi1",
    )
    sessions = data["me"]["investigations"]["nodes"]
    assert len(sessions) == data["me"]["investigations"]["totalCount"] >= 2
    assert all("ID30A-1" in {i["name"] for i in s["instruments"]} for s in sessions)
    assert all("Principal investigator" in s["myRoles"] for s in sessions)
    starts = [s["startDate"] for s in sessions]
    assert starts == sorted(starts)


@pytest.mark.parametrize("user", [None, "esrf/pi1", "esrf/staff1"])
async def test_compiled_pages_take_one_statement_and_fall_back_per_row(
    client: Client, statement_counter: StatementCounter, user: str | None
) -> None:
    """On every database the page renders its items' JSON itself, in the statement that
    reads the page and counts the list.
    Sessions whose summary the caller may not read resolve the standard way, batched."""
    counts = {}
    for first in (5, 60):
        await client.access(user)
        statement_counter.reset()
        result = await client.execute(NESTED, {"first": first}, user=user)
        assert all(error.extensions["code"] == "FORBIDDEN" for error in result.errors or [])
        assert len(result.data["investigations"]["nodes"]) == first
        counts[first] = statement_counter.count
        if user == "esrf/staff1":  # staff read every summary: nothing falls back
            # One statement: the page, which counts the list too.
            assert counts[first] == 1, statement_counter.statements
    assert counts[5] <= counts[60] <= 17, statement_counter.statements


async def test_an_error_bubbling_through_a_list_fails_only_its_path(client: Client) -> None:
    """A non-null field that fails for every session (a negative page size of their
    datasets) nulls the page. graphql-core then cancels the sibling fields, which share
    loader futures (the facility of every session): the request must still answer with
    coded errors."""
    result = await client.execute(
        "{ investigations(first: 60) { nodes { facility { name } type { name } "
        "datasets(first: -1) { totalCount } } } }"
    )
    assert result.data is None
    assert {error.extensions["code"] for error in result.errors} == {"BAD_USER_INPUT"}


async def test_a_refused_data_list_stays_at_its_own_path(client: Client) -> None:
    """DATA lists are nullable: the FORBIDDEN null of an embargoed session's keywords,
    samples or parameters does not take the page with it."""
    result = await client.execute(
        "{ investigations(first: 60) { nodes { proposal canReadData keywords "
        "samples { name } parameters { name } } } }"
    )
    nodes = result.data["investigations"]["nodes"]
    assert len(nodes) == 60
    refused = {tuple(error.path) for error in result.errors}
    assert refused, "the demo has embargoed sessions"
    for index, node in enumerate(nodes):
        for field in ("keywords", "samples", "parameters"):
            path = ("investigations", "nodes", index, field)
            assert (node[field] is None) == (not node["canReadData"]), (index, field)
            assert (path in refused) == (not node["canReadData"]), path
    assert {error.extensions["code"] for error in result.errors} == {"FORBIDDEN"}


DIRECT = """{ investigations(first: 4) { totalCount facets { instrument { value count } }
  edges { node { proposal datasets(first: 2) { totalCount nodes { name } } } } } }"""
THROUGH_FRAGMENTS = """{ investigations(first: 4) { ...Total ... on InvestigationSearchConnection {
    facets { ...Beamlines } } edges { ... on InvestigationEdge { node { ...Session } } } } }
fragment Total on InvestigationSearchConnection { totalCount }
fragment Beamlines on SessionFacets { instrument { value count } }
fragment Session on Investigation { proposal datasets(first: 2) { ...Datasets } }
fragment Datasets on DatasetConnection { ... on DatasetConnection { totalCount }
  nodes { ...Name } }
fragment Name on Dataset { name }"""


@pytest.mark.parametrize("compiled", [False, True])
async def test_a_connection_asked_through_fragments_answers_as_asked_directly(
    client: Client, statement_counter: StatementCounter, compiled: bool
) -> None:
    """What a connection's resolver reads of its own selection (its total, its page, its
    items' fields, its facets) is found through fragment spreads and inline fragments."""
    client = client.using(compiled_sql=compiled)
    direct = await client.data(DIRECT, user=STAFF)
    assert direct["investigations"]["totalCount"] > 4
    assert direct["investigations"]["facets"]["instrument"]
    assert await client.data(THROUGH_FRAGMENTS, user=STAFF) == direct
    if compiled:
        return  # (one statement renders every level there)
    # A session's datasets asked for their total alone, through a fragment: no page of
    # datasets is read for it.
    totals = """{ investigations(first: 4) { nodes { datasets { ...Total } } } }
        fragment Total on DatasetConnection { totalCount }"""
    pages = """{ investigations(first: 4) { nodes { datasets { ...Total nodes { id } } } } }
        fragment Total on DatasetConnection { totalCount }"""
    counts = []
    for query in (totals, pages):
        await client.access(STAFF)
        statement_counter.reset()
        data = await client.data(query, user=STAFF)
        assert all(s["datasets"]["totalCount"] == 4 for s in data["investigations"]["nodes"])
        counts.append(statement_counter.count)
    assert counts[0] < counts[1], counts
