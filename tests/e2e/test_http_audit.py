"""The GraphQL-over-HTTP audit of the npm package ``graphql-http`` (its ``auditServer``,
the spec's reference audit) against a real server: no error and no warning.

The package comes from ``tests/http_audit/package-lock.json`` (``scripts/install`` runs
``npm ci`` there; this test does too if it has not run). Without Node the test skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

AUDIT = Path(__file__).resolve().parents[1] / "http_audit"


def installed_audit() -> str:
    """The path of ``node``, with the audit's packages installed from the lock file."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js (node and npm) not found: the graphql-http audit needs it")
    if not (AUDIT / "node_modules" / "graphql-http").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=AUDIT,
            check=True,
            timeout=300,
        )
    return node


def test_the_graphql_over_http_audit_passes_without_warnings(sqlite_settings: Settings) -> None:
    node = installed_audit()
    with GatewayServer(sqlite_settings) as server:
        run = subprocess.run(
            [node, str(AUDIT / "audit.mjs"), server.base_url + "/graphql"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    statuses = Counter(result["status"] for result in results)
    failing = [result for result in results if result["status"] != "ok"]
    assert len(results) >= 60, run.stdout
    assert not failing, (statuses, failing)
