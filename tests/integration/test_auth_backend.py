"""RequestAuthenticator and AuthenticationMiddleware with real verifiers and loopback servers.

The middleware is exercised inside a real Starlette application over httpx's ASGI
transport; the verifiers behind it talk HTTP to the loopback provider and ICAT.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from gateway.auth.backend import AuthenticationMiddleware, RequestAuthenticator
from gateway.auth.icat_session import ICATSessionVerifier
from gateway.auth.oidc import OIDCConfig, OIDCVerifier
from gateway.auth.principal import (
    ANONYMOUS,
    AuthenticationError,
    Principal,
)
from tests.support.fixtures import (  # noqa: F401
    FakeClock,
    clock_fixture,
    http_client_fixture,
    icat_server_fixture,
    oidc_provider_fixture,
)
from tests.support.icat_server import ICATServer
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider


@pytest.fixture
def oidc_verifier(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> OIDCVerifier:
    config = OIDCConfig(issuer=oidc_provider.issuer, audience=DEFAULT_AUDIENCE)
    return OIDCVerifier(config, http_client, clock=clock)


@pytest.fixture
def icat_verifier(
    icat_server: ICATServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> ICATSessionVerifier:
    return ICATSessionVerifier(icat_server.base_url, http_client, clock=clock)


@pytest.fixture
def authenticator(
    oidc_verifier: OIDCVerifier, icat_verifier: ICATSessionVerifier
) -> RequestAuthenticator:
    return RequestAuthenticator(oidc_verifier, icat_verifier)


async def refused(authenticator: RequestAuthenticator, headers: dict[str, str]) -> str:
    with pytest.raises(AuthenticationError) as caught:
        await authenticator.authenticate(headers)
    return caught.value.reason


# -- RequestAuthenticator ----------------------------------------------------------------


async def test_no_credentials_is_anonymous(
    authenticator: RequestAuthenticator, oidc_provider: OIDCProvider, icat_server: ICATServer
) -> None:
    principal = await authenticator.authenticate({"Accept": "application/json"})

    assert principal is ANONYMOUS
    assert oidc_provider.discovery_requests == 0
    assert icat_server.session_requests == 0


async def test_bearer_jwt_goes_to_oidc(
    authenticator: RequestAuthenticator, oidc_provider: OIDCProvider
) -> None:
    principal = await authenticator.authenticate(
        {"Authorization": f"Bearer {oidc_provider.mint()}"}
    )

    assert principal.via == "oidc"
    assert principal.user_name == "jdoe"


async def test_bearer_uuid_goes_to_icat(
    authenticator: RequestAuthenticator, icat_server: ICATServer
) -> None:
    session_id = icat_server.add_session("db/root")

    principal = await authenticator.authenticate({"Authorization": f"Bearer {session_id}"})

    assert principal == Principal(user_name="db/root", via="icat-session")


async def test_icat_session_header(
    authenticator: RequestAuthenticator, icat_server: ICATServer
) -> None:
    session_id = icat_server.add_session("db/root")

    principal = await authenticator.authenticate({"X-ICAT-Session": session_id})

    assert principal.user_name == "db/root"


async def test_header_names_and_scheme_are_case_insensitive(
    authenticator: RequestAuthenticator, icat_server: ICATServer, oidc_provider: OIDCProvider
) -> None:
    session_id = icat_server.add_session("db/root")

    by_session = await authenticator.authenticate({"x-icat-session": session_id})
    by_token = await authenticator.authenticate(
        {"AUTHORIZATION": f"bearer  {oidc_provider.mint()} "}
    )

    assert (by_session.user_name, by_token.user_name) == ("db/root", "jdoe")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Authorization": "Basic cm9vdDpwdw=="}, "unsupported authorization scheme"),
        ({"Authorization": "Bearer"}, "empty bearer token"),
        ({"Authorization": "Bearer   "}, "empty bearer token"),
        ({"Authorization": "Bearer not a token"}, "unrecognised bearer token"),
        ({"Authorization": "Bearer secret"}, "unrecognised bearer token"),
        ({"X-ICAT-Session": " "}, "empty X-ICAT-Session header"),
        ({"X-ICAT-Session": "root"}, "malformed ICAT session id"),
        (
            {
                "Authorization": "Bearer 0b7a3f6e-52a4-4c1e-9d2b-6f1a2c3d4e5f",
                "X-ICAT-Session": "0b7a3f6e-52a4-4c1e-9d2b-6f1a2c3d4e5f",
            },
            "both Authorization and X-ICAT-Session given",
        ),
    ],
)
async def test_unacceptable_credentials(
    authenticator: RequestAuthenticator, headers: dict[str, str], reason: str
) -> None:
    assert await refused(authenticator, headers) == reason


async def test_jwt_without_oidc_configured(
    icat_verifier: ICATSessionVerifier, oidc_provider: OIDCProvider
) -> None:
    authenticator = RequestAuthenticator(oidc=None, icat=icat_verifier)
    headers = {"Authorization": f"Bearer {oidc_provider.mint()}"}

    assert await refused(authenticator, headers) == "OIDC tokens are not accepted"


async def test_icat_session_without_icat_configured(
    oidc_verifier: OIDCVerifier, icat_server: ICATServer
) -> None:
    authenticator = RequestAuthenticator(oidc=oidc_verifier, icat=None)
    session_id = icat_server.add_session()

    for headers in ({"Authorization": f"Bearer {session_id}"}, {"X-ICAT-Session": session_id}):
        assert await refused(authenticator, headers) == "ICAT sessions are not accepted"
    assert icat_server.session_requests == 0


async def test_nothing_configured_still_allows_anonymous() -> None:
    authenticator = RequestAuthenticator(oidc=None, icat=None)

    assert await authenticator.authenticate({}) is ANONYMOUS


# -- AuthenticationMiddleware in a Starlette application ------------------------------------


async def whoami(request: Request) -> JSONResponse:
    principal: Principal = request.scope["principal"]
    return JSONResponse(
        {
            "user": principal.user_name,
            "groups": sorted(principal.groups),
            "via": principal.via,
            "anonymous": principal.is_anonymous,
        }
    )


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"ok {request.scope['principal'].via}")


@pytest.fixture
async def app_client(authenticator: RequestAuthenticator) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=[Route("/graphql", whoami), Route("/healthz", healthz)],
        middleware=[Middleware(AuthenticationMiddleware, authenticator=authenticator)],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


async def test_anonymous_request_passes_through(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/graphql")

    assert response.status_code == 200
    assert response.json() == {"user": None, "groups": [], "via": "anonymous", "anonymous": True}


async def test_valid_token_reaches_the_app(
    app_client: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    response = await app_client.get(
        "/graphql", headers={"Authorization": f"Bearer {oidc_provider.mint()}"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "user": "jdoe",
        "groups": ["/id23", "/staff"],
        "via": "oidc",
        "anonymous": False,
    }


async def test_valid_icat_session_reaches_the_app(
    app_client: httpx.AsyncClient, icat_server: ICATServer
) -> None:
    session_id = icat_server.add_session("db/root")

    response = await app_client.get("/graphql", headers={"X-ICAT-Session": session_id})

    assert response.status_code == 200
    assert response.json()["user"] == "db/root"


async def test_refused_token_gets_401_with_challenge(
    app_client: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    token = oidc_provider.mint(oidc_provider.claims(aud="account"))

    response = await app_client.post(
        "/graphql", headers={"Authorization": f"Bearer {token}"}, json={"query": "{ __typename }"}
    )

    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": "audience mismatch", "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="audience mismatch"'
    )
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"


async def test_expired_icat_session_gets_401(
    app_client: httpx.AsyncClient, icat_server: ICATServer
) -> None:
    response = await app_client.get(
        "/graphql", headers={"X-ICAT-Session": "0b7a3f6e-52a4-4c1e-9d2b-6f1a2c3d4e5f"}
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "ICAT session invalid or expired"
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="ICAT session invalid or expired"'
    )


async def test_unreachable_icat_gets_503(
    app_client: httpx.AsyncClient, icat_server: ICATServer
) -> None:
    session_id = icat_server.add_session()
    icat_server.fail_with_status = 500

    response = await app_client.get("/graphql", headers={"Authorization": f"Bearer {session_id}"})

    assert response.status_code == 503
    assert response.json() == {
        "errors": [
            {"message": "ICAT server unreachable", "extensions": {"code": "UPSTREAM_UNAVAILABLE"}}
        ]
    }
    assert "www-authenticate" not in response.headers
    assert "retry-after" in response.headers


async def test_unreachable_identity_provider_gets_503(
    app_client: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    token = oidc_provider.mint()
    oidc_provider.stop()

    response = await app_client.get("/graphql", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503
    assert response.json()["errors"][0]["message"] == "identity provider unreachable"


async def test_exempt_path_skips_authentication(
    app_client: httpx.AsyncClient, icat_server: ICATServer
) -> None:
    response = await app_client.get("/healthz", headers={"Authorization": "Bearer garbage"})

    assert response.status_code == 200
    assert response.text == "ok anonymous"


# -- raw ASGI edges -------------------------------------------------------------------------


class Recorder:
    """An inner ASGI app that records the scope it was called with."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)


async def _never_receive() -> Message:
    raise AssertionError("the middleware must not read the request")


async def test_lifespan_passes_through_untouched(authenticator: RequestAuthenticator) -> None:
    inner = Recorder()
    middleware = AuthenticationMiddleware(inner, authenticator)
    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}}

    async def send(message: Message) -> None:
        raise AssertionError("nothing should be sent")

    await middleware(scope, _never_receive, send)

    assert inner.scopes == [scope]
    assert "principal" not in scope


async def test_refused_websocket_is_closed_before_accept(
    authenticator: RequestAuthenticator,
) -> None:
    inner = Recorder()
    middleware = AuthenticationMiddleware(inner, authenticator)
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/graphql",
        "headers": [(b"authorization", b"Bearer garbage")],
    }
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, _never_receive, send)

    assert inner.scopes == []
    assert sent == [
        {"type": "websocket.close", "code": 1008, "reason": "unrecognised bearer token"}
    ]


async def test_reason_cannot_break_out_of_the_challenge() -> None:
    class Hostile(RequestAuthenticator):
        async def authenticate(self, headers: Any) -> Principal:
            raise AuthenticationError('bad "claim" \\ \r\nSet-Cookie: x=1 é')

    middleware = AuthenticationMiddleware(Recorder(), Hostile(None, None))
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware({"type": "http", "path": "/graphql", "headers": []}, _never_receive, send)

    headers = dict(sent[0]["headers"])
    assert headers[b"www-authenticate"] == (
        b"Bearer error=\"invalid_token\", error_description=\"bad 'claim' ' ''Set-Cookie: x=1 '\""
    )
