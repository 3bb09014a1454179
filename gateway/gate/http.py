"""GraphQL over HTTP (the GraphQL-over-HTTP draft): media types, bodies and statuses.

- Requests: ``POST`` with ``Content-Type: application/json`` (anything else is 415: a
  form or ``text/plain`` body is what a cross-site page can send without a preflight, so
  refusing them is the CSRF defence), or ``GET`` with ``query``, ``operationName``,
  ``variables`` and ``extensions`` in the URL, for queries only (a mutation over GET is
  405 with ``Allow: POST``).
- Responses: ``application/graphql-response+json`` when the client lists it in
  ``Accept``; ``application/json`` for ``application/json``, ``*/*``, ``application/*``
  or no ``Accept`` at all; 406 otherwise. Always UTF-8 JSON, errors included.
- Statuses: with ``application/graphql-response+json``, a response without ``data`` is
  4xx (400 for unparseable JSON, bad parameters and unparseable documents; validation
  and variable-coercion failures get ``settings.validation_failure_status``); with
  ``application/json``, every well-formed request gets 200, as the draft asks for that
  legacy type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

HTTP_STATUSES = frozenset({405, 406, 413, 415, 429, 503})
"""Statuses about HTTP itself: sent whatever the response's media type."""


class BodyTooLarge(Exception):
    """The request body is larger than the gate accepts."""


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (the first of that name), decoded as latin-1."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def media_type(value: str | None) -> str | None:
    """The media type of a Content-Type value, lower-cased, without parameters."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def charset_is_utf8(value: str | None) -> bool:
    """Whether a Content-Type names UTF-8 or no charset (JSON is UTF-8 by default)."""
    if value is None:
        return True
    for parameter in value.split(";")[1:]:
        name, _, given = parameter.partition("=")
        if name.strip().lower() == "charset":
            return given.strip().strip('"').lower() in {"utf-8", "utf8"}
    return True


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header, or None when none is acceptable."""
    if accept is None or not accept.strip():
        return JSON
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        pieces = part.split(";")
        name = pieces[0].strip().lower()
        quality = 1.0
        charset_ok = True
        for parameter in pieces[1:]:
            key, _, value = parameter.partition("=")
            key = key.strip().lower()
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif key == "charset":
                charset_ok = value.strip().strip('"').lower() in {"utf-8", "utf8"}
        if name and quality > 0 and charset_ok:
            ranges.append((name, quality))
    best: tuple[float, int, str] | None = None
    for name, quality in ranges:
        if name == GRAPHQL_RESPONSE:
            candidate = (quality, 1, GRAPHQL_RESPONSE)
        elif name in {JSON, "application/*", "*/*"}:
            candidate = (quality, 0, JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best is not None else None


def accepts_html(scope: Scope) -> bool:
    """A browser asking for a page (GraphiQL), not a GraphQL client."""
    accept = header(scope, b"accept") or ""
    return "text/html" in accept.lower()


async def read_body(receive: Receive, limit: int, declared: int | None) -> tuple[bytes, bool]:
    """The request body and whether the client is still there; ``BodyTooLarge`` as soon
    as it (or its Content-Length) passes ``limit``, before the rest is read."""
    if declared is not None and declared > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False  # a disconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def declared_length(scope: Scope) -> int | None:
    value = header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def error_entry(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **details}}


async def send_json(
    send: Send,
    status: int,
    body: bytes,
    media: str,
    headers: Mapping[str, str] | None = None,
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    raw = [
        (b"content-type", f"{media}; charset=utf-8".encode()),
        (b"content-length", b"%d" % len(body)),
        *extra,
    ]
    raw += [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in (headers or {}).items()
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def encode(payload: object) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
