"""Cursors and page arguments: malformed input is BAD_USER_INPUT, never a crash."""

from __future__ import annotations

import base64
from datetime import datetime

import orjson
import pytest

from gateway.auth.policy import Caller
from gateway.catalogue.models import Datafile, Dataset, Investigation
from gateway.catalogue.ordering import dataset_keys, investigation_keys
from gateway.catalogue.pagination import (
    PageRequest,
    SortKey,
    cursor_listing,
    decode_cursor,
    encode_cursor,
    keyset_condition,
    page_request,
)
from gateway.catalogue.visibility import Access
from gateway.errors import BadUserInput

ACCESS = Access(caller=Caller(user_name=None), now=datetime(2024, 6, 1))
"""An anonymous caller under the built-in policy (the orderings' keys do not depend on it)."""

SESSIONS_BY_START = cursor_listing("investigations", ("START_DATE", True))


def wrapped(decoded: object) -> str:
    """A cursor made by hand: base64url of any JSON."""
    return base64.urlsafe_b64encode(orjson.dumps(decoded)).decode().rstrip("=")


def page(after: str | None = None, before: str | None = None) -> PageRequest:
    return page_request(
        first=None if before else 10,
        after=after,
        last=10 if before else None,
        before=before,
        default_size=50,
        max_size=1000,
    )


def test_cursor_round_trip_keeps_types_and_listing() -> None:
    values = [datetime(2024, 3, 12, 8, 30, 1, 250), "MX-2345", 42, None, 1.5]
    cursor = encode_cursor(SESSIONS_BY_START, values)
    assert decode_cursor(cursor, "after") == (SESSIONS_BY_START, tuple(values))


def test_a_listing_is_the_list_and_its_ordering() -> None:
    assert SESSIONS_BY_START == "investigations:START_DATE:desc"
    assert cursor_listing("datasets", ("NAME", False)) == "datasets:NAME:asc"
    assert cursor_listing("instruments") == "instruments"


@pytest.mark.parametrize("argument", ["after", "before"])
def test_a_cursor_is_accepted_by_its_own_listing(argument: str) -> None:
    cursor = encode_cursor(SESSIONS_BY_START, [datetime(2024, 1, 1), 7])
    bound = page(**{argument: cursor}).of(SESSIONS_BY_START)
    assert bound.listing == SESSIONS_BY_START and bound.given == ()
    assert getattr(bound, argument) == (datetime(2024, 1, 1), 7)


@pytest.mark.parametrize(
    "other",
    [
        cursor_listing("investigations", ("START_DATE", False)),  # another direction
        cursor_listing("investigations", ("TITLE", True)),  # another key
        cursor_listing("me.investigations", ("START_DATE", True)),  # another list
        cursor_listing("datasets", ("START_DATE", True)),  # another kind of item
    ],
)
@pytest.mark.parametrize("argument", ["after", "before"])
def test_a_cursor_of_another_listing_is_refused_naming_the_argument(
    other: str, argument: str
) -> None:
    cursor = encode_cursor(SESSIONS_BY_START, [datetime(2024, 1, 1), 7])
    with pytest.raises(BadUserInput) as raised:
        page(**{argument: cursor}).of(other)
    assert raised.value.extensions == {"code": "BAD_USER_INPUT", "argument": argument}
    assert "another list or ordering" in raised.value.message


def test_both_cursors_are_checked() -> None:
    mine = encode_cursor(SESSIONS_BY_START, [datetime(2024, 1, 1), 7])
    theirs = encode_cursor("datasets:NAME:asc", ["x", 7])
    with pytest.raises(BadUserInput) as raised:
        page(after=mine, before=theirs).of(SESSIONS_BY_START)
    assert raised.value.extensions["argument"] == "before"


def test_a_page_without_cursors_is_of_any_listing() -> None:
    assert page().of("techniques").listing == "techniques"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "bnVsbA",
        "W10",
        "e30",
        "!!!!",
        "W3sidCI6ICJ4In1d",
        # A cursor as they were before they carried their listing: a bare list of values.
        wrapped([{"t": "2024-01-01T00:00:00"}, 7]),
        wrapped({"of": SESSIONS_BY_START}),
        wrapped({"of": SESSIONS_BY_START, "at": []}),
        wrapped({"of": 7, "at": [1]}),
        wrapped({"of": SESSIONS_BY_START, "at": [1], "more": 1}),
        wrapped({"of": SESSIONS_BY_START, "at": [{"t": 1}, 7]}),
    ],
)
def test_malformed_cursor_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        decode_cursor(cursor, "after")
    assert raised.value.extensions["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_a_cursor_value_beyond_64_bits_is_refused(value: int) -> None:
    """No sort key is wider than BIGINT: such a value was made up, and binding it would
    fail in the driver (an internal error)."""
    with pytest.raises(BadUserInput, match="not a valid cursor"):
        decode_cursor(wrapped({"of": "datafiles", "at": [value, 1]}), "after")
    largest = decode_cursor(encode_cursor("datafiles", [2**63 - 1, 1]), "after")
    assert largest == ("datafiles", (2**63 - 1, 1))


@pytest.mark.parametrize(
    ("keys", "values"),
    [
        (investigation_keys("START_DATE", True, ACCESS), ("2024-01-01", 7)),  # a date as text
        (
            investigation_keys("START_DATE", True, ACCESS),
            (datetime(2024, 1, 1), "7"),
        ),  # text for an id
        (investigation_keys("PROPOSAL", False, ACCESS), (1.5, "1", 7)),  # a number for text
        (investigation_keys("TITLE", False, ACCESS), ("x", True)),  # a boolean for an id
        (dataset_keys("NAME", False), ("x",)),  # too few
        (dataset_keys("NAME", False), ("x", 1, 2)),  # too many
        (  # ICAT's timestamps are naive
            [SortKey(Datafile.datafile_create_time), SortKey(Datafile.id)],
            (datetime.fromisoformat("2024-01-01T00:00:00+02:00"), 1),
        ),
    ],
)
@pytest.mark.parametrize("after", [True, False])
def test_values_that_do_not_fit_the_ordering_are_refused(
    keys: list[SortKey], values: tuple[object, ...], after: bool
) -> None:
    """Only a made-up cursor of the right listing gets here; its values would be bound as
    the keys' types, which PostgreSQL's driver refuses (an internal error)."""
    with pytest.raises(BadUserInput) as raised:
        keyset_condition(keys, values, after=after)
    assert raised.value.extensions["argument"] == ("after" if after else "before")


@pytest.mark.parametrize(
    ("keys", "values"),
    [
        (investigation_keys("START_DATE", True, ACCESS), (datetime(2024, 1, 1), 7)),
        (investigation_keys("START_DATE", True, ACCESS), (None, 7)),
        (investigation_keys("INSTRUMENT", False, ACCESS), ("ID30A-1", 7)),
        ([SortKey(Datafile.file_size, True, True), SortKey(Datafile.id)], (2**40, 1)),
        ([SortKey(Investigation.name), SortKey(Dataset.id)], ("MX-1", 1)),
    ],
)
def test_values_of_the_ordering_fit(keys: list[SortKey], values: tuple[object, ...]) -> None:
    keyset_condition(keys, values, after=True)


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
