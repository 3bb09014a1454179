"""Naming a person: exactly one of user name, ORCID iD or e-mail."""

from __future__ import annotations

import pytest

from gateway.catalogue.team import PersonReference
from gateway.errors import BadUserInput


@pytest.mark.parametrize(
    "given",
    [{}, {"user_name": "esrf/a", "email": "a@b.c"}, {"orcid": "  "}],
)
def test_a_person_is_named_exactly_once(given: dict[str, str]) -> None:
    with pytest.raises(BadUserInput):
        PersonReference(**given)
