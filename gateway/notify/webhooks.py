"""Webhooks out: an event as a CloudEvents 1.0 document (structured JSON mode), signed
with HMAC-SHA256 under the subscription's secret, POSTed to the subscription's URL."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
import orjson

from gateway.notify.subscriptions import Subscription

CONTENT_TYPE = "application/cloudevents+json"
SIGNATURE_HEADER = "X-Gateway-Signature"
TYPE_PREFIX = "eu.icat-gateway."
"""CloudEvents ``type`` is reverse-DNS-like: ``eu.icat-gateway.doi.publish``."""


class WebhookUnavailable(Exception):
    """The receiver did not take the event now (5xx, 429, no answer): retry later."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WebhookRefused(Exception):
    """The receiver refused the event for good (another 4xx): do not retry."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _decoded(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def cloud_event(event: Any, source: str) -> bytes:
    """The CloudEvents document of an event (a row of ``GATEWAY_EVENT``), as sent."""
    document = {
        "specversion": "1.0",
        "id": str(event.id),
        "source": source,
        "type": TYPE_PREFIX + event.type,
        "subject": f"{event.subject_kind}/{event.subject_id}",
        "time": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "datacontenttype": "application/json",
        "data": {
            "actor": event.actor,
            "investigationId": event.investigation_id,
            "person": event.person,
            "requestId": event.request_id,
            "role": event.role,
            "reason": event.reason,
            "before": _decoded(event.before),
            "after": _decoded(event.after),
        },
    }
    return orjson.dumps(document)


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """POSTs signed documents with the application's HTTP client."""

    def __init__(self, http: httpx.AsyncClient, timeout: float = 10.0) -> None:
        self.http = http
        self.timeout = timeout

    async def send(self, subscription: Subscription, body: bytes) -> int:
        """The receiver's status once it took the document (2xx)."""
        headers = {
            "Content-Type": CONTENT_TYPE,
            SIGNATURE_HEADER: signature(subscription.secret, body),
        }
        try:
            response = await self.http.post(
                subscription.url, content=body, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as error:
            raise WebhookUnavailable(f"{type(error).__name__}: {error}") from None
        status = response.status_code
        if 200 <= status < 300:
            return status
        if status >= 500 or status in (408, 429):
            raise WebhookUnavailable(f"HTTP {status}", status)
        raise WebhookRefused(f"HTTP {status}", status)
