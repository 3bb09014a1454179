"""A real SMTP server on 127.0.0.1 (aiosmtpd), keeping the messages it is sent: the
stand-in for a facility's mail server. ``stop`` closes its port (a server that is down);
``start`` opens the same port again."""

from __future__ import annotations

import ssl
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

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
    """With ``tls`` (a certificate and its key), the server offers STARTTLS and requires
    it; with ``login`` (a user name and password) it requires that login (after TLS)."""

    def __init__(
        self, tls: ssl.SSLContext | None = None, login: tuple[str, str] | None = None
    ) -> None:
        self.tls = tls
        self.login = login
        self.port = free_port()
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    def start(self) -> None:
        options: dict[str, Any] = {}
        if self.tls is not None:
            options.update(tls_context=self.tls, require_starttls=True)
        if self.login is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(
            _Keeper(self), hostname="127.0.0.1", port=self.port, **options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == self.login)

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
