"""A Keycloak-like OpenID provider on loopback: discovery, JWKS, and a token mint.

Keys are generated per provider with joserfc, published as a JWKS, and can be rotated or
withdrawn while the server runs. Tokens are signed with the same private keys, so the
verifier under test does real signature checks against keys it downloaded over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

from joserfc import jws, jwt
from joserfc.jwk import ECKey, RSAKey

from tests.support.loopback import LoopbackServer, Reply

REALM_PATH = "/realms/test"
DISCOVERY_PATH = f"{REALM_PATH}/.well-known/openid-configuration"
JWKS_PATH = f"{REALM_PATH}/protocol/openid-connect/certs"
DEFAULT_AUDIENCE = "icat-gateway"

SigningKey = RSAKey | ECKey


class OIDCProvider(LoopbackServer):
    """The identity provider stand-in.

    ``issuer`` is ``http://127.0.0.1:<port>/realms/test``. One RSA key signs by default
    (``current_key``); :meth:`rotate` adds a new key and makes it current. Set
    ``discovery_overrides`` to serve a tampered discovery document.
    """

    def __init__(self) -> None:
        super().__init__()
        self.issuer = self.base_url + REALM_PATH
        self.jwks_uri = self.base_url + JWKS_PATH
        self.discovery_overrides: dict[str, Any] = {}
        self._keys_lock = threading.Lock()
        self._published: list[SigningKey] = []
        self._keys_taken: Counter[str] = Counter()
        self.current_key: SigningKey = self.add_key("RSA")

    # -- keys ---------------------------------------------------------------------------

    def add_key(self, kty: Literal["RSA", "EC"] = "RSA", *, publish: bool = True) -> SigningKey:
        """A signing key (RS256 or ES256) this provider has not used yet; published by
        default."""
        key = _pooled_key(kty, self._keys_taken[kty])
        self._keys_taken[kty] += 1
        if publish:
            with self._keys_lock:
                self._published.append(key)
        return key

    def rotate(self, kty: Literal["RSA", "EC"] = "RSA", *, keep_old: bool = True) -> SigningKey:
        """Publish a new key and sign with it from now on, as Keycloak does on rotation."""
        key = self.add_key(kty)
        with self._keys_lock:
            if not keep_old:
                self._published = [key]
        self.current_key = key
        return key

    def withdraw(self, key: SigningKey) -> None:
        """Stop publishing ``key`` (the provider revoked it)."""
        with self._keys_lock:
            self._published = [k for k in self._published if k.kid != key.kid]

    def jwks(self) -> dict[str, Any]:
        """The published JWKS (public halves only), plus an encryption key as Keycloak has."""
        with self._keys_lock:
            keys: list[dict[str, Any]] = [dict(k.as_dict(private=False)) for k in self._published]
        keys.append(_KEYCLOAK_ENCRYPTION_KEY)
        return {"keys": keys}

    # -- tokens -------------------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Keycloak-like access-token claims; an override of ``None`` removes the claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": DEFAULT_AUDIENCE,
            "sub": "f:5c1f:jdoe",
            "typ": "Bearer",
            "azp": "icat-gateway",
            "preferred_username": "jdoe",
            "groups": ["/staff", "/id23"],
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def mint(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        key: SigningKey | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """Sign a token with ``key`` (default: the current key).

        ``claims`` replaces the default claims entirely when given (start from
        :meth:`claims`); ``header`` entries override the JOSE header, ``None`` removes one.
        """
        key = self.current_key if key is None else key
        alg = "RS256" if isinstance(key, RSAKey) else "ES256"
        protected: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": key.kid}
        protected.update(header or {})
        protected = {name: value for name, value in protected.items() if value is not None}
        registry = jws.JWSRegistry(algorithms=[protected["alg"]], strict_check_header=False)
        return jwt.encode(
            protected,
            dict(self.claims() if claims is None else claims),
            key,
            registry=registry,
            default_type=None,
        )

    def mint_unsigned(self, claims: Mapping[str, Any] | None = None) -> str:
        """An ``alg: none`` token: header and claims, empty signature."""
        header = {"alg": "none", "typ": "JWT"}
        body = dict(self.claims() if claims is None else claims)
        return f"{_b64json(header)}.{_b64json(body)}."

    def mint_hmac(
        self,
        secret: bytes,
        claims: Mapping[str, Any] | None = None,
        *,
        kid: str | None = None,
    ) -> str:
        """An HS256 token keyed with ``secret``: the algorithm-confusion attack when
        ``secret`` is the provider's public key (HMAC with a key everyone can download).

        Built by hand because joserfc rightly refuses a public key as an HMAC secret.
        """
        header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
        body = dict(self.claims() if claims is None else claims)
        signing_input = f"{_b64json(header)}.{_b64json(body)}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    # -- HTTP ---------------------------------------------------------------------------

    @property
    def discovery_requests(self) -> int:
        """How often the discovery document was fetched."""
        return self.requests(DISCOVERY_PATH)

    @property
    def jwks_requests(self) -> int:
        """How often the JWKS was fetched."""
        return self.requests(JWKS_PATH)

    def route(self, method: str, path: str) -> Reply:
        if method == "GET" and path == DISCOVERY_PATH:
            document = {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/protocol/openid-connect/auth",
                "token_endpoint": f"{self.issuer}/protocol/openid-connect/token",
                "jwks_uri": self.jwks_uri,
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            }
            document.update(self.discovery_overrides)
            return Reply(200, document)
        if method == "GET" and path == JWKS_PATH:
            return Reply(200, self.jwks())
        return Reply(404, {"error": "not found"})


# RSA key generation dominates the suite's run time, so keys are generated once per test
# process and handed out in order: within one provider every key is distinct (rotation and
# impostor keys stay meaningful), while different providers may reuse the same keys.
_KEY_POOL: dict[str, list[SigningKey]] = {"RSA": [], "EC": []}


def _pooled_key(kty: Literal["RSA", "EC"], index: int) -> SigningKey:
    pool = _KEY_POOL[kty]
    while len(pool) <= index:
        kid = uuid.uuid4().hex
        key: SigningKey
        if kty == "RSA":
            key = RSAKey.generate_key(2048, {"kid": kid, "use": "sig", "alg": "RS256"})
        else:
            key = ECKey.generate_key("P-256", {"kid": kid, "use": "sig", "alg": "ES256"})
        pool.append(key)
    return pool[index]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


# Keycloak's JWKS also lists an RSA-OAEP key with "use": "enc". It is not a signing key;
# the verifier must skip it, so the stand-in publishes one too.
_KEYCLOAK_ENCRYPTION_KEY: dict[str, Any] = {
    **RSAKey.generate_key(2048, {"kid": "enc-key", "use": "enc", "alg": "RSA-OAEP"}).as_dict(
        private=False
    ),
}
