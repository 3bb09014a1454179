"""The reader account the gateway prepares downloads with: a configured ICAT session, or
a login to ICAT with an authenticator and credentials (``POST /icat/session``), renewed
when the data service says the session is no longer valid."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from gateway.errors import UpstreamRefused, UpstreamUnavailable


class ReaderSession(Protocol):
    async def current(self) -> str:
        """The session to prepare with."""
        ...

    async def renew(self, stale: str) -> str | None:
        """A new session in place of ``stale`` (refused by the data service); None when
        there is nothing to renew (a configured session)."""
        ...


@dataclass(frozen=True)
class ConfiguredSession:
    """A session id configured as it is: nothing to renew."""

    session_id: str = field(repr=False)

    async def current(self) -> str:
        return self.session_id

    async def renew(self, stale: str) -> str | None:
        return None


@dataclass
class ICATLogin:
    """Logs the reader account in to ICAT, once per process until IDS refuses the session
    (a timed-out session), then again. Only the session id lives here; any process can
    log in for itself."""

    icat_url: str
    authenticator: str
    user_name: str
    password: str = field(repr=False)
    http: httpx.AsyncClient = field(repr=False)
    _session: str | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def current(self) -> str:
        async with self._lock:
            if self._session is None:
                self._session = await self._login()
            return self._session

    async def renew(self, stale: str) -> str | None:
        async with self._lock:
            if self._session in (None, stale):
                self._session = await self._login()
            return self._session

    async def _login(self) -> str:
        credentials = {
            "plugin": self.authenticator,
            "credentials": [{"username": self.user_name}, {"password": self.password}],
        }
        url = f"{self.icat_url.rstrip('/')}/icat/session"
        try:
            response = await self.http.post(url, data={"json": json.dumps(credentials)})
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(
                f"ICAT did not answer the reader account's login ({type(error).__name__})."
            ) from error
        if response.status_code >= 500:
            raise UpstreamUnavailable(f"ICAT is unavailable (HTTP {response.status_code}).")
        if response.status_code != 200:
            raise UpstreamRefused("ICAT refused the reader account's login.")
        try:
            session = response.json()["sessionId"]
        except (ValueError, KeyError, TypeError) as error:
            raise UpstreamUnavailable("ICAT answered the login without a session.") from error
        return str(session)
