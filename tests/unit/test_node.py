"""Global ids: what parses, and what is refused as BAD_USER_INPUT before any statement."""

from __future__ import annotations

import base64

import pytest

from gateway.errors import BadUserInput
from gateway.schema.node import MAX_ICAT_ID, global_id, parse_global_id


@pytest.mark.parametrize("icat_id", [1, 42, MAX_ICAT_ID])
def test_a_global_id_round_trips(icat_id: int) -> None:
    assert parse_global_id(global_id("Dataset", icat_id), "Dataset") == ("Dataset", icat_id)


@pytest.mark.parametrize("icat_id", [MAX_ICAT_ID + 1, 10**20, 0, -1, -(2**63), -(10**20)])
def test_an_id_outside_bigint_ids_is_refused(icat_id: int) -> None:
    with pytest.raises(BadUserInput) as raised:
        parse_global_id(global_id("Dataset", icat_id), "Dataset")
    assert raised.value.extensions["code"] == "BAD_USER_INPUT"
    assert f"between 1 and {MAX_ICAT_ID}" in raised.value.message


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        base64.b64encode(b"Dataset:").decode(),
        base64.b64encode(b"Dataset:1.5").decode(),
        base64.b64encode(b"Dataset:" + b"9" * 5000).decode(),  # beyond int()'s digit limit
    ],
)
def test_a_malformed_id_is_refused(value: str) -> None:
    with pytest.raises(BadUserInput, match="is not a valid id"):
        parse_global_id(value, "Dataset")


def test_an_id_of_another_type_is_refused() -> None:
    with pytest.raises(BadUserInput, match="not the id of a Dataset"):
        parse_global_id(global_id("Datafile", 1), "Dataset")
