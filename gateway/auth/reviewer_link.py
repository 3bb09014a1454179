"""Reviewer links: a secret token that stands for read-only access to a few sessions and
datasets, for a journal's reviewers (InvenioRDM's secret links, with an expiry).

The token is made here and only its SHA-256 is stored: a database dump does not hand out
working links. A token that is unknown, revoked or expired is refused exactly as a token
of no known kind is (same status, code and reason), so that a link's fate is not told to
whoever holds it. Which token is valid is the catalogue's to say: the verifier is given a
lookup (``gateway.catalogue.reviewer_links.use_link``), which also counts the use.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Final

from gateway.auth.principal import AuthenticationError, Principal

PREFIX: Final = "rvw_"
"""What a reviewer token starts with: it tells the kind of credential apart from a JWT
and an ICAT session id without a lookup."""

UNRECOGNISED: Final = "unrecognised bearer token"
"""The reason given for any bearer token that is refused without a verifier of its own:
a wrong, revoked or expired reviewer token gets exactly this too."""

QUERY_PARAMETER: Final = "reviewer"
"""Where a browser following a link carries the token (``/doi/...?reviewer=<token>``):
it cannot set a header."""


def new_reviewer_token() -> str:
    """A fresh token: 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token (hex SHA-256): a token has 256 random bits, so no salt or
    slow hash is needed against guessing."""
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_reviewer_token(token: str) -> bool:
    return token.startswith(PREFIX) and 16 < len(token) < 128


LinkLookup = Callable[[str], Awaitable[int | None]]
"""The id of the valid (neither revoked nor expired) link with this token hash, its use
recorded; None when there is none."""


class ReviewerLinkVerifier:
    """From a reviewer token to the principal of its link."""

    def __init__(self, lookup: LinkLookup) -> None:
        self._lookup = lookup

    async def verify(self, token: str) -> Principal:
        """:raises AuthenticationError: with the same reason as any unrecognised token."""
        if not looks_like_reviewer_token(token):
            raise AuthenticationError(UNRECOGNISED)
        link = await self._lookup(token_hash(token))
        if link is None:
            raise AuthenticationError(UNRECOGNISED)
        return Principal(user_name=None, via="reviewer-link", reviewer_link=link)
