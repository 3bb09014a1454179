"""Naming a person: exactly one of user name, ORCID iD or e-mail; ORCID iDs in either form."""

from __future__ import annotations

import pytest

from gateway.catalogue.team import PersonReference, bare_orcid
from gateway.errors import BadUserInput


@pytest.mark.parametrize(
    "value",
    [
        "0000-0002-1825-0097",
        "https://orcid.org/0000-0002-1825-0097",
        "http://orcid.org/0000-0002-1825-0097",
        " orcid.org/0000-0002-1825-0097 ",
    ],
)
def test_an_orcid_is_compared_bare(value: str) -> None:
    assert bare_orcid(value) == "0000-0002-1825-0097"


def test_an_orcid_check_digit_may_be_x() -> None:
    assert bare_orcid("0000-0001-5109-351x") == "0000-0001-5109-351X"


@pytest.mark.parametrize("value", ["", "0000-0002-1825", "orcid", "0000-0002-1825-00977"])
def test_a_malformed_orcid_is_bad_input(value: str) -> None:
    with pytest.raises(BadUserInput):
        bare_orcid(value)


@pytest.mark.parametrize(
    "given",
    [{}, {"user_name": "esrf/a", "email": "a@b.c"}, {"orcid": "  "}],
)
def test_a_person_is_named_exactly_once(given: dict[str, str]) -> None:
    with pytest.raises(BadUserInput):
        PersonReference(**given)
