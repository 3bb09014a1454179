"""Rate limits: per caller, per address, by cost; settings checked at start-up."""

from __future__ import annotations

import pytest
from limits.aio.storage import MemoryStorage

from gateway.ops.rate_limits import RateLimits
from gateway.settings import Settings, SettingsError


def limits(requests: str = "", address: str = "", cost: str = "") -> RateLimits:
    settings = Settings(
        rate_limit_requests=requests, rate_limit_address=address, rate_limit_cost=cost
    )
    return RateLimits(settings, MemoryStorage())


async def test_a_caller_is_counted_by_name_an_anonymous_one_by_address() -> None:
    limiter = limits(requests="3/minute")
    for _ in range(3):
        assert await limiter.admit("esrf/pi1", "10.0.0.1") is None
    refused = await limiter.admit("esrf/pi1", "10.0.0.2")  # another address, same user
    assert refused is not None and refused.budget == "requests"
    assert 1 <= refused.retry_after <= 60 and "3 per 1 minute" in refused.message
    assert await limiter.admit("esrf/member1", "10.0.0.1") is None  # another user
    for _ in range(3):
        assert await limiter.admit(None, "10.0.0.9") is None
    assert await limiter.admit(None, "10.0.0.9") is not None
    assert await limiter.admit(None, "10.0.0.8") is None


async def test_every_request_counts_against_its_address() -> None:
    limiter = limits(address="2/hour")  # a window no run of this test straddles
    assert await limiter.admit("a", "192.0.2.1") is None
    assert await limiter.admit("b", "192.0.2.1") is None
    refused = await limiter.admit("c", "192.0.2.1")
    assert refused is not None and refused.budget == "address" and 1 <= refused.retry_after <= 3600


async def test_cost_is_charged_whole_or_not_at_all() -> None:
    limiter = limits(cost="1000/hour")
    assert await limiter.charge("esrf/pi1", "10.0.0.1", 600) is None
    refused = await limiter.charge("esrf/pi1", "10.0.0.1", 600)
    assert refused is not None and refused.budget == "cost"
    assert "query cost" in refused.message
    assert await limiter.charge("esrf/pi1", "10.0.0.1", 400) is None  # nothing was charged
    assert await limiter.charge("esrf/pi1", "10.0.0.1", 1) is not None
    assert await limiter.charge("esrf/pi1", "10.0.0.1", 0) is None


async def test_empty_settings_switch_a_budget_off() -> None:
    limiter = limits()
    assert not limiter.enabled
    for _ in range(100):
        assert await limiter.admit(None, "10.0.0.1") is None


def test_a_malformed_limit_stops_the_gateway() -> None:
    with pytest.raises(SettingsError, match="ICAT_GATEWAY_RATE_LIMIT_COST"):
        limits(cost="lots")


def test_the_defaults_parse() -> None:
    limiter = RateLimits(Settings(), MemoryStorage())
    assert limiter.requests and limiter.address and limiter.cost
