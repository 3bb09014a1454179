"""The pure parts of the notifications: webhook subscriptions, the CloudEvents document
and its signature, the e-mails' composition."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from types import SimpleNamespace

import pytest

from gateway.notify.messages import Letterhead, compose
from gateway.notify.subscriptions import SubscriptionError, parse_subscriptions
from gateway.notify.webhooks import cloud_event, signature
from gateway.settings import Settings, SettingsError

HOOK = {
    "id": "archive",
    "url": "https://archive.example/hook",
    "types": ["access.*"],
    "secret": "0123456789abcdef",
}


def event(**values: object) -> SimpleNamespace:
    row = {
        "id": 7,
        "type": "access.request",
        "occurred_at": datetime(2026, 12, 6, 10, 30),
        "actor": "esrf/outsider1",
        "subject_kind": "access_request",
        "subject_id": "3",
        "investigation_id": 42,
        "person": "esrf/outsider1",
        "request_id": 3,
        "role": None,
        "reason": "For my <thesis>",
        "before": None,
        "after": None,
    }
    row.update(values)
    return SimpleNamespace(**row)


def test_subscriptions_choose_types_by_name_and_family() -> None:
    (hook,) = parse_subscriptions(
        json.dumps(
            [
                HOOK,
            ]
        )
    )
    assert hook.wants("access.grant") and not hook.wants("doi.publish")
    every = parse_subscriptions(json.dumps([{**HOOK, "types": ["*"]}]))[0]
    assert every.wants("doi.publish")
    assert parse_subscriptions(None) == () and parse_subscriptions(" ") == ()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"id": "x"}),
        json.dumps([{**HOOK, "url": "ftp://x"}]),
        json.dumps([{**HOOK, "types": []}]),
        json.dumps([{**HOOK, "secret": "short"}]),
        json.dumps([HOOK, HOOK]),
    ],
)
def test_a_bad_subscription_list_stops_the_gateway(text: str) -> None:
    with pytest.raises(SubscriptionError):
        parse_subscriptions(text)
    with pytest.raises(SettingsError, match="ICAT_GATEWAY_WEBHOOKS"):
        Settings(webhooks=text)


def test_the_cloud_event_is_signed_over_its_exact_bytes() -> None:
    body = cloud_event(event(), "https://data.example")
    document = json.loads(body)
    assert document["specversion"] == "1.0" and document["id"] == "7"
    assert document["type"] == "eu.icat-gateway.access.request"
    assert document["subject"] == "access_request/3"
    assert document["time"] == "2026-12-06T10:30:00Z"
    assert document["data"]["investigationId"] == 42
    expected = hmac.new(b"0123456789abcdef", body, hashlib.sha256).hexdigest()
    assert signature("0123456789abcdef", body) == f"sha256={expected}"
    assert signature("0123456789abcdeF", body) != f"sha256={expected}"


def test_a_message_is_in_the_facilitys_words_with_both_bodies() -> None:
    session = SimpleNamespace(name="MX-1234", title="Crystals")
    letterhead = Letterhead("Test Facility", "noreply@facility.example", None)
    message = compose(event(), "pi@facility.example", letterhead, session)
    assert message["Subject"] == (
        "Test Facility: esrf/outsider1 asks for access to MX-1234 (Crystals)"
    )
    assert message["To"] == "pi@facility.example"
    assert message["X-Gateway-Event"] == "7 access.request"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and "For my <thesis>" in text.get_content()
    assert html is not None and "For my &lt;thesis&gt;" in html.get_content()
    changed = compose(
        event(
            type="release_date.change",
            after='{"releaseDate":"2027-03-01T00:00:00+00:00"}',
            before='{"releaseDate":null}',
        ),
        "team@facility.example",
        letterhead,
        session,
    )
    body = changed.get_body(("plain",))
    assert body is not None and "from no date to 2027-03-01" in body.get_content()
