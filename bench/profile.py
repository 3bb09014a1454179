"""Where the gateway's time goes: one workload in process, under cProfile.

    python -m bench.profile --scale 10k --workload session_page [--repeat 10] [--top 30]

The gateway app is called through httpx's ASGI transport (no sockets, one process, the
anonymous caller) against the benchmark catalogue, after one warm-up call; the profile of
the timed calls is printed sorted by own time, then by cumulative time. The catalogue must
exist (``scripts/bench`` or ``python -m bench.catalogue`` makes it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from typing import Any

import asyncpg
import httpx

from bench.catalogue import SCALES, SERVER, database_name
from bench.workloads import FILE_PAGES, WORKLOADS, pick_parameters


async def profile(scale: str, workload: str, repeat: int, top: int) -> None:
    from gateway.app import create_app
    from gateway.settings import Settings

    dsn = f"{SERVER}/{database_name(scale)}"
    connection = await asyncpg.connect(dsn)
    try:
        params = await pick_parameters(connection)
    finally:
        await connection.close()
    settings = Settings(
        database_url=dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        embedded=False,
        graphiql=False,
    )
    app = create_app(settings)
    spec = WORKLOADS[workload]
    query, variables = spec.request(params).gateway
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def once() -> None:
            after: Any = None
            for _ in range(FILE_PAGES if spec.paged else 1):
                body = {"query": query, "variables": {**variables, "after": after}}
                response = await client.post("/graphql", json=body)
                answer = response.json()
                assert not answer.get("errors"), answer["errors"]
                page = (answer["data"].get("dataset") or {}).get("datafiles") or {}
                after = (page.get("pageInfo") or {}).get("endCursor")

        await once()
        started = time.perf_counter()
        for _ in range(repeat):
            await once()
        plain = (time.perf_counter() - started) / repeat
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(repeat):
            await once()
        profiler.disable()
        elapsed = (time.perf_counter() - started) / repeat
    await app.state.engine.dispose()
    print(
        f"{workload} at {scale}: {plain * 1000:.1f} ms per operation, "
        f"{elapsed * 1000:.1f} ms under the profiler"
    )
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="10k")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="session_page")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(profile(args.scale, args.workload, args.repeat, args.top))


if __name__ == "__main__":
    main()
