"""Scale-out: two gateway instances (``icat-gateway serve`` processes, the first with two
workers) on loopback share the database and Redis, and nothing that one replica needs is
held by another: a grant through one is seen through the other, a rate limit and a
persisted query hold across both, the metrics of a replica's two workers add up, and an
allow-list registered once is enforced by every replica."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.ops.persisted import query_hash
from tests.conftest import STAFF, RedisScratch, redis_prefix, team_names
from tests.e2e.test_operations import metric
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayProcess

pytestmark = pytest.mark.e2e

REQUEST_BUDGET = 12


@dataclass
class Replicas:
    a: GatewayProcess
    b: GatewayProcess
    provider: OIDCProvider
    redis: RedisScratch
    metrics_dir: Path
    environment: dict[str, str]

    def token(self, user: str) -> str:
        login = user.removeprefix("esrf/")
        return self.provider.mint(self.provider.claims(preferred_username=login, groups=[]))

    def post(
        self, replica: GatewayProcess, body: dict[str, Any], user: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.post(replica.base_url + "/graphql", json=body, headers=headers, timeout=30)


def environment(database_url: str, provider: OIDCProvider, redis: RedisScratch) -> dict[str, str]:
    return {
        "ICAT_GATEWAY_DATABASE_URL": database_url,
        "ICAT_GATEWAY_EMBEDDED": "false",
        "ICAT_GATEWAY_STAFF_USERS": STAFF,
        "ICAT_GATEWAY_OIDC_ISSUER": provider.issuer,
        "ICAT_GATEWAY_OIDC_AUDIENCE": DEFAULT_AUDIENCE,
        "ICAT_GATEWAY_OIDC_USER_PREFIX": "esrf/",
        "ICAT_GATEWAY_REDIS_URL": redis.url,
        "ICAT_GATEWAY_REDIS_KEY_PREFIX": redis.prefix,
        "ICAT_GATEWAY_RATE_LIMIT_REQUESTS": f"{REQUEST_BUDGET}/hour",
        "ICAT_GATEWAY_RATE_LIMIT_ADDRESS": "100000/minute",
        "ICAT_GATEWAY_DATABASE_POOL_SIZE": "3",
        "ICAT_GATEWAY_SHUTDOWN_TIMEOUT": "5",
    }


@pytest.fixture(scope="module")
def replicas(
    catalogue: AsyncEngine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    logs = tmp_path_factory.mktemp("replicas")
    metrics_dir = logs / "metrics"
    with OIDCProvider() as provider, redis_prefix() as redis:
        env = environment(database_url, provider, redis)
        first = GatewayProcess(
            {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, logs / "a.log", workers=2
        )
        with first as a, GatewayProcess(env, logs / "b.log") as b:
            yield Replicas(a, b, provider, redis, metrics_dir, env)


SESSIONS = """{ investigations(first: 1000) { nodes { id releaseDate isReleased
  team(first: 10) { totalCount nodes { user { name } } } } } }"""
SEES_DATA = "query($id: ID) { investigation(id: $id) { summary } }"
GRANT = """mutation($id: ID!, $user: String!) {
  grantAccess(input: {investigationIds: [$id], grantee: {userName: $user}}) {
    grants { members { role } } } }"""


def test_a_grant_through_one_replica_is_seen_through_the_other(replicas: Replicas) -> None:
    staff = replicas.post(replicas.a, {"query": SESSIONS}, STAFF).json()["data"]
    sessions = staff["investigations"]["nodes"]
    embargoed = [s for s in sessions if not s["isReleased"] and s["releaseDate"]]
    people = sorted({name for s in sessions for name in team_names(s)})
    session, grantee = next(
        (s, person)
        for s in embargoed[::-1]
        for person in people
        if person not in team_names(s)
        and person.startswith("esrf/")
        and "1" not in person  # not one of the fixed users other tests rely on
    )
    ask = {"query": SEES_DATA, "variables": {"id": session["id"]}}
    before = replicas.post(replicas.b, ask, grantee).json()
    if before["data"]["investigation"]["summary"] is not None:
        pytest.skip(f"{grantee} sees the session already (a beamline scientist of it)")
    assert before["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    granted = replicas.post(
        replicas.a, {"query": GRANT, "variables": {"id": session["id"], "user": grantee}}, STAFF
    ).json()
    assert granted == {
        "data": {"grantAccess": {"grants": [{"members": [{"role": "Collaborator"}]}]}}
    }
    after = replicas.post(replicas.b, ask, grantee).json()
    assert "errors" not in after and after["data"]["investigation"]["summary"] is not None


COUNT = "query ScaleOut { investigations(first: 1) { totalCount } }"


def test_a_rate_limit_holds_across_replicas(replicas: Replicas) -> None:
    user = "esrf/rate-limited"
    statuses = [
        replicas.post(replica, {"query": COUNT}, user).status_code
        for _ in range(REQUEST_BUDGET // 2)
        for replica in (replicas.a, replicas.b)
    ]
    assert statuses == [200] * REQUEST_BUDGET
    over = [replicas.post(r, {"query": COUNT}, user) for r in (replicas.a, replicas.b)]
    assert [r.status_code for r in over] == [429, 429]
    assert all(r.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED" for r in over)
    assert replicas.post(replicas.b, {"query": COUNT}, "esrf/someone-else").status_code == 200


def test_a_persisted_query_sent_to_one_replica_is_known_to_the_other(replicas: Replicas) -> None:
    query = "query Persisted { facilities { totalCount } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": query_hash(query)}}
    user = "esrf/persisting"
    unknown = replicas.post(replicas.b, {"extensions": extensions}, user).json()
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    sent = replicas.post(replicas.a, {"query": query, "extensions": extensions}, user).json()
    assert sent["data"]["facilities"]["totalCount"] >= 1
    assert replicas.post(replicas.b, {"extensions": extensions}, user).json() == sent


def test_the_metrics_of_two_workers_add_up(replicas: Replicas) -> None:
    """Requests spread over replica A's two workers; every scrape, whichever worker answers
    it, counts all of them."""
    body = {"query": "query Counted { facilities { totalCount } }"}
    sent = 0

    def workers() -> set[str]:
        return {path.stem.rsplit("_", 1)[1] for path in replicas.metrics_dir.glob("counter_*.db")}

    # The kernel hands each connection to whichever worker accepts first: on a busy machine
    # one may take a whole batch, so batches go on (at most ten) until both have answered.
    for batch in range(10):
        with ThreadPoolExecutor(8) as pool:  # a connection each: both workers take some
            # each as a user of its own: the request budget is per caller
            statuses = list(
                pool.map(
                    lambda n, batch=batch: (
                        replicas.post(replicas.a, body, f"esrf/counted{batch}-{n}").status_code
                    ),
                    range(24),
                )
            )
        assert statuses == [200] * 24
        sent += 24
        if len(workers()) >= 2:
            break
    assert len(workers()) >= 2, workers()
    for _ in range(4):
        text = httpx.get(replicas.a.base_url + "/metrics").text
        counted = metric(
            text, "icat_gateway_graphql_requests_total", operation="Counted", status="200"
        ) + metric(
            text, "icat_gateway_graphql_requests_total", operation="Counted", status="200",
            path="planned",
        )  # fmt: skip
        assert counted == sent, text


def test_an_allow_list_registered_once_holds_on_every_replica(
    replicas: Replicas, tmp_path: Path
) -> None:
    """``icat-gateway register-operations`` stores a frontend's manifest in Redis; two
    replicas in ``registered`` mode run those operations and refuse any other."""
    if "sqlite" not in replicas.environment["ICAT_GATEWAY_DATABASE_URL"]:
        pytest.skip("the allow-list lives in Redis: checked once, on SQLite")
    allowed = "query Allowed { facilities { totalCount } }"
    manifest = tmp_path / "persisted-queries.json"
    manifest.write_text(
        '{"format": "apollo-persisted-query-manifest", "version": 1, "operations": '
        f'[{{"id": "{query_hash(allowed)}", "name": "Allowed", "type": "query", '
        f'"body": "{allowed}"}}]}}'
    )
    registered = {**replicas.environment, "ICAT_GATEWAY_PERSISTED_QUERIES": "registered"}
    command = [sys.executable, "-m", "gateway.cli", "register-operations", str(manifest)]
    done = subprocess.run(
        command, env={**replicas.a.environment, **registered}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("registered 1 operations")
    bad = tmp_path / "bad.graphql"
    bad.write_text("{ facilities { nosuch } }")
    refused = subprocess.run(
        [*command[:-1], str(bad)],
        env={**replicas.a.environment, **registered},
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "nosuch" in refused.stderr
    logs = replicas.metrics_dir.parent
    with (
        GatewayProcess(registered, logs / "c.log") as c,
        GatewayProcess(registered, logs / "d.log") as d,
    ):
        for replica in (c, d):
            by_text = replicas.post(replica, {"query": allowed}, "esrf/allowed").json()
            assert by_text["data"]["facilities"]["totalCount"] >= 1
            by_id = {
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": query_hash(allowed)}}
            }
            assert replicas.post(replica, by_id, "esrf/allowed").json() == by_text
            other = replicas.post(replica, {"query": COUNT}, "esrf/allowed").json()
            assert other["errors"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
