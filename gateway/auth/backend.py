"""From request headers to a :class:`Principal`, and the ASGI middleware that applies it.

Credentials come in one of three forms:

- ``Authorization: Bearer <JWT>``: an OIDC access token;
- ``Authorization: Bearer <UUID>``: an ICAT session id (what ICAT clients already hold);
- ``X-ICAT-Session: <UUID>``: the same, for clients that cannot set Authorization;
- ``Authorization: Bearer rvw_...``: a reviewer link's token (``gateway.auth.reviewer_link``),
  also taken from the ``reviewer`` query parameter of a GET (a browser following a link).

No credentials means anonymous: the policy then shows public data only. Credentials that
are present but wrong are an error, never a silent downgrade to anonymous, so a client
with an expired token learns about it instead of seeing an inexplicably empty catalogue.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Collection, Mapping
from typing import Final

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth.icat_session import ICATSessionVerifier, looks_like_session_id
from gateway.auth.oidc import OIDCVerifier
from gateway.auth.principal import ANONYMOUS, AuthenticationError, Principal
from gateway.auth.reviewer_link import (
    PREFIX,
    QUERY_PARAMETER,
    UNRECOGNISED,
    ReviewerLinkVerifier,
)
from gateway.errors import UpstreamUnavailable

__all__ = ["AuthenticationMiddleware", "RequestAuthenticator"]

logger = logging.getLogger(__name__)

ICAT_SESSION_HEADER: Final = "x-icat-session"

# Three base64url segments; the last may be empty so that an unsigned ("alg": "none")
# token still reaches the OIDC verifier and is refused with a precise reason.
_JWT_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class RequestAuthenticator:
    """Decides which verifier a request's credentials belong to, and runs it.

    A verifier left as ``None`` is not configured: credentials of that kind are refused
    rather than ignored. ``demo`` verifies the development issuer's tokens (embedded demo
    mode); a token goes to it when its (not yet verified) ``iss`` names that issuer, and
    to ``oidc`` otherwise. Both are the same validator class, so the choice decides only
    whose keys are trusted, never how a token is checked.
    """

    def __init__(
        self,
        oidc: OIDCVerifier | None,
        icat: ICATSessionVerifier | None,
        *,
        demo: OIDCVerifier | None = None,
        reviewer: ReviewerLinkVerifier | None = None,
    ) -> None:
        self._oidc = oidc
        self._icat = icat
        self._demo = demo
        self._reviewer = reviewer

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """Return who sent a request with these headers.

        ``headers`` may be Starlette's case-insensitive ``Headers`` or a plain mapping
        (looked up case-insensitively).

        :raises AuthenticationError: credentials were given but are not acceptable.
        """
        authorization = _header(headers, "authorization")
        icat_session = _header(headers, ICAT_SESSION_HEADER)

        if authorization is not None and icat_session is not None:
            # Two identities in one request: picking one would be a guess.
            raise AuthenticationError("both Authorization and X-ICAT-Session given")
        if icat_session is not None:
            session_id = icat_session.strip()
            if not session_id:
                raise AuthenticationError("empty X-ICAT-Session header")
            return await self._verify_icat(session_id)
        if authorization is None:
            return ANONYMOUS

        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError("unsupported authorization scheme")
        token = credentials.strip()
        if not token:
            raise AuthenticationError("empty bearer token")
        if _JWT_SHAPE.fullmatch(token):
            if self._demo is not None and _issuer_named(token) == self._demo.config.issuer:
                return await self._demo.verify(token)
            if self._oidc is None:
                raise AuthenticationError("OIDC tokens are not accepted")
            return await self._oidc.verify(token)
        if looks_like_session_id(token):
            return await self._verify_icat(token)
        return await self.verify_reviewer(token)

    async def verify_reviewer(self, token: str) -> Principal:
        """A reviewer link's principal; refused as any unrecognised token otherwise."""
        if self._reviewer is None or not token.startswith(PREFIX):
            raise AuthenticationError(UNRECOGNISED)
        return await self._reviewer.verify(token)

    async def _verify_icat(self, session_id: str) -> Principal:
        if self._icat is None:
            raise AuthenticationError("ICAT sessions are not accepted")
        return await self._icat.verify(session_id)


def _issuer_named(token: str) -> object:
    """The ``iss`` a JWT claims, unverified: only to pick the verifier that checks it."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, IndexError):
        return None
    return claims.get("iss") if isinstance(claims, dict) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if isinstance(headers, Headers):
        return headers.get(name)
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class AuthenticationMiddleware:
    """Pure ASGI middleware that puts the caller's :class:`Principal` in ``scope["principal"]``.

    Written against raw ASGI rather than ``BaseHTTPMiddleware``: it runs on every request
    and must not buffer bodies or add a task per request. Requests to ``exempt_paths``
    (health checks) skip authentication and are anonymous. Refused credentials get 401
    with a GraphQL-shaped error body and an RFC 6750 ``WWW-Authenticate`` challenge; an
    unreachable identity provider or ICAT gets 503 so clients retry instead of
    discarding a good token.
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: RequestAuthenticator,
        exempt_paths: Collection[str] = ("/healthz",),
    ) -> None:
        self._app = app
        self._authenticator = authenticator
        self._exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        if scope["path"] in self._exempt_paths:
            scope["principal"] = ANONYMOUS
            await self._app(scope, receive, send)
            return

        try:
            principal = await self._authenticate(scope)
        except UpstreamUnavailable as error:
            logger.warning("authentication impossible: %s", error.reason)
            await _refuse(scope, send, 503, "UPSTREAM_UNAVAILABLE", error.reason)
            return
        except AuthenticationError as error:
            logger.info("authentication refused: %s", error.reason)
            await _refuse(scope, send, 401, "UNAUTHENTICATED", error.reason)
            return
        scope["principal"] = principal
        await self._app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Principal:
        headers = Headers(scope=scope)
        principal = await self._authenticator.authenticate(headers)
        if principal is not ANONYMOUS or scope.get("method") not in ("GET", "HEAD"):
            return principal
        # A reviewer following a link in a browser: the token rides in the query string
        # (landing pages, GET queries); a header, when given, wins above.
        token = QueryParams(scope.get("query_string", b"").decode("latin-1")).get(QUERY_PARAMETER)
        if token is None:
            return principal
        return await self._authenticator.verify_reviewer(token.strip())


async def _refuse(scope: Scope, send: Send, status: int, code: str, reason: str) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting makes the server answer the handshake with 403.
        # 1008 is "policy violation"; 1013 "try again later".
        await send(
            {"type": "websocket.close", "code": 1008 if status == 401 else 1013, "reason": reason}
        )
        return
    body = json.dumps(
        {"errors": [{"message": reason, "extensions": {"code": code}}]}, separators=(",", ":")
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # Auth failures must not be cached by a proxy and replayed to someone else.
        (b"cache-control", b"no-store"),
    ]
    if status == 401:
        challenge = f'Bearer error="invalid_token", error_description="{_quoted(reason)}"'
        headers.append((b"www-authenticate", challenge.encode("latin-1")))
    else:
        headers.append((b"retry-after", b"5"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _quoted(text: str) -> str:
    """``text`` reduced to what RFC 6750 allows in ``error_description``.

    That is printable ASCII without ``"`` and ``\\`` (escapes are not allowed either), so
    a reason can never break out of the header's quoted string.
    """
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "'" for c in text)
