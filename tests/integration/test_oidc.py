"""OIDCVerifier against a real loopback OpenID provider (discovery + JWKS over HTTP)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from gateway.auth.oidc import OIDCConfig, OIDCVerifier
from gateway.auth.principal import AuthenticationError, Principal
from gateway.errors import UpstreamUnavailable
from tests.support.fixtures import (  # noqa: F401
    FakeClock,
    clock_fixture,
    http_client_fixture,
    oidc_provider_fixture,
)
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider

INTERVAL = 60.0


def make_verifier(
    provider: OIDCProvider, client: httpx.AsyncClient, clock: FakeClock, **config: Any
) -> OIDCVerifier:
    settings: dict[str, Any] = {
        "issuer": provider.issuer,
        "audience": DEFAULT_AUDIENCE,
        "jwks_refetch_interval_seconds": INTERVAL,
    }
    settings.update(config)
    return OIDCVerifier(OIDCConfig(**settings), client, clock=clock)


async def refused(verifier: OIDCVerifier, token: str) -> str:
    """The reason ``verifier`` gives for refusing ``token``."""
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    assert not isinstance(caught.value, UpstreamUnavailable), caught.value.reason
    return caught.value.reason


@pytest.fixture
def verifier(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> OIDCVerifier:
    return make_verifier(oidc_provider, http_client, clock)


# -- valid tokens ---------------------------------------------------------------------


async def test_valid_rs256_token(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    principal = await verifier.verify(oidc_provider.mint())

    assert principal == Principal(
        user_name="jdoe", groups=frozenset({"/staff", "/id23"}), via="oidc"
    )
    assert (oidc_provider.discovery_requests, oidc_provider.jwks_requests) == (1, 1)


async def test_valid_es256_token(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    oidc_provider.rotate("EC")

    principal = await verifier.verify(oidc_provider.mint())

    assert principal.user_name == "jdoe"
    assert principal.via == "oidc"


async def test_keys_and_discovery_are_cached(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    for _ in range(5):
        await verifier.verify(oidc_provider.mint())

    assert (oidc_provider.discovery_requests, oidc_provider.jwks_requests) == (1, 1)


async def test_user_prefix_and_nested_groups_claim(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(
        oidc_provider, http_client, clock, user_prefix="esrf/", groups_claim="realm_access.roles"
    )
    token = oidc_provider.mint(
        oidc_provider.claims(realm_access={"roles": ["staff", "offline_access"]})
    )

    principal = await verifier.verify(token)

    assert principal.user_name == "esrf/jdoe"
    assert principal.groups == {"staff", "offline_access"}


async def test_no_groups_claim_means_no_groups(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    principal = await verifier.verify(oidc_provider.mint(oidc_provider.claims(groups=None)))

    assert principal.groups == frozenset()


async def test_invalid_groups_claim(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(groups={"staff": True}))

    assert await refused(verifier, token) == "invalid groups claim"


async def test_missing_username_claim(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(preferred_username=None))

    assert await refused(verifier, token) == "missing preferred_username claim"


async def test_blank_username_claim(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(preferred_username=" "))

    assert await refused(verifier, token) == "invalid preferred_username claim"


async def test_token_without_kid_uses_the_only_signing_key(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider, http_client: httpx.AsyncClient
) -> None:
    # The JWKS also lists Keycloak's encryption key; it must not count as a candidate.
    token = oidc_provider.mint(header={"kid": None})

    assert (await verifier.verify(token)).user_name == "jdoe"

    oidc_provider.rotate()
    # A fresh verifier (empty cache) sees both keys.
    verifier_after_rotation = make_verifier(oidc_provider, http_client, FakeClock())
    reason = await refused(verifier_after_rotation, oidc_provider.mint(header={"kid": None}))
    assert reason == "token names no signing key (kid)"


# -- time claims ------------------------------------------------------------------------


async def test_expired_token(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    now = int(time.time())
    token = oidc_provider.mint(oidc_provider.claims(iat=now - 600, exp=now - 120))

    assert await refused(verifier, token) == "token expired"


async def test_expiry_within_leeway_is_accepted(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    now = int(time.time())
    token = oidc_provider.mint(oidc_provider.claims(iat=now - 600, exp=now - 10))

    assert (await verifier.verify(token)).user_name == "jdoe"


async def test_token_not_yet_valid(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(nbf=int(time.time()) + 300))

    assert await refused(verifier, token) == "token not yet valid"


async def test_not_before_within_leeway_is_accepted(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    token = oidc_provider.mint(oidc_provider.claims(nbf=int(time.time()) + 10))

    assert (await verifier.verify(token)).user_name == "jdoe"


async def test_token_issued_in_the_future(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    token = oidc_provider.mint(oidc_provider.claims(iat=int(time.time()) + 300))

    assert await refused(verifier, token) == "token issued in the future"


async def test_missing_exp(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(exp=None))

    assert await refused(verifier, token) == "missing exp claim"


async def test_non_numeric_exp(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(exp="tomorrow"))

    assert await refused(verifier, token) == "invalid exp claim"


# -- issuer and audience ----------------------------------------------------------------


async def test_wrong_issuer(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(iss="https://evil.example/realms/test"))

    assert await refused(verifier, token) == "issuer mismatch"


async def test_missing_issuer(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(iss=None))

    assert await refused(verifier, token) == "missing iss claim"


async def test_wrong_audience(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(aud="account"))

    assert await refused(verifier, token) == "audience mismatch"


async def test_audience_list_containing_ours(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    token = oidc_provider.mint(oidc_provider.claims(aud=["account", DEFAULT_AUDIENCE]))

    assert (await verifier.verify(token)).user_name == "jdoe"


async def test_audience_list_without_ours(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    token = oidc_provider.mint(oidc_provider.claims(aud=["account", "broker"]))

    assert await refused(verifier, token) == "audience mismatch"


async def test_missing_audience(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(aud=None))

    assert await refused(verifier, token) == "missing aud claim"


async def test_audience_not_checked_when_not_configured(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(oidc_provider, http_client, clock, audience=None)

    principal = await verifier.verify(oidc_provider.mint(oidc_provider.claims(aud="account")))

    assert principal.user_name == "jdoe"


# -- token kinds ------------------------------------------------------------------------


async def test_keycloak_id_token_is_not_an_access_token(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    token = oidc_provider.mint(oidc_provider.claims(typ="ID"))

    assert await refused(verifier, token) == "not an access token"


async def test_other_jwt_kind_is_not_an_access_token(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    token = oidc_provider.mint(header={"typ": "logout+jwt"})

    assert await refused(verifier, token) == "not an access token"


async def test_rfc9068_typ_is_accepted(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint(oidc_provider.claims(typ=None), header={"typ": "at+jwt"})

    assert (await verifier.verify(token)).user_name == "jdoe"


# -- algorithms and signatures -----------------------------------------------------------


async def test_alg_none_is_rejected_before_key_lookup(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    assert await refused(verifier, oidc_provider.mint_unsigned()) == "algorithm not allowed"
    assert (oidc_provider.discovery_requests, oidc_provider.jwks_requests) == (0, 0)


async def test_hs256_signed_with_public_key_is_rejected(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    # The classic confusion attack: HMAC keyed with the PEM of the RSA public key that
    # anyone can download from the JWKS.
    public_pem = oidc_provider.current_key.as_pem(private=False)
    token = oidc_provider.mint_hmac(public_pem, kid=oidc_provider.current_key.kid)

    assert await refused(verifier, token) == "algorithm not allowed"
    assert (oidc_provider.discovery_requests, oidc_provider.jwks_requests) == (0, 0)


async def test_algorithm_outside_the_configured_list(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(oidc_provider, http_client, clock, algorithms=("RS256",))
    oidc_provider.rotate("EC")

    assert await refused(verifier, oidc_provider.mint()) == "algorithm not allowed"


async def test_key_of_another_type_than_the_algorithm(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    rsa_kid = oidc_provider.current_key.kid
    ec_key = oidc_provider.add_key("EC")
    # Signed with an EC key but naming the RSA key: the verifier must not try the RSA key
    # with ES256, and need not download the JWKS again to know the answer.
    token = oidc_provider.mint(key=ec_key, header={"kid": rsa_kid})

    assert await refused(verifier, token) == "signing key does not match algorithm"
    assert oidc_provider.jwks_requests == 1


async def test_tampered_payload(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    header, _, signature = oidc_provider.mint().split(".")
    forged_payload = oidc_provider.mint(oidc_provider.claims(preferred_username="root")).split(".")[
        1
    ]

    assert await refused(verifier, f"{header}.{forged_payload}.{signature}") == (
        "invalid signature"
    )


async def test_signed_by_an_unpublished_key_claiming_a_published_kid(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    impostor = oidc_provider.add_key("RSA", publish=False)
    token = oidc_provider.mint(key=impostor, header={"kid": oidc_provider.current_key.kid})

    assert await refused(verifier, token) == "invalid signature"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "a.b.c",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "eyJhbGciOiJSUzI1NiJ9.eyJ.c2ln",
        "ëyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        "x" * 200_000,
    ],
)
async def test_malformed_token(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider, token: str
) -> None:
    assert await refused(verifier, token) == "malformed token"


# -- key rotation and rate limiting -----------------------------------------------------


async def test_unknown_kid_triggers_one_refetch_then_succeeds(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider, clock: FakeClock
) -> None:
    await verifier.verify(oidc_provider.mint())
    clock.advance(INTERVAL + 1)
    oidc_provider.rotate()

    principal = await verifier.verify(oidc_provider.mint())

    assert principal.user_name == "jdoe"
    assert oidc_provider.jwks_requests == 2  # the initial download and exactly one more
    assert oidc_provider.discovery_requests == 1


async def test_second_unknown_kid_within_the_interval_fails_without_a_fetch(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider, clock: FakeClock
) -> None:
    await verifier.verify(oidc_provider.mint())
    clock.advance(INTERVAL + 1)
    oidc_provider.rotate()
    await verifier.verify(oidc_provider.mint())  # refetch number one
    clock.advance(INTERVAL / 2)
    oidc_provider.rotate()

    assert await refused(verifier, oidc_provider.mint()) == "unknown signing key"
    assert oidc_provider.jwks_requests == 2

    clock.advance(INTERVAL / 2 + 1)
    assert (await verifier.verify(oidc_provider.mint())).user_name == "jdoe"
    assert oidc_provider.jwks_requests == 3


async def test_never_published_kid_costs_one_fetch_per_interval(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider, clock: FakeClock
) -> None:
    await verifier.verify(oidc_provider.mint())
    clock.advance(INTERVAL + 1)
    stranger = oidc_provider.add_key("RSA", publish=False)

    for _ in range(10):
        assert await refused(verifier, oidc_provider.mint(key=stranger)) == "unknown signing key"

    assert oidc_provider.jwks_requests == 2


async def test_keys_are_refreshed_after_max_age_and_withdrawn_keys_stop_working(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(oidc_provider, http_client, clock, jwks_max_age_seconds=600)
    old_key = oidc_provider.current_key
    await verifier.verify(oidc_provider.mint())
    oidc_provider.rotate()
    oidc_provider.withdraw(old_key)

    clock.advance(601)
    reason = await refused(verifier, oidc_provider.mint(key=old_key))

    assert reason == "unknown signing key"
    assert oidc_provider.jwks_requests == 2


async def test_stale_keys_keep_working_while_the_provider_is_down(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(oidc_provider, http_client, clock, jwks_max_age_seconds=600)
    await verifier.verify(oidc_provider.mint())
    oidc_provider.fail_with_status = 503

    clock.advance(601)
    assert (await verifier.verify(oidc_provider.mint())).user_name == "jdoe"
    assert (await verifier.verify(oidc_provider.mint())).user_name == "jdoe"
    assert oidc_provider.jwks_requests == 2  # one failed refresh, then rate-limited


async def test_concurrent_first_requests_share_one_discovery(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    oidc_provider.delay_seconds = 0.2
    tokens = [oidc_provider.mint() for _ in range(20)]

    principals = await asyncio.gather(*(verifier.verify(t) for t in tokens))

    assert {p.user_name for p in principals} == {"jdoe"}
    assert (oidc_provider.discovery_requests, oidc_provider.jwks_requests) == (1, 1)


# -- provider failures --------------------------------------------------------------------


async def test_provider_down(verifier: OIDCVerifier, oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.mint()
    oidc_provider.stop()

    with pytest.raises(UpstreamUnavailable) as caught:
        await verifier.verify(token)

    assert caught.value.reason == "identity provider unreachable"


async def test_provider_error_is_not_cached(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    oidc_provider.fail_with_status = 500
    with pytest.raises(UpstreamUnavailable, match="identity provider unreachable"):
        await verifier.verify(oidc_provider.mint())

    oidc_provider.fail_with_status = None
    assert (await verifier.verify(oidc_provider.mint())).user_name == "jdoe"


async def test_concurrent_requests_share_one_failed_attempt(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    oidc_provider.fail_with_status = 502
    oidc_provider.delay_seconds = 0.2

    results = await asyncio.gather(
        *(verifier.verify(oidc_provider.mint()) for _ in range(10)), return_exceptions=True
    )

    assert all(isinstance(r, UpstreamUnavailable) for r in results)
    assert oidc_provider.discovery_requests == 1


async def test_unknown_kid_while_provider_down(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider, clock: FakeClock
) -> None:
    await verifier.verify(oidc_provider.mint())
    clock.advance(INTERVAL + 1)
    oidc_provider.rotate()
    oidc_provider.fail_with_status = 500

    with pytest.raises(UpstreamUnavailable, match="identity provider unreachable"):
        await verifier.verify(oidc_provider.mint())


async def test_discovery_issuer_must_match(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    oidc_provider.discovery_overrides["issuer"] = "https://evil.example/realms/test"

    with pytest.raises(UpstreamUnavailable) as caught:
        await verifier.verify(oidc_provider.mint())

    assert caught.value.reason == "identity provider issuer mismatch"
    assert oidc_provider.jwks_requests == 0


async def test_discovery_without_jwks_uri(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider
) -> None:
    oidc_provider.discovery_overrides["jwks_uri"] = None

    with pytest.raises(UpstreamUnavailable, match="discovery document invalid"):
        await verifier.verify(oidc_provider.mint())


async def test_wrong_issuer_url_is_a_provider_problem(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(
        oidc_provider, http_client, clock, issuer=oidc_provider.base_url + "/realms/nope"
    )

    with pytest.raises(UpstreamUnavailable, match="discovery document unavailable"):
        await verifier.verify(oidc_provider.mint())


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["none", "HS256", "HS512", "RS1024"])
def test_config_refuses_algorithms_without_public_keys(algorithm: str) -> None:
    with pytest.raises(ValueError):
        OIDCConfig(issuer="https://idp.example/realms/x", audience=None, algorithms=(algorithm,))


def test_config_refuses_a_non_url_issuer() -> None:
    with pytest.raises(ValueError):
        OIDCConfig(issuer="idp.example", audience=None)


# -- verified tokens are remembered ---------------------------------------------------


async def test_a_verified_token_is_not_verified_again(
    verifier: OIDCVerifier, oidc_provider: OIDCProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same token on every request of a session: its signature is checked once."""
    # The verifier calls joserfc's jwt.decode through the module: count the calls there.
    from joserfc import jwt

    decoded = []
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        decoded.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token, other = oidc_provider.mint(), oidc_provider.mint(oidc_provider.claims(sub="x"))
    for _ in range(5):
        assert (await verifier.verify(token)).user_name == "jdoe"
    await verifier.verify(other)
    assert decoded == [token, other]


async def test_a_remembered_token_still_expires(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(oidc_provider, http_client, clock, leeway_seconds=0)
    # At least a second to live (``exp`` is in whole seconds: ``now + 1`` minted late in a
    # second left a few milliseconds, and the first verification, fetching the keys on a
    # busy machine, could come after it: a flaky failure, not the remembered token's).
    expires = int(time.time()) + 2
    token = oidc_provider.mint(oidc_provider.claims(exp=expires))
    assert (await verifier.verify(token)).user_name == "jdoe"
    await asyncio.sleep(max(0.0, expires + 0.05 - time.time()))
    assert await refused(verifier, token) == "token expired"


async def test_a_remembered_token_of_a_withdrawn_key_stops_working(
    oidc_provider: OIDCProvider, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Remembered under the keys it was verified with: once they are re-downloaded
    without its key, the very same token is refused."""
    verifier = make_verifier(oidc_provider, http_client, clock, jwks_max_age_seconds=600)
    old_key = oidc_provider.current_key
    token = oidc_provider.mint()
    await verifier.verify(token)
    oidc_provider.rotate()
    oidc_provider.withdraw(old_key)
    assert (await verifier.verify(token)).user_name == "jdoe"  # within the keys' max age

    clock.advance(601)
    assert await refused(verifier, token) == "unknown signing key"
