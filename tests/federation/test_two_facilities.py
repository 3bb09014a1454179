"""Scenario 2: two facilities running icat-gateway, each over its own catalogue, in one
supergraph. Each names its part (``ICAT_GATEWAY_FEDERATION_NAMESPACE``: ``esrf``, ``ill``);
the shared ``Person`` entity joins them by ORCID iD. Served by ``@apollo/gateway`` and by
Hive Gateway, each started once for the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.schema.export import export_sdl
from tests.federation.facilities import Facility, seeded, serving, sessions_of, token
from tests.federation.routers import (
    Subgraph,
    apollo_gateway,
    compose,
    hive_gateway,
    post,
    supergraph,
)
from tests.support.oidc_provider import OIDCProvider

pytestmark = pytest.mark.e2e

ORCID = "0000-0002-1825-0097"
"""One scientist: esrf/pi1 at the ESRF, esrf/member1 in the ILL's catalogue."""
PEOPLE = {"esrf": "esrf/pi1", "ill": "esrf/member1"}
ROUTERS = ("apollo", "hive")


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("two-facilities")


@pytest.fixture(scope="module")
async def catalogues(directory: Path) -> dict[str, Any]:
    return {
        "esrf": await seeded(
            directory,
            facility="ESRF",
            seed=7,
            orcids={PEOPLE["esrf"]: ORCID},
            federation_namespace="esrf",
        ),
        "ill": await seeded(
            directory,
            facility="ILL",
            seed=11,
            # Stored as its URL at this facility: matched all the same.
            orcids={PEOPLE["ill"]: f"https://orcid.org/{ORCID}"},
            federation_namespace="ill",
        ),
    }


@pytest.fixture(scope="module")
def facilities(catalogues: dict[str, Any], provider: OIDCProvider) -> Iterator[dict[str, Facility]]:
    with serving(catalogues["esrf"], provider) as esrf, serving(catalogues["ill"], provider) as ill:
        yield {"esrf": esrf, "ill": ill}


@pytest.fixture(scope="module")
def subgraphs(facilities: dict[str, Facility]) -> list[Subgraph]:
    return [
        Subgraph(
            name,
            facility.url,
            post(facility.url, "{ _service { sdl } }")["data"]["_service"]["sdl"],
        )
        for name, facility in facilities.items()
    ]


@pytest.fixture(scope="module")
def routers(subgraphs: list[Subgraph], directory: Path) -> Iterator[dict[str, str]]:
    with (
        apollo_gateway(supergraph(subgraphs, "apollo"), directory) as apollo,
        hive_gateway(supergraph(subgraphs, "hive"), directory) as hive,
    ):
        yield {"apollo": apollo, "hive": hive}


@pytest.mark.parametrize("composer", ["apollo", "hive"])
def test_two_namespaced_facilities_compose_with_zero_errors(
    subgraphs: list[Subgraph], composer: str
) -> None:
    composed = compose(subgraphs, composer)
    assert composed.errors == []
    assert composed.hints == []
    sdl = composed.supergraph_sdl or ""
    assert "type EsrfInvestigation" in sdl and "type IllInvestigation" in sdl


@pytest.mark.parametrize("composer", ["apollo", "hive"])
def test_two_facilities_without_namespaces_do_not_compose(composer: str) -> None:
    """Why the namespace: the same schema twice is refused (the fields are not
    shareable), and marking them shareable would mix the two catalogues' answers."""
    sdl = export_sdl()
    composed = compose(
        [Subgraph("esrf", "http://127.0.0.1:1/", sdl), Subgraph("ill", "http://127.0.0.1:2/", sdl)],
        composer,
    )
    assert composed.errors and composed.supergraph_sdl is None


PUBLIC = """query($orcid: String!) { person(orcid: $orcid) { orcid
  esrf { name investigations(filter: {released: true}, first: 100) {
    totalCount nodes { proposal visitId isReleased facility { name } } } }
  ill { name investigations(filter: {released: true}, first: 100) {
    totalCount nodes { proposal visitId isReleased facility { name } } } } } }"""


@pytest.mark.parametrize("router", ROUTERS)
async def test_one_query_returns_a_persons_public_sessions_at_both_facilities(
    routers: dict[str, str], catalogues: dict[str, Any], router: str
) -> None:
    body = post(routers[router], PUBLIC, {"orcid": f"https://orcid.org/{ORCID}"})
    assert "errors" not in body, body
    person = body["data"]["person"]
    assert person["orcid"] == ORCID
    for namespace, facility in (("esrf", "ESRF"), ("ill", "ILL")):
        (user,) = person[namespace]
        assert user["name"] == PEOPLE[namespace]
        sessions = user["investigations"]
        expected = await sessions_of(catalogues[namespace], PEOPLE[namespace], released=True)
        assert expected, "the demo gives every fixed person released sessions"
        assert {f"{s['proposal']}/{s['visitId']}" for s in sessions["nodes"]} == expected
        assert sessions["totalCount"] == len(expected)
        assert {(s["isReleased"], s["facility"]["name"]) for s in sessions["nodes"]} == {
            (True, facility)
        }


EMBARGOED = """query($orcid: String!) { person(orcid: $orcid) {
  esrf { investigations(filter: {released: false}) { nodes { proposal canReadData summary } } }
} }"""


@pytest.mark.parametrize("router", ROUTERS)
async def test_an_embargoed_session_is_its_team_members_only(
    routers: dict[str, str], catalogues: dict[str, Any], provider: OIDCProvider, router: str
) -> None:
    """pi1's token travels through the router to the ESRF's gateway: they read their
    embargoed sessions' summaries; anonymous and an outsider get the landing facts only."""
    expected = await sessions_of(catalogues["esrf"], PEOPLE["esrf"], released=False)
    member = post(routers[router], EMBARGOED, {"orcid": ORCID}, token=token(provider, "pi1"))
    assert "errors" not in member, member
    (user,) = member["data"]["person"]["esrf"]
    nodes = user["investigations"]["nodes"]
    assert nodes, "the demo gives pi1 sessions under embargo"
    assert {n["proposal"] for n in nodes} == {e.split("/")[0] for e in expected}
    assert all(n["canReadData"] and n["summary"] for n in nodes)
    for caller in (None, token(provider, "outsider1")):
        body = post(routers[router], EMBARGOED, {"orcid": ORCID}, token=caller)
        (user,) = body["data"]["person"]["esrf"]
        hidden = user["investigations"]["nodes"]
        assert [n["proposal"] for n in hidden] == [n["proposal"] for n in nodes]
        assert all(not n["canReadData"] and n["summary"] is None for n in hidden)
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
        assert len(body["errors"]) == len(nodes)
        assert not any(n["summary"] in str(body) for n in nodes)


def test_a_malformed_orcid_is_bad_user_input(routers: dict[str, str]) -> None:
    for url in routers.values():
        body = post(url, PUBLIC, {"orcid": "0000-0002-1825"})
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert codes == {"BAD_USER_INPUT"}, body


def test_each_facility_answers_for_the_shared_person_directly(
    facilities: dict[str, Facility],
) -> None:
    """``_entities`` with the shared type: each facility adds its own people, no one
    else's (ESRF's subgraph has no ``ill`` field)."""
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Person { orcid %s { name } } } }"""
    for namespace, facility in facilities.items():
        body = post(
            facility.url,
            query % namespace,
            {"r": [{"__typename": "Person", "orcid": ORCID}]},
        )
        assert body["data"]["_entities"] == [
            {"orcid": ORCID, namespace: [{"name": PEOPLE[namespace]}]}
        ]
