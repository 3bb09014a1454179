"""Is a worker's memory flat? Many in-process requests with varied parameters, RSS sampled.

    python -m bench.memory                                 # SQLite, 100,000 requests
    python -m bench.memory --dialect mariadb --requests 20000
    python -m bench.memory --sqlite-url sqlite+aiosqlite:////tmp/x.sqlite3

The catalogue is ``bench.dialects``'s (the same options and environment:
``--<dialect>-url``, ``BENCH_<DIALECT>_URL``; created and seeded if missing). One gateway
app (``gateway.app.create_app``, production settings as ``bench.dialects`` serves it)
answers through httpx's ASGI transport in this process: no sockets, no uvicorn, so the
process's RSS is the worker's. The requests are ``bench.dialects``'s five workloads
(session list by beamline, session page, a page of the 10,000-file listing by its
cursor, DOI lookup, free-text search), each drawn with its parameters from the same Zipf
distributions, as the anonymous caller or the team member (OIDC token of a loopback
provider), in a seeded mix. Every answer must have no ``errors``; every ``--check-every``
th is compared with the hand-written statement's (``bench.raw_dialects``); a difference
fails the run.

The RSS (``psutil``) is sampled every ``--sample-every`` requests. The first
``--warmup`` requests (10 % by default) fill the pools, the plans and the caches; the
target (issue 20) is a flat RSS after them: the last sample within 10 % of the first
sample after warm-up. Output: ``bench/results/memory-<dialect>-<time>.json`` and
``memory-latest.md`` (``--quick``: ``bench/.cache`` only).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import psutil

from bench import raw_dialects
from bench.dialects import (
    URLS,
    Draws,
    Failed,
    database_url,
    ensure_seeded,
    normal,
    populate,
)
from bench.report import save
from bench.run import CACHE, RESULTS, machine_info, versions

MIX = {"session_list": 25, "session_page": 20, "file_listing": 20, "doi": 20, "search": 15}
"""The share of each workload, per cent."""
SEED = 20261207


async def soak(dialect: str, url: str, options: argparse.Namespace) -> dict[str, Any]:
    from gateway.app import create_app
    from gateway.settings import Settings
    from tests.support.oidc_provider import OIDCProvider

    seeded = await ensure_seeded(dialect, url, options.scale)
    population = await populate(url)
    oidc = OIDCProvider()
    oidc.start()
    raw = raw_dialects.read_engine(url)
    try:
        prefix, _, login = population.member.rpartition("/")
        token = oidc.mint(
            oidc.claims(preferred_username=login, groups=[], exp=int(time.time()) + 6 * 3600)
        )
        from bench.run import gateway_settings

        settings = Settings.from_env(gateway_settings(url, oidc.issuer, prefix))
        app = create_app(settings)
        rng = random.Random(SEED)
        draws = Draws(population, random.Random(SEED))
        workloads = list(MIX)
        weights = [MIX[w] for w in workloads]
        process = psutil.Process()
        samples: list[dict[str, Any]] = []
        counts: dict[str, int] = dict.fromkeys(workloads, 0)
        checked = 0
        transport = httpx.ASGITransport(app=app)
        started = time.perf_counter()
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
            app.router.lifespan_context(app),
        ):
            for n in range(1, options.requests + 1):
                workload = rng.choices(workloads, weights)[0]
                caller = "member" if rng.random() < 0.5 else "anonymous"
                query, variables, args = draws.makers[workload](caller)
                headers = {"content-type": "application/json"}
                if caller == "member":
                    headers["authorization"] = f"Bearer {token}"
                body = orjson.dumps({"query": query, "variables": variables})
                response = await client.post("/graphql", content=body, headers=headers)
                answer = orjson.loads(response.content)
                if response.status_code != 200 or answer.get("errors"):
                    raise Failed(f"{workload} as {caller}, {variables}: {response.text[:600]}")
                counts[workload] += 1
                if n % options.check_every == 0:
                    user = population.member if caller == "member" else None
                    expected = await raw_dialects.answer(raw, workload, user, args)
                    if normal(answer["data"]) != normal(expected):
                        raise Failed(
                            f"{workload} as {caller}, {variables}: the gateway's answer "
                            f"differs from the hand-written SQL's"
                        )
                    checked += 1
                if n % options.sample_every == 0 or n == 1:
                    samples.append(
                        {
                            "requests": n,
                            "seconds": round(time.perf_counter() - started, 1),
                            "rss_mib": round(process.memory_info().rss / 2**20, 2),
                            "gc_objects": len(gc.get_objects()) if options.objects else None,
                        }
                    )
                    if n % (options.sample_every * 10) == 0:
                        print(f"  [{dialect}] {samples[-1]}", flush=True)
    finally:
        oidc.stop()
        await raw.dispose()
    after = [s for s in samples if s["requests"] >= options.warmup]
    first, last = after[0]["rss_mib"], after[-1]["rss_mib"]
    peak = max(s["rss_mib"] for s in after)
    return {
        "dialect": dialect,
        "catalogue": seeded,
        "requests": options.requests,
        "by_workload": counts,
        "answers_compared": checked,
        "seconds": round(time.perf_counter() - started, 1),
        "warmup": options.warmup,
        "rss_first_after_warmup_mib": first,
        "rss_last_mib": last,
        "rss_peak_after_warmup_mib": peak,
        "growth_percent": round((last - first) / first * 100, 2),
        "flat_within_10_percent": abs(last - first) <= first * 0.10 and peak <= first * 1.10,
        "samples": samples,
    }


def table(result: dict[str, Any], header: dict[str, Any]) -> str:
    r = result
    lines = [
        "# Worker memory over in-process requests (`python -m bench.memory`)",
        "",
        f"Run {header['started']} → {header['finished']} UTC, commit {header['git_head']}, "
        f"{r['dialect']}, scale {header['scale']}, {r['requests']:,} requests "
        f"({', '.join(f'{k} {v:,}' for k, v in r['by_workload'].items())}), anonymous and "
        f"member, parameters drawn (Zipf); {r['answers_compared']:,} answers compared with "
        f"the hand-written SQL's, none differed, no errors; {r['seconds']} s; machine load "
        f"{header['load_before']} before, {header['load_after']} after "
        f"({header['nproc']} CPUs, shared).",
        "",
        f"RSS after the first {r['warmup']:,} requests (warm-up): "
        f"**{r['rss_first_after_warmup_mib']} MiB**; at the end: "
        f"**{r['rss_last_mib']} MiB** ({r['growth_percent']:+.2f} %); peak after warm-up "
        f"{r['rss_peak_after_warmup_mib']} MiB. Flat within 10 %: "
        f"**{'yes' if r['flat_within_10_percent'] else 'no'}**.",
        "",
        "| requests | seconds | RSS MiB |",
        "|---|---|---|",
    ]
    step = max(1, len(r["samples"]) // 20)
    shown = r["samples"][::step]
    if shown[-1] is not r["samples"][-1]:
        shown.append(r["samples"][-1])
    for s in shown:
        lines.append(f"| {s['requests']:,} | {s['seconds']} | {s['rss_mib']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--dialect", default="sqlite", choices=sorted(URLS))
    parser.add_argument("--scale", default="10k")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, help="requests before the baseline (10 %%)")
    parser.add_argument("--sample-every", type=int, default=1000)
    parser.add_argument("--check-every", type=int, default=50)
    parser.add_argument("--objects", action="store_true", help="also count gc objects")
    parser.add_argument("--quick", action="store_true", help="never published: bench/.cache/")
    for name in URLS:
        parser.add_argument(f"--{name}-url", metavar="URL", help="as in bench.dialects")
    options = parser.parse_args(argv)
    options.warmup = options.warmup or options.requests // 10
    url = database_url(options.dialect, options.scale, getattr(options, f"{options.dialect}_url"))
    CACHE.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    try:
        result = asyncio.run(soak(options.dialect, url, options))
    except Failed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    package_versions = versions()
    header = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_head": package_versions.get("git_head"),
        "gateway_uncommitted_files": package_versions.get("gateway_uncommitted_files"),
        "scale": options.scale,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "nproc": os.cpu_count(),
    }
    document = {
        "header": header,
        "machine": machine_info(),
        "versions": package_versions,
        "result": result,
    }
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    save(
        CACHE if options.quick else RESULTS,
        f"memory-{options.dialect}-{stamp}",
        "memory-quick.md" if options.quick else "memory-latest.md",
        document,
        table(result, header),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
