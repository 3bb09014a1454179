"""A benchmark that cannot flatter: the same workloads on PostgreSQL, MariaDB and SQLite.

``python -m bench.dialects [--dialect postgresql] [--quick]``

For each database: the same demo catalogue (``gateway.catalogue.demo``, the 10k scale of
``bench.catalogue``: 500 sessions x 20 datasets x 2 files, and one dataset of 10,000 more
files), the gateway (``uvicorn gateway.asgi:app``) and the hand-written SQL of
``bench.raw_dialects`` (``uvicorn bench.raw_dialects:app``) served the same way: the same
number of workers, the same HTTP stack, the same pool of autocommit connections.

- Parameters are drawn per request from Zipf distributions (exponent ``ZIPF``) over a
  shuffled population: sessions the caller may read, DOIs, beamlines, search words and
  the pages of the 10,000-file listing (a page is fetched by its cursor). The draws are
  seeded: every run sees the same sequence.
- Every timed answer is checked: the gateway's must have no ``errors`` and its ``data``
  must equal the hand-written SQL's answer for the same draw (timed beside it). One
  mismatch or GraphQL error fails the run, and nothing is written.
- Latency: per workload and caller (anonymous; a team member, signed in with an OIDC
  token from a loopback provider), ``--iterations`` draws; each draw times the gateway and
  the raw endpoint one after the other, in alternating order.
- Throughput: DOI lookups with ``--concurrency`` clients for ``--duration`` seconds
  against the gateway, the raw endpoint and, with ``--baseline COMMIT``, the gateway of
  that commit (exported with ``git archive``); every answer is checked against the
  DOI's expected answer.
- The machine's load (``os.getloadavg``) is recorded before and after each database:
  the machine may be shared.

Results: ``bench/results/dialects-<scale>-<time>.json`` and ``dialects-latest.md``.
``--quick`` runs write to ``bench/.cache/`` only: they are never published figures.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench import raw_dialects
from bench.catalogue import ANCHOR, SCALES, SEED
from bench.report import save
from bench.run import (
    CACHE,
    RESULTS,
    ROOT,
    Server,
    free_port,
    gateway_settings,
    machine_info,
    running,
    start_process,
    uvicorn_argv,
    versions,
    wait_ready,
)
from gateway.catalogue.demo import seed_demo
from gateway.catalogue.text_search import MARIADB_MIN_WORD, MARIADB_STOPWORDS
from gateway.settings import Settings

ZIPF = 1.1
# The catalogue of each database: ``--<dialect>-url``, else ``BENCH_<DIALECT>_URL``, else
# these; ``{scale}`` is replaced by the scale (10k). A missing database is created.
URLS = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:5432/icat_dialects_{scale}",
    "mariadb": "mysql+asyncmy://root@127.0.0.1:3306/icat_dialects_{scale}",
    "sqlite": f"sqlite+aiosqlite:///{CACHE}/icat-dialects-{{scale}}.sqlite3",
}
CALLERS = ("anonymous", "member")

SESSION_LIST = """query SessionList($beamline: String!) {
  investigations(filter: {released: true, instrument: $beamline}, first: 20) {
    totalCount nodes { id proposal title startDate releaseDate doi instruments { name } } } }"""
SESSION_PAGE = """query SessionPage($id: ID!) { investigation(id: $id) {
  id proposal title summary releaseDate
  datasets(first: 20) { totalCount nodes { id name fileCount } } } }"""
FILES = """query Files($id: ID!, $after: String) { dataset(id: $id) {
  datafiles(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id name fileSize } } } }"""
DOI = """query Doi($doi: String!) { doi(doi: $doi) { __typename
  ... on Investigation { id proposal title releaseDate instruments { name } } } }"""
SEARCH = """query Search($text: String!) {
  investigations(filter: {search: $text}, first: 20) {
    totalCount nodes { id proposal title } } }"""


class Failed(RuntimeError):
    """A timed answer was wrong: the run fails."""


class Zipf:
    """Draws from a population with probability proportional to 1 / rank^s, the ranks
    given by a seeded shuffle."""

    def __init__(self, population: list[Any], rng: random.Random, s: float = ZIPF) -> None:
        if not population:
            raise ValueError("an empty population")
        self.items = list(population)
        rng.shuffle(self.items)
        weights = [1 / (rank**s) for rank in range(1, len(self.items) + 1)]
        self.cumulative = list(itertools.accumulate(weights))
        self.rng = rng

    def draw(self) -> Any:
        point = self.rng.random() * self.cumulative[-1]
        return self.items[bisect.bisect_left(self.cumulative, point)]


@dataclass
class Population:
    member: str
    sessions: dict[str, list[int]]
    """Sessions each caller may read (anonymous: released; member: also their own)."""
    dois: list[str]
    beamlines: list[str]
    words: list[str]
    dataset: int
    cursors: list[tuple[str | None, Any]]
    """The big dataset's pages: (the gateway's cursor, the raw endpoint's keyset)."""


async def populate(url: str) -> Population:
    engine = raw_dialects.read_engine(url)
    dialect = raw_dialects.Dialect(engine.dialect.name)
    q = dialect.sql
    now = raw_dialects.now()
    async with engine.connect() as c:
        member = (
            await c.execute(
                text(
                    q(
                        'SELECT u."NAME" FROM "INVESTIGATIONUSER" iu JOIN "USER_" u '
                        'ON u."ID" = iu."USER_ID" GROUP BY u."NAME" '
                        'ORDER BY count(*) DESC, u."NAME" LIMIT 1'
                    )
                )
            )
        ).scalar_one()
        released = [
            r[0]
            for r in await c.execute(
                text(q(f'SELECT i."ID" FROM "INVESTIGATION" i WHERE {raw_dialects.RELEASED}')),
                {"now": now},
            )
        ]
        mine = [
            r[0]
            for r in await c.execute(
                text(q(raw_dialects.MEMBER_SESSIONS.replace("SELECT", "SELECT", 1))),
                {"user": member},
            )
        ]
        dois = [
            r[0]
            for r in await c.execute(
                text(q('SELECT "DOI" FROM "INVESTIGATION" WHERE "DOI" IS NOT NULL ORDER BY "ID"'))
            )
        ]
        beamlines = [
            r[0]
            for r in await c.execute(
                text(
                    q(
                        'SELECT DISTINCT ins."NAME" FROM "INSTRUMENT" ins JOIN '
                        '"INVESTIGATIONINSTRUMENT" ii ON ii."INSTRUMENT_ID" = ins."ID" '
                        'ORDER BY ins."NAME"'
                    )
                )
            )
        ]
        words = sorted(
            {
                str(r[0]).lower()
                for r in await c.execute(text(q('SELECT "NAME" FROM "KEYWORD"')))
                if re.fullmatch(r"[A-Za-z]+", str(r[0]))
                # Words MariaDB's full-text index leaves out match nothing there: not drawn.
                and len(str(r[0])) > MARIADB_MIN_WORD
                and str(r[0]).lower() not in MARIADB_STOPWORDS
            }
        )
        dataset = (
            await c.execute(
                text(
                    q(
                        'SELECT "DATASET_ID" FROM "DATAFILE" GROUP BY "DATASET_ID" '
                        'ORDER BY count(*) DESC, "DATASET_ID" LIMIT 1'
                    )
                )
            )
        ).scalar_one()
    cursors: list[tuple[str | None, Any]] = [(None, None)]
    while True:
        page = await raw_dialects.answer(
            engine, "file_listing", None, {"dataset": dataset, "after": cursors[-1][1]}
        )
        info = page["dataset"]["datafiles"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        last = page["dataset"]["datafiles"]["nodes"][-1]
        cursors.append((info["endCursor"], [last["name"], _icat_id(last["id"])]))
    await engine.dispose()
    return Population(
        member=member,
        sessions={"anonymous": released, "member": sorted(set(released) | set(mine))},
        dois=dois,
        beamlines=beamlines,
        words=words,
        dataset=dataset,
        cursors=cursors,
    )


def _icat_id(global_id: str) -> int:
    import base64

    return int(base64.b64decode(global_id).decode().split(":", 1)[1])


@dataclass
class Draws:
    """Per workload, a function drawing (gateway variables, raw arguments)."""

    population: Population
    rng: random.Random
    makers: dict[str, Callable[[str], tuple[str, dict[str, Any], dict[str, Any]]]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        p, rng = self.population, self.rng
        sessions = {caller: Zipf(ids, rng) for caller, ids in p.sessions.items()}
        dois, beamlines, words = Zipf(p.dois, rng), Zipf(p.beamlines, rng), Zipf(p.words, rng)
        pages = Zipf(list(range(len(p.cursors))), rng)
        dataset = raw_dialects.gid("Dataset", p.dataset)

        def session_list(caller: str) -> Any:
            b = beamlines.draw()
            return SESSION_LIST, {"beamline": b}, {"beamline": b}

        def session_page(caller: str) -> Any:
            i = sessions[caller].draw()
            return SESSION_PAGE, {"id": raw_dialects.gid("Investigation", i)}, {"id": i}

        def file_listing(caller: str) -> Any:
            cursor, keyset = p.cursors[pages.draw()]
            return FILES, {"id": dataset, "after": cursor}, {"dataset": p.dataset, "after": keyset}

        def doi(caller: str) -> Any:
            d = dois.draw()
            return DOI, {"doi": d}, {"doi": d}

        def search(caller: str) -> Any:
            w = words.draw()
            return SEARCH, {"text": w}, {"text": w}

        self.makers = {
            "session_list": session_list,
            "session_page": session_page,
            "file_listing": file_listing,
            "doi": doi,
            "search": search,
        }


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")


def normal(value: Any) -> Any:
    """Timestamps compared as times (the drivers' text differs: microseconds, a space)."""
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, str) and _TIMESTAMP.match(value):
        return datetime.fromisoformat(value)
    return value


@dataclass
class Targets:
    client: aiohttp.ClientSession
    gateway: str
    raw: str
    token: str
    member: str

    def headers(self, caller: str) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if caller == "member":
            headers["authorization"] = f"Bearer {self.token}"
        return headers

    async def ask_gateway(
        self, url: str, query: str, variables: dict[str, Any], caller: str
    ) -> Any:
        body = orjson.dumps({"query": query, "variables": variables})
        async with self.client.post(url, data=body, headers=self.headers(caller)) as response:
            content = await response.read()
        answer = orjson.loads(content)
        if response.status != 200 or answer.get("errors"):
            raise Failed(f"gateway: HTTP {response.status}: {content[:600]!r} for {variables}")
        return answer["data"]

    async def ask_raw(self, workload: str, args: dict[str, Any], caller: str) -> Any:
        user = self.member if caller == "member" else None
        body = orjson.dumps({"workload": workload, "user": user, "args": args})
        async with self.client.post(
            self.raw, data=body, headers={"content-type": "application/json"}
        ) as response:
            content = await response.read()
        if response.status != 200:
            raise Failed(f"raw: HTTP {response.status}: {content[:600]!r}")
        return orjson.loads(content)["data"]


def check(workload: str, caller: str, variables: Any, gateway: Any, raw: Any) -> None:
    if normal(gateway) != normal(raw):
        raise Failed(
            f"{workload} as {caller}, {variables}: the gateway's answer differs from the "
            f"hand-written SQL's:\n gateway {json.dumps(gateway, default=str)[:800]}\n"
            f" raw     {json.dumps(raw, default=str)[:800]}"
        )


def stats(seconds: list[float]) -> dict[str, Any]:
    ordered = sorted(seconds)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 3),
    }


async def latency(targets: Targets, draws: Draws, iterations: int, warmup: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for workload, make in draws.makers.items():
        for caller in CALLERS:
            times: dict[str, list[float]] = {"gateway": [], "raw": []}
            for n in range(warmup + iterations):
                query, variables, args = make(caller)
                answers: dict[str, Any] = {}
                order = ("gateway", "raw") if n % 2 == 0 else ("raw", "gateway")
                for target in order:
                    started = time.perf_counter()
                    if target == "gateway":
                        answers[target] = await targets.ask_gateway(
                            targets.gateway, query, variables, caller
                        )
                    else:
                        answers[target] = await targets.ask_raw(workload, args, caller)
                    if n >= warmup:
                        times[target].append(time.perf_counter() - started)
                check(workload, caller, variables, answers["gateway"], answers["raw"])
            entry = {target: stats(values) for target, values in times.items()}
            entry["ratio"] = round(entry["gateway"]["median_ms"] / entry["raw"]["median_ms"], 2)
            result[f"{workload}/{caller}"] = entry
            print(f"  {workload:13} {caller:9} {entry}", flush=True)
    return result


async def throughput(
    targets: Targets,
    population: Population,
    urls: dict[str, str],
    concurrency: int,
    duration: float,
) -> dict[str, Any]:
    """DOI lookups, anonymous, every answer checked against the DOI's expected one."""
    expected = {
        d: normal(await targets.ask_raw("doi", {"doi": d}, "anonymous")) for d in population.dois
    }
    result: dict[str, Any] = {}
    for name, url in urls.items():
        dois = Zipf(population.dois, random.Random(SEED))
        counted = [0]
        until = [0.0]

        async def client(
            name: str = name,
            url: str = url,
            dois: Zipf = dois,
            until: list[float] = until,
            counted: list[int] = counted,
        ) -> None:
            while time.perf_counter() < until[0]:
                d = dois.draw()
                if url == "raw":
                    data = await targets.ask_raw("doi", {"doi": d}, "anonymous")
                else:
                    data = await targets.ask_gateway(url, DOI, {"doi": d}, "anonymous")
                if normal(data) != expected[d]:
                    raise Failed(f"{name}: a wrong answer for DOI {d}: {data}")
                counted[0] += 1

        until[0] = time.perf_counter() + 1.0  # warm-up: every worker's pool and caches
        await asyncio.gather(*(client() for _ in range(concurrency)))
        counted[0] = 0
        load_before = os.getloadavg()
        started = time.perf_counter()
        until[0] = started + duration
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        done = counted[0]
        result[name] = {
            "requests": done,
            "seconds": round(elapsed, 2),
            "per_second": round(done / elapsed, 1),
            "load_before": load_before,
            "load_after": os.getloadavg(),
        }
        print(f"  DOI x{concurrency} {name}: {result[name]}", flush=True)
    return result


def database_url(dialect: str, scale: str, given: str | None = None) -> str:
    """The catalogue's URL: ``given`` (an option), else ``BENCH_<DIALECT>_URL``, else
    ``URLS``; ``{scale}`` in it is replaced by the scale."""
    template = given or os.environ.get(f"BENCH_{dialect.upper()}_URL") or URLS[dialect]
    url = template.replace("{scale}", scale)
    backend = make_url(url).get_backend_name()
    if backend != {"mariadb": "mysql"}.get(dialect, dialect):
        raise SystemExit(f"{url} is not a {dialect} URL")
    return url


async def create_database(url: str) -> None:
    """Create the database of ``url`` if it is missing: on PostgreSQL and MariaDB through
    the server's maintenance database, on SQLite the file's folder."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    name = parsed.database
    if backend == "sqlite":
        if name and name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        return
    if not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"{url}: a database name of letters, digits and _ please")
    server = parsed.set(database="postgres" if backend == "postgresql" else "information_schema")
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if backend == "postgresql":
                exists = "SELECT 1 FROM pg_database WHERE datname = :name"
                create = f'CREATE DATABASE "{name}"'
            else:
                exists = "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :name"
                create = f"CREATE DATABASE `{name}`"
            if not await connection.scalar(text(exists), {"name": name}):
                await connection.execute(text(create))
                print(f"created database {name}", flush=True)
    finally:
        await engine.dispose()


async def ensure_seeded(dialect: str, url: str, scale: str) -> dict[str, Any]:
    size = SCALES[scale]
    await create_database(url)
    engine = raw_dialects.read_engine(url)
    try:
        async with engine.connect() as c:
            q = raw_dialects.Dialect(engine.dialect.name).sql
            sessions = (await c.execute(text(q('SELECT count(*) FROM "INVESTIGATION"')))).scalar()
            files = (await c.execute(text(q('SELECT count(*) FROM "DATAFILE"')))).scalar()
    except Exception:
        sessions = files = None
    finally:
        await engine.dispose()
    want_files = size.sessions * size.datasets_per_session * size.files_per_dataset
    want_files += size.big_dataset_files
    if sessions == size.sessions and files == want_files:
        return {"seeded": "reused", "sessions": sessions, "files": files}
    print(f"[{dialect}] seeding {url} ...", flush=True)
    started = time.time()
    await seed_demo(Settings(database_url=url), seed=SEED, size=size, reset=True, anchor=ANCHOR)
    return {"seeded": round(time.time() - started, 1), "sessions": size.sessions}


def baseline_settings(env: dict[str, str], dialect: str, url: str, commit: str) -> dict[str, str]:
    """The environment of an older gateway on the same catalogue. Its migrations do not
    know today's gateway tables (alembic refuses a revision it has never seen): on
    PostgreSQL and MariaDB its own tables go to a schema of their own (made if missing),
    beside ICAT's tables it reads; on SQLite, which has no schemas, it reads a copy of the
    catalogue without the gateway's tables, made again for each run."""
    if dialect != "sqlite":
        database = make_url(url).database or "bench"
        return {**env, "ICAT_GATEWAY_GATEWAY_SCHEMA": f"{database}_gw_{commit}"[:64]}
    source = Path(make_url(url).database or "")
    copy = CACHE / f"base-{commit}-{source.name}"
    shutil.copyfile(source, copy)
    with sqlite3.connect(copy) as connection:
        while True:  # an FTS5 table drops its shadow tables with it: ask again each time
            found = connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'GATEWAY%'"
                " ORDER BY sql NOT LIKE 'CREATE VIRTUAL%' LIMIT 1"
            ).fetchone()
            if found is None:
                break
            connection.execute(f'DROP TABLE "{found[0]}"')
    return {**env, "ICAT_GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{copy}"}


async def create_schema(url: str, schema: str) -> None:
    """Make the older gateway's schema before it starts: its workers each make it if
    missing at start-up, and PostgreSQL's ``CREATE SCHEMA IF NOT EXISTS`` run by two at
    once fails one of them (a unique violation in ``pg_namespace``)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    quoted = f'"{schema}"' if engine.dialect.name == "postgresql" else f"`{schema}`"
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    finally:
        await engine.dispose()


def export_commit(commit: str) -> Path:
    """The gateway of another commit, for the 'today's standard path' baseline."""
    target = CACHE / f"base-{commit}"
    if not (target / "gateway").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "gateway"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


async def run_dialect(
    dialect: str, scale: str, options: argparse.Namespace, oidc: Any
) -> dict[str, Any]:
    url = database_url(dialect, scale, getattr(options, f"{dialect}_url"))
    seeded = await ensure_seeded(dialect, url, scale)
    population = await populate(url)
    print(
        f"[{dialect}] member {population.member}, {len(population.sessions['anonymous'])} "
        f"released sessions, {len(population.dois)} DOIs, {len(population.words)} words, "
        f"{len(population.beamlines)} beamlines, {len(population.cursors)} file pages",
        flush=True,
    )
    prefix, _, login = population.member.rpartition("/")
    token = oidc.mint(
        oidc.claims(preferred_username=login, groups=[], exp=int(time.time()) + 6 * 3600)
    )
    env = gateway_settings(url, oidc.issuer, prefix)
    gateway_port, raw_port, base_port = free_port(), free_port(), free_port()
    servers = [
        start_process(
            f"{dialect}-gateway",
            uvicorn_argv("gateway.asgi:app", gateway_port, options.workers),
            env,
            f"http://127.0.0.1:{gateway_port}/graphql",
            ROOT,
        ),
        start_process(
            f"{dialect}-raw",
            uvicorn_argv("bench.raw_dialects:app", raw_port, options.workers),
            {"BENCH_URL": url},
            f"http://127.0.0.1:{raw_port}/raw",
            ROOT,
        ),
    ]
    if options.baseline:
        base = export_commit(options.baseline)
        settings = baseline_settings(env, dialect, url, options.baseline)
        if "ICAT_GATEWAY_GATEWAY_SCHEMA" in settings:
            await create_schema(url, settings["ICAT_GATEWAY_GATEWAY_SCHEMA"])
        servers.append(
            start_process(
                f"{dialect}-gateway-{options.baseline}",
                uvicorn_argv("gateway.asgi:app", base_port, options.workers),
                {**settings, "PYTHONPATH": str(base)},
                f"http://127.0.0.1:{base_port}/graphql",
                base,
            )
        )
    result: dict[str, Any] = {
        "dialect": dialect,
        "url": make_url(url).render_as_string(hide_password=True),
        "catalogue": seeded,
        "population": {
            "member": population.member,
            "sessions": {k: len(v) for k, v in population.sessions.items()},
            "dois": len(population.dois),
            "words": len(population.words),
            "beamlines": len(population.beamlines),
            "file_pages": len(population.cursors),
        },
        "load_before": os.getloadavg(),
    }
    connector = aiohttp.TCPConnector(limit=options.concurrency * 2)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as client:
        with running(servers):
            for server in servers:
                probe: dict[str, Any] = {"query": "{ __typename }"}
                if server.name.endswith("-raw"):
                    probe = {"workload": "doi", "args": {"doi": population.dois[0]}}
                await wait_ready(client, server, probe)
            targets = Targets(client, servers[0].url, servers[1].url, token, population.member)
            draws = Draws(population, random.Random(SEED))
            print(f"[{dialect}] latency ({options.iterations} draws each)", flush=True)
            result["latency"] = await latency(targets, draws, options.iterations, options.warmup)
            urls = {"gateway": servers[0].url, "raw": "raw"}
            if options.baseline:
                urls[f"gateway@{options.baseline}"] = servers[2].url
            result["throughput"] = await throughput(
                targets, population, urls, options.concurrency, options.duration
            )
    result["load_after"] = os.getloadavg()
    return result


def table(results: list[dict[str, Any]], header: dict[str, Any]) -> str:
    lines = [
        "# Gateway ÷ hand-written SQL, per database (`python -m bench.dialects`)",
        "",
        f"Run {header['started']} → {header['finished']} UTC, commit {header['git_head']}, "
        f"scale {header['scale']}, {header['iterations']} draws per workload and caller "
        f"(Zipf s={ZIPF}), {header['workers']} workers each, machine load (1/5/15 min) "
        f"{header['load_before']} before, {header['load_after']} after "
        f"({header['nproc']} CPUs, shared with other work).",
        "",
        "Median latency in ms (gateway / hand-written SQL over the same HTTP stack) and ratio:",
        "",
        "| workload | caller | " + " | ".join(r["dialect"] for r in results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for key in results[0]["latency"]:
        workload, caller = key.split("/")
        cells = []
        for r in results:
            e = r["latency"][key]
            cells.append(
                f"{e['gateway']['median_ms']:.2f} / {e['raw']['median_ms']:.2f} = "
                f"**{e['ratio']:.2f}x**"
            )
        lines.append(f"| {workload} | {caller} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"DOI lookups with {header['concurrency']} clients, {header['duration']} s each, "
        "requests per second (every answer checked):",
        "",
        "| database | " + " | ".join(results[0]["throughput"]) + " | load before → after |",
        "|---|" + "---|" * (len(results[0]["throughput"]) + 1),
    ]
    for r in results:
        t = r["throughput"]
        loads = f"{r['load_before'][0]:.1f} → {r['load_after'][0]:.1f}"
        lines.append(
            f"| {r['dialect']} | "
            + " | ".join(f"{v['per_second']:.0f}" for v in t.values())
            + f" | {loads} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dialects", description=__doc__)
    parser.add_argument("--dialect", action="append", choices=sorted(URLS))
    parser.add_argument("--scale", default="10k", choices=sorted(SCALES))
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", help="a commit whose gateway is also measured (DOIs)")
    parser.add_argument("--quick", action="store_true", help="never published: bench/.cache/")
    for name, default in URLS.items():
        parser.add_argument(
            f"--{name}-url",
            metavar="URL",
            help=f"the {name} catalogue ({{scale}} is replaced by the scale; created and seeded "
            f"if missing); default $BENCH_{name.upper()}_URL or {default}",
        )
    options = parser.parse_args(argv)
    options.iterations = options.iterations or (6 if options.quick else 40)
    options.warmup = 2 if options.quick else 5
    options.duration = options.duration or (3.0 if options.quick else 10.0)
    from tests.support.oidc_provider import OIDCProvider

    CACHE.mkdir(parents=True, exist_ok=True)  # the servers' logs, a fresh checkout lacks it
    oidc = OIDCProvider()
    oidc.start()
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    results = []
    try:
        for dialect in options.dialect or ["postgresql", "mariadb", "sqlite"]:
            print(f"[{dialect}] load {os.getloadavg()}", flush=True)
            results.append(asyncio.run(run_dialect(dialect, options.scale, options, oidc)))
    except Failed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        oidc.stop()
    package_versions = versions()
    header = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_head": package_versions.get("git_head"),
        "gateway_uncommitted_files": package_versions.get("gateway_uncommitted_files"),
        "scale": options.scale,
        "iterations": options.iterations,
        "workers": options.workers,
        "concurrency": options.concurrency,
        "duration": options.duration,
        "quick": options.quick,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "nproc": os.cpu_count(),
    }
    document = {
        "header": header,
        "machine": machine_info(),
        "versions": package_versions,
        "results": results,
    }
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    save(
        CACHE if options.quick else RESULTS,
        f"dialects-{options.scale}-{stamp}{'-quick' if options.quick else ''}",
        "dialects-quick.md" if options.quick else "dialects-latest.md",
        document,
        table(results, header),
    )
    shutil.rmtree(CACHE / "unused", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Server", "main"]
