"""The request gate against a real server: every limit refuses its attack query with its
code before any statement runs, on the planned path (operation plans) as on
the standard one, and the server answers normally afterwards."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

GRAPHQL_RESPONSE = "application/graphql-response+json"


@dataclass
class Served:
    """A running gateway, the statements its engines ran and the plans that answered."""

    server: GatewayServer
    path: str
    statements: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.base_url + "/graphql"

    @property
    def planned(self) -> int:
        operations = self.server.app.state.gate.operations
        return 0 if operations is None else int(operations.answered)

    def post(self, body: Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        sent = {"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE, **headers}
        return httpx.post(self.url, content=content, headers=sent, timeout=30)

    def healthy(self) -> None:
        """The server still answers a real query (and its health check)."""
        response = self.post({"query": "{ investigations(first: 2) { totalCount } }"})
        assert response.status_code == 200, response.text
        assert response.json()["data"]["investigations"]["totalCount"] > 0
        assert httpx.get(self.server.base_url + "/healthz").status_code == 200


@pytest.fixture(scope="module", params=["planned", "standard"])
def served(
    request: pytest.FixtureRequest, catalogue: AsyncEngine, settings: Settings
) -> Iterator[Served]:
    """The gateway on each database, once with operation plans and once without."""
    path = request.param
    planned = path == "planned"
    # No delivery worker: its look at the outbox would be counted as the attack's statements.
    with GatewayServer(replace(settings, compiled_sql=planned, notifications=False)) as server:
        running = Served(server, path)

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            running.statements.append(statement)

        engines = {server.app.state.engine.sync_engine, server.app.state.read_engine.sync_engine}
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        yield running
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def nested(levels: int, leaf: str = "id") -> str:
    query = leaf
    for _ in range(levels):
        query = f"datasets(first: 1) {{ nodes {{ investigation {{ {query} }} }} }}"
    return f"{{ investigations(first: 1) {{ nodes {{ {query} }} }} }}"


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: investigations {{ totalCount }}" for i in range(count)) + " }"


def selection(*path: str, leaf: str = "name") -> str:
    """``a { b { c { leaf } } }`` for the path a, b, c."""
    return " ".join(f"{step} {{" for step in path) + f" {leaf} " + "}" * len(path)


CONNECTION = ("investigations(first: 1000)", "nodes", "datasets(first: 1000)", "nodes")
COST_BOMB = (
    "{ "
    + " ".join(
        f"b{i}: " + selection(*CONNECTION, "datafiles(first: 1000)", "nodes", leaf="name location")
        for i in range(4)
    )
    + " }"
)
"""Four aliases of three nested pages of 1,000: about 4 x 10^9 objects."""

SIX_DEEP_BOMB = (
    "{ "
    + selection(
        *CONNECTION,
        "investigation",
        "datasets(first: 1000)",
        "nodes",
        "datafiles(first: 1000)",
        "nodes",
        "dataset",
        "datafiles(first: 1000)",
        "nodes",
    )
    + " }"
)
"""The probe's bomb: six nested pages of 1,000 (deeper than the depth limit here)."""

RANGES = "query($p: [ParameterRange!]) { datasets(filter: {parameters: $p}) { totalCount } }"


def ranges(count: int) -> list[dict[str, Any]]:
    return [{"name": f"p{i}", "min": i, "max": i + 1} for i in range(count)]


def deep_json(levels: int) -> bytes:
    return (
        b'{"query": "query($v: String) { __typename }", "variables": {"v": '
        + (b"[" * levels + b"]" * levels)
        + b"}}"
    )


def fan_out(levels: int) -> str:
    """Fragment ``Fk`` spreads ``F(k+1)`` twice: under a kilobyte, 2^levels fields."""
    fragments = " ".join(
        f"fragment F{k} on Query {{ ...F{k + 1} ...F{k + 1} }}" for k in range(levels)
    )
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ __typename }}"


@dataclass(frozen=True)
class Attack:
    name: str
    status: int
    code: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    url_query: dict[str, str] | None = None


ATTACKS = [
    Attack("deep nesting", 400, "QUERY_TOO_DEEP", {"query": nested(4)}),
    Attack(
        "deep introspection",
        400,
        "QUERY_TOO_DEEP",
        {
            "query": "{ __schema { types { fields { type "
            + "{ ofType " * 12
            + "{ name }"
            + " }" * 12
            + " } } } }"
        },
    ),
    Attack("1,000 root aliases", 400, "TOO_MANY_TOKENS", {"query": aliases(1000)}),
    Attack("16 aliases", 400, "TOO_MANY_ALIASES", {"query": aliases(16)}),
    Attack("a fragment fan-out", 400, "TOO_MANY_SELECTIONS", {"query": fan_out(40)}),
    Attack(
        "nesting as deep as the tokens allow",
        400,
        "QUERY_TOO_DEEP",
        {"query": "{ " + "a { " * 650 + "b" + " }" * 650 + " }"},
    ),
    Attack("11 root fields", 400, "TOO_MANY_ROOT_FIELDS", {"query": aliases(11)}),
    Attack(
        "repeated directives",
        400,
        "TOO_MANY_DIRECTIVES",
        {"query": "{ investigations " + "@include(if: true) " * 5 + "{ totalCount } }"},
    ),
    Attack(
        "a huge page",
        400,
        "PAGE_TOO_LARGE",
        {
            "query": "query($n: Int) { investigations(first: $n) { nodes { title } } }",
            "variables": {"n": 100000},
        },
    ),
    Attack("a cost bomb over nested connections", 400, "QUERY_TOO_COSTLY", {"query": COST_BOMB}),
    Attack("six nested connections of 1,000", 400, "QUERY_TOO_DEEP", {"query": SIX_DEEP_BOMB}),
    Attack(
        "120 parameter ranges",
        400,
        "LIST_TOO_LONG",
        {"query": RANGES, "variables": {"p": ranges(120)}},
    ),
    Attack(
        "an oversized body",
        413,
        "REQUEST_TOO_LARGE",
        {"query": "{ __typename }", "pad": "x" * 300_000},
    ),
    Attack("malformed JSON", 400, "BAD_REQUEST", b'{"query": "{ __typename }"'),
    Attack("JSON variables nested 5,000 deep", 400, "BAD_USER_INPUT", deep_json(5000)),
    Attack("JSON variables nested 100 deep", 400, "BAD_USER_INPUT", deep_json(100)),
    Attack(
        "a wrong content type",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        b'{"query": "{ __typename }"}',
        {"Content-Type": "text/plain"},
    ),
    Attack(
        "a form post",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        b"query=%7B__typename%7D",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Attack(
        "a batch of 100 operations",
        400,
        "BATCHING_NOT_SUPPORTED",
        [{"query": "{ investigations { totalCount } }"}] * 100,
    ),
    Attack("an unparseable document", 400, "GRAPHQL_PARSE_FAILED", {"query": "{ investigations("}),
    Attack("an unknown field", 400, "GRAPHQL_VALIDATION_FAILED", {"query": "{ nope }"}),
    Attack(
        "a variable of the wrong type",
        400,
        "BAD_USER_INPUT",
        {
            "query": "query($n: Int) { investigations(first: $n) { totalCount } }",
            "variables": {"n": "x"},
        },
    ),
    Attack(
        "a mutation over GET",
        405,
        "METHOD_NOT_ALLOWED",
        method="GET",
        url_query={"query": "mutation { __typename }"},
    ),
    Attack("another method", 405, "METHOD_NOT_ALLOWED", method="PUT", body=b"{}"),
    Attack(
        "nothing acceptable",
        406,
        "NOT_ACCEPTABLE",
        {"query": "{ __typename }"},
        {"Accept": "text/csv"},
    ),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda attack: attack.name)
def test_an_attack_is_refused_before_any_statement(
    served: Served, attack: Attack, catalogue: AsyncEngine
) -> None:
    if catalogue.dialect.name != "sqlite":
        # Refused before any statement, on both paths: the database plays no part, and
        # 25 attacks x 2 paths on each database had cost 53 s of the suite.
        pytest.skip("refused before any statement, whatever the database: once is enough")
    before = (len(served.statements), served.planned)
    headers = {"Accept": GRAPHQL_RESPONSE, **attack.headers}
    if attack.method == "POST":
        response = served.post(attack.body, **headers)
    else:
        content = attack.body if isinstance(attack.body, bytes) else None
        response = httpx.request(
            attack.method, served.url, params=attack.url_query, content=content, headers=headers
        )
    assert (len(served.statements), served.planned) == before, served.statements[before[0] :]
    assert response.status_code == attack.status, response.text
    assert response.headers["content-type"].startswith("application/")
    body = response.json()
    assert "data" not in body
    assert [error["extensions"]["code"] for error in body["errors"]][:1] == [attack.code]
    assert "Traceback" not in response.text
    if attack.status == 405:
        assert response.headers["allow"] in {"POST", "GET, POST"}
    served.healthy()


def test_limits_answer_200_to_legacy_json_clients(served: Served) -> None:
    """A well-formed request refused by a limit is a 200 for ``application/json``, as
    the draft asks for that media type; HTTP-level refusals keep their status."""
    refused = served.post({"query": aliases(16)}, Accept="application/json")
    assert refused.status_code == 200
    assert refused.headers["content-type"] == "application/json; charset=utf-8"
    assert refused.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
    too_large = served.post(
        {"query": "{ __typename }", "pad": "x" * 300_000}, Accept="application/json"
    )
    assert too_large.status_code == 413


def test_a_chunked_body_is_refused_once_it_passes_the_limit(served: Served) -> None:
    """No Content-Length: the gate counts the bytes as they come."""

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    response = httpx.post(
        served.url, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    served.healthy()


def test_a_planned_operation_is_refused_like_any_other(served: Served) -> None:
    """The operation that a plan answers is refused by the same limits when its
    variables ask too much: the gate stands before the plans."""
    query = "query($n: Int) { investigations(first: $n) { totalCount nodes { title } } }"
    for _ in range(3):
        answered = served.post({"query": query, "variables": {"n": 5}})
        assert answered.status_code == 200 and "errors" not in answered.json()
    planned = served.planned
    if served.path == "planned":
        assert planned >= 2  # the plan answers the repeats
    before = len(served.statements)
    refused = served.post({"query": query, "variables": {"n": 5000}})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PAGE_TOO_LARGE"
    assert (len(served.statements), served.planned) == (before, planned)


def test_a_forged_cursor_is_bad_user_input(served: Served) -> None:
    """A cursor of the right list whose values have the wrong types (the probe's found
    a 500 on PostgreSQL)."""
    listed = served.post(
        {"query": "{ datasets(orderBy: {field: END_DATE}, first: 1) { edges { cursor } } }"}
    )
    cursor = listed.json()["data"]["datasets"]["edges"][0]["cursor"]
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for values in (["x", 1], [{"t": "2020-01-01T00:00:00+05:00"}, 1], [1, "x"]):
        forged = base64.urlsafe_b64encode(
            json.dumps({"of": decoded["of"], "at": values}).encode()
        ).decode()
        response = served.post(
            {
                "query": "query($a: String) { datasets(orderBy: {field: END_DATE}, after: $a) "
                "{ totalCount nodes { name } } }",
                "variables": {"a": forged},
            }
        )
        assert response.status_code == 200
        codes = [error["extensions"]["code"] for error in response.json()["errors"]]
        assert codes == ["BAD_USER_INPUT"], response.text
    served.healthy()


def test_an_error_never_echoes_its_input_whole(served: Served) -> None:
    huge = "x" * 200_000
    response = served.post(
        {"query": "query($id: ID) { investigation(id: $id) { title } }", "variables": {"id": huge}}
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(error["message"]) <= 300
    assert len(response.content) < 2_000


def test_each_response_names_its_request(served: Served) -> None:
    given = served.post({"query": "{ __typename }"}, **{"X-Request-ID": "probe-42"})
    assert given.headers["x-request-id"] == "probe-42"
    made = served.post({"query": "{ __typename }"}, **{"X-Request-ID": "not ok; <script>"})
    assert len(made.headers["x-request-id"]) == 32


def test_distinct_large_queries_do_not_stay_resident(served: Served) -> None:
    """Each distinct 10 MB query stayed resident through a parse cache keyed by full
    text: now a 10 MB body is refused before it is read, and distinct 200 kB queries
    (padded with a comment: few tokens) are answered without being kept."""
    documents = served.server.app.state.gate.documents
    held = documents.held
    for i in range(20):
        query = f"# {i} {'x' * 200_000}\n{{ __typename }}"
        response = served.post({"query": query})
        assert response.json() == {"data": {"__typename": "Query"}}
    assert documents.held == held
    huge = served.post({"query": "{ __typename }" + " " * 10_000_000})
    assert huge.status_code == 413


@pytest.mark.timeout(30)
def test_a_fragment_fan_out_is_refused_while_the_worker_answers_its_health_check(
    served: Served,
) -> None:
    """The probe's 931-byte fan-out froze the worker for 38 s (more fragments: hours),
    /healthz unanswered. Now it is refused by its expanded size, and the health check,
    sent alongside each of a few such requests, answers within a second."""
    hostile = {"query": fan_out(60)}
    with ThreadPoolExecutor(4) as pool:
        refused = [pool.submit(served.post, hostile) for _ in range(3)]
        health = httpx.get(served.server.base_url + "/healthz", timeout=1.0)
        assert health.status_code == 200
        for answer in refused:
            response = answer.result(timeout=20)
            assert response.status_code == 400
            assert response.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_SELECTIONS"
    served.healthy()


NUL_DOI = "query($doi: String!) { doi(doi: $doi) { __typename ... on Investigation { title } } }"
NUL_REQUESTS = [
    ("doi", {"query": NUL_DOI, "variables": {"doi": "10.15151/ESRF-ES-1\u0000"}}),
    ("search", {"query": '{ investigations(filter: {search: "a\\u0000b"}) { totalCount } }'}),
    ("after", {"query": '{ investigations(after: "\\u0000") { totalCount } }'}),
    (
        "parameters",
        {
            "query": RANGES,
            "variables": {"p": [{"name": "x\u0000", "min": 0, "max": 1}]},
        },
    ),
    (
        "idempotencyKey",
        {
            "query": "mutation($i: MintDoiInput!) { mintDoi(input: $i) { __typename } }",
            "variables": {
                "i": {
                    "idempotencyKey": "k\u0000",
                    "datasetIds": ["RGF0YXNldDox"],
                    "title": "t",
                    "creators": [{"name": "Doe, J."}],
                }
            },
        },
    ),
]


@pytest.mark.parametrize(("argument", "body"), NUL_REQUESTS, ids=[a for a, _ in NUL_REQUESTS])
def test_a_nul_character_is_bad_user_input_naming_its_argument(
    served: Served, argument: str, body: dict[str, Any]
) -> None:
    """A NUL in any string argument answered INTERNAL_SERVER_ERROR on PostgreSQL, and an
    HTTP 500 through a kept operation plan: now BAD_USER_INPUT naming the argument,
    before any statement, on every database and path."""
    if argument == "doi":
        # A plan for the lookup first (learnt on the second request, used on the third).
        for _ in range(3):
            honest = served.post({"query": NUL_DOI, "variables": {"doi": "10.0/none"}})
            assert honest.status_code == 200, honest.text
    before = len(served.statements)
    response = served.post(body)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert argument in error["extensions"]["argument"], error
    assert len(served.statements) == before
