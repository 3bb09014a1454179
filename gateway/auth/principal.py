"""Who is asking: the authenticated identity of a request, and why authentication failed.

A :class:`Principal` is what the authentication adapters (OIDC bearer tokens, ICAT
sessions) produce and what the authorization policy consumes. It deliberately carries
only the ICAT user name and the identity provider's groups: whether that person is staff,
a team member or a beamline scientist is decided later, against the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

AuthMethod = Literal["oidc", "icat-session", "reviewer-link", "anonymous"]
"""How the caller proved who they are."""

_AUTH_METHODS: Final = frozenset(get_args(AuthMethod))


@dataclass(frozen=True)
class Principal:
    """The identity behind a request.

    ``user_name`` is the ICAT user name including its authenticator prefix (for example
    ``"esrf/jdoe"``), because that is the key ICAT's INVESTIGATIONUSER rows use; ``None``
    means anonymous. ``groups`` are the identity provider's group names, kept verbatim
    (Keycloak may send paths such as ``"/staff"``).
    """

    user_name: str | None
    groups: frozenset[str] = frozenset()
    via: AuthMethod = "anonymous"
    reviewer_link: int | None = None
    """The reviewer link whose token was presented (``via`` "reviewer-link"): nobody's
    name, read-only access to what the link names."""

    def __post_init__(self) -> None:
        # An inconsistent principal (a name but "anonymous", or no name but "oidc") would
        # let a bug in one adapter silently widen or narrow access; fail where it is built.
        if self.via not in _AUTH_METHODS:
            raise ValueError(f"unknown authentication method {self.via!r}")
        nameless = self.via in ("anonymous", "reviewer-link")
        if (self.user_name is None) != nameless:
            raise ValueError(
                "a principal has a user name exactly when it is neither anonymous nor a "
                "reviewer link"
            )
        if (self.reviewer_link is not None) != (self.via == "reviewer-link"):
            raise ValueError("a principal names a reviewer link exactly when it came by one")
        if self.user_name is not None and not self.user_name.strip():
            raise ValueError("a principal's user name must not be blank")
        if not isinstance(self.groups, frozenset):
            # A set or list would make the principal unhashable or mutable behind our back.
            raise TypeError("groups must be a frozenset")

    @property
    def is_anonymous(self) -> bool:
        """True when the request carried no credentials."""
        return self.via == "anonymous"


ANONYMOUS: Final = Principal(user_name=None)
"""The principal of a request without credentials."""


class AuthenticationError(Exception):
    """Credentials were presented but could not be accepted.

    ``reason`` is short, specific and safe to show to the client (it never contains the
    token or session id); the HTTP layer answers 401 with it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
