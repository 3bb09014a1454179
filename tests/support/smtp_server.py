"""A real SMTP server on 127.0.0.1 (aiosmtpd), keeping the messages it is sent: the
stand-in for a facility's mail server. ``stop`` closes its port (a server that is down);
``start`` opens the same port again."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller

from tests.support.server import free_port


class _Keeper:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.server.lock:
            self.server.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Keeper(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def taken(self) -> list[EmailMessage]:
        """The messages received so far, forgotten here."""
        with self.lock:
            taken, self.messages = self.messages, []
        return taken

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
