"""The one Redis connection pool of a process, shared by rate limits and persisted queries.

Every key the gateway writes starts with ``redis_key_prefix``, so several gateways (or a
test) can share one Redis database and clean up after themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.settings import Settings

if TYPE_CHECKING:
    import redis.asyncio as aioredis


def connect_redis(settings: Settings) -> aioredis.Redis | None:
    """A client of the configured Redis (connections are opened on first use), or None."""
    if not settings.redis_url:
        return None
    # Imported only where Redis is configured: redis-py's command tables take about half
    # a second of each worker's start, which the embedded default does not need.
    import redis.asyncio as aioredis

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
    from redis.exceptions import RedisError

    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
