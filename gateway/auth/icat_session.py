"""Validation of ICAT session ids, for clients that already logged in to ICAT.

ICAT's REST API answers ``GET /icat/session/{sessionId}`` with the session's user name
and remaining lifetime, or 403 when the session is unknown or expired. Answers are cached
briefly so that a burst of GraphQL requests costs one round trip to ICAT; the price is
that a session logged out in ICAT stays usable here for at most ``cache_seconds``.
Refusals are cached too, for ``refusal_cache_seconds`` (a few seconds) in a bounded map
of their own: a client repeating a made-up or expired id costs ICAT one call per id and
period, not one per request, and cannot push valid sessions out of the cache.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from gateway.auth.principal import AuthenticationError, Principal
from gateway.errors import UpstreamUnavailable

__all__ = ["ICATSessionVerifier", "looks_like_session_id"]

logger = logging.getLogger(__name__)

# ICAT session ids are java.util.UUID.randomUUID().toString(). Checking the shape first
# keeps garbage (and path tricks such as "../") out of the URL we build.
_SESSION_ID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

INVALID_SESSION: Final = "ICAT session invalid or expired"
UNREACHABLE: Final = "ICAT server unreachable"


def looks_like_session_id(value: str) -> bool:
    """Whether ``value`` has the shape of an ICAT session id (a UUID)."""
    return _SESSION_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class _Cached:
    principal: Principal
    expires_at: float


class ICATSessionVerifier:
    """Turns an ICAT session id into a :class:`Principal`.

    ``icat_url`` is the server's base URL (``https://icat.example.org``). ``client`` is
    owned by the caller; its timeout applies to the calls made here. With
    ``user_prefix_required``, a user name without an authenticator prefix
    (``"db/root"`` has one, ``"root"`` has not) is refused, because the rest of the gateway
    matches prefixed names and an unprefixed one could alias another person.
    """

    def __init__(
        self,
        icat_url: str,
        client: httpx.AsyncClient,
        cache_seconds: float = 60.0,
        user_prefix_required: bool = False,
        *,
        refusal_cache_seconds: float = 5.0,
        max_cache_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not icat_url.startswith(("https://", "http://")):
            raise ValueError("icat_url must be an http(s) URL")
        if cache_seconds < 0:
            raise ValueError("cache_seconds must not be negative")
        if max_cache_entries < 1:
            raise ValueError("max_cache_entries must be positive")
        self._base_url = icat_url.rstrip("/")
        self._client = client
        self._cache_seconds = cache_seconds
        self._user_prefix_required = user_prefix_required
        self._max_cache_entries = max_cache_entries
        self._clock = clock
        # Insertion/recency order doubles as LRU order, which bounds memory when many
        # distinct sessions (or an attacker's made-up ones that happen to be valid) appear.
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._refusal_seconds = refusal_cache_seconds
        self._refused: OrderedDict[str, float] = OrderedDict()
        """Ids ICAT refused, with when the refusal expires."""

    async def verify(self, session_id: str) -> Principal:
        """Return the owner of the ICAT session ``session_id``.

        :raises AuthenticationError: the id is malformed, unknown or expired.
        :raises UpstreamUnavailable: ICAT could not be asked.
        """
        if not looks_like_session_id(session_id):
            raise AuthenticationError("malformed ICAT session id")

        now = self._clock()
        cached = self._cache.get(session_id)
        if cached is not None:
            if cached.expires_at > now:
                self._cache.move_to_end(session_id)
                return cached.principal
            del self._cache[session_id]
        refused_until = self._refused.get(session_id)
        if refused_until is not None:
            if refused_until > now:
                raise AuthenticationError(INVALID_SESSION)
            del self._refused[session_id]

        try:
            principal, remaining_seconds = await self._ask_icat(session_id)
        except AuthenticationError:
            if self._refusal_seconds > 0:
                self._refused[session_id] = self._clock() + self._refusal_seconds
                while len(self._refused) > self._max_cache_entries:
                    self._refused.popitem(last=False)
            raise
        lifetime = min(self._cache_seconds, remaining_seconds)
        if lifetime > 0:
            self._cache[session_id] = _Cached(principal, self._clock() + lifetime)
            self._cache.move_to_end(session_id)
            while len(self._cache) > self._max_cache_entries:
                self._cache.popitem(last=False)
        return principal

    async def _ask_icat(self, session_id: str) -> tuple[Principal, float]:
        url = f"{self._base_url}/icat/session/{session_id}"
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            # Log the exception type, not the URL: it contains the session id.
            logger.warning("ICAT session check failed: %r", type(error).__name__)
            raise UpstreamUnavailable(UNREACHABLE) from error

        status = response.status_code
        if status in (400, 403, 404) and _icat_error_code(response) in ("SESSION", "BAD_PARAMETER"):
            raise AuthenticationError(INVALID_SESSION)
        if status == 403:
            # ICAT only uses 403 for sessions on this call; a body that is not ICAT's JSON
            # (a proxy's page) still means "not accepted", not "try later".
            raise AuthenticationError(INVALID_SESSION)
        if status != 200:
            # 5xx, or a 404/redirect from a wrong icat_url: either way not the client's fault.
            logger.warning("ICAT session check answered HTTP %d", status)
            raise UpstreamUnavailable(UNREACHABLE)

        user_name, remaining_minutes = _parse_session(response)
        if remaining_minutes <= 0:
            raise AuthenticationError(INVALID_SESSION)
        if self._user_prefix_required and "/" not in user_name:
            logger.warning("ICAT user %r has no authenticator prefix; refused", user_name)
            raise AuthenticationError("ICAT user name lacks an authenticator prefix")
        principal = Principal(user_name=user_name, via="icat-session")
        return principal, remaining_minutes * 60.0


def _icat_error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _parse_session(response: httpx.Response) -> tuple[str, float]:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    user_name = body.get("userName") if isinstance(body, dict) else None
    remaining = body.get("remainingMinutes") if isinstance(body, dict) else None
    if (
        not isinstance(user_name, str)
        or not user_name.strip()
        or isinstance(remaining, bool)
        or not isinstance(remaining, int | float)
        or not math.isfinite(remaining)
    ):
        logger.error("ICAT session check answered an unexpected body")
        raise UpstreamUnavailable("ICAT server answered unexpectedly")
    return user_name, float(remaining)
