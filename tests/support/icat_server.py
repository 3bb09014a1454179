"""An ICAT stand-in on loopback serving ``GET /icat/session/{sessionId}`` and the login,
``POST /icat/session`` (form field ``json``: ``{"plugin", "credentials": [{"username"},
{"password"}]}``, answered ``{"sessionId"}``; 403 ``SESSION`` for wrong credentials).

It answers like ICAT's REST API: ``{"userName": ..., "remainingMinutes": ...}`` for a
known session, 403 with ``{"code": "SESSION", ...}`` otherwise, and counts the calls so
tests can see the verifier's cache at work.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs

from tests.support.loopback import LoopbackServer, Reply, Request

SESSION_PREFIX = "/icat/session/"


class ICATServer(LoopbackServer):
    """The ICAT server stand-in; ``base_url`` is what the verifier gets as ``icat_url``.

    ``session_overrides`` replaces the JSON answer for one session id (to serve
    malformed answers).
    """

    def __init__(self) -> None:
        super().__init__()
        self._sessions_lock = threading.Lock()
        self._sessions: dict[str, tuple[str, float]] = {}
        self.session_overrides: dict[str, Reply] = {}
        self.accounts: dict[tuple[str, str], str] = {}
        """(authenticator, user name) -> password, for the login."""
        self.logins = 0

    def knows(self, session_id: str) -> bool:
        """Whether the session is alive (the IDS stand-in asks, as IDS asks ICAT)."""
        with self._sessions_lock:
            return session_id in self._sessions

    def handle(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == SESSION_PREFIX.rstrip("/"):
            return self._login(request)
        return self.route(request.method, request.path)

    def _login(self, request: Request) -> Reply:
        refused = Reply(
            403, {"code": "SESSION", "message": "The username and password do not match"}
        )
        try:
            form = parse_qs(request.body.decode())
            login = json.loads(form["json"][0])
            plugin = login["plugin"]
            credentials = {k: v for item in login["credentials"] for k, v in item.items()}
            user, password = credentials["username"], credentials["password"]
        except (KeyError, ValueError, TypeError, AttributeError):
            return Reply(400, {"code": "BAD_PARAMETER", "message": "json is not valid"})
        if self.accounts.get((plugin, user)) != password:
            return refused
        with self._sessions_lock:
            self.logins += 1
        return Reply(200, {"sessionId": self.add_session(f"{plugin}/{user}")})

    def add_session(self, user_name: str = "db/root", remaining_minutes: float = 117.5) -> str:
        """Log ``user_name`` in; returns the new session id."""
        session_id = str(uuid.uuid4())
        with self._sessions_lock:
            self._sessions[session_id] = (user_name, remaining_minutes)
        return session_id

    def expire(self, session_id: str) -> None:
        """End a session (timed out or logged out): ICAT forgets it."""
        with self._sessions_lock:
            self._sessions.pop(session_id, None)

    @property
    def session_requests(self) -> int:
        """How many session checks ICAT answered (any session id)."""
        with self._lock:
            return sum(n for path, n in self._counts.items() if path.startswith(SESSION_PREFIX))

    def route(self, method: str, path: str) -> Reply:
        if method != "GET" or not path.startswith(SESSION_PREFIX):
            return Reply(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})
        session_id = path.removeprefix(SESSION_PREFIX)
        if session_id in self.session_overrides:
            return self.session_overrides[session_id]
        with self._sessions_lock:
            session = self._sessions.get(session_id)
        if session is None:
            body: dict[str, Any] = {
                "code": "SESSION",
                "message": f"Unable to find user by sessionid: {session_id}",
            }
            return Reply(403, body)
        user_name, remaining = session
        return Reply(200, {"userName": user_name, "remainingMinutes": remaining})
