"""Cursors and page arguments: malformed input is BAD_USER_INPUT, never a crash."""

from __future__ import annotations

import base64
from datetime import datetime

import orjson
import pytest

from gateway.catalogue.pagination import decode_cursor, encode_cursor, page_request
from gateway.errors import BadUserInput


def test_cursor_round_trip_keeps_types() -> None:
    values = [datetime(2024, 3, 12, 8, 30, 1, 250), "MX-2345", 42, None, 1.5]
    assert decode_cursor(encode_cursor(values), "after") == tuple(values)


@pytest.mark.parametrize(
    "cursor", ["", "not a cursor", "bnVsbA", "W10", "e30", "!!!!", "W3sidCI6ICJ4In1d"]
)
def test_malformed_cursor_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        decode_cursor(cursor, "after")
    assert raised.value.extensions["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_a_cursor_value_beyond_64_bits_is_refused(value: int) -> None:
    """No sort key is wider than BIGINT: such a value was made up, and binding it would
    fail in the driver (an internal error)."""
    cursor = base64.urlsafe_b64encode(orjson.dumps(["x", value])).decode()
    with pytest.raises(BadUserInput, match="not a valid cursor"):
        decode_cursor(cursor, "after")
    assert decode_cursor(encode_cursor(["x", 2**63 - 1]), "after") == ("x", 2**63 - 1)


def test_page_size_over_the_cap_is_refused() -> None:
    with pytest.raises(BadUserInput) as raised:
        page_request(first=1001, after=None, last=None, before=None, default_size=50, max_size=1000)
    assert raised.value.extensions["maximum"] == 1000


def test_first_and_last_together_are_refused() -> None:
    with pytest.raises(BadUserInput):
        page_request(first=1, after=None, last=1, before=None, default_size=50, max_size=1000)


def test_negative_page_size_is_refused() -> None:
    with pytest.raises(BadUserInput):
        page_request(first=-1, after=None, last=None, before=None, default_size=50, max_size=1000)


def test_defaults() -> None:
    page = page_request(
        first=None, after=None, last=None, before=None, default_size=50, max_size=1000
    )
    assert (page.limit, page.after, page.before, page.backward) == (50, None, None, False)
