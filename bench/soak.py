"""Soak: a mixed workload at a steady rate against two workers, for ten minutes by default.

    python -m bench.soak --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/icat_soak
    python -m bench.soak --duration 180 --rate 40     # a shorter run

It starts ``icat-gateway serve --workers 2`` (production settings: JSON logs, metrics in
multiprocess mode, rate limits and APQ in Redis) on a catalogue seeded with the demo
facility if it has no sessions, a loopback OIDC provider for the signed-in callers, then
sends requests open-loop (at fixed instants, whatever the answers take) in this mix:

| share | request | caller |
| --- | --- | --- |
| 30 % | session list (released, newest first, 20, beamline, team, dataset count) | anonymous |
| 20 % | DOI lookup (an operation plan answers it on PostgreSQL) | anonymous |
| 15 % | session page (a session's 20 datasets) | signed in |
| 10 % | my data (``me`` and my sessions) | signed in |
| 10 % | free-text search | anonymous |
| 10 % | the session list by APQ hash only (after one registration) | anonymous |
|  5 % | a hostile query (too deep): refused by the gate, must be a 4xx | anonymous |

Each window (10 s by default) records requests, errors, p50/p99 latency and the RSS of
each worker. An error is anything else than the expected answer: a transport failure, a
5xx, a 429, an unexpected error in a body, a hostile query that was not refused, a late
start (the client could not keep the rate). Results: ``bench/results/soak-<time>.json``
and ``bench/results/soak-latest.md``. Nothing is asserted; the targets (no error, flat
p99 and memory) are reported as reached or not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil
import redis

from gateway.catalogue.demo import DemoSize, seed_if_empty
from gateway.ops.persisted import query_hash
from gateway.settings import Settings
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

SESSION_LIST = """query SessionList { investigations(filter: {released: true},
  orderBy: {field: START_DATE, direction: DESC}, first: 20) { totalCount nodes {
  id proposal title startDate instruments { name } team { nodes { role user { name } } }
  datasets { totalCount } } } }"""
DOI = """query DoiLookup($doi: String!) { doi(doi: $doi) { __typename
  ... on Investigation { proposal title instruments { name } team { nodes { role } } } } }"""
SESSION_PAGE = """query SessionPage($id: ID) { investigation(id: $id) { title summary
  datasets(first: 20) { totalCount nodes { name startDate } } } }"""
MY_DATA = """query MyData { me { userName investigations(first: 10) { totalCount
  nodes { proposal title isReleased } } } }"""
SEARCH = """query Search($text: String!) { investigations(filter: {search: $text}, first: 10)
  { totalCount nodes { proposal title } } }"""
HOSTILE = (  # 15 levels deep: over the depth limit (12)
    "query Hostile {"
    + " investigations { nodes { datasets { nodes { investigation {" * 3
    + " id"
    + " } } } } }" * 3
    + " }"
)
MIX = (
    ("session_list", 30),
    ("doi", 20),
    ("session_page", 15),
    ("my_data", 10),
    ("search", 10),
    ("apq", 10),
    ("hostile", 5),
)
HONEST = tuple((kind, share) for kind, share in MIX if kind != "hostile")
FAN_OUT = (
    "query FanOut { ...F0 } "
    + " ".join(f"fragment F{k} on Query {{ ...F{k + 1} ...F{k + 1} }}" for k in range(60))
    + " fragment F60 on Query { __typename }"
)
RANGES = """query Ranges($p: [ParameterRange!]) { datasets(filter: {parameters: $p}, first: 5)
  { totalCount nodes { name } } }"""
HOSTILE_MIX = (
    *HONEST,
    # The probe, mixed in: 40 % of the requests.
    ("hostile", 5),  # too deep
    ("fan_out", 10),  # 2^60 fields from 2 kB: refused by its expanded size
    ("nul", 5),  # a NUL in a DOI: BAD_USER_INPUT (was a 500 through a plan)
    ("ranges", 10),  # 10 parameter ranges: answered
    ("distinct", 10),  # a new 100 kB query every time: answered, caches bounded in bytes
)
REFUSED_KINDS = frozenset({"hostile", "fan_out", "nul"})
HOSTILE_KINDS = REFUSED_KINDS | {"ranges", "distinct"}
MIXES = {"default": MIX, "honest": HONEST, "hostile": HOSTILE_MIX}


@dataclass
class Window:
    start: float
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    rss_mb: list[float] = field(default_factory=list)
    honest: list[float] = field(default_factory=list)
    """Latencies of the honest requests only."""

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def quantile(q: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

        return {
            "t": round(self.start, 1),
            "requests": len(ordered),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "p50_ms": quantile(0.50),
            "p99_ms": quantile(0.99),
            "rss_mb_per_worker": self.rss_mb,
            "by_kind": dict(self.kinds),
        }


class Soak:
    def __init__(
        self,
        url: str,
        token: str,
        picks: dict[str, Any],
        window: float,
        mix: tuple[tuple[str, int], ...] = MIX,
    ) -> None:
        self.url = url
        self.member = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        self.anonymous = {"content-type": "application/json"}
        self.picks = picks
        self.window_seconds = window
        self.windows: list[Window] = []
        self.started = time.monotonic()
        self.random = random.Random(20261201)
        self.kinds = [kind for kind, share in mix for _ in range(share)]
        self.sent = 0

    def window(self) -> Window:
        index = int((time.monotonic() - self.started) // self.window_seconds)
        while len(self.windows) <= index:
            self.windows.append(Window(len(self.windows) * self.window_seconds))
        return self.windows[index]

    def request(self, kind: str) -> tuple[dict[str, Any], dict[str, str]]:
        picks = self.picks
        if kind == "session_list":
            return {"query": SESSION_LIST}, self.anonymous
        if kind == "doi":
            doi = self.random.choice(picks["dois"])
            return {"query": DOI, "variables": {"doi": doi}}, self.anonymous
        if kind == "session_page":
            session = self.random.choice(picks["sessions"])
            return {"query": SESSION_PAGE, "variables": {"id": session}}, self.member
        if kind == "my_data":
            return {"query": MY_DATA}, self.member
        if kind == "search":
            text = self.random.choice(picks["words"])
            return {"query": SEARCH, "variables": {"text": text}}, self.anonymous
        if kind == "apq":
            digest = query_hash(SESSION_LIST)
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
            return {"extensions": extensions}, self.anonymous
        if kind == "fan_out":
            return {"query": FAN_OUT}, self.anonymous
        if kind == "nul":
            doi = self.random.choice(picks["dois"]) + "\u0000"
            return {"query": DOI, "variables": {"doi": doi}}, self.anonymous
        if kind == "ranges":
            names = picks["parameters"] or ["scanNumber"]
            ranges = [{"name": names[i % len(names)], "min": 0, "max": 1e9} for i in range(10)]
            return {"query": RANGES, "variables": {"p": ranges}}, self.anonymous
        if kind == "distinct":
            self.sent += 1
            literal = f"10.0/{self.sent}-{uuid.uuid4().hex}" + "x" * 100_000
            return {"query": f'{{ doi(doi: "{literal}") {{ __typename }} }}'}, self.anonymous
        return {"query": HOSTILE}, self.anonymous

    async def one(self, session: aiohttp.ClientSession, kind: str, due: float) -> None:
        window = self.window()
        window.kinds[kind] += 1
        if time.monotonic() - due > 0.5:
            window.errors["late"] += 1  # the client could not keep the rate
        body, headers = self.request(kind)
        began = time.perf_counter()
        try:
            async with session.post(self.url, data=orjson.dumps(body), headers=headers) as answer:
                content = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as error:
            window.errors[f"transport:{type(error).__name__}"] += 1
            return
        window.latencies.append(time.perf_counter() - began)
        if kind not in HOSTILE_KINDS:
            window.honest.append(window.latencies[-1])
        problem = judge(kind, status, content)
        if problem is not None:
            window.errors[problem] += 1

    async def run(self, rate: float, duration: float, workers: list[psutil.Process]) -> None:
        connector = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            sampler = asyncio.create_task(self.sample(workers, duration))
            tasks: set[asyncio.Task[None]] = set()
            interval = 1.0 / rate
            self.started = time.monotonic()
            n = 0
            while (due := self.started + n * interval) < self.started + duration:
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                kind = self.kinds[self.random.randrange(len(self.kinds))]
                task = asyncio.create_task(self.one(session, kind, due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            await asyncio.gather(*tasks)
            await sampler

    async def sample(self, workers: list[psutil.Process], duration: float) -> None:
        while time.monotonic() - self.started < duration:
            window = self.window()
            if not window.rss_mb:
                window.rss_mb = [round(rss(w) / 2**20, 1) for w in workers]
            await asyncio.sleep(1.0)


def rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


def judge(kind: str, status: int, content: bytes) -> str | None:
    """None if the answer is what this kind of request must get, else what was wrong."""
    if status >= 500:
        return f"http:{status}"
    try:
        answer = orjson.loads(content)
    except orjson.JSONDecodeError:
        return "not_json"
    if status == 429:
        budget = answer["errors"][0].get("extensions", {}).get("budget", "?")
        return f"rate_limited:{budget}"
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if kind in REFUSED_KINDS:
        codes = {e.get("extensions", {}).get("code") for e in errors or []}
        return None if errors and "data" not in answer and None not in codes else "not_refused"
    if status != 200:
        return f"http:{status}"
    if errors:
        found = sorted({str(e.get("extensions", {}).get("code")) for e in errors})
        return "graphql:" + ",".join(found)
    return None


async def picks_of(url: str, token: str) -> dict[str, Any]:
    """DOIs, sessions the member belongs to and search words, asked of the gateway."""
    async with aiohttp.ClientSession() as session:

        async def ask(query: str, headers: dict[str, str]) -> Any:
            body = orjson.dumps({"query": query})
            async with session.post(url, data=body, headers=headers) as answer:
                return orjson.loads(await answer.read())["data"]

        plain = {"content-type": "application/json"}
        member = {**plain, "authorization": f"Bearer {token}"}
        listed = await ask(
            "{ investigations(filter: {released: true}, first: 100) { nodes { doi title } } }",
            plain,
        )
        mine = await ask("{ me { investigations(first: 50) { nodes { id } } } }", member)
        numeric = await ask(
            "{ datasets(first: 20) { nodes { parameters { name numericValue } } } }", plain
        )
        # register the APQ once, as a client's first request would
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": query_hash(SESSION_LIST)}}
        body = orjson.dumps({"query": SESSION_LIST, "extensions": extensions})
        async with session.post(url, data=body, headers=plain) as answer:
            assert answer.status == 200, await answer.read()
    nodes = listed["investigations"]["nodes"]
    words = sorted({w.lower() for n in nodes for w in n["title"].split() if w.isalpha()})
    return {
        "dois": [n["doi"] for n in nodes if n["doi"]],
        "sessions": [n["id"] for n in mine["me"]["investigations"]["nodes"]],
        "words": words[:: max(1, len(words) // 20)] or ["beam"],
        "parameters": sorted(
            {
                p["name"]
                for d in numeric["datasets"]["nodes"]
                for p in d["parameters"]
                if p["numericValue"] is not None
            }
        ),
    }


def report(result: dict[str, Any]) -> str:
    windows = result["windows"]
    lines = [
        "# Soak",
        "",
        f"{result['started']}: {result['duration_s']} s at {result['rate']} requests/s against "
        f"{result['workers']} workers ({result['database']}), window {result['window_s']} s; "
        f"commit {result['commit']}.",
        "",
        f"- requests: {result['requests_total']} ({result['requests']} after the "
        f"{result['warmup_s']} s warm-up); errors: **{result['errors']}** (target 0, warm-up "
        "included)" + (f" — {result['error_kinds']}" if result["error_kinds"] else ""),
        f"- mix: {result['mix']}; honest requests after warm-up: p50 {result['honest_p50_ms']} "
        f"ms, p99 {result['honest_p99_ms']} ms; load average at the end "
        f"{result['load_average']} on {result['machine']['nproc']} cores",
        f"- latency after warm-up: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; p99 "
        f"{result['p99_first_ms']} ms in the first third, {result['p99_last_ms']} ms in the last",
        f"- memory (RSS, sum of the workers): {result['rss_first_mb']} MB in the first "
        f"window after warm-up, {result['rss_last_mb']} MB in the last "
        f"({result['rss_growth_mb']:+} MB)",
        f"- targets: no error {'reached' if result['errors'] == 0 else 'NOT reached'}; "
        f"memory flat (±10 %) {'reached' if result['memory_flat'] else 'NOT reached'}; "
        f"p99 flat (last third within 1.5x of the first) "
        f"{'reached' if result['p99_flat'] else 'NOT reached'}",
        "",
        "| t (s) | requests | errors | p50 (ms) | p99 (ms) | RSS per worker (MB) |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for w in windows:
        lines.append(
            f"| {w['t']} | {w['requests']} | {w['errors']} | {w['p50_ms']} | {w['p99_ms']} | "
            f"{', '.join(str(m) for m in w['rss_mb_per_worker'])} |"
        )
    return "\n".join(lines) + "\n"


def summarise(soak: Soak, options: argparse.Namespace, started: datetime) -> dict[str, Any]:
    windows = [w.summary() for w in soak.windows]
    # Warm-up (first connections, operation plans learnt, caches filled) is reported but
    # left out of the latency and memory figures; errors count from the first request.
    steady = [w for w in soak.windows if w.start >= options.warmup] or soak.windows
    every = sorted(x for w in steady for x in w.latencies)
    errors: Counter[str] = Counter()
    for w in soak.windows:
        errors.update(w.errors)
    third = max(1, len(steady) // 3)

    def p99_of(part: list[Window]) -> float:
        values = sorted(x for w in part for x in w.latencies)
        return round(values[min(len(values) - 1, int(0.99 * len(values)))] * 1000, 2)

    honest = sorted(x for w in steady for x in w.honest)
    memory = [sum(w.rss_mb) for w in steady if w.rss_mb]
    warm = memory[0]
    p99_first, p99_last = p99_of(steady[:third]), p99_of(steady[-third:])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "started": started.isoformat(timespec="seconds"),
        "duration_s": options.duration,
        "rate": options.rate,
        "workers": options.workers,
        "window_s": options.window,
        "warmup_s": options.warmup,
        "requests_total": sum(len(w.latencies) for w in soak.windows),
        "database": options.database_url.split("@")[-1],
        "commit": commit,
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
        "requests": len(every),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "p99_ms": round(every[int(0.99 * (len(every) - 1))] * 1000, 2) if every else None,
        "p50_ms": round(statistics.median(every) * 1000, 2) if every else None,
        "mix": options.mix,
        "honest_p99_ms": (
            round(honest[int(0.99 * (len(honest) - 1))] * 1000, 2) if honest else None
        ),
        "honest_p50_ms": round(statistics.median(honest) * 1000, 2) if honest else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "p99_first_ms": p99_first,
        "p99_last_ms": p99_last,
        "p99_flat": p99_last <= 1.5 * p99_first,
        "rss_first_mb": round(warm, 1),
        "rss_last_mb": round(memory[-1], 1),
        "rss_growth_mb": round(memory[-1] - warm, 1),
        "memory_flat": abs(memory[-1] - warm) <= 0.10 * warm,
        "windows": windows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/icat_soak"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--duration", type=float, default=600, help="seconds (600)")
    parser.add_argument("--rate", type=float, default=40, help="requests per second (40)")
    parser.add_argument("--workers", type=int, default=2, help="gateway workers (2)")
    parser.add_argument("--window", type=float, default=10, help="seconds per window (10)")
    parser.add_argument(
        "--warmup", type=float, default=30, help="seconds left out of latency and memory (30)"
    )
    parser.add_argument(
        "--mix",
        choices=sorted(MIXES),
        default="default",
        help="default (5 %% too deep), honest (none hostile), hostile (40 %% the issue's "
        "probe: fan-out, NUL, 10 parameter ranges, distinct 100 kB queries)",
    )
    options = parser.parse_args()

    settings = Settings(database_url=options.database_url)
    seeded = asyncio.run(seed_if_empty(settings, DemoSize.for_sessions(200)))
    if seeded is not None:
        print(f"seeded the demo facility into {options.database_url}: {seeded}", flush=True)
    prefix = f"icat-gateway-soak-{uuid.uuid4().hex[:8]}:"
    started = datetime.now(UTC)
    log = ROOT / "bench" / ".cache" / f"soak-{started:%Y%m%dT%H%M%SZ}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with OIDCProvider() as provider, log.open("wb") as output:
        token = provider.mint(
            provider.claims(preferred_username="pi1", groups=[], exp=int(time.time()) + 7200)
        )
        environment = {
            **os.environ,
            "ICAT_GATEWAY_DATABASE_URL": options.database_url,
            "ICAT_GATEWAY_EMBEDDED": "false",
            "ICAT_GATEWAY_PRODUCTION": "true",
            "ICAT_GATEWAY_GRAPHIQL": "false",
            "ICAT_GATEWAY_OIDC_ISSUER": provider.issuer,
            "ICAT_GATEWAY_OIDC_AUDIENCE": DEFAULT_AUDIENCE,
            "ICAT_GATEWAY_OIDC_USER_PREFIX": "esrf/",
            "ICAT_GATEWAY_REDIS_URL": options.redis_url,
            "ICAT_GATEWAY_REDIS_KEY_PREFIX": prefix,
            # Limits on, so that their cost is in the figures, above what the soak sends.
            "ICAT_GATEWAY_RATE_LIMIT_REQUESTS": f"{int(options.rate * 4)}/second",
            "ICAT_GATEWAY_RATE_LIMIT_ADDRESS": f"{int(options.rate * 4)}/second",
            # Every anonymous request comes from 127.0.0.1 here, one caller for the cost
            # budget too: the default (1,000,000 a minute) is one client's, not a crowd's.
            "ICAT_GATEWAY_RATE_LIMIT_COST": f"{int(options.rate * 4 * 60 * 2000)}/minute",
        }
        command = [
            sys.executable, "-m", "gateway.cli", "serve", "--no-demo", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(options.workers),
        ]  # fmt: skip
        server = subprocess.Popen(command, env=environment, stdout=output, stderr=output)
        url = f"http://127.0.0.1:{port}/graphql"
        try:
            workers = wait_for_workers(server, port, options.workers)
            picks = asyncio.run(picks_of(url, token))
            soak = Soak(url, token, picks, options.window, MIXES[options.mix])
            print(f"soak: {options.duration} s at {options.rate}/s, workers {workers}", flush=True)
            asyncio.run(
                soak.run(options.rate, options.duration, [psutil.Process(p) for p in workers])
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
            client = redis.Redis.from_url(options.redis_url)
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
    result = summarise(soak, options, started)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"soak-{started:%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(result, indent=1))
    text = report(result)
    latest = "soak-latest.md" if options.mix == "default" else f"soak-{options.mix}-latest.md"
    (RESULTS / latest).write_text(text)
    print(text)
    return 0


def wait_for_workers(server: subprocess.Popen[bytes], port: int, count: int) -> list[int]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the gateway exited (see bench/.cache/soak-*.log)")
        children = psutil.Process(server.pid).children(recursive=True)
        workers = [c.pid for c in children if "resource_tracker" not in " ".join(c.cmdline())]
        try:
            import httpx

            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            ready = False
        if ready and (count == 1 or len(workers) >= count):  # one worker: the server itself
            return workers[:count] if count > 1 else [server.pid]
        time.sleep(0.5)
    raise RuntimeError("the gateway did not become ready")


if __name__ == "__main__":
    raise SystemExit(main())
