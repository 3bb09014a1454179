"""The development issuer: embedded demo mode only, real tokens, the production verifier."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.auth.demo_issuer import ISSUER
from gateway.auth.oidc import OIDCVerifier
from gateway.settings import Settings, SettingsError

ME = {"query": "{ me { userName } }"}


def test_the_issuer_is_on_by_default_in_embedded_mode_only() -> None:
    assert Settings().demo_login_enabled
    assert not Settings(embedded=False).demo_login_enabled
    assert not Settings(production=True).demo_login_enabled
    assert not Settings.from_env({"ICAT_GATEWAY_DEMO_LOGIN": "false"}).demo_login_enabled


@pytest.mark.parametrize(
    "environ",
    [
        {"ICAT_GATEWAY_DEMO_LOGIN": "true", "ICAT_GATEWAY_EMBEDDED": "false"},
        {"ICAT_GATEWAY_DEMO_LOGIN": "true", "ICAT_GATEWAY_PRODUCTION": "true"},
    ],
    ids=["not-embedded", "production"],
)
def test_the_issuer_cannot_be_enabled_outside_embedded_demo_mode(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="ICAT_GATEWAY_DEMO_LOGIN"):
        Settings.from_env(environ)


async def test_without_demo_mode_there_is_no_issuer(sqlite_settings: Settings) -> None:
    app = create_app(replace(sqlite_settings, demo_login=False))
    assert app.state.demo_issuer is None
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        assert (await http.post("/dev/oidc/token?user=esrf/pi1")).status_code == 404
        discovery = await http.get("/dev/oidc/.well-known/openid-configuration")
        assert discovery.status_code == 404


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


async def test_a_demo_users_token_is_signed_and_checked_by_the_production_verifier(
    sqlite_settings: Settings,
) -> None:
    app = create_app(sqlite_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        refused = await http.post("/dev/oidc/token?user=esrf/somebody")
        assert refused.status_code == 400 and "not a demo user" in refused.text
        answer = await http.post("/dev/oidc/token?user=esrf/pi1")
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        token = answer.json()["access_token"]
        assert claims_of(token)["iss"] == ISSUER
        bearer = {"Authorization": f"Bearer {token}"}
        me = await http.post("/graphql", json=ME, headers=bearer)
        assert me.json() == {"data": {"me": {"userName": "esrf/pi1"}}}
        # The JWKS the verifier fetched holds the public half only.
        jwks = (await http.get("/dev/oidc/jwks")).json()["keys"]
        assert len(jwks) == 1 and "d" not in jwks[0] and jwks[0]["crv"] == "P-256"
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        bad = await http.post("/graphql", json=ME, headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401


def test_the_demo_verifier_is_the_production_class(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings)
    authenticator: Any = next(
        m.kwargs["authenticator"] for m in app.user_middleware if "authenticator" in m.kwargs
    )
    assert type(authenticator._demo) is OIDCVerifier


async def test_every_worker_accepts_every_workers_tokens(sqlite_settings: Settings) -> None:
    """Two apps on one database, as two uvicorn workers: one key, made by the first."""
    first, second = create_app(sqlite_settings), create_app(sqlite_settings)
    async with (
        first.router.lifespan_context(first),
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a") as one,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b") as two,
    ):
        token = (await one.post("/dev/oidc/token?user=esrf/member1")).json()["access_token"]
        me = await two.post("/graphql", json=ME, headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {"data": {"me": {"userName": "esrf/member1"}}}
