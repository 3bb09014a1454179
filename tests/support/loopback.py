"""A real HTTP server on 127.0.0.1, on an ephemeral port, served from a background thread.

The stand-ins for Keycloak and ICAT build on it, so the code under test goes through
httpx, sockets and HTTP parsing exactly as in production, and nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Request:
    """One request as the server read it: for stand-ins that need more than the path."""

    method: str
    path: str
    """Percent-decoded, without the query string."""
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes


@dataclass
class Reply:
    """What the server answers: a status, a JSON-able body (or raw bytes), headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class LoopbackServer:
    """Base class: subclasses implement :meth:`route`.

    Every request is counted by path (``requests(path)``). ``fail_with_status`` makes
    every route answer that status (an outage); ``delay_seconds`` slows every answer, so
    tests can make concurrent requests overlap.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.fail_with_status: int | None = None
        self.delay_seconds = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Serve in a background thread until :meth:`stop`."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port (later connections are refused)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- bookkeeping --------------------------------------------------------------------

    def requests(self, path: str) -> int:
        """How many requests asked for ``path`` (query strings ignored)."""
        with self._lock:
            return self._counts[path]

    def reset_counts(self) -> None:
        """Forget the request counts."""
        with self._lock:
            self._counts.clear()

    # -- to implement -------------------------------------------------------------------

    def route(self, method: str, path: str) -> Reply:
        """Answer one request; the default is 404."""
        return Reply(404, {"error": "not found"})

    def handle(self, request: Request) -> Reply:
        """Answer one request with its query, headers and body at hand; the default
        asks :meth:`route`."""
        return self.route(request.method, request.path)

    # -- plumbing -----------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self._counts[request.path] += 1
            failing = self.fail_with_status
            delay = self.delay_seconds
        if delay:
            time.sleep(delay)  # a handler thread of its own: blocking is what we want
        if failing is not None:
            return Reply(failing, {"error": "simulated outage"})
        return self.handle(request)


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PUT(self) -> None:
            self._answer("PUT")

        def do_DELETE(self) -> None:
            self._answer("DELETE")

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=method,
                path=unquote(url.path),
                query=parse_qs(url.query),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            reply = server._dispatch(request)
            if reply.body is None and reply.status == 204:
                self.send_response(204)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                return
            if isinstance(reply.body, bytes):
                payload = reply.body
                content_type = "application/octet-stream"
            else:
                payload = json.dumps(reply.body).encode()
                content_type = "application/json"
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.headers.get("Content-Type", content_type))
            for name, value in reply.headers.items():
                if name != "Content-Type":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            # Keep pytest output clean; the request counts are the useful record.
            pass

    return Handler
