"""GraphQL over HTTP's media types (gateway/gate/http.py)."""

from __future__ import annotations

import pytest

from gateway.gate.http import GRAPHQL_RESPONSE, JSON, charset_is_utf8, negotiate


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),  # the draft: assume application/json
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE};charset=utf-8", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};charset=latin-1, application/json", JSON),
        ("text/html, */*;q=0.8", JSON),
        ("text/html", None),
        ("application/json;q=0", None),
        ("text/csv, image/png", None),
    ],
)
def test_accept(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


def test_request_charsets() -> None:
    assert charset_is_utf8(None)
    assert charset_is_utf8("application/json")
    assert charset_is_utf8("application/json; charset=UTF-8")
    assert not charset_is_utf8("application/json; charset=iso-8859-1")
