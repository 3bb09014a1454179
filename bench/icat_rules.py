"""ICAT's own rules against the built-in policy: the same workloads, the same catalogue.

    python -m bench.icat_rules [--database-url URL] [--sessions 500] [--iterations 60]

The catalogue is the demo generator's (``gateway.catalogue.demo``: ``--sessions`` sessions
x 20 datasets x 2 files) in a database of its own, with the demo facility's rules written
to RULE_ and PUBLICSTEP (``tests.support.icat_rules_demo``: released sessions for
everyone, a session's data for its team and its beamline's scientists, published data
publications, reference data public). Two gateways run in process on it (httpx's ASGI
transport, no sockets): ``ICAT_GATEWAY_AUTHORIZATION=builtin`` and ``icat-rules``, both
with their compiled path and operation plans as configured by default.

Workloads (``bench.workloads``): the session list (released sessions, 50 a page, with
beamline, team and counts) and the session page (one session with its 20 datasets and
their details), each as an anonymous caller and as a team member signed in with a token
from a loopback OIDC provider. Each draw times the two gateways one after the other, in
alternating order; medians and p95 are reported with their ratio. Every answer is
checked: no errors, and the two modes must answer the same data wherever the rules and
the built-in policy agree (both show released sessions and the member's own sessions in
full; under the rules an embargoed session of someone else is not listed at all, so the
session list is compared on the released sessions it filters to).

Results: ``bench/results/icat-rules-<time>.json`` and ``icat-rules-latest.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.workloads import SESSION_LIST_GQL, SESSION_PAGE_GQL, global_id
from gateway.app import create_app
from gateway.catalogue.database import create_engine
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.catalogue.models import Investigation, InvestigationUser, Rule, User
from gateway.settings import Settings
from tests.support.icat_rules_demo import DEMO_RULES, write_demo_rules
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.scratch import scratch_url

RESULTS = Path(__file__).resolve().parent / "results"
UNFILTERED_LIST_GQL = SESSION_LIST_GQL.replace("filter: {released: true}, ", "").replace(
    " fileSize fileCount", ""
)
"""The session list with no filter (``--unfiltered``), without the data fields an
embargoed session refuses: the built-in policy lists every session (landing facts are
public), ICAT's rules only those the caller may read; where few are readable, a page
under the rules reads far down the ordering's index."""
assert UNFILTERED_LIST_GQL != SESSION_LIST_GQL
SEED = 20261206
MEMBER = "pi1"


def _url(given: str | None) -> str:
    if given:
        return given
    base = os.environ.get(
        "ICAT_GATEWAY_TEST_POSTGRESQL_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    return scratch_url(base, "rulesbench")


async def prepare(settings: Settings, sessions: int, reseed: bool) -> dict[str, Any]:
    """Seed the catalogue (unless it already holds this size) and write the rules."""
    engine = create_engine(settings)
    try:
        present = 0
        try:
            async with engine.connect() as connection:
                present = await connection.scalar(select(func.count(Investigation.id))) or 0
        except Exception:
            present = 0
        if reseed or present != sessions:
            size = DemoSize.for_sessions(sessions, datasets_per_session=20, files_per_dataset=2)
            await seed_demo(settings, seed=SEED, size=size, reset=True)
        await write_demo_rules(engine)
        async with engine.connect() as connection:
            now = datetime.now(UTC).replace(tzinfo=None)
            member_session = await connection.scalar(
                select(Investigation.id)
                .join(InvestigationUser, InvestigationUser.investigation_id == Investigation.id)
                .join(User, User.id == InvestigationUser.user_id)
                .where(User.name == f"esrf/{MEMBER}", Investigation.release_date < now)
                .order_by(Investigation.start_date.desc())
                .limit(1)
            )
            rules = await connection.scalar(select(func.count(Rule.id)))
        assert rules == len(DEMO_RULES)
        return {"session_id": member_session}
    finally:
        await engine.dispose()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    base = Settings(database_url=url, embedded=True, graphiql=False, demo_login=False)
    facts = await prepare(base, args.sessions, args.reseed)
    with OIDCProvider() as provider:
        token = provider.mint(
            provider.claims(preferred_username=MEMBER, groups=[], exp=int(time.time()) + 7200)
        )
        common = replace(
            base,
            oidc_issuer=provider.issuer,
            oidc_audience=DEFAULT_AUDIENCE,
            oidc_user_prefix="esrf/",
            rate_limit_requests="",
        )
        apps = {
            "builtin": create_app(replace(common, authorization="builtin")),
            "icat-rules": create_app(replace(common, authorization="icat-rules")),
        }
        workloads: dict[str, tuple[str, dict[str, Any]]] = {
            "session list": (SESSION_LIST_GQL, {"first": 50}),
            **(
                {"session list, no filter": (UNFILTERED_LIST_GQL, {"first": 50})}
                if args.unfiltered
                else {}
            ),
            "session page": (
                SESSION_PAGE_GQL,
                {"id": global_id("Investigation", facts["session_id"]), "first": 20},
            ),
        }
        callers = {"anonymous": {}, "member": {"Authorization": f"Bearer {token}"}}
        figures: dict[str, Any] = {}
        clients = {
            mode: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
            )
            for mode, app in apps.items()
        }
        try:
            async with _lifespans(apps):
                for workload, (query, variables) in workloads.items():
                    for caller, headers in callers.items():
                        times: dict[str, list[float]] = {mode: [] for mode in apps}

                        async def once(
                            mode: str,
                            query: str = query,
                            variables: dict[str, Any] = variables,
                            headers: dict[str, str] = headers,
                        ) -> tuple[float, Any]:
                            body = {"query": query, "variables": variables}
                            started = time.perf_counter()
                            response = await clients[mode].post(
                                "/graphql", json=body, headers=headers
                            )
                            elapsed = time.perf_counter() - started
                            answer = response.json()
                            assert response.status_code == 200, answer
                            assert not answer.get("errors"), (mode, answer.get("errors"))
                            return elapsed, answer["data"]

                        for mode in apps:  # warm-up: plans learnt, caches filled
                            for _ in range(3):
                                await once(mode)
                        for i in range(args.iterations):
                            order = list(apps) if i % 2 == 0 else list(reversed(apps))
                            answers = {}
                            for mode in order:
                                elapsed, answers[mode] = await once(mode)
                                times[mode].append(elapsed * 1000)
                            _check(workload, answers)
                        row: dict[str, Any] = {
                            mode: {
                                "median_ms": statistics.median(values),
                                "p95_ms": _percentile(values, 0.95),
                            }
                            for mode, values in times.items()
                        }
                        row["ratio_median"] = (
                            row["icat-rules"]["median_ms"] / row["builtin"]["median_ms"]
                        )
                        row["ratio_p95"] = row["icat-rules"]["p95_ms"] / row["builtin"]["p95_ms"]
                        figures[f"{workload} / {caller}"] = row
                        print(
                            f"{workload} / {caller}: builtin "
                            f"{row['builtin']['median_ms']:.1f} ms, icat-rules "
                            f"{row['icat-rules']['median_ms']:.1f} ms, "
                            f"ratio {row['ratio_median']:.2f}x"
                        )
        finally:
            for client in clients.values():
                await client.aclose()
    return {
        "database": url.split("@")[-1],
        "sessions": args.sessions,
        "datasets_per_session": 20,
        "iterations": args.iterations,
        "rules": len(DEMO_RULES),
        "load_average": os.getloadavg(),
        "machine": platform.platform(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "figures": figures,
    }


class _lifespans:
    """Run each app's lifespan (start-up compiles the rules) around the measurements."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps
        self.contexts: list[Any] = []

    async def __aenter__(self) -> None:
        for app in self.apps.values():
            context = app.router.lifespan_context(app)
            await context.__aenter__()
            self.contexts.append(context)

    async def __aexit__(self, *exc: Any) -> None:
        for context in reversed(self.contexts):
            await context.__aexit__(None, None, None)


def _check(workload: str, answers: dict[str, Any]) -> None:
    """The two modes answer the same where the rules and the built-in policy agree."""
    builtin, ruled = answers["builtin"], answers["icat-rules"]
    if workload == "session list, no filter":
        # The lists differ (the rules list only readable sessions): each session the rules
        # list is one the caller reads, and the built-in policy lists at least as many.
        listed = ruled["investigations"]
        assert all(node["canReadData"] for node in listed["nodes"]), "an unreadable session"
        assert listed["totalCount"] <= builtin["investigations"]["totalCount"]
        return
    if workload == "session page":
        assert builtin == ruled, "the session page differs between the modes"
        return
    # The session list filters to released sessions: every one is listed in both modes,
    # with the same data (the rules open released sessions to everyone).
    assert builtin["investigations"] == ruled["investigations"], "the session lists differ"


def write(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"icat-rules-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# ICAT rules against the built-in policy (`python -m bench.icat_rules`)",
        "",
        f"{result['when']}, {result['database']}, {result['sessions']} sessions x "
        f"{result['datasets_per_session']} datasets, {result['rules']} rules, "
        f"{result['iterations']} draws per row, load average (1, 5, 15 min) at the end "
        f"{', '.join(f'{x:.1f}' for x in result['load_average'])}.",
        "",
        "| workload / caller | builtin median (p95) ms | icat-rules median (p95) ms | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for name, row in result["figures"].items():
        lines.append(
            f"| {name} | {row['builtin']['median_ms']:.1f} ({row['builtin']['p95_ms']:.1f}) | "
            f"{row['icat-rules']['median_ms']:.1f} ({row['icat-rules']['p95_ms']:.1f}) | "
            f"{row['ratio_median']:.2f}x |"
        )
    (RESULTS / "icat-rules-latest.md").write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10 draws, nothing written")
    parser.add_argument(
        "--unfiltered", action="store_true", help="also the session list with no filter"
    )
    args = parser.parse_args()
    if args.quick:
        args.iterations = 10
    result = asyncio.run(run(args, _url(args.database_url)))
    if not args.quick:
        print(write(result))


if __name__ == "__main__":
    main()
