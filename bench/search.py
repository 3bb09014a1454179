"""Free text at scale on every database: the gateway's search next to hand-written SQL.

``python -m bench.search [--sessions 10000 | --scale 1m] [--dialect sqlite] [--iterations 40]``

For each database: a demo catalogue of ``--sessions`` sessions (``seed_demo``, seed
``SEED``; ``--datasets-per-session``, one file each), its search documents built by the
seeding, reused while its session and dataset counts match. ``--scale`` takes both counts
from ``bench.catalogue``'s scales instead (``1m``: 50,000 sessions of 20 datasets, the
issue's 1M): the demo's cost is mostly per session, so 1M datasets in sessions of 20 seed
in a fifth of the time that 250,000 sessions of 4 take. Seeding prints its progress and
rate, and the run records them. Then, for the anonymous caller and the team member with
the most sessions:

- **search**: ``investigations(filter: {search: word}, first: 20) { totalCount nodes }``,
  ranked (RELEVANCE), through the gateway app in process (httpx's ASGI transport: the
  gate, GraphQL, the gateway's Python; no sockets), against **hand-written SQL over the
  same documents and indexes** run on the same kind of pool (autocommit), also in process:
  one statement per dialect that a developer would write for the same answer (the landing
  half and the data half one index search each, the data half counted where the caller
  may read the session's data, the page and ``count(*) OVER ()``);
- **facets**: the same search with ``facets`` (beamline, year, type, release state,
  technique) against the same search without them (the issue's 1.3x target);
- **datasets**: ``datasets(filter: {search: word}, first: 20)`` (its own words and its
  session's landing facts), against hand-written SQL over the datasets' documents.

Words are drawn (seeded) from the documents themselves: landing words (titles,
proposals, beamlines) and data words (keywords, sample and dataset names), some cut to a
prefix. Every timed answer is checked: the gateway's ids and total must equal the
hand-written statement's for the same draw (timed beside it, in alternating order), and
the facets' release-state counts must add up to the total; one difference fails the run
and nothing is written. Ratios are of medians measured side by side in the same run.

Results: ``bench/results/search-<sessions or scale>[-<database>]-<time>.json`` (the database when
one alone was run) and ``search-latest.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.catalogue import SCALES
from bench.raw_dialects import MEMBER_SESSIONS, RELEASED, Dialect, now, read_engine
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.catalogue.indexes import create_gateway_indexes
from gateway.catalogue.search_documents import vector_name
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
SEED = 20261206
PAGE = 20
# ``{db}``: the server database the catalogues sit beside (``--database``), so that
# several people on one server each bench their own.
SERVERS = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:5432/{db}_searchbench_{n}",
    "mariadb": "mysql+asyncmy://root@127.0.0.1:3306/{db}_searchbench_{n}",
    "sqlite": f"sqlite+aiosqlite:///{CACHE}/{{db}}-searchbench-{{n}}.sqlite3",
}

SEARCH_GQL = """query Search($text: String!) {
  investigations(filter: {search: $text}, first: PAGE_SIZE) { totalCount nodes { icatId } }
}""".replace("PAGE_SIZE", str(PAGE))
FACETED_GQL = """query Faceted($text: String!) {
  investigations(filter: {search: $text}, first: PAGE_SIZE) {
    totalCount nodes { icatId }
    facets { instrument { value count } year { value count } type { value count }
             released { value count } technique { value count } }
  }
}""".replace("PAGE_SIZE", str(PAGE))
DATASETS_GQL = """query Datasets($text: String!) {
  datasets(filter: {search: $text}, first: PAGE_SIZE) { totalCount nodes { icatId } }
}""".replace("PAGE_SIZE", str(PAGE))


# The catalogue ------------------------------------------------------------------------


def _url(dialect: str, sessions: int, database: str) -> str:
    return SERVERS[dialect].format(n=sessions, db=database)


async def _create_database(url: str) -> None:
    """Create the server database of ``url`` if missing (PostgreSQL, MariaDB)."""
    from tests.support.scratch import scratch_url

    parsed = make_url(url)
    base = parsed.set(database=parsed.database.rsplit("_searchbench_", 1)[0])  # type: ignore[union-attr]
    suffix = "searchbench_" + parsed.database.rsplit("_searchbench_", 1)[1]  # type: ignore[union-attr]
    made = await asyncio.to_thread(scratch_url, base.render_as_string(False), suffix)
    assert make_url(made).database == parsed.database, (made, url)


async def catalogue(
    dialect: str, sessions: int, datasets: int, reseed: bool, database: str
) -> tuple[Settings, dict[str, Any]]:
    """The catalogue of this size on a dialect (reused if its counts match, else seeded),
    and what was done: reused, or the seeding's time, rate and load."""
    url = _url(dialect, sessions, database)
    if dialect != "sqlite":
        await _create_database(url)
    else:
        CACHE.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=url, embedded=False, graphiql=False)
    done: dict[str, Any] = {"sessions": sessions, "datasets": sessions * datasets}
    if not reseed and await _seeded(settings, sessions, datasets):
        print(f"{dialect}: reusing the catalogue of {sessions} sessions", flush=True)
        done["seeded"] = "reused"
    else:
        load = os.getloadavg()
        started = time.perf_counter()
        size = DemoSize.for_sessions(sessions, datasets_per_session=datasets, files_per_dataset=1)
        await seed_demo(
            replace(settings, embedded=True),
            seed=SEED,
            size=size,
            reset=True,
            progress=_Progress(dialect, sessions, started),
        )
        seconds = time.perf_counter() - started
        print(f"{dialect}: seeded {sessions} sessions in {seconds:.0f} s", flush=True)
        done.update(
            seeded=round(seconds, 1),
            sessions_per_second=round(sessions / seconds, 1),
            datasets_per_second=round(sessions * datasets / seconds, 1),
            load_before=load,
            load_after=os.getloadavg(),
        )
    started = time.perf_counter()
    await _prepared(settings)
    done["prepared_seconds"] = round(time.perf_counter() - started, 1)
    return settings, done


class _Progress:
    """``seed_demo``'s progress (called with 1 per session): a line every 5% with the rate."""

    def __init__(self, dialect: str, sessions: int, started: float) -> None:
        self.dialect, self.sessions, self.started = dialect, sessions, started
        self.made = 0
        self.step = max(1, sessions // 20)

    def __call__(self, made: int) -> None:
        self.made += made
        if self.made % self.step == 0 or self.made == self.sessions:
            seconds = time.perf_counter() - self.started
            print(
                f"{self.dialect}: {self.made}/{self.sessions} sessions in {seconds:.0f} s "
                f"({self.made / seconds:.1f}/s, load {_load(os.getloadavg())})",
                flush=True,
            )


async def _prepared(settings: Settings) -> None:
    """The gateway's indexes on ICAT's tables as this version has them (a catalogue
    seeded by an earlier one may lack some), and, on PostgreSQL and MariaDB, statistics of
    the rows as seeded: a catalogue just written is otherwise planned on the estimates
    of its empty tables until autovacuum (PostgreSQL) comes by, and every run would be
    planned differently. PostgreSQL is vacuumed too, as ``bench.catalogue`` does: its
    index-only scans (the facets' walk from sessions to datasets to techniques) need the
    visibility map a production database has from autovacuum, and fetched every heap row
    of a catalogue just seeded. SQLite gathers no statistics unless told (``ANALYZE``),
    as in production: left as it is."""
    engine = read_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(create_gateway_indexes)
            if engine.dialect.name == "postgresql":
                await connection.execute(text("VACUUM ANALYZE"))
            elif engine.dialect.name == "mariadb":
                tables = (await connection.execute(text("SHOW TABLES"))).scalars().all()
                quoted = ", ".join(f"`{table}`" for table in tables)
                (await connection.execute(text(f"ANALYZE TABLE {quoted}"))).all()
    finally:
        await engine.dispose()


async def _seeded(settings: Settings, sessions: int, datasets: int) -> bool:
    engine = read_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            counts = (
                await connection.execute(
                    text(
                        Dialect(engine.dialect.name).sql(
                            'SELECT (SELECT count(*) FROM "INVESTIGATION"), '
                            '(SELECT count(*) FROM "DATASET"), '
                            '(SELECT count(*) FROM "GATEWAY_DATASET_DOCUMENT")'
                        )
                    )
                )
            ).one()
    except Exception:  # no catalogue there yet
        return False
    finally:
        await engine.dispose()
    return bool(counts[0] == sessions and counts[1] == counts[2] == sessions * datasets)


# Hand-written statements ---------------------------------------------------------------


def _visible(user: str | None) -> str:
    return RELEASED if user is None else f'({RELEASED} OR i."ID" IN ({MEMBER_SESSIONS}))'


def _hits(dialect: str, table: str, key: str, column: str, fts: str) -> str:
    """Documents holding every word in one column, with the index's rank: ``:tsquery``
    (PostgreSQL), ``:boolean``/``:phrase`` (MariaDB), ``:fts_<column>`` (SQLite)."""
    if dialect == "postgresql":
        vector = f'd."{vector_name(column)}"'  # the stored tsvector, as the gateway reads it
        query = "to_tsquery('simple'::regconfig, :tsquery)"
        return (
            f'SELECT d."{key}" AS id, ts_rank({vector}, {query}) AS r '
            f'FROM "{table}" d WHERE {vector} @@ {query}'
        )
    if dialect == "mariadb":
        boolean = f"MATCH (d.`{column}`) AGAINST (:boolean IN BOOLEAN MODE)"
        natural = f"MATCH (d.`{column}`) AGAINST (:phrase IN NATURAL LANGUAGE MODE)"
        return (
            f"SELECT d.`{key}` AS id, {natural} + {boolean} AS r FROM `{table}` d WHERE {boolean}"
        )
    return f"SELECT rowid AS id, -bm25({fts}) AS r FROM {fts} WHERE {fts} MATCH :fts_{column}"


def session_search_sql(dialect: str, user: str | None) -> str:
    """The page of sessions matching, most relevant first, with the total."""
    doc = ("GATEWAY_SEARCH_DOCUMENT", "INVESTIGATION_ID")
    landing = _hits(dialect, *doc, "LANDING", "GATEWAY_SEARCH_FTS")
    data = _hits(dialect, *doc, "DATA", "GATEWAY_SEARCH_FTS")
    visible = _visible(user)
    trigram = ""
    if dialect == "postgresql":
        # The trigram half for parts of words, as the gateway has it where pg_trgm is.
        trigram = (
            ' UNION ALL SELECT d."INVESTIGATION_ID", 1, 0, '
            'word_similarity(:phrase, d."LANDING") * 0.1, 0 '
            'FROM "GATEWAY_SEARCH_DOCUMENT" d WHERE d."LANDING" LIKE :pattern'
        )
    sql = f"""
SELECT i."ID", count(*) OVER () FROM "INVESTIGATION" i JOIN (
  SELECT id, max(lh) AS lh, max(dh) AS dh, sum(lr) AS lr, sum(dr) AS dr FROM (
    SELECT id, 1 AS lh, 0 AS dh, r AS lr, 0 AS dr FROM ({landing}) l
    UNION ALL SELECT id, 0, 1, 0, r FROM ({data}) x{trigram}
  ) f GROUP BY id
) s ON s.id = i."ID"
WHERE s.lh > 0 OR (s.dh > 0 AND {visible})
ORDER BY round((2 * s.lr + CASE WHEN {visible} THEN s.dr ELSE 0 END) * 1000000) DESC,
  i."ID" DESC
LIMIT {PAGE}"""
    return Dialect(dialect).sql(sql)


def dataset_search_sql(dialect: str, user: str | None) -> str:
    """The page of datasets matching in their own words or their session's landing facts,
    visible to the caller (its session's data, or published), in the gateway's default
    order (start date, then id)."""
    landing = _hits(
        dialect, "GATEWAY_SEARCH_DOCUMENT", "INVESTIGATION_ID", "LANDING", "GATEWAY_SEARCH_FTS"
    )
    own = _hits(dialect, "GATEWAY_DATASET_DOCUMENT", "DATASET_ID", "WORDS", "GATEWAY_DATASET_FTS")
    published = (
        'SELECT dcd."DATASET_ID" FROM "DATACOLLECTIONDATASET" dcd JOIN "DATAPUBLICATION" p '
        'ON p."DATACOLLECTION_ID" = dcd."DATACOLLECTION_ID" '
        'WHERE p."PUBLICATIONDATE" IS NOT NULL AND p."PUBLICATIONDATE" < :now'
    )
    session_visible = (
        f'EXISTS (SELECT 1 FROM "INVESTIGATION" i WHERE i."ID" = ds."INVESTIGATION_ID" '
        f"AND {_visible(user)})"
    )
    order = (
        'ds."STARTDATE" IS NULL, ds."STARTDATE", ds."ID"'
        if dialect == "mariadb"
        else 'ds."STARTDATE" NULLS LAST, ds."ID"'
    )
    sql = f"""
SELECT ds."ID", count(*) OVER () FROM "DATASET" ds JOIN (
  SELECT DISTINCT id FROM (
    SELECT d2."ID" AS id FROM ({landing}) l JOIN "DATASET" d2 ON d2."INVESTIGATION_ID" = l.id
    UNION ALL SELECT id FROM ({own}) o
  ) f
) s ON s.id = ds."ID"
WHERE {session_visible} OR ds."ID" IN ({published})
ORDER BY {order}
LIMIT {PAGE}"""
    return Dialect(dialect).sql(sql)


def _binds(dialect: str, word: str, user: str | None) -> dict[str, Any]:
    words = word.split()
    values: dict[str, Any] = {"now": now()}
    if user is not None:
        values["user"] = user
    if dialect == "postgresql":
        values["tsquery"] = " & ".join(f"{w}:*" for w in words)
        values["phrase"] = " ".join(words)
        values["pattern"] = f"%{' '.join(words)}%"
    elif dialect == "mariadb":
        values["boolean"] = " ".join(f"+{w}*" for w in words)
        values["phrase"] = " ".join(words)
    else:
        expression = " AND ".join(f'"{w}"*' for w in words)
        for column in ("LANDING", "DATA", "WORDS"):
            values[f"fts_{column}"] = f"{column} : ({expression})"
    return values


async def raw(
    connection: AsyncConnection, sql: str, dialect: str, word: str, user: str | None
) -> tuple[list[int], int]:
    rows = (await connection.execute(text(sql), _binds(dialect, word, user))).all()
    return [int(r[0]) for r in rows], int(rows[0][1]) if rows else 0


# Words ----------------------------------------------------------------------------------


async def draw_words(engine: AsyncEngine, count: int) -> list[str]:
    """Varied words from the documents: landing and data words, some as prefixes. Words
    MariaDB's index leaves out (short, stopwords) are not drawn: they match nothing there."""
    from gateway.catalogue.text_search import MARIADB_MIN_WORD, MARIADB_STOPWORDS

    rng = random.Random(SEED)
    sql = Dialect(engine.dialect.name).sql(
        'SELECT "LANDING", "DATA" FROM "GATEWAY_SEARCH_DOCUMENT" ORDER BY "INVESTIGATION_ID"'
    )
    async with engine.connect() as connection:
        documents = (await connection.execute(text(sql + " LIMIT 400"))).all()
    words: list[str] = []
    while len(words) < count:
        landing, data = rng.choice(documents)
        pool = [
            w
            for w in (landing if len(words) % 2 else data).split()
            if len(w) >= MARIADB_MIN_WORD + 1 and w not in MARIADB_STOPWORDS and w.isalpha()
        ]
        if not pool:
            continue
        word = rng.choice(pool)
        if rng.random() < 0.3:
            word = word[: max(MARIADB_MIN_WORD, len(word) - 2)]
            if word in MARIADB_STOPWORDS:  # "these" cut to "the": no word to MariaDB's index
                continue
        words.append(word)
    return words


# Timing ----------------------------------------------------------------------------------


async def _member(engine: AsyncEngine) -> str:
    sql = Dialect(engine.dialect.name).sql(
        'SELECT u."NAME" FROM "USER_" u JOIN "INVESTIGATIONUSER" iu ON iu."USER_ID" = u."ID" '
        'GROUP BY u."NAME" ORDER BY count(*) DESC, u."NAME" LIMIT 1'
    )
    async with engine.connect() as connection:
        return str(await connection.scalar(text(sql)))


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 3)


def _p95_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 3)


def signed_in_app(settings: Settings, oidc: Any, member: str, **overrides: Any) -> tuple[Any, str]:
    """The gateway's app trusting the loopback identity provider ``oidc``, and a token of
    ``member`` for it (valid six hours). One client would spend a caller's rate-limit
    budget in a second: those limits are off; every other limit of the gate applies, as in
    production."""
    from gateway.app import create_app

    prefix, _, login = member.rpartition("/")
    token = oidc.mint(
        oidc.claims(preferred_username=login, groups=[], exp=int(time.time()) + 6 * 3600)
    )
    app = create_app(
        replace(
            settings,
            oidc_issuer=oidc.issuer,
            oidc_audience="icat-gateway",
            oidc_user_prefix=f"{prefix}/" if prefix else "",
            rate_limit_requests="",
            rate_limit_address="",
            rate_limit_cost="",
            **overrides,
        )
    )
    return app, token


async def measure(
    dialect: str, settings: Settings, iterations: int, request_timeout: float | None = None
) -> dict[str, Any]:
    from tests.support.oidc_provider import OIDCProvider  # the loopback identity provider

    engine = read_engine(settings.database_url)
    member = await _member(engine)
    words = await draw_words(engine, iterations)
    oidc = OIDCProvider()
    oidc.start()
    try:
        app, token = signed_in_app(
            settings, oidc, member, request_timeout=request_timeout or settings.request_timeout
        )
        transport = httpx.ASGITransport(app=app)
        results: dict[str, Any] = {"member": member, "words": words}
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
            app.router.lifespan_context(app),
            engine.connect() as connection,
        ):

            async def gateway(query: str, word: str, user: str | None) -> dict[str, Any]:
                headers = {"Authorization": f"Bearer {token}"} if user else {}
                body = {"query": query, "variables": {"text": word}}
                answer = (await client.post("/graphql", json=body, headers=headers)).json()
                assert not answer.get("errors"), answer
                return dict(answer["data"])

            for caller, user in (("anonymous", None), ("member", member)):
                session_sql = session_search_sql(dialect, user)
                dataset_sql = dataset_search_sql(dialect, user)
                times: dict[str, list[float]] = {
                    k: [] for k in ("gateway", "raw", "faceted", "datasets", "datasets_raw")
                }
                hits: list[int] = []

                for round_, word in enumerate([words[0], *words]):
                    calls: dict[str, Callable[[], Awaitable[Any]]] = {
                        "gateway": partial(gateway, SEARCH_GQL, word, user),
                        "raw": partial(raw, connection, session_sql, dialect, word, user),
                        "faceted": partial(gateway, FACETED_GQL, word, user),
                        "datasets": partial(gateway, DATASETS_GQL, word, user),
                        "datasets_raw": partial(raw, connection, dataset_sql, dialect, word, user),
                    }
                    order = list(calls) if round_ % 2 == 0 else list(reversed(calls))
                    answers: dict[str, Any] = {}
                    for name in order:
                        started = time.perf_counter()
                        answers[name] = await calls[name]()
                        times[name].append(time.perf_counter() - started)
                    if round_ == 0:  # the warm-up draw: not counted
                        for values in times.values():
                            values.clear()
                    _check(word, caller, answers)
                    hits.append(answers["raw"][1])
                results[caller] = {
                    "median_ms": {k: _median_ms(v) for k, v in times.items()},
                    "p95_ms": {k: _p95_ms(v) for k, v in times.items()},
                    "search_ratio": round(
                        statistics.median(times["gateway"]) / statistics.median(times["raw"]), 2
                    ),
                    "facets_ratio": round(
                        statistics.median(times["faceted"]) / statistics.median(times["gateway"]),
                        2,
                    ),
                    "datasets_ratio": round(
                        statistics.median(times["datasets"])
                        / statistics.median(times["datasets_raw"]),
                        2,
                    ),
                    "median_hits": statistics.median(hits),
                }
                print(dialect, caller, json.dumps(results[caller]), flush=True)
    finally:
        oidc.stop()
        await engine.dispose()
    return results


def _check(word: str, caller: str, answers: dict[str, Any]) -> None:
    """The gateway's answers against the hand-written ones: a difference fails the run."""
    ids, total = answers["raw"]
    for name in ("gateway", "faceted"):
        found = answers[name]["investigations"]
        got = ([n["icatId"] for n in found["nodes"]], found["totalCount"])
        if got != (ids, total):
            raise SystemExit(f"{name} differs for {word!r} ({caller}): {got} != {(ids, total)}")
    released = answers["faceted"]["investigations"]["facets"]["released"]
    if sum(c["count"] for c in released) != total:
        raise SystemExit(f"facets do not add up for {word!r} ({caller}): {released}")
    found = answers["datasets"]["datasets"]
    got = ([n["icatId"] for n in found["nodes"]], found["totalCount"])
    if got != tuple(answers["datasets_raw"]):
        raise SystemExit(f"datasets differ for {word!r} ({caller}): {got}")


# The run ---------------------------------------------------------------------------------


def _load(values: Any) -> str:
    return "?" if values is None else "/".join(f"{v:.1f}" for v in values)


def report(run: dict[str, Any]) -> str:
    lines = [
        f"# Search at {run['sessions']:,} sessions ({run['datasets_per_session']} datasets "
        f"each, {run['sessions'] * run['datasets_per_session']:,} datasets), {run['started']}, "
        f"commit {run['commit']}",
        "",
        "In process, medians of the timed draws (ms); ratios of medians measured side by "
        "side. Targets: search / hand-written <= 1.5, faceted / search <= 1.3.",
        "",
        f"Command: `{run['command']}`; {run['machine']['cpus']} CPUs, "
        f"{run['machine']['platform']}; "
        "load average (1, 5, 15 min) before and after each database: "
        + "; ".join(
            f"{dialect} {_load(result.get('load_before'))} -> {_load(result.get('load_after'))}"
            for dialect, result in run["dialects"].items()
        )
        + ".",
        "",
        "| database | caller | median hits | gateway | hand-written | ratio | with facets "
        "| facets ratio | datasets | hand-written | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for dialect, result in run["dialects"].items():
        for caller in ("anonymous", "member"):
            r = result[caller]
            m = r["median_ms"]
            lines.append(
                f"| {dialect} | {caller} | {r['median_hits']} | {m['gateway']} | {m['raw']} "
                f"| {r['search_ratio']} | {m['faceted']} | {r['facets_ratio']} "
                f"| {m['datasets']} | {m['datasets_raw']} | {r['datasets_ratio']} |"
            )
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace) -> None:
    git = await asyncio.create_subprocess_exec(
        "git", "rev-parse", "--short", "HEAD", stdout=asyncio.subprocess.PIPE
    )
    commit = (await git.communicate())[0].decode().strip()
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run: dict[str, Any] = {
        "command": "python -m bench.search " + " ".join(sys.argv[1:]),
        "scale": args.scale,
        "sessions": args.sessions,
        "datasets_per_session": args.datasets_per_session,
        "iterations": args.iterations,
        "started": started,
        "commit": commit,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": platform.python_version(),
        "dialects": {},
    }
    for dialect in args.dialect or list(SERVERS):
        settings, seeded = await catalogue(
            dialect, args.sessions, args.datasets_per_session, args.reseed, args.database
        )
        load = os.getloadavg()
        result = await measure(dialect, settings, args.iterations, args.request_timeout)
        result["catalogue"] = seeded
        result["load_before"] = load
        result["load_after"] = os.getloadavg()
        run["dialects"][dialect] = result
    table = report(run)
    print(table)
    if args.quick:
        return
    RESULTS.mkdir(exist_ok=True)  # the run is over: nothing waits
    name = args.scale or str(args.sessions)
    if args.dialect and len(args.dialect) == 1:  # runs on other databases may share a second
        name = f"{name}-{args.dialect[0]}"
    (RESULTS / f"search-{name}-{started}.json").write_text(json.dumps(run, indent=1))
    (RESULTS / "search-latest.md").write_text(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--datasets-per-session", type=int, default=4)
    parser.add_argument(
        "--scale",
        choices=sorted(SCALES),
        help="sessions and datasets per session of bench.catalogue's scale (1m: 50,000 x 20); "
        "overrides --sessions and --datasets-per-session",
    )
    parser.add_argument("--dialect", action="append", choices=sorted(SERVERS))
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--database",
        default="test_h7",
        help="the server database the catalogues are named after: <database>_searchbench_<n>",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        help="the gate's budget per request in seconds (the gateway's own, 10 s, unless "
        "given): a slower answer is refused with QUERY_TIMEOUT and fails the run",
    )
    parser.add_argument("--quick", action="store_true", help="print only, write nothing")
    args = parser.parse_args()
    if args.scale:
        args.sessions = SCALES[args.scale].sessions
        args.datasets_per_session = SCALES[args.scale].datasets_per_session
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
