"""The SMTP adapter against a loopback aiosmtpd server speaking the real protocol: it
upgrades with STARTTLS and logs in as configured, and tells a refused login or a server
that is down apart (retried later) from a delivery that went through."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.notify.mail import MailRefused, MailUnavailable, SmtpMailer
from gateway.settings import Settings
from tests.support.certificates import loopback_certificate
from tests.support.smtp_server import SmtpServer


def message() -> EmailMessage:
    sent = EmailMessage()
    sent["From"], sent["To"], sent["Subject"] = "gw@test.example", "pi@test.example", "Hello"
    sent.set_content("Body")
    return sent


async def test_starttls_and_login_by_settings(tmp_path: Path) -> None:
    ca_file, context = loopback_certificate(tmp_path)
    with SmtpServer(tls=context, login=("gateway", "s3cret")) as server:
        settings = Settings(
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_ca_file=str(ca_file),
            smtp_username="gateway",
            smtp_password="s3cret",
            smtp_timeout=5,
        )
        await SmtpMailer(settings).send(message())
        assert [m["Subject"] for m in server.taken()] == ["Hello"]
        anonymous = Settings(**{**settings.__dict__, "smtp_username": None, "smtp_password": None})
        with pytest.raises(MailRefused):  # 530: the server wants the login; not retried
            await SmtpMailer(anonymous).send(message())
        untrusted = Settings(**{**settings.__dict__, "smtp_ca_file": None})
        with pytest.raises(MailUnavailable):  # the certificate is not the system's to trust
            await SmtpMailer(untrusted).send(message())
        plain = Settings(**{**settings.__dict__, "smtp_starttls": False})
        with pytest.raises((MailRefused, MailUnavailable)):  # the server requires TLS
            await SmtpMailer(plain).send(message())
        assert server.taken() == []


async def test_a_server_that_is_down_is_retried_later() -> None:
    server = SmtpServer()  # never started: its port refuses connections
    settings = Settings(smtp_host="127.0.0.1", smtp_port=server.port, smtp_starttls=False)
    with pytest.raises(MailUnavailable):
        await SmtpMailer(settings).send(message())
