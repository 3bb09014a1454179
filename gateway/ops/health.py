"""Liveness (/healthz), readiness (/readyz) and the metrics endpoint (/metrics).

``/healthz`` says the process answers, nothing more: an orchestrator restarts a worker
that fails it, and a database outage is no reason to restart the gateway. ``/readyz`` says
whether requests can be served now: a connection from each pool that requests use (the
read pool first: a read pool that is exhausted while the write pool is idle is not ready)
within ``readiness_timeout``, and Redis when configured. A load balancer takes a replica
that fails it out of rotation until it passes again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.ops.metrics import Metrics
from gateway.ops.shared_redis import redis_reachable

if TYPE_CHECKING:  # redis is imported where a client is made (shared_redis)
    import redis.asyncio as aioredis


async def _database_ready(engine: AsyncEngine, seconds: float) -> str:
    try:
        async with asyncio.timeout(seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return "timeout"
    except Exception as error:  # a readiness check reports, it does not raise
        return type(error).__name__
    return "ok"


def health_routes(
    pools: Sequence[tuple[str, AsyncEngine]],
    redis: aioredis.Redis | None,
    timeout: float,
    metrics: Metrics | None,
    notes: Callable[[], Awaitable[dict[str, str]]] | None = None,
) -> list[BaseRoute]:
    """The routes; ``pools`` are the (name, engine) pairs that requests read and write;
    ``notes`` adds what a ready gateway should say about itself (the search index's
    state), which is no reason to leave rotation."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = dict(
            zip(
                [name for name, _ in pools],
                await asyncio.gather(*(_database_ready(e, timeout) for _, e in pools)),
                strict=True,
            )
        )
        if redis is not None:
            async with asyncio.timeout(timeout + 1):
                checks["redis"] = "ok" if await redis_reachable(redis) else "unavailable"
        ready = all(state == "ok" for state in checks.values())
        body: dict[str, object] = {"status": "ok" if ready else "unavailable", "checks": checks}
        if ready and notes is not None:
            body.update(await notes())
        return JSONResponse(body, status_code=200 if ready else 503)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if metrics is not None:

        async def metrics_endpoint(_: Request) -> Response:
            metrics.observe_pools(pools)
            body, content_type = metrics.exposition()
            return Response(body, media_type=content_type)

        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    return routes
