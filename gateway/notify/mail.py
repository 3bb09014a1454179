"""E-mail out: the SMTP adapter (aiosmtplib: STARTTLS and login as configured) and a fake
that keeps the messages, for the unit tests of the worker."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from gateway.settings import Settings


class MailUnavailable(Exception):
    """The SMTP server could not take the message now: retry later."""


class MailRefused(Exception):
    """The SMTP server refused the message for good (a 5xx reply): do not retry."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Sends each message in a connection of its own through the configured server."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.starttls = settings.smtp_starttls
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.timeout = settings.smtp_timeout
        self.ca_file = settings.smtp_ca_file

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                start_tls=self.starttls,
                username=self.username,
                password=self.password,
                timeout=self.timeout,
                cert_bundle=self.ca_file,
            )
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600:
                raise MailRefused(f"{error.code} {error.message}") from None
            raise MailUnavailable(f"{error.code} {error.message}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise MailUnavailable(str(error) or type(error).__name__) from None


class FakeMailer:
    """Keeps what it is given; ``down`` makes it answer as a server that is not there."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.down = False

    async def send(self, message: EmailMessage) -> None:
        if self.down:
            raise MailUnavailable("connection refused")
        self.sent.append(message)
