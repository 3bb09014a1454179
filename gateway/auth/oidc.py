"""Validation of OIDC bearer access tokens (Keycloak and other OpenID providers).

The provider is found through OpenID Connect discovery, its signing keys through the
``jwks_uri`` it advertises. Tokens are verified with joserfc. authlib's RFC 9068
validator is not used on purpose: it insists on ``typ: at+jwt`` and Keycloak sends
``typ: JWT``.

Key handling, in short:

- discovery and the first JWKS download happen lazily, on the first token, and concurrent
  first requests share one download (an :class:`asyncio.Lock` plus an attempt counter);
- a token whose ``kid`` is unknown triggers one JWKS re-download (the provider rotated
  its keys), but at most one per ``jwks_refetch_interval_seconds``, so a stream of tokens
  with made-up key ids cannot turn the gateway into a load generator against the IdP;
- keys older than ``jwks_max_age_seconds`` are re-downloaded so a key the provider
  withdrew stops being trusted; if that download fails the old keys keep working;
- a verified token is remembered for ``VERIFIED_SECONDS`` (at most until it expires, and
  only while the keys it was verified with are the current ones): a client sends the same
  token with every request, and its signature is checked once.

The cache is per process and per verifier: it is a cache, not shared state.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
from joserfc import jwk, jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)

from gateway.auth.principal import AuthenticationError, Principal
from gateway.errors import UpstreamUnavailable

__all__ = ["OIDCConfig", "OIDCVerifier"]

logger = logging.getLogger(__name__)

# Header "typ" values of an access token. Keycloak says "JWT", RFC 9068 says "at+jwt";
# anything else ("logout+jwt", "dpop+jwt", "secevent+jwt", ...) is another kind of token
# signed by the same key, which must not be accepted as an access token.
_ACCESS_TOKEN_HEADER_TYPES: Final = frozenset({"jwt", "at+jwt", "application/at+jwt"})

# Keycloak also marks the token kind in a "typ" claim: access tokens are "Bearer", while
# ID tokens ("ID") are signed with the same key and may carry the same audience.
_ACCESS_TOKEN_CLAIM_TYPES: Final = frozenset({"bearer"})


VERIFIED_SECONDS: Final = 60.0
"""A verified token is trusted again without checking its signature for this long, at
most until it expires, and only while the keys it was verified with are the current ones
(a re-download of the JWKS forgets it). A client sends the same token with every request
for minutes; its RSA or ECDSA verification was a fifth of a small request's time."""

VERIFIED_TOKENS: Final = 4096
"""At most this many verified tokens are remembered per process (oldest dropped first)."""


@dataclass(frozen=True)
class OIDCConfig:
    """How to trust one OpenID provider.

    ``issuer`` must be exactly the provider's issuer (for Keycloak,
    ``https://host/realms/<realm>``). ``audience`` is required in the token's ``aud``
    when set. The ICAT user name is ``user_prefix + claims[username_claim]``.
    ``username_claim`` and ``groups_claim`` may name a nested claim with dots
    (``realm_access.roles``) when no top-level claim has that exact name.
    """

    issuer: str
    audience: str | None
    username_claim: str = "preferred_username"
    user_prefix: str = ""
    groups_claim: str = "groups"
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: int = 30
    jwks_refetch_interval_seconds: float = 60.0
    http_timeout_seconds: float = 5.0
    jwks_max_age_seconds: float = 600.0

    def __post_init__(self) -> None:
        # Misconfiguration is caught at start-up rather than on the first request.
        if not self.issuer.startswith(("https://", "http://")):
            raise ValueError("OIDC issuer must be an http(s) URL")
        if not self.algorithms:
            raise ValueError("at least one signature algorithm must be allowed")
        for name in self.algorithms:
            if name not in jws.JWSRegistry.algorithms:
                raise ValueError(f"unsupported JWS algorithm {name!r}")
            # A JWKS publishes public keys; allowing "none" or an HMAC algorithm would open
            # the door to unsigned tokens or to HMAC keyed with a public key.
            if jws.JWSRegistry.algorithms[name].key_type == "oct" or name == "none":
                raise ValueError(f"algorithm {name!r} cannot be verified with a public key")
        if self.leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        if self.jwks_refetch_interval_seconds < 0 or self.jwks_max_age_seconds <= 0:
            raise ValueError("JWKS intervals must be positive")
        if self.http_timeout_seconds <= 0:
            raise ValueError("http_timeout_seconds must be positive")
        if not self.username_claim or not self.groups_claim:
            raise ValueError("username_claim and groups_claim must be named")


class OIDCVerifier:
    """Turns an OIDC bearer access token into a :class:`Principal`.

    ``client`` is owned by the caller (the application's lifespan), so connection pools
    are shared and closed in one place. ``clock`` is a monotonic clock for the key cache;
    the token's own time claims are always checked against the wall clock.
    """

    def __init__(
        self,
        config: OIDCConfig,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._client = client
        self._clock = clock
        # Non-strict header checking: RFC 7515 says unknown header parameters are ignored
        # unless listed in "crit", which joserfc still enforces.
        self._registry = jws.JWSRegistry(
            algorithms=list(config.algorithms), strict_check_header=False
        )
        claim_options: dict[str, jwt.ClaimsOption] = {
            "iss": {"essential": True, "value": config.issuer},
            "exp": {"essential": True},
        }
        if config.audience is not None:
            claim_options["aud"] = {"essential": True, "value": config.audience}
        self._claims = jwt.JWTClaimsRegistry(
            now=None, leeway=config.leeway_seconds, **claim_options
        )

        self._lock = asyncio.Lock()
        self._jwks_uri: str | None = None
        self._keys: tuple[jwk.Key, ...] | None = None
        self._keys_loaded_at = -math.inf
        self._last_attempt_at = -math.inf
        # Bumped whenever a download attempt ends, however it ends. A request that waited
        # for the lock compares it with the value it saw before waiting: if it moved, someone
        # else just downloaded (or failed to), and the request reuses that outcome instead
        # of asking the provider again.
        self._attempts = 0
        self._last_error: UpstreamUnavailable | None = None
        # Tokens verified lately: principal, until when (wall clock), under which keys.
        self._verified: dict[str, tuple[Principal, float, tuple[jwk.Key, ...] | None]] = {}

    @property
    def config(self) -> OIDCConfig:
        """The configuration this verifier enforces."""
        return self._config

    async def verify(self, token: str) -> Principal:
        """Validate ``token`` and return who it identifies.

        :raises AuthenticationError: the token is not acceptable (the reason says why).
        :raises UpstreamUnavailable: the identity provider could not be consulted.
        """
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, until, keys = remembered
            fresh = self._clock() - self._keys_loaded_at < self._config.jwks_max_age_seconds
            if keys is self._keys and fresh and time.time() < until:
                return principal
            del self._verified[token]
        principal, expires = await self._verify(token)
        self._remember(token, principal, expires)
        return principal

    def _remember(self, token: str, principal: Principal, expires: Any) -> None:
        """Keep a verified token's principal for a while (see ``VERIFIED_SECONDS``)."""
        until = time.time() + VERIFIED_SECONDS
        if isinstance(expires, int | float):
            until = min(until, float(expires))
        self._verified[token] = (principal, until, self._keys)
        while len(self._verified) > VERIFIED_TOKENS:
            self._verified.pop(next(iter(self._verified)))

    async def _verify(self, token: str) -> tuple[Principal, Any]:
        header = self._read_header(token)
        algorithm = header.get("alg")
        # Pinned before any key lookup: "none", HS256 keyed with a public key and friends
        # never get near a verification routine.
        if not isinstance(algorithm, str) or algorithm not in self._config.algorithms:
            raise AuthenticationError("algorithm not allowed")
        header_type = header.get("typ")
        if header_type is not None and (
            not isinstance(header_type, str)
            or header_type.lower() not in _ACCESS_TOKEN_HEADER_TYPES
        ):
            raise AuthenticationError("not an access token")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthenticationError("malformed token")

        key = await self._signing_key(kid, algorithm)
        try:
            claims = jwt.decode(token, key, registry=self._registry).claims
        except BadSignatureError:
            raise AuthenticationError("invalid signature") from None
        except (JoseError, ValueError):
            raise AuthenticationError("malformed token") from None
        self._check_claims(claims)
        return self._principal(claims), claims.get("exp")

    # -- token parsing ------------------------------------------------------------------

    def _read_header(self, token: str) -> Mapping[str, Any]:
        try:
            compact = jws.extract_compact(token.encode("ascii"), registry=self._registry)
        except (JoseError, ValueError):
            # UnicodeEncodeError is a ValueError: non-ASCII cannot be a compact JWS.
            raise AuthenticationError("malformed token") from None
        return compact.headers()

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        try:
            self._claims.validate(dict(claims))
        except ExpiredTokenError:
            raise AuthenticationError("token expired") from None
        except MissingClaimError as error:
            names = error.claim.split(",")
            reason = (
                f"missing {names[0]} claim"
                if len(names) == 1
                else f"missing claims: {', '.join(names)}"
            )
            raise AuthenticationError(reason) from None
        except InvalidClaimError as error:
            raise AuthenticationError(_invalid_claim_reason(error.claim, claims)) from None
        kind = claims.get("typ")
        if isinstance(kind, str) and kind.lower() not in _ACCESS_TOKEN_CLAIM_TYPES:
            raise AuthenticationError("not an access token")

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        name_claim = self._config.username_claim
        user_name = _claim(claims, name_claim)
        if user_name is None:
            raise AuthenticationError(f"missing {name_claim} claim")
        if not isinstance(user_name, str) or not user_name.strip():
            raise AuthenticationError(f"invalid {name_claim} claim")

        groups_claim = self._config.groups_claim
        raw_groups = _claim(claims, groups_claim)
        groups: frozenset[str]
        if raw_groups is None:
            groups = frozenset()
        elif isinstance(raw_groups, str):
            # Some mappers emit a single group as a bare string rather than a list.
            groups = frozenset({raw_groups})
        elif isinstance(raw_groups, list) and all(isinstance(g, str) for g in raw_groups):
            groups = frozenset(raw_groups)
        else:
            raise AuthenticationError(f"invalid {groups_claim} claim")
        return Principal(user_name=self._config.user_prefix + user_name, groups=groups, via="oidc")

    # -- keys ---------------------------------------------------------------------------

    async def _signing_key(self, kid: str | None, algorithm: str) -> jwk.Key:
        seen = self._attempts
        if (
            self._keys is None
            or self._clock() - self._keys_loaded_at >= self._config.jwks_max_age_seconds
        ):
            await self._refresh(seen, rate_limited=self._keys is not None, keep_stale=True)
        key = self._find_key(kid, algorithm)
        if key is not None:
            return key
        # The provider may have rotated its keys since we last looked.
        await self._refresh(seen, rate_limited=True, keep_stale=False)
        key = self._find_key(kid, algorithm)
        if key is None:
            raise AuthenticationError("unknown signing key")
        return key

    def _find_key(self, kid: str | None, algorithm: str) -> jwk.Key | None:
        keys = self._keys or ()
        if kid is None:
            # Keycloak always names the key; for providers that do not, a lone usable key
            # is unambiguous and anything else is a guess we refuse to make.
            usable = [k for k in keys if _key_fits(k, algorithm, self._registry)]
            if len(usable) > 1:
                raise AuthenticationError("token names no signing key (kid)")
            return usable[0] if usable else None
        named = [k for k in keys if k.kid == kid]
        for key in named:
            if _key_fits(key, algorithm, self._registry):
                return key
        if named:
            # The key exists but is of another type or pinned to another algorithm: a
            # re-download would not change that, so do not spend one.
            raise AuthenticationError("signing key does not match algorithm")
        return None

    async def _refresh(self, seen: int, *, rate_limited: bool, keep_stale: bool) -> None:
        """Download the JWKS (discovering the provider first if needed).

        ``seen`` is the attempt counter the caller observed before deciding it needed
        fresh keys. With ``rate_limited``, nothing is downloaded when the last attempt is
        more recent than the refetch interval. With ``keep_stale``, a failed download is
        logged and the keys we already have stay in use.
        """
        async with self._lock:
            if self._attempts != seen:
                if self._keys is not None:
                    return
                if self._last_error is not None:
                    raise UpstreamUnavailable(self._last_error.reason)
                # The other attempt was cancelled midway: try ourselves.
            now = self._clock()
            if (
                rate_limited
                and now - self._last_attempt_at < self._config.jwks_refetch_interval_seconds
            ):
                return
            self._last_attempt_at = now
            self._last_error = None
            try:
                if self._jwks_uri is None:
                    self._jwks_uri = await self._discover()
                self._keys = await self._download_keys(self._jwks_uri)
                self._keys_loaded_at = now
            except UpstreamUnavailable as error:
                self._last_error = error
                if self._keys is None or not keep_stale:
                    raise
                logger.warning("keeping cached signing keys of %s: %s", self._config.issuer, error)
            finally:
                # Counted when the attempt ends, not when it starts: requests that queued
                # on the lock meanwhile must see the counter move to know it happened.
                self._attempts += 1

    async def _discover(self) -> str:
        url = self._config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._get_json(url, "discovery document")
        if document.get("issuer") != self._config.issuer:
            # OpenID Connect Discovery 1.0, section 4.3: a mismatch means we are talking to
            # the wrong provider (or a misconfigured one); trusting its keys would be wrong.
            logger.error(
                "OIDC discovery at %s names issuer %r, expected %r",
                url,
                document.get("issuer"),
                self._config.issuer,
            )
            raise UpstreamUnavailable("identity provider issuer mismatch")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            logger.error("OIDC discovery at %s has no usable jwks_uri: %r", url, jwks_uri)
            raise UpstreamUnavailable("identity provider discovery document invalid")
        return jwks_uri

    async def _download_keys(self, url: str) -> tuple[jwk.Key, ...]:
        document = await self._get_json(url, "JWKS")
        entries = document.get("keys")
        if not isinstance(entries, list):
            logger.error("JWKS at %s has no key list", url)
            raise UpstreamUnavailable("identity provider JWKS invalid")
        keys: list[jwk.Key] = []
        for entry in entries:
            # Keycloak publishes its encryption key next to the signing keys; providers may
            # add key types joserfc does not know. Skip those rather than fail the whole set.
            if not isinstance(entry, dict) or entry.get("use") == "enc":
                continue
            try:
                key = jwk.JWKRegistry.import_key(entry)
            except (JoseError, ValueError, TypeError, KeyError) as error:
                logger.warning(
                    "ignoring unusable key %r in JWKS at %s: %s", entry.get("kid"), url, error
                )
                continue
            if key.is_private or key.key_type == "oct":
                # A JWKS carrying secrets is a provider misconfiguration; never verify with
                # (and so never trust HMAC under) a key that anyone fetching the JWKS knows.
                logger.warning("ignoring non-public key %r in JWKS at %s", entry.get("kid"), url)
                continue
            keys.append(key)
        return tuple(keys)

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._client.get(
                url,
                headers={"Accept": "application/json"},
                timeout=self._config.http_timeout_seconds,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            logger.warning("fetching OIDC %s from %s failed: %r", what, url, error)
            raise UpstreamUnavailable("identity provider unreachable") from error
        if response.status_code >= 500:
            logger.warning("OIDC %s at %s answered HTTP %d", what, url, response.status_code)
            raise UpstreamUnavailable("identity provider unreachable")
        if response.status_code != 200:
            logger.error("OIDC %s at %s answered HTTP %d", what, url, response.status_code)
            raise UpstreamUnavailable(f"identity provider {what} unavailable")
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            logger.error("OIDC %s at %s is not a JSON object", what, url)
            raise UpstreamUnavailable(f"identity provider {what} invalid")
        return document


def _key_fits(key: jwk.Key, algorithm: str, registry: jws.JWSRegistry) -> bool:
    """Whether ``key`` may verify a signature made with ``algorithm``.

    joserfc checks the key type, the curve for ECDSA, and the key's own "use" and "alg"
    parameters when the provider pinned them.
    """
    try:
        registry.get_alg(algorithm).check_key(key)
    except JoseError:
        return False
    return True


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """A claim by name; a dotted name reaches into nested objects when no claim has it."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _invalid_claim_reason(claim: str, claims: Mapping[str, Any]) -> str:
    numeric = isinstance(claims.get(claim), int | float) and not isinstance(claims.get(claim), bool)
    if claim == "iss":
        return "issuer mismatch"
    if claim == "aud":
        return "audience mismatch"
    if claim == "nbf" and numeric:
        return "token not yet valid"
    if claim == "iat" and numeric:
        return "token issued in the future"
    return f"invalid {claim} claim"
