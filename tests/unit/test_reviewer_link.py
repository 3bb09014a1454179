"""Reviewer links without I/O: the principal a token becomes, the token's shape and hash,
the verifier's refusals (one reason for every refused token), and the expiry's terms."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gateway.auth.policy import is_link_valid
from gateway.auth.principal import AuthenticationError, Principal
from gateway.auth.reviewer_link import (
    UNRECOGNISED,
    ReviewerLinkVerifier,
    looks_like_reviewer_token,
    new_reviewer_token,
    token_hash,
)
from gateway.errors import BadUserInput
from gateway.usecases.reviewer_links import LinkTerms, checked_link_expiry

NOW = datetime(2026, 12, 6, 12, 0, 0)


def test_a_reviewer_principal_has_a_link_and_no_name() -> None:
    principal = Principal(user_name=None, via="reviewer-link", reviewer_link=7)
    assert principal.reviewer_link == 7 and not principal.is_anonymous
    for arguments in (
        {"user_name": "esrf/jdoe", "via": "reviewer-link", "reviewer_link": 7},
        {"user_name": None, "via": "reviewer-link"},
        {"user_name": None, "reviewer_link": 7},
        {"user_name": "esrf/jdoe", "via": "oidc", "reviewer_link": 7},
    ):
        with pytest.raises(ValueError):
            Principal(**arguments)


def test_tokens_are_random_and_only_their_hash_is_kept() -> None:
    first, second = new_reviewer_token(), new_reviewer_token()
    assert first != second and looks_like_reviewer_token(first)
    assert token_hash(first) != first and len(token_hash(first)) == 64
    assert token_hash(first) == token_hash(first) != token_hash(second)
    assert not looks_like_reviewer_token("rvw_")
    assert not looks_like_reviewer_token("Bearer " + first)


async def test_the_verifier_refuses_every_bad_token_alike() -> None:
    known = new_reviewer_token()

    async def lookup(digest: str) -> int | None:
        return 3 if digest == token_hash(known) else None

    verifier = ReviewerLinkVerifier(lookup)
    assert (await verifier.verify(known)).reviewer_link == 3
    for token in (new_reviewer_token(), "rvw_short", "x" * 40):
        with pytest.raises(AuthenticationError) as refused:
            await verifier.verify(token)
        assert refused.value.reason == UNRECOGNISED


def test_a_link_is_valid_until_it_expires_or_is_revoked() -> None:
    assert is_link_valid(None, NOW + timedelta(seconds=1), NOW)
    assert not is_link_valid(None, NOW, NOW)
    assert not is_link_valid(NOW - timedelta(days=1), NOW + timedelta(days=1), NOW)


def test_the_expiry_defaults_and_is_capped() -> None:
    terms = LinkTerms(default_days=30, max_days=90)
    assert checked_link_expiry(None, NOW, terms) == NOW + timedelta(days=30)
    assert checked_link_expiry(NOW + timedelta(days=90), NOW, terms) == NOW + timedelta(days=90)
    for wrong in (NOW, NOW - timedelta(days=1), NOW + timedelta(days=90, seconds=1)):
        with pytest.raises(BadUserInput) as refused:
            checked_link_expiry(wrong, NOW, terms)
        assert refused.value.extensions["argument"] == "expiresAt"
