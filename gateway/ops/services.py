"""The operational services of one application, made from the settings in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.ops.metrics import Metrics
from gateway.ops.persisted import PersistedQueries
from gateway.ops.rate_limits import RateLimits
from gateway.ops.shared_redis import connect_redis
from gateway.settings import Settings

if TYPE_CHECKING:  # redis is imported where a client is made (shared_redis)
    import redis.asyncio as aioredis


@dataclass
class OpsServices:
    redis: aioredis.Redis | None
    persisted: PersistedQueries
    rate_limits: RateLimits
    metrics: Metrics | None

    @classmethod
    def create(cls, settings: Settings) -> OpsServices:
        client = connect_redis(settings)
        return cls(
            redis=client,
            persisted=PersistedQueries.create(settings, client),
            rate_limits=RateLimits.create(settings, client),
            metrics=Metrics(settings.metrics_operation_names) if settings.metrics else None,
        )

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        Metrics.process_exited()
