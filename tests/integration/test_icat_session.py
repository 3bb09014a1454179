"""ICATSessionVerifier against a real loopback ICAT stand-in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.auth.icat_session import ICATSessionVerifier
from gateway.auth.principal import AuthenticationError, Principal
from gateway.errors import UpstreamUnavailable
from tests.support.fixtures import (  # noqa: F401
    FakeClock,
    clock_fixture,
    http_client_fixture,
    icat_server_fixture,
)
from tests.support.icat_server import ICATServer
from tests.support.loopback import Reply

INVALID = "ICAT session invalid or expired"
UNREACHABLE = "ICAT server unreachable"
UNKNOWN_SESSION = "0b7a3f6e-52a4-4c1e-9d2b-6f1a2c3d4e5f"


def make_verifier(
    server: ICATServer, client: httpx.AsyncClient, clock: FakeClock, **options: Any
) -> ICATSessionVerifier:
    return ICATSessionVerifier(server.base_url, client, clock=clock, **options)


@pytest.fixture
def verifier(
    icat_server: ICATServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> ICATSessionVerifier:
    return make_verifier(icat_server, http_client, clock)


async def test_valid_session(verifier: ICATSessionVerifier, icat_server: ICATServer) -> None:
    session_id = icat_server.add_session("db/root", remaining_minutes=117.5)

    principal = await verifier.verify(session_id)

    assert principal == Principal(user_name="db/root", via="icat-session")
    assert icat_server.session_requests == 1


async def test_trailing_slash_in_icat_url(
    icat_server: ICATServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = ICATSessionVerifier(icat_server.base_url + "/", http_client, clock=clock)

    principal = await verifier.verify(icat_server.add_session("esrf/jdoe"))

    assert principal.user_name == "esrf/jdoe"


async def test_unknown_session(verifier: ICATSessionVerifier, icat_server: ICATServer) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(UNKNOWN_SESSION)

    assert caught.value.reason == INVALID
    assert not isinstance(caught.value, UpstreamUnavailable)


async def test_refusals_are_cached_briefly(
    verifier: ICATSessionVerifier, icat_server: ICATServer, clock: FakeClock
) -> None:
    """A client repeating an unknown id costs ICAT one call per id and five seconds."""
    for _ in range(3):
        with pytest.raises(AuthenticationError, match=INVALID):
            await verifier.verify(UNKNOWN_SESSION)
    assert icat_server.session_requests == 1

    clock.advance(5)  # the default refusal_cache_seconds: ICAT is asked again
    with pytest.raises(AuthenticationError, match=INVALID):
        await verifier.verify(UNKNOWN_SESSION)
    assert icat_server.session_requests == 2


async def test_cached_refusals_are_bounded_and_keep_valid_sessions(
    icat_server: ICATServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(icat_server, http_client, clock, max_cache_entries=2)
    valid = icat_server.add_session("db/root")
    await verifier.verify(valid)
    made_up = [f"{i:08x}-52a4-4c1e-9d2b-6f1a2c3d4e5f" for i in range(3)]
    for session_id in made_up:
        with pytest.raises(AuthenticationError):
            await verifier.verify(session_id)
    assert icat_server.session_requests == 4
    await verifier.verify(valid)  # refusals live apart: the valid session stays cached
    with pytest.raises(AuthenticationError):
        await verifier.verify(made_up[2])  # still cached
    assert icat_server.session_requests == 4
    with pytest.raises(AuthenticationError):
        await verifier.verify(made_up[0])  # evicted, least recently refused
    assert icat_server.session_requests == 5


async def test_valid_answers_are_cached(
    verifier: ICATSessionVerifier, icat_server: ICATServer, clock: FakeClock
) -> None:
    session_id = icat_server.add_session("db/root")

    for _ in range(5):
        await verifier.verify(session_id)
        clock.advance(10)
    assert icat_server.session_requests == 1

    clock.advance(20)  # 60 s after the first answer: the default cache_seconds
    await verifier.verify(session_id)
    assert icat_server.session_requests == 2


async def test_cache_never_outlives_the_session(
    verifier: ICATSessionVerifier, icat_server: ICATServer, clock: FakeClock
) -> None:
    session_id = icat_server.add_session("db/root", remaining_minutes=0.5)
    await verifier.verify(session_id)
    icat_server.expire(session_id)

    clock.advance(29)
    assert (await verifier.verify(session_id)).user_name == "db/root"  # cached

    clock.advance(2)
    with pytest.raises(AuthenticationError, match=INVALID):
        await verifier.verify(session_id)
    assert icat_server.session_requests == 2


async def test_expired_session(
    verifier: ICATSessionVerifier, icat_server: ICATServer, clock: FakeClock
) -> None:
    session_id = icat_server.add_session("db/root")
    await verifier.verify(session_id)
    icat_server.expire(session_id)
    clock.advance(61)

    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(session_id)

    assert caught.value.reason == INVALID


async def test_session_with_no_time_left(
    verifier: ICATSessionVerifier, icat_server: ICATServer
) -> None:
    session_id = icat_server.add_session("db/root", remaining_minutes=0)

    with pytest.raises(AuthenticationError, match=INVALID):
        await verifier.verify(session_id)


async def test_caching_can_be_disabled(
    icat_server: ICATServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(icat_server, http_client, clock, cache_seconds=0)
    session_id = icat_server.add_session()

    await verifier.verify(session_id)
    await verifier.verify(session_id)

    assert icat_server.session_requests == 2


async def test_cache_size_is_bounded(
    icat_server: ICATServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(icat_server, http_client, clock, max_cache_entries=2)
    first, second, third = (icat_server.add_session(f"db/user{i}") for i in range(3))
    for session_id in (first, second, third):
        await verifier.verify(session_id)

    await verifier.verify(third)  # still cached
    assert icat_server.session_requests == 3
    await verifier.verify(first)  # evicted, least recently used
    assert icat_server.session_requests == 4


@pytest.mark.parametrize(
    "session_id",
    ["", "root", "../../icat/version", f"{UNKNOWN_SESSION}/x", f" {UNKNOWN_SESSION}", "0" * 36],
)
async def test_malformed_session_id_is_refused_without_asking_icat(
    verifier: ICATSessionVerifier, icat_server: ICATServer, session_id: str
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(session_id)

    assert caught.value.reason == "malformed ICAT session id"
    assert icat_server.session_requests == 0


async def test_upstream_500(verifier: ICATSessionVerifier, icat_server: ICATServer) -> None:
    session_id = icat_server.add_session()
    icat_server.fail_with_status = 500

    with pytest.raises(UpstreamUnavailable) as caught:
        await verifier.verify(session_id)
    assert caught.value.reason == UNREACHABLE

    icat_server.fail_with_status = None  # recovered, and the outage was not cached
    assert (await verifier.verify(session_id)).user_name == "db/root"


async def test_icat_down(verifier: ICATSessionVerifier, icat_server: ICATServer) -> None:
    session_id = icat_server.add_session()
    icat_server.stop()

    with pytest.raises(UpstreamUnavailable, match=UNREACHABLE):
        await verifier.verify(session_id)


async def test_wrong_icat_url_is_not_the_clients_fault(
    icat_server: ICATServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = ICATSessionVerifier(icat_server.base_url + "/wrong", http_client, clock=clock)

    with pytest.raises(UpstreamUnavailable, match=UNREACHABLE):
        await verifier.verify(icat_server.add_session())


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        {"userName": "", "remainingMinutes": 10},
        {"userName": "db/root"},
        {"userName": "db/root", "remainingMinutes": "ten"},
        {"userName": "db/root", "remainingMinutes": True},
        ["db/root", 10],
    ],
)
async def test_unexpected_answer(
    verifier: ICATSessionVerifier, icat_server: ICATServer, body: Any
) -> None:
    session_id = icat_server.add_session()
    icat_server.session_overrides[session_id] = Reply(200, body)

    with pytest.raises(UpstreamUnavailable, match="ICAT server answered unexpectedly"):
        await verifier.verify(session_id)


async def test_user_prefix_required(
    icat_server: ICATServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    verifier = make_verifier(icat_server, http_client, clock, user_prefix_required=True)

    assert (await verifier.verify(icat_server.add_session("db/root"))).user_name == "db/root"
    with pytest.raises(AuthenticationError, match="lacks an authenticator prefix"):
        await verifier.verify(icat_server.add_session("root"))


async def test_unprefixed_user_accepted_by_default(
    verifier: ICATSessionVerifier, icat_server: ICATServer
) -> None:
    assert (await verifier.verify(icat_server.add_session("root"))).user_name == "root"


def test_icat_url_must_be_a_url(http_client: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError):
        ICATSessionVerifier("icat.example.org", http_client)
