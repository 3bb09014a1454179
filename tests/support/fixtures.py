"""Pytest fixtures for the authentication tests: loopback servers, an HTTP client, a clock.

Import the ones a module uses explicitly, including those the used fixtures depend on
(``from tests.support.fixtures import oidc_provider_fixture  # noqa: F401``). Each is
registered under the short name (``oidc_provider``) but defined as ``<name>_fixture``, so a
test's ``oidc_provider`` parameter does not shadow the import (ruff F811).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.icat_server import ICATServer
from tests.support.oidc_provider import OIDCProvider


class FakeClock:
    """A monotonic clock that only moves when told to, for cache and rate-limit tests."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds


@pytest.fixture(name="clock")
def clock_fixture() -> FakeClock:
    """A fresh fake monotonic clock."""
    return FakeClock()


@pytest.fixture(name="oidc_provider")
def oidc_provider_fixture() -> Iterator[OIDCProvider]:
    """A running loopback OpenID provider with one RSA signing key."""
    with OIDCProvider() as provider:
        yield provider


@pytest.fixture(name="icat_server")
def icat_server_fixture() -> Iterator[ICATServer]:
    """A running loopback ICAT server with no sessions yet."""
    with ICATServer() as server:
        yield server


@pytest.fixture(name="http_client")
async def http_client_fixture() -> AsyncIterator[httpx.AsyncClient]:
    """The outbound client the verifiers use.

    ``trust_env=False`` so an HTTP(S)_PROXY in the environment cannot route loopback
    calls elsewhere: these tests must never leave the machine.
    """
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        yield client
