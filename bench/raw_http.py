"""The raw SQL baseline behind a minimal HTTP endpoint (Starlette + asyncpg, no GraphQL).

It runs the very statements of ``bench.workloads`` and returns the JSON PostgreSQL built,
untouched: what the gateway costs over this is GraphQL and its Python objects, not HTTP,
JSON transport or the event loop. Served like the gateway (uvicorn, same worker count):

    BENCH_DSN=postgresql://... uvicorn bench.raw_http:app --workers 2 --port 8100
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.workloads import raw_statement

_state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    _state["pool"] = await asyncpg.create_pool(
        os.environ["BENCH_DSN"], min_size=2, max_size=int(os.environ.get("BENCH_POOL", "10"))
    )
    try:
        yield
    finally:
        await _state["pool"].close()


async def raw(request: Request) -> Response:
    body = orjson.loads(await request.body())
    sql, args = raw_statement(
        body["workload"], bool(body["member"]), body.get("user"), body["args"], body.get("after")
    )
    async with _state["pool"].acquire() as connection:
        text = await connection.fetchval(sql, *args)
    return Response(b'{"data":' + text.encode() + b"}", media_type="application/json")


app = Starlette(routes=[Route("/raw", raw, methods=["POST"])], lifespan=lifespan)
