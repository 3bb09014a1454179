"""Connections that do not send a request are closed: uvicorn's h11 protocol with a
deadline for each request's headers.

uvicorn closes a kept-alive connection that stays idle after a response
(``timeout_keep_alive``), but a new connection that sends nothing, or sends its headers a
byte at a time, it keeps open for as long as the client likes: 200 of them held a worker's
connections for as long as the probe cared to wait. Here every connection must complete
a request's headers within ``ICAT_GATEWAY_HEADER_TIMEOUT`` seconds of opening (or of the
previous response), or it is closed. The body has a deadline of its own, in the gate
(``ICAT_GATEWAY_BODY_TIMEOUT``, 408).
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.settings import Settings


@cache
def read_timeout() -> float:
    """The setting, read once per process (uvicorn builds the protocol, not the app)."""
    return Settings.from_env().header_timeout


class DeadlineH11Protocol(H11Protocol):
    """``H11Protocol`` closing a connection whose request headers are late."""

    def __init__(self, *args: Any, header_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout if header_timeout is not None else read_timeout()
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self._in_request():
            self._disarm()  # the headers are in: the request is the app's now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers have the same deadline

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        if not self._in_request() and not self.transport.is_closing():
            self.transport.close()
