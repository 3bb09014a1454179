"""Principal's invariants and the authentication errors."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gateway.auth.principal import ANONYMOUS, AuthenticationError, Principal
from gateway.errors import GatewayError, UpstreamUnavailable


def test_anonymous() -> None:
    assert ANONYMOUS.is_anonymous
    assert ANONYMOUS.user_name is None
    assert ANONYMOUS.groups == frozenset()
    assert ANONYMOUS.via == "anonymous"
    assert Principal(user_name=None) == ANONYMOUS


def test_authenticated() -> None:
    principal = Principal("esrf/jdoe", frozenset({"/staff"}), via="oidc")

    assert not principal.is_anonymous
    assert principal.user_name == "esrf/jdoe"


def test_principals_are_immutable_values() -> None:
    principal = Principal("db/root", via="icat-session")

    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.user_name = "db/other"  # type: ignore[misc]
    assert {principal, Principal("db/root", via="icat-session")} == {principal}


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"user_name": "db/root"}, ValueError),  # a name but "anonymous"
        ({"user_name": None, "via": "oidc"}, ValueError),  # authenticated without a name
        ({"user_name": " ", "via": "oidc"}, ValueError),
        ({"user_name": "db/root", "via": "ldap"}, ValueError),
        ({"user_name": "db/root", "via": "oidc", "groups": {"staff"}}, TypeError),
    ],
)
def test_inconsistent_principals_are_refused(
    arguments: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Principal(**arguments)


def test_errors_carry_their_reason() -> None:
    refused = AuthenticationError("ICAT session invalid or expired")
    assert refused.reason == str(refused) == "ICAT session invalid or expired"
    error = UpstreamUnavailable("ICAT server unreachable")
    # One error for a failed upstream, in authentication as in resolvers: not a refusal.
    assert isinstance(error, GatewayError)
    assert not isinstance(error, AuthenticationError)
    assert error.reason == str(error) == "ICAT server unreachable"
    assert error.extensions == {"code": "UPSTREAM_UNAVAILABLE"}
