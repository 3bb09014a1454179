"""Federation's `_entities` on the demo catalogue, on every database that answers:
batched (one statement per entity type, whatever the number of representations), under
the caller's visibility, and BAD_USER_INPUT for anything a router would never send."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.schema.build import create_schema
from gateway.schema.entities import MAX_REPRESENTATIONS
from gateway.schema.node import global_id
from tests.conftest import STAFF, Client, StatementCounter

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) { __typename
  ... on Investigation { proposal summary }
  ... on User { name orcidId }
  ... on Dataset { name }
  ... on DataPublication { doi isPublished }
  ... on Instrument { name } ... on Technique { name } ... on Facility { name }
  ... on Datafile { name } } }"""


async def entities(
    client: Client, representations: list[Any], user: str | None = None
) -> tuple[list[Any], list[Any]]:
    result = await client.execute(ENTITIES, {"r": representations}, user=user)
    assert result.data is not None, result.errors
    return result.data["_entities"], result.errors or []


async def staff_facts(client: Client) -> dict[str, Any]:
    data = await client.data(
        """{ investigations(first: 100) { nodes { id doi proposal isReleased
               team { nodes { user { id name orcidId } } }
               datasets(first: 100) { nodes { id } } } }
             dataPublications(first: 50) { nodes { id doi isPublished } }
             instruments(first: 50) { nodes { id name pid } }
             techniques(first: 50) { nodes { id name pid } } }""",
        user=STAFF,
    )
    return data  # type: ignore[no-any-return]


async def test_a_hundred_representations_of_a_type_cost_one_statement(
    client: Client, statement_counter: StatementCounter
) -> None:
    facts = await staff_facts(client)
    sessions = facts["investigations"]["nodes"]
    by_id = [{"__typename": "Investigation", "id": s["id"]} for s in sessions]
    by_doi = [{"__typename": "Investigation", "doi": s["doi"]} for s in sessions if s["doi"]]
    representations = (by_id + by_doi)[:100]
    assert len(representations) == 100
    await client.access(None)
    statement_counter.reset()
    found, errors = await entities(client, representations)
    assert statement_counter.count == 1, statement_counter.statements
    assert all(e.extensions["code"] == "FORBIDDEN" for e in errors)  # embargoed summaries
    expected = [s["proposal"] for s in sessions] + [s["proposal"] for s in sessions if s["doi"]]
    assert [entity["proposal"] for entity in found] == expected[:100]

    people = {
        member["user"]["orcidId"]: member["user"]["name"]
        for s in sessions
        for member in s["team"]["nodes"]
        if member["user"]["orcidId"]
    }
    orcids = sorted(people)
    assert len(orcids) >= 10
    representations = [
        {"__typename": "User", "orcidId": orcids[i % len(orcids)]} for i in range(100)
    ]
    statement_counter.reset()
    found, errors = await entities(client, representations)
    assert statement_counter.count == 1, statement_counter.statements
    assert errors == []
    assert [u["name"] for u in found] == [people[orcids[i % len(orcids)]] for i in range(100)]


async def test_mixed_types_cost_one_statement_each(
    client: Client, statement_counter: StatementCounter
) -> None:
    facts = await staff_facts(client)
    session = facts["investigations"]["nodes"][0]
    technique = next(t for t in facts["techniques"]["nodes"] if t["pid"])
    representations = [
        {"__typename": "Investigation", "doi": session["doi"]},
        {"__typename": "Technique", "pid": technique["pid"]},
        {"__typename": "Technique", "id": technique["id"]},
        {"__typename": "User", "id": session["team"]["nodes"][0]["user"]["id"]},
        {"__typename": "Investigation", "id": session["id"]},
    ]
    await client.access(STAFF)
    statement_counter.reset()
    found, errors = await entities(client, representations, user=STAFF)
    assert errors == []
    assert statement_counter.count == 3, statement_counter.statements
    assert found[1] == found[2] == {"__typename": "Technique", "name": technique["name"]}
    assert found[0] == found[4]


async def test_entities_hide_what_every_other_path_hides(client: Client) -> None:
    """Datasets of a session under embargo that no published DOI opened are null to an
    outsider and there for staff; a reserved DOI is its team's; an embargoed session's
    summary is refused at its own path."""
    facts = await staff_facts(client)
    embargoed = [s for s in facts["investigations"]["nodes"] if not s["isReleased"]]
    datasets = [d["id"] for s in embargoed for d in s["datasets"]["nodes"]]
    assert datasets
    representations = [{"__typename": "Dataset", "id": id} for id in datasets]
    as_staff, _ = await entities(client, representations, user=STAFF)
    assert all(entity is not None for entity in as_staff)
    as_outsider, _ = await entities(client, representations, user="esrf/outsider1")
    # Null exactly where `dataset(id:)` says NOT_FOUND to the same caller.
    for id, entity in zip(datasets, as_outsider, strict=True):
        result = await client.execute(
            "query($id: ID!) { dataset(id: $id) { name } }", {"id": id}, user="esrf/outsider1"
        )
        assert result.data is not None  # a root lookup nulls itself alone
        assert (entity is None) == (result.data["dataset"] is None), (id, entity, result.errors)
    assert None in as_outsider

    reserved = [p for p in facts["dataPublications"]["nodes"] if not p["isPublished"]]
    assert reserved
    found, _ = await entities(
        client, [{"__typename": "DataPublication", "doi": p["doi"]} for p in reserved]
    )
    assert found == [None] * len(reserved)

    found, errors = await entities(
        client, [{"__typename": "Investigation", "doi": embargoed[0]["doi"]}]
    )
    assert found == [{"__typename": "Investigation", "proposal": embargoed[0]["proposal"],
                      "summary": None}]  # fmt: skip
    assert [(e.path, e.extensions["code"]) for e in errors] == [
        (["_entities", 0, "summary"], "FORBIDDEN")
    ]


SESSION = global_id("Investigation", 1)

MALFORMED: list[tuple[str, Any]] = [
    ("unknown type", {"__typename": "Proposal", "id": SESSION}),
    ("not an entity", {"__typename": "Sample", "id": global_id("Sample", 1)}),
    ("a root type", {"__typename": "Query"}),
    ("no __typename", {"id": SESSION}),
    ("__typename not a string", {"__typename": 7, "id": SESSION}),
    ("no key", {"__typename": "Investigation"}),
    ("two keys", {"__typename": "Investigation", "id": SESSION, "doi": "10.5072/x"}),
    ("not a key", {"__typename": "Investigation", "proposal": "MX-1"}),
    ("a key of another type", {"__typename": "Dataset", "doi": "10.5072/x"}),
    ("a number", {"__typename": "Investigation", "id": 1}),
    ("an object", {"__typename": "User", "orcidId": {"$ne": None}}),
    ("a list", {"__typename": "Instrument", "pid": ["a", "b"]}),
    ("null", {"__typename": "Investigation", "doi": None}),
    ("empty", {"__typename": "Investigation", "doi": " "}),
    ("not a global id", {"__typename": "Investigation", "id": "not base64!"}),
    ("another type's id", {"__typename": "Investigation", "id": global_id("Dataset", 1)}),
    ("an id beyond 64 bits", {"__typename": "Dataset", "id": global_id("Dataset", 2**64)}),
    ("a malformed ORCID iD", {"__typename": "User", "orcidId": "0000-0002-1825"}),
    ("the shared Person without a namespace", {"__typename": "Person", "orcid": "x"}),
    ("a string", "Investigation:1"),
    ("a list of them", [{"__typename": "Investigation", "id": SESSION}]),
    ("a number alone", 42),
]


@pytest.mark.parametrize(("case", "representation"), MALFORMED, ids=[c for c, _ in MALFORMED])
async def test_a_forged_representation_is_bad_user_input(
    client: Client, case: str, representation: Any
) -> None:
    sessions = (await staff_facts(client))["investigations"]["nodes"]
    session = next(s for s in sessions if s["isReleased"])
    good = {"__typename": "Investigation", "id": session["id"]}
    found, errors = await entities(client, [good, representation, good])
    assert found[1] is None
    assert found[0] == found[2] and found[0]["__typename"] == "Investigation"
    assert [(e.path, e.extensions["code"]) for e in errors] == [
        (["_entities", 1], "BAD_USER_INPUT")
    ], errors
    assert errors[0].message.startswith("Representation 1: ")


async def test_the_most_representations_allowed_fit_in_one_statement(client: Client) -> None:
    """The worst case binds three values per representation (a DOI's spellings), all
    distinct: each database takes them in one statement. One more is refused."""
    representations: list[Any] = [
        {"__typename": "Investigation", "doi": f"10.5072/Nowhere-{i}"}
        for i in range(MAX_REPRESENTATIONS)
    ]
    found, errors = await entities(client, representations)
    assert errors == [] and found == [None] * MAX_REPRESENTATIONS
    result = await client.execute(ENTITIES, {"r": [*representations, representations[0]]})
    assert result.data is None
    assert [e.extensions["code"] for e in result.errors] == ["BAD_USER_INPUT"]


NAMESPACED = """query($r: [_Any!]!) { _entities(representations: $r) { __typename
  ... on IllInvestigation { proposal } ... on Person { orcid ill { name } } } }"""


async def test_a_namespaced_schema_knows_its_own_type_names(client: Client) -> None:
    namespaced = Client(client.engine, client.settings, create_schema(namespace="ill"))
    facts = await staff_facts(client)
    session = facts["investigations"]["nodes"][0]
    orcid = next(
        m["user"]
        for s in facts["investigations"]["nodes"]
        for m in s["team"]["nodes"]
        if m["user"]["orcidId"]
    )
    result = await namespaced.execute(
        NAMESPACED,
        {
            "r": [
                {"__typename": "IllInvestigation", "id": session["id"]},
                {"__typename": "Investigation", "id": session["id"]},
                {"__typename": "Person", "orcid": f"http://orcid.org/{orcid['orcidId']}"},
            ]
        },
    )
    assert result.data["_entities"] == [
        {"__typename": "IllInvestigation", "proposal": session["proposal"]},
        None,
        {"__typename": "Person", "orcid": orcid["orcidId"], "ill": [{"name": orcid["name"]}]},
    ]
    assert [(e.path, e.extensions["code"]) for e in result.errors] == [
        (["_entities", 1], "BAD_USER_INPUT")
    ]


async def test_a_persons_sessions_are_batched_over_the_people_of_a_level(
    client: Client, statement_counter: StatementCounter
) -> None:
    """``User.investigations`` under every team member of a page of sessions: the same
    number of statements for 5 sessions as for 60."""
    query = """query($first: Int) { investigations(first: $first) { nodes {
      team { nodes { user { investigations(first: 3, filter: {released: true}) {
        totalCount nodes { proposal } } } } } } } }"""
    counts = {}
    for first in (5, 60):
        await client.access(None)
        statement_counter.reset()
        data = await client.data(query, {"first": first})
        assert len(data["investigations"]["nodes"]) == first
        counts[first] = statement_counter.count
    assert counts[5] == counts[60], counts
    # Page and total of sessions, teams, then the people's pages and their totals.
    assert counts[60] <= 5, statement_counter.statements


async def test_a_persons_sessions_are_those_of_their_team_rows(client: Client) -> None:
    facts = await staff_facts(client)
    teams: dict[str, set[str]] = {}
    for session in facts["investigations"]["nodes"]:
        for member in session["team"]["nodes"]:
            teams.setdefault(member["user"]["id"], set()).add(session["proposal"])
    representations = [{"__typename": "User", "id": id} for id in sorted(teams)]
    result = await client.data(
        """query($r: [_Any!]!) { _entities(representations: $r) {
             ... on User { investigations(first: 100) { totalCount nodes { proposal } } } } }""",
        {"r": representations},
    )
    for representation, user in zip(representations, result["_entities"], strict=True):
        proposals = [n["proposal"] for n in user["investigations"]["nodes"]]
        assert set(proposals) == teams[representation["id"]]
        # One entry per session, however many roles the person holds in it.
        assert user["investigations"]["totalCount"] == len(proposals)
