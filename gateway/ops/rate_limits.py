"""Rate limits per caller and per client address, by requests and by query cost.

Counted by the ``limits`` package with its sliding-window-counter strategy (two counters
per key and window: cheap in Redis, and no burst at a window's edge), in Redis when one
is configured, so every worker and replica counts against the same budget, or in the
process's memory when not.

A signed-in caller is counted by user name, an anonymous one by client address; every
request also counts against its address's own (larger) budget. Cost is the gate's
estimate of what a query can ask for, charged once the query is known. A refusal is a
429 with ``Retry-After`` and the code ``RATE_LIMITED``.

If Redis fails, requests go through (logged): the limits protect the service, an outage
of their store should not take it down; /readyz reports Redis as unavailable.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from gateway.settings import Settings, SettingsError

if TYPE_CHECKING:  # redis is imported where a client is made (shared_redis)
    import redis.asyncio as aioredis

logger = logging.getLogger("gateway.ops.rate_limits")

RATE_LIMITED = "RATE_LIMITED"


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused and when it may be tried again."""

    budget: str  # "requests", "address" or "cost"
    limit: str  # limits' own description: "50 per 1 second"
    retry_after: int  # whole seconds, at least 1

    @property
    def message(self) -> str:
        what = "query cost" if self.budget == "cost" else "requests"
        return f"Too many {what} (limit: {self.limit}); retry after {self.retry_after} s."


def parse_limits(setting: str, value: str) -> tuple[RateLimitItem, ...]:
    """A setting's windows; a malformed one stops the gateway at start-up."""
    if not value.strip():
        return ()
    try:
        return tuple(parse_many(value))
    except ValueError as error:
        raise SettingsError(
            f"ICAT_GATEWAY_{setting.upper()} is {value!r}: {error} "
            "(write e.g. 50/second;1000/minute)"
        ) from None


class RateLimits:
    """The gateway's budgets over one storage."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.requests = parse_limits("rate_limit_requests", settings.rate_limit_requests)
        self.address = parse_limits("rate_limit_address", settings.rate_limit_address)
        self.cost = parse_limits("rate_limit_cost", settings.rate_limit_cost)
        self.storage = storage
        self.limiter = SlidingWindowCounterRateLimiter(storage)

    @classmethod
    def create(cls, settings: Settings, client: aioredis.Redis | None) -> RateLimits:
        storage: Storage
        if client is None or not settings.redis_url:
            storage = MemoryStorage()
        else:
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=settings.redis_key_prefix + "limits",
                wrap_exceptions=True,
                # one pool per process, shared with the persisted queries
                connection_pool=client.connection_pool,  # type: ignore[arg-type]
            )
        return cls(settings, storage)

    @property
    def enabled(self) -> bool:
        return bool(self.requests or self.address or self.cost)

    async def admit(self, user_name: str | None, address: str) -> Refusal | None:
        """Count one request; a refusal if a budget is spent."""
        refusal = await self._hit("address", self.address, address, 1)
        if refusal is None:
            refusal = await self._hit("requests", self.requests, _caller_key(user_name, address), 1)
        return refusal

    async def charge(self, user_name: str | None, address: str, cost: int) -> Refusal | None:
        """Charge a known query's cost; a refusal (nothing charged) if it does not fit."""
        if cost <= 0:
            return None
        return await self._hit("cost", self.cost, _caller_key(user_name, address), cost)

    async def _hit(
        self, budget: str, items: Sequence[RateLimitItem], key: str, cost: int
    ) -> Refusal | None:
        for item in items:
            try:
                if await self.limiter.hit(item, budget, key, cost=cost):
                    continue
                stats = await self.limiter.get_window_stats(item, budget, key)
            except StorageError as error:
                logger.warning("rate limits not counted: %s", error.storage_error)
                return None
            retry = max(1, math.ceil(stats.reset_time - time.time()))
            # A cost larger than the window holds can never pass: say when it resets anyway.
            return Refusal(budget, str(item), min(retry, item.get_expiry()))
        return None

    async def reset(self) -> None:
        """Forget every count (tests)."""
        await self.storage.reset()


def _caller_key(user_name: str | None, address: str) -> str:
    return f"user:{user_name}" if user_name else f"address:{address}"
