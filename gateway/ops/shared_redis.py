"""The one Redis connection pool of a process, shared by rate limits and persisted queries.

Every key the gateway writes starts with ``redis_key_prefix``, so several gateways (or a
test) can share one Redis database and clean up after themselves.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from gateway.settings import Settings


def connect_redis(settings: Settings) -> aioredis.Redis | None:
    """A client of the configured Redis (connections are opened on first use), or None."""
    if not settings.redis_url:
        return None
    # Short timeouts: a Redis that does not answer must fail a request fast (and /readyz),
    # not hold it for the kernel's TCP timeout.
    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=2.0,
        socket_timeout=2.0,
        health_check_interval=30,
    )


async def redis_reachable(client: aioredis.Redis) -> bool:
    """Whether Redis answers a PING (readiness)."""
    try:
        return bool(await client.ping())
    except (aioredis.RedisError, OSError):
        return False
