"""Where a faceted search's statement spends its time: each facet's cost, timed alone.

``python -m bench.facet_probe --dialect sqlite [--sessions 10000] [--database test_h7]
[--word series] [--repeat 15] [--explain]``

On ``bench.search``'s catalogue (the same options), runs the gateway app in process
and captures the statement of ``investigations(filter: {search: word}, first: 20)``
without facets, with each facet alone, and with all five, anonymous and as the team
member; then replays each captured statement on one connection of its own
(``--repeat`` times, interleaved) and prints the minimum and median, and the cost of
each facet over the statement without facets. ``--explain``: the database's plan of
the statement with all five facets (``EXPLAIN ANALYZE`` on PostgreSQL, ``ANALYZE
FORMAT=JSON`` on MariaDB, ``EXPLAIN QUERY PLAN`` on SQLite). Prints only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.raw_dialects import read_engine
from bench.search import SERVERS, _member, _url, signed_in_app

FACETS = ("instrument", "year", "type", "released", "technique")


def _query(facets: tuple[str, ...]) -> str:
    inner = " ".join(f"{name} {{ value count }}" for name in facets)
    asked = f"facets {{ {inner} }}" if facets else ""
    return (
        "query Q($text: String!) { investigations(filter: {search: $text}, first: 20) "
        f"{{ totalCount nodes {{ icatId }} {asked} }} }}"
    )


async def main_async(args: argparse.Namespace) -> None:
    from gateway.settings import Settings
    from tests.support.oidc_provider import OIDCProvider

    url = _url(args.dialect, args.sessions, args.database)
    settings = Settings(database_url=url, embedded=False)
    engine = read_engine(url)
    member = await _member(engine)
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    oidc = OIDCProvider()
    oidc.start()
    shapes: dict[tuple[str, tuple[str, ...]], tuple[str, Any]] = {}
    requests: dict[str, dict[tuple[str, ...], float]] = {}
    try:
        app, token = signed_in_app(settings, oidc, member)
        transport = httpx.ASGITransport(app=app)
        variants = [(), *((name,) for name in FACETS), FACETS]
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://probe") as client,
            app.router.lifespan_context(app),
        ):
            for caller, user in (("anonymous", None), ("member", member)):
                headers = {"Authorization": f"Bearer {token}"} if user else {}
                for facets in variants:
                    body = {"query": _query(facets), "variables": {"text": args.word}}
                    for _ in range(2):  # the second: the kept statement
                        captured.clear()
                        answer = (await client.post("/graphql", json=body, headers=headers)).json()
                        assert not answer.get("errors"), answer
                    # The page's statement: the longest one of the request.
                    shapes[caller, facets] = max(captured, key=lambda c: len(c[0]))
                # The whole request in process, without and with the five facets.
                whole: dict[tuple[str, ...], list[float]] = {(): [], FACETS: []}
                for _ in range(args.repeat):
                    for facets in whole:
                        body = {"query": _query(facets), "variables": {"text": args.word}}
                        started = time.perf_counter()
                        answer = (await client.post("/graphql", json=body, headers=headers)).json()
                        whole[facets].append(time.perf_counter() - started)
                requests[caller] = {f: min(v) * 1000 for f, v in whole.items()}
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
        oidc.stop()

    if args.dump:
        import pickle
        from pathlib import Path

        await asyncio.to_thread(Path(args.dump).write_bytes, pickle.dumps(shapes))
    async with engine.connect() as connection:
        for caller in ("anonymous", "member"):
            times: dict[tuple[str, ...], list[float]] = {f: [] for f in variants}
            for _ in range(args.repeat):
                for facets in variants:
                    sql, params = shapes[caller, facets]
                    started = time.perf_counter()
                    (await connection.exec_driver_sql(sql, params)).all()
                    times[facets].append(time.perf_counter() - started)
            base = min(times[()])
            none, five = requests[caller][()], requests[caller][FACETS]
            print(
                f"{args.dialect} {caller} {args.word!r}: request min ms {none:.2f} without, "
                f"{five:.2f} with the five (x{five / none:.2f}); statements min / median ms:"
            )
            for facets, values in times.items():
                label = "all five" if facets == FACETS else ("+".join(facets) or "none")
                print(
                    f"  {label:12} {min(values) * 1000:8.2f} "
                    f"{statistics.median(values) * 1000:8.2f}"
                    f"  +{(min(values) - base) * 1000:7.2f}  x{min(values) / base:.2f}"
                )
            sql, params = shapes[caller, FACETS]
            if args.explain:
                prefix = {
                    "postgresql": "EXPLAIN (ANALYZE, BUFFERS) ",
                    "mariadb": "ANALYZE FORMAT=JSON ",
                    "sqlite": "EXPLAIN QUERY PLAN ",
                }[args.dialect]
                for row in (await connection.exec_driver_sql(prefix + sql, params)).all():
                    print("   ", *row)
            if args.show:
                print(sql)
                print(params)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dialect", choices=sorted(SERVERS), required=True)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--database", default="test_h7")
    parser.add_argument("--word", default="series")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--dump", help="a file to pickle the captured statements into")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
