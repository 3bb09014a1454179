"""Webhook subscriptions, as the facility configures them (``ICAT_GATEWAY_WEBHOOKS``):
which event types go to which URL, signed with which secret."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class SubscriptionError(ValueError):
    """A subscription list that cannot be used."""


@dataclass(frozen=True)
class Subscription:
    """One facility system that wants events: their types, the URL, the signing secret."""

    id: str
    url: str
    types: tuple[str, ...]
    secret: str

    def wants(self, event_type: str) -> bool:
        """``*`` is every type, ``access.*`` a family, anything else one type."""
        return any(
            pattern == "*"
            or pattern == event_type
            or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
            for pattern in self.types
        )


def parse_subscriptions(text: str | None) -> tuple[Subscription, ...]:
    """The subscriptions of the setting's JSON list; SubscriptionError says what is wrong."""
    if text is None or not text.strip():
        return ()
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise SubscriptionError(f"not JSON ({error})") from None
    if not isinstance(items, list):
        raise SubscriptionError("a JSON list of subscriptions is expected")
    found: list[Subscription] = []
    for item in items:
        if not isinstance(item, dict):
            raise SubscriptionError("each subscription is an object")
        ident, url, types, secret = (item.get(k) for k in ("id", "url", "types", "secret"))
        if not isinstance(ident, str) or not _ID.fullmatch(ident):
            raise SubscriptionError(f"id {ident!r}: letters, digits, '._-', at most 64")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise SubscriptionError(f"{ident}: url must be an http(s) URL")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise SubscriptionError(f"{ident}: types must be a non-empty list of event types")
        if not isinstance(secret, str) or len(secret) < 16:
            raise SubscriptionError(f"{ident}: secret must be at least 16 characters")
        if ident in {s.id for s in found}:
            raise SubscriptionError(f"{ident}: two subscriptions with one id")
        found.append(Subscription(ident, url, tuple(types), secret))
    return tuple(found)
