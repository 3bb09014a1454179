"""The development OIDC issuer: real signed tokens for the demo's fixed users.

In embedded demo mode (``Settings.demo_login_enabled``) the gateway is its own small
OpenID provider, at ``/dev/oidc``: a discovery document, a JWKS and a token endpoint
(``/dev/oidc/token?user=esrf/pi1``) that answers for the demo's fixed users only. Its
tokens are checked by :class:`~gateway.auth.oidc.OIDCVerifier`, the production validator,
which fetches the discovery document and the JWKS from these same routes in-process
(an ASGI transport, no socket): discovery, key parsing, signature and claims are checked
exactly as for Keycloak's tokens.

The issuer's name is ``http://icat-gateway.invalid/dev/oidc`` whatever address the gateway
listens on (``.invalid`` never resolves, RFC 2606): a token stays valid behind a proxy,
on another port and on every worker.

The signing key is an EC P-256 key (ES256) made once and kept by the caller (the
application stores it in the gateway's own table), so a token minted by one worker is
accepted by every other.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any, Final

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.auth.oidc import OIDCConfig

__all__ = ["ISSUER", "PATH", "DemoIssuer", "new_signing_key"]

PATH: Final = "/dev/oidc"
ISSUER: Final = "http://icat-gateway.invalid" + PATH
AUDIENCE: Final = "icat-gateway"
TOKEN_SECONDS: Final = 3600
ALGORITHM: Final = "ES256"


def new_signing_key() -> str:
    """A new private signing key, as JWK JSON (what the application stores)."""
    key = ECKey.generate_key("P-256", {"use": "sig", "alg": ALGORITHM}, auto_kid=True)
    return json.dumps(key.as_dict(private=True))


class DemoIssuer:
    """Mints and publishes tokens for ``users`` (full ICAT user names: ``esrf/pi1``)."""

    def __init__(self, users: Sequence[str]) -> None:
        self.users = tuple(users)
        self._key: ECKey | None = None

    def use_key(self, jwk_json: str) -> None:
        """Sign with this private key (from :func:`new_signing_key`, kept by the caller)."""
        key = ECKey.import_key(json.loads(jwk_json))
        if not key.is_private:
            raise ValueError("the development issuer needs a private key")
        self._key = key

    @property
    def config(self) -> OIDCConfig:
        """How the production verifier is to trust this issuer."""
        return OIDCConfig(
            issuer=ISSUER,
            audience=AUDIENCE,
            username_claim="preferred_username",
            groups_claim="groups",
            algorithms=(ALGORITHM,),
        )

    def client(self) -> httpx.AsyncClient:
        """An HTTP client whose requests to the issuer are answered in-process."""
        app = Starlette(routes=self.routes())
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://icat-gateway.invalid"
        )

    def mint(self, user: str) -> str:
        """A signed access token for one of the demo users."""
        if user not in self.users:
            raise KeyError(user)
        key = self._signing_key()
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user,
            "preferred_username": user,
            "typ": "Bearer",
            "iat": now,
            "exp": now + TOKEN_SECONDS,
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM])

    def _signing_key(self) -> ECKey:
        if self._key is None:
            raise RuntimeError("the development issuer has no key yet (the app did not start)")
        return self._key

    # -- HTTP ---------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route(PATH + "/.well-known/openid-configuration", self._discovery, methods=["GET"]),
            Route(PATH + "/jwks", self._jwks, methods=["GET"]),
            Route(PATH + "/token", self._token, methods=["GET", "POST"]),
        ]

    async def _discovery(self, request: Request) -> Response:
        # Endpoints relative to the request, so that a person reading the document at the
        # gateway's own address can follow them; the issuer is the fixed name.
        base = str(request.base_url).rstrip("/") + PATH
        return JSONResponse(
            {
                "issuer": ISSUER,
                "jwks_uri": base + "/jwks",
                "token_endpoint": base + "/token",
                "id_token_signing_alg_values_supported": [ALGORITHM],
                "icat_gateway_demo_users": list(self.users),
            }
        )

    async def _jwks(self, _: Request) -> Response:
        if self._key is None:
            return JSONResponse({"error": "no signing key yet"}, status_code=503)
        public: dict[str, Any] = dict(self._key.as_dict(private=False))
        return JSONResponse({"keys": [public]})

    async def _token(self, request: Request) -> Response:
        user = request.query_params.get("user", "")
        if user not in self.users:
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": f"not a demo user: {user!r}; one of "
                    + ", ".join(self.users),
                },
                status_code=400,
                headers={"Cache-Control": "no-store"},
            )
        body = {
            "access_token": self.mint(user),
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
