"""Scenario 1: a partner's subgraph and ours in one supergraph, through two real routers.

The partner (``partner.mjs``, ``@apollo/subgraph``) keeps a publication list that points
at our sessions by DOI and adds publications to our people by ORCID iD. Composed with
``@apollo/composition`` and with Hive's composer, served by ``@apollo/gateway`` and by
Hive Gateway's command line, each started once for the module; the caller's token
travels through the router to our gateway, which decides what they see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.federation.facilities import Facility, naive, rows, seeded, serving, sessions_of, token
from tests.federation.routers import (
    Subgraph,
    apollo_gateway,
    compose,
    hive_gateway,
    partner_subgraph,
    post,
    supergraph,
)
from tests.support.oidc_provider import OIDCProvider

pytestmark = pytest.mark.e2e

PI_ORCID = "0000-0002-1825-0097"
"""Given to esrf/pi1, principal investigator of the demo's embargoed session."""

ROUTERS = ("apollo", "hive")


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


@pytest.fixture(scope="module")
async def facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Our catalogue, and the sessions the partner's papers cite, read from it by SQL."""
    directory = tmp_path_factory.mktemp("partner")
    settings = await seeded(
        directory, facility="ESRF", seed=7, orcids={"esrf/pi1": PI_ORCID}, staff_users=frozenset()
    )
    sessions = await rows(
        settings,
        """SELECT i.DOI, i.NAME, i.TITLE, i.RELEASEDATE, i.SUMMARY,
                  (SELECT COUNT(*) FROM DATASET d WHERE d.INVESTIGATION_ID = i.ID) AS DATASETS
           FROM INVESTIGATION i
           WHERE i.DOI IS NOT NULL AND i.SUMMARY IS NOT NULL AND i.RELEASEDATE IS NOT NULL
             AND i.ID IN (SELECT iu.INVESTIGATION_ID FROM INVESTIGATIONUSER iu
                          JOIN USER_ u ON u.ID = iu.USER_ID WHERE u.NAME = 'esrf/pi1')
           ORDER BY i.ID""",
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    released = next(s for s in sessions if naive(s.RELEASEDATE) <= now)
    embargoed = next(s for s in sessions if naive(s.RELEASEDATE) > now and s.DATASETS)
    return {
        "directory": directory,
        "settings": settings,
        "released": released,
        "embargoed": embargoed,
        "pi": (await rows(settings, "SELECT FULLNAME FROM USER_ WHERE NAME = 'esrf/pi1'"))[0][0],
        "pi_sessions": len(await sessions_of(settings, "esrf/pi1", released=True))
        + len(await sessions_of(settings, "esrf/pi1", released=False)),
    }


@pytest.fixture(scope="module")
def ours(facts: dict[str, Any], provider: OIDCProvider) -> Iterator[Facility]:
    with serving(facts["settings"], provider) as facility:
        yield facility


@pytest.fixture(scope="module")
def partner(facts: dict[str, Any]) -> Iterator[str]:
    publications = [
        {
            "title": "A structure from released data",
            "journal": "IUCrJ",
            "sessionDoi": facts["released"].DOI,
            "authorOrcids": [PI_ORCID],
        },
        {
            "title": "A preprint on data still under embargo",
            "journal": "bioRxiv",
            # As a partner may write it: the DOI's URL form, in another case.
            "sessionDoi": "https://doi.org/" + facts["embargoed"].DOI.lower(),
            "authorOrcids": [PI_ORCID],
        },
    ]
    with partner_subgraph(publications, facts["directory"]) as url:
        yield url


@pytest.fixture(scope="module")
def subgraphs(ours: Facility, partner: str) -> list[Subgraph]:
    sdl = post(ours.url, "{ _service { sdl } }")["data"]["_service"]["sdl"]
    partner_sdl = post(partner, "{ _service { sdl } }")["data"]["_service"]["sdl"]
    return [Subgraph("esrf", ours.url, sdl), Subgraph("partner", partner, partner_sdl)]


@pytest.fixture(scope="module")
def routers(subgraphs: list[Subgraph], facts: dict[str, Any]) -> Iterator[dict[str, str]]:
    directory = facts["directory"]
    with (
        apollo_gateway(supergraph(subgraphs, "apollo"), directory) as apollo,
        hive_gateway(supergraph(subgraphs, "hive"), directory) as hive,
    ):
        yield {"apollo": apollo, "hive": hive}


@pytest.mark.parametrize("composer", ["apollo", "hive"])
def test_the_two_subgraphs_compose_with_zero_errors(
    subgraphs: list[Subgraph], composer: str
) -> None:
    composed = compose(subgraphs, composer)
    assert composed.errors == []
    assert composed.hints == []
    assert composed.supergraph_sdl is not None and "partnerPublications" in composed.supergraph_sdl


CITED = """{ partnerPublications { title journal
  session { doi proposal title isReleased }
  authors { orcidId fullName investigations { totalCount } } } }"""


@pytest.mark.parametrize("router", ROUTERS)
def test_a_query_crossing_both_subgraphs(
    routers: dict[str, str], facts: dict[str, Any], router: str
) -> None:
    """The partner's papers, with the sessions (ours, by DOI) and the authors (ours, by
    ORCID iD) filled in by our subgraph."""
    body = post(routers[router], CITED)
    assert "errors" not in body, body
    released, embargoed = body["data"]["partnerPublications"]
    assert released["session"] == {
        "doi": facts["released"].DOI,
        "proposal": facts["released"].NAME,
        "title": facts["released"].TITLE,
        "isReleased": True,
    }
    assert embargoed["session"]["proposal"] == facts["embargoed"].NAME
    assert embargoed["session"]["isReleased"] is False
    for publication in (released, embargoed):
        (pi,) = publication["authors"]
        assert pi["orcidId"] == PI_ORCID and pi["fullName"] == facts["pi"]
        assert pi["investigations"]["totalCount"] == facts["pi_sessions"]


@pytest.mark.parametrize("router", ROUTERS)
def test_our_people_carry_the_partners_publications(
    routers: dict[str, str], facts: dict[str, Any], router: str
) -> None:
    body = post(
        routers[router],
        """query($doi: String!) { investigation(doi: $doi) {
             team { nodes { user { name orcidId partnerPublications { title } } } } } }""",
        {"doi": facts["released"].DOI},
    )
    assert "errors" not in body, body
    users = {m["user"]["name"]: m["user"] for m in body["data"]["investigation"]["team"]["nodes"]}
    assert [p["title"] for p in users["esrf/pi1"]["partnerPublications"]] == [
        "A structure from released data",
        "A preprint on data still under embargo",
    ]
    for name, user in users.items():
        if name != "esrf/pi1":
            # Without an ORCID iD: null (Hive Gateway) or nothing found (@apollo/gateway).
            expected: tuple[Any, ...] = ([], None) if user["orcidId"] is None else ([],)
            assert user["partnerPublications"] in expected, user


EMBARGOED = "{ partnerPublications { session { proposal canReadData summary } } }"


@pytest.mark.parametrize("router", ROUTERS)
def test_the_embargo_holds_through_the_router(
    routers: dict[str, str], facts: dict[str, Any], provider: OIDCProvider, router: str
) -> None:
    """The team member's token travels through the router: they read the embargoed
    session's summary; anonymous and an outsider get its landing facts and FORBIDDEN."""
    member = post(routers[router], EMBARGOED, token=token(provider, "pi1"))
    assert "errors" not in member, member
    session = member["data"]["partnerPublications"][1]["session"]
    assert session == {
        "proposal": facts["embargoed"].NAME,
        "canReadData": True,
        "summary": facts["embargoed"].SUMMARY,
    }
    for caller in (None, token(provider, "outsider1")):
        body = post(routers[router], EMBARGOED, token=caller)
        session = body["data"]["partnerPublications"][1]["session"]
        assert session == {
            "proposal": facts["embargoed"].NAME,
            "canReadData": False,
            "summary": None,
        }
        assert facts["embargoed"].SUMMARY not in str(body)
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        # @apollo/gateway reports the response's path; Hive Gateway 2.15 the index of the
        # session in its entity fetch (0 here, the only one it had to fetch).
        expected = 1 if router == "apollo" else 0
        assert error["path"] == ["partnerPublications", expected, "session", "summary"]


async def _hidden_datasets(facts: dict[str, Any]) -> list[str]:
    from gateway.schema.node import global_id

    found = await rows(
        facts["settings"],
        """SELECT d.ID FROM DATASET d JOIN INVESTIGATION i ON i.ID = d.INVESTIGATION_ID
           WHERE i.DOI = :doi AND d.ID NOT IN (
             SELECT dcd.DATASET_ID FROM DATACOLLECTIONDATASET dcd
             JOIN DATAPUBLICATION p ON p.DATACOLLECTION_ID = dcd.DATACOLLECTION_ID)""",
        doi=facts["embargoed"].DOI,
    )
    return [global_id("Dataset", row[0]) for row in found]


@pytest.fixture(scope="module")
async def hidden(facts: dict[str, Any]) -> AsyncIterator[list[str]]:
    yield await _hidden_datasets(facts)


ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Dataset { name } ... on Investigation { summary } } }"""


def test_entities_called_directly_return_nothing_hidden(
    ours: Facility, facts: dict[str, Any], provider: OIDCProvider, hidden: list[str]
) -> None:
    """A router is not needed to ask ``_entities``: anyone can. Hidden datasets of the
    embargoed session are null to an outsider, and the session's summary refused."""
    assert hidden
    representations = [{"__typename": "Dataset", "id": id} for id in hidden] + [
        {"__typename": "Investigation", "doi": facts["embargoed"].DOI}
    ]
    for caller in (None, token(provider, "outsider1")):
        body = post(ours.url, ENTITIES, {"r": representations}, token=caller)
        assert body["data"]["_entities"] == [None] * len(hidden) + [{"summary": None}]
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    forged = post(ours.url, ENTITIES, {"r": [{"__typename": "Proposal", "id": "1"}, 7]})
    assert forged["data"]["_entities"] == [None, None]
    assert [e["extensions"]["code"] for e in forged["errors"]] == ["BAD_USER_INPUT"] * 2
    member = post(ours.url, ENTITIES, {"r": representations}, token=token(provider, "pi1"))
    assert "errors" not in member, member
    assert all(entity is not None for entity in member["data"]["_entities"])
    assert member["data"]["_entities"][-1] == {"summary": facts["embargoed"].SUMMARY}
