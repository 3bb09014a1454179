"""End to end, through a real uvicorn server with real OIDC tokens: who sees what.

For each kind of caller (anonymous, outsider, team member, collaborator granted through
the API, beamline scientist, staff) and each kind of session (released, embargoed,
proprietary) and a dataset released early by a published DOI.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from tests.conftest import team_names
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

STAFF = "staff1"
NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


@pytest.fixture(scope="module")
def gateway(catalogue: AsyncEngine, settings: Settings, provider: OIDCProvider) -> Iterator[str]:
    configured = replace(
        settings,
        oidc_issuer=provider.issuer,
        oidc_audience=DEFAULT_AUDIENCE,
        oidc_user_prefix="esrf/",
        staff_users=frozenset({"esrf/" + STAFF}),
    )
    with GatewayServer(configured) as server:
        yield server.base_url


class Caller:
    """Posts GraphQL over HTTP with one caller's token (or none)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(
            self.base_url + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self.headers,
            timeout=30,
        )

    def run(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.run(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def caller(gateway: str, provider: OIDCProvider, login: str | None) -> Caller:
    token = provider.mint(provider.claims(preferred_username=login, groups=[])) if login else None
    return Caller(gateway, token)


SESSIONS = """{ investigations(first: 1000) { nodes {
  id proposal isReleased startDate releaseDate instruments { name }
  team(first: 10) { totalCount nodes { role user { name } } } } } }"""

SESSION = """query($id: ID) { investigation(id: $id) {
  id title doi releaseDate team { nodes { role user { fullName } } } instruments { name }
  summary datasets(first: 100) { totalCount nodes { id name location } } } }"""


@pytest.fixture(scope="module")
def cast(gateway: str, provider: OIDCProvider) -> dict[str, Any]:
    """The sessions and datasets the checks use, found as staff."""
    staff = caller(gateway, provider, STAFF)
    sessions = staff.data(SESSIONS)["investigations"]["nodes"]

    def beamlines(session: dict[str, Any]) -> set[str]:
        return {instrument["name"] for instrument in session["instruments"]}

    def kind(session: dict[str, Any]) -> str:
        if session["isReleased"]:
            return "released"
        return "proprietary" if session["releaseDate"] is None else "embargoed"

    fixed = {"esrf/pi1", "esrf/member1", "esrf/outsider1", "esrf/scientist1", "esrf/staff1"}

    started = [s for s in sessions if "esrf/pi1" in team_names(s) and s["startDate"] < NOW]
    of_pi = {
        "released": next(s for s in started if kind(s) == "released"),
        "embargoed": next(
            s for s in started if kind(s) == "embargoed" and "ID30A-1" in beamlines(s)
        ),
        "proprietary": next(s for s in started if kind(s) == "proprietary"),
    }
    # The demo puts member1 on pi1's released and embargoed sessions, not the proprietary
    # one, and the embargoed one on ID30A-1, where scientist1 is a beamline scientist.
    assert "esrf/member1" in team_names(of_pi["embargoed"]) and "esrf/member1" in team_names(
        of_pi["released"]
    )
    assert "esrf/member1" not in team_names(of_pi["proprietary"])
    assert "ID30A-1" not in beamlines(of_pi["proprietary"])
    # pi1's scheduled session on ID30A-1: nobody else of the cast is on its team.
    beamline = next(
        s
        for s in sessions
        if "esrf/pi1" in team_names(s) and s["startDate"] > NOW and "ID30A-1" in beamlines(s)
    )
    assert team_names(beamline) & fixed == {"esrf/pi1"}
    strangers = [s for s in sessions if kind(s) == "embargoed" and not team_names(s) & fixed]
    elsewhere = next(s for s in strangers if "ID30A-1" not in beamlines(s))
    publications = staff.data(
        """{ dataPublications(first: 100) { nodes { isPublished
             datasets(first: 100) { nodes { id investigation { id isReleased } } } } } }"""
    )["dataPublications"]["nodes"]
    early = next(
        dataset
        for publication in publications
        if publication["isPublished"]
        for dataset in publication["datasets"]["nodes"]
        if not dataset["investigation"]["isReleased"]
    )
    grantee = next(
        name
        for s in sessions
        for name in sorted(team_names(s))
        if name not in fixed and name not in team_names(of_pi["proprietary"])
    )
    return {
        **of_pi,
        "beamline": beamline,
        "elsewhere": elsewhere,
        "early": early,
        "grantee": grantee,
    }


def sees_data(who: Caller, session: dict[str, Any]) -> bool:
    """Whether the caller reads the session's DATA fields; landing facts must always show."""
    body = who.run(SESSION, {"id": session["id"]})
    investigation = body["data"]["investigation"]
    assert investigation["id"] == session["id"] and investigation["title"]
    assert investigation["team"]["nodes"] and investigation["instruments"]
    errors = body.get("errors", [])
    if investigation["summary"] is None:
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
        assert errors[0]["path"] == ["investigation", "summary"]
        return False
    assert not errors
    return True


EXPECTED = {
    # caller: pi1's released, embargoed (ID30A-1), proprietary (ID11) and scheduled
    # (ID30A-1) sessions, and an embargoed session of strangers on another beamline
    None: (True, False, False, False, False),
    "outsider1": (True, False, False, False, False),
    "member1": (True, True, False, False, False),
    "pi1": (True, True, True, True, False),
    "scientist1": (True, True, False, True, False),
    STAFF: (True, True, True, True, True),
}


@pytest.mark.parametrize("login", list(EXPECTED), ids=[str(k) for k in EXPECTED])
def test_who_sees_the_data_of_which_session(
    gateway: str, provider: OIDCProvider, cast: dict[str, Any], login: str | None
) -> None:
    who = caller(gateway, provider, login)
    seen = tuple(
        sees_data(who, cast[name])
        for name in ("released", "embargoed", "proprietary", "beamline", "elsewhere")
    )
    assert seen == EXPECTED[login]


@pytest.mark.parametrize("login", list(EXPECTED), ids=[str(k) for k in EXPECTED])
def test_a_dataset_released_by_doi_is_public(
    gateway: str, provider: OIDCProvider, cast: dict[str, Any], login: str | None
) -> None:
    who = caller(gateway, provider, login)
    data = who.data(
        "query($id: ID!) { dataset(id: $id) { id name location } }", {"id": cast["early"]["id"]}
    )
    assert data["dataset"]["id"] == cast["early"]["id"]


def test_hidden_datasets_are_not_found_and_not_listed(
    gateway: str, provider: OIDCProvider, cast: dict[str, Any]
) -> None:
    member = caller(gateway, provider, "member1")
    embargoed = cast["embargoed"]
    datasets = member.data(SESSION, {"id": embargoed["id"]})["investigation"]["datasets"]
    outsider = caller(gateway, provider, "outsider1")
    listed = outsider.run(SESSION, {"id": embargoed["id"]})["data"]["investigation"]["datasets"]
    # The outsider lists only what pi1's published DOI opened, with a total to match.
    assert 0 < listed["totalCount"] == len(listed["nodes"]) < datasets["totalCount"]
    public = {d["id"] for d in listed["nodes"]}
    assert public < {d["id"] for d in datasets["nodes"]}
    hidden = next(d["id"] for d in datasets["nodes"] if d["id"] not in public)
    body = outsider.run("query($id: ID!) { dataset(id: $id) { id } }", {"id": hidden})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


GRANT = """mutation($id: ID!, $user: String!) {
  grantAccess(input: {investigationIds: [$id], grantee: {userName: $user}}) {
    grants { members { role user { name } } investigation { summary } } } }"""


def test_the_main_proposer_grants_access_and_the_collaborator_sees_the_data(
    gateway: str, provider: OIDCProvider, cast: dict[str, Any]
) -> None:
    session = cast["proprietary"]
    grantee = cast["grantee"]
    login = grantee.removeprefix("esrf/")
    variables = {"id": session["id"], "user": grantee}
    # Not yet on the team: sees only the landing facts.
    assert not sees_data(caller(gateway, provider, login), session)
    anonymous = Caller(gateway, None).run(GRANT, variables)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    member = caller(gateway, provider, "member1").run(GRANT, variables)
    assert member["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    unknown = caller(gateway, provider, "pi1").run(GRANT, {**variables, "user": "esrf/nobody-here"})
    assert unknown["errors"][0]["extensions"]["code"] == "UNKNOWN_USER"
    granted = caller(gateway, provider, "pi1").data(GRANT, variables)
    (grant,) = granted["grantAccess"]["grants"]
    assert grant["members"] == [{"role": "Collaborator", "user": {"name": grantee}}]
    assert grant["investigation"]["summary"]  # the granter sees it anyway
    # Idempotent: a second grant adds nothing and answers the same.
    assert caller(gateway, provider, "pi1").data(GRANT, variables) == granted
    assert sees_data(caller(gateway, provider, login), session)
    roles = caller(gateway, provider, login).data(
        "query($id: ID) { investigation(id: $id) { myRoles } }", {"id": session["id"]}
    )
    assert roles["investigation"]["myRoles"] == ["Collaborator"]


def test_a_bad_token_is_a_401_with_a_reason(gateway: str, provider: OIDCProvider) -> None:
    expired = provider.mint(provider.claims(preferred_username="pi1", exp=1_000_000))
    response = Caller(gateway, expired).post("{ me { userName } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in response.headers["www-authenticate"]


def test_me(gateway: str, provider: OIDCProvider) -> None:
    me = caller(gateway, provider, "pi1").data(
        """{ me { userName isStaff user { fullName email }
                 investigations(first: 100) { totalCount } } }"""
    )["me"]
    assert me["userName"] == "esrf/pi1" and me["isStaff"] is False
    assert me["user"]["email"]  # their own e-mail
    assert me["investigations"]["totalCount"] >= 3
    anonymous = Caller(gateway, None).data(
        "{ me { userName isAnonymous investigations { totalCount } } }"
    )
    assert anonymous["me"] == {
        "userName": None,
        "isAnonymous": True,
        "investigations": {"totalCount": 0},
    }
