"""Signed, expiring links to the downloads of the gateway's own store.

A link names a download (a row of ``GATEWAY_DOWNLOAD``) and when it expires, signed with
a key every replica reads from the gateway's table ``GATEWAY_SECRET``: any replica serves
any replica's link, and nothing about it is held in one process. An altered or expired
link is refused. A compact JWS (HS256, ``joserfc``, already the gateway's JOSE library).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

LINK_KEY = "download-link-key"
"""The name of the links' signing key in ``GATEWAY_SECRET``."""


class BadLink(Exception):
    """A link that was altered, is not one of ours, or has expired."""


def new_link_key() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class LinkSigner:
    """Signs and checks the links, with the deployment's key."""

    secret: str

    def _key(self) -> OctKey:
        return OctKey.import_key(self.secret)

    def sign(self, download_id: int, expires_at: datetime) -> str:
        claims = {"dl": download_id, "exp": int(expires_at.replace(tzinfo=UTC).timestamp())}
        return jwt.encode({"alg": "HS256"}, claims, self._key())

    def check(self, token: str, now: datetime) -> int:
        """The download a link names; ``BadLink`` if altered or expired at ``now``."""
        try:
            decoded = jwt.decode(token, self._key(), algorithms=["HS256"])
        except (JoseError, ValueError) as error:
            raise BadLink("not a valid link") from error
        claims = decoded.claims
        expires = claims.get("exp")
        download = claims.get("dl")
        if not isinstance(expires, int) or not isinstance(download, int):
            raise BadLink("not a valid link")
        if expires <= now.replace(tzinfo=UTC).timestamp():
            raise BadLink("the link has expired")
        return download
