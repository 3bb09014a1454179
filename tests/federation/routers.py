"""Real federation tools from npm, driven from the tests: composition, a partner's subgraph
and two routers (``@apollo/gateway``, Hive Gateway), each a Node process on 127.0.0.1.

The npm packages are installed from this directory's committed lock file
(``package-lock.json``, with ``npm ci``) by ``scripts/install``, or here on first use. The
tests skip, saying so, only where Node itself is missing.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.support.server import free_port

HERE = Path(__file__).resolve().parent
HIVE_CLI = HERE / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"


def node_or_skip() -> str:
    """The ``node`` executable, with this directory's packages installed (``npm ci``)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the federation router tests need node and npm")
    installed = HERE / "node_modules" / ".package-lock.json"
    lock = HERE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: the federation router tests need its packages")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            timeout=600,
        )
    return node


@dataclass(frozen=True)
class Subgraph:
    name: str
    url: str
    sdl: str


@dataclass(frozen=True)
class Composition:
    errors: list[str]
    hints: list[str]
    supergraph_sdl: str | None


def compose(subgraphs: Sequence[Subgraph], composer: str) -> Composition:
    """Compose with ``@apollo/composition`` ("apollo") or Hive's composer ("hive")."""
    request = {
        "composer": composer,
        "subgraphs": [{"name": s.name, "url": s.url, "sdl": s.sdl} for s in subgraphs],
    }
    done = subprocess.run(
        [node_or_skip(), str(HERE / "compose.mjs")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer = json.loads(done.stdout)
    return Composition(answer["errors"], answer["hints"], answer["supergraphSdl"])


def supergraph(subgraphs: Sequence[Subgraph], composer: str) -> str:
    """The supergraph SDL; fails the test with the composer's errors if there are any."""
    composed = compose(subgraphs, composer)
    assert composed.errors == [], composed.errors
    assert composed.supergraph_sdl is not None
    return composed.supergraph_sdl


@contextmanager
def node_process(
    arguments: Sequence[str], ready: str, *, cwd: Path = HERE, timeout: float = 60
) -> Iterator[subprocess.Popen[str]]:
    """A Node process, yielded once a line of its output contains ``ready``; stopped
    (by its own pid) when the block ends. A thread reads its output to the end (a full
    pipe would stall it); what it wrote goes into the failure message."""
    process = subprocess.Popen(
        [node_or_skip(), *arguments],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NODE_ENV": "production", "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def read(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, args=(process.stdout,), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(
                    f"{arguments[0]} did not start: {''.join(seen)[-2000:]}"
                ) from None
            if line is None:
                raise RuntimeError(f"{arguments[0]} exited: {''.join(seen)[-2000:]}")
            seen.append(line)
            if ready in line:
                break
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        process.stdout.close()


@contextmanager
def partner_subgraph(publications: list[dict[str, Any]], directory: Path) -> Iterator[str]:
    """The partner's ``@apollo/subgraph`` service: its URL."""
    port = free_port()
    data = directory / "publications.json"
    data.write_text(json.dumps(publications))
    with node_process([str(HERE / "partner.mjs"), str(port), str(data)], "listening"):
        yield f"http://127.0.0.1:{port}/"


@contextmanager
def apollo_gateway(supergraph_sdl: str, directory: Path) -> Iterator[str]:
    """``@apollo/gateway`` (under ``@apollo/server``) serving the supergraph: its URL."""
    port = free_port()
    path = directory / "supergraph-apollo.graphql"
    path.write_text(supergraph_sdl)
    with node_process([str(HERE / "apollo-gateway.mjs"), str(port), str(path)], "listening"):
        yield f"http://127.0.0.1:{port}/"


@contextmanager
def hive_gateway(supergraph_sdl: str, directory: Path) -> Iterator[str]:
    """Hive Gateway's own command line serving the supergraph with the configuration
    README.md gives partners (``hive-gateway.config.mjs``): its URL."""
    port = free_port()
    path = directory / "supergraph-hive.graphql"
    path.write_text(supergraph_sdl)
    arguments = [
        str(HIVE_CLI),
        "supergraph",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config-path",
        str(HERE / "hive-gateway.config.mjs"),
        # A subgraph's or the router's own error reads as it is, not "Unexpected error."
        "--no-masked-errors",
    ]
    with node_process(arguments, "Listening on"):
        yield f"http://127.0.0.1:{port}/graphql"


def post(
    url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    """A GraphQL request over HTTP; the response body (the status must be 200)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
