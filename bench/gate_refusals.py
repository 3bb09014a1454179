"""How long the request gate takes to refuse each attack query, in server time.

Runs the gateway under uvicorn (in this process) on a catalogue, sends each attack of
``tests/e2e/test_gate.py`` ``--repeat`` times, and reads the server's own time per request
from an observer on the gate (``Observation.duration``: first byte read to last byte
sent), with the statements the engines ran meanwhile (none, for a refusal). Prints a
Markdown table and writes it to ``bench/results/gate-refusals-<time>.md``.

    .venv/bin/python -m bench.gate_refusals --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import event

from gateway.gate import Hooks, Observation
from gateway.settings import Settings
from tests.e2e.test_gate import ATTACKS, GRAPHQL_RESPONSE, Attack
from tests.support.server import GatewayServer

RESULTS = Path(__file__).resolve().parent / "results"


def send(url: str, attack: Attack, request_id: str) -> httpx.Response:
    headers = {"Accept": GRAPHQL_RESPONSE, "X-Request-ID": request_id, **attack.headers}
    if attack.method == "POST":
        body = attack.body if isinstance(attack.body, bytes) else orjson.dumps(attack.body)
        headers.setdefault("Content-Type", "application/json")
        return httpx.post(url, content=body, headers=headers, timeout=30)
    content = attack.body if isinstance(attack.body, bytes) else None
    return httpx.request(
        attack.method, url, params=attack.url_query, content=content, headers=headers, timeout=30
    )


def observed(durations: dict[str, float], request_id: str) -> float:
    """The request's server time: the observer runs just after the response went out,
    in the server's thread, so it may come a moment after the client has the answer."""
    deadline = time.monotonic() + 5
    while request_id not in durations:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no observation of {request_id}")
        time.sleep(0.001)
    return durations[request_id]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--no-plans", action="store_true", help="compiled_sql off")
    options = parser.parse_args()
    settings = replace(
        Settings(database_url=options.database_url), compiled_sql=not options.no_plans
    )
    durations: dict[str, float] = {}

    def observe(observation: Observation) -> None:
        durations[observation.request_id] = observation.duration

    statements: list[str] = []

    def count(*arguments: Any) -> None:
        statements.append(arguments[2])

    rows = []
    with GatewayServer(settings, hooks=Hooks(observers=[observe])) as server:
        url = server.base_url + "/graphql"
        for engine in {server.app.state.engine, server.app.state.read_engine}:
            event.listen(engine.sync_engine, "before_cursor_execute", count)
        send(url, ATTACKS[0], "warm-up")
        for number, attack in enumerate(ATTACKS):
            before = len(statements)
            codes = set()
            for i in range(options.repeat):
                response = send(url, attack, f"a{number}-{i}")
                codes.add(
                    (response.status_code, response.json()["errors"][0]["extensions"]["code"])
                )
            times = sorted(
                observed(durations, f"a{number}-{i}") * 1000 for i in range(options.repeat)
            )
            rows.append(
                f"| {attack.name} | {', '.join(f'{s} {c}' for s, c in sorted(codes))} "
                f"| {statistics.median(times):.2f} | {times[int(len(times) * 0.99) - 1]:.2f} "
                f"| {times[-1]:.2f} | {len(statements) - before} |"
            )
    dialect = settings.dialect + ("" if options.no_plans else " (operation plans on)")
    table = "\n".join(
        [
            f"# Gate refusals: server time per request, {dialect}, {options.repeat} each",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `python -m bench.gate_refusals`; "
            f"load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
            f"on {os.cpu_count()} cores",
            "",
            "| attack | answer | median ms | p99 ms | max ms | statements |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"gate-refusals-{settings.dialect}-{stamp}.md").write_text(table)


if __name__ == "__main__":
    main()
