"""A real uvicorn server running the gateway on 127.0.0.1: in a background thread of the
test process (``GatewayServer``), or as ``icat-gateway serve`` in processes of its own
(``GatewayProcess``: workers, replicas, signals)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import uvicorn

from gateway.app import create_app
from gateway.gate import Hooks
from gateway.ops.connections import DeadlineH11Protocol
from gateway.settings import Settings

TEST_POOL_SIZE = 2
TEST_MAX_OVERFLOW = 4
"""The tests share a database server with others (CI runs them with max_connections=40):
each engine of theirs (the session's catalogue, each test server's, each worker of a
``GatewayProcess``) keeps at most 2 connections open and opens up to 4 more for a burst,
closed after it. The gateway's defaults (20 and 5 per worker) are a deployment's."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GatewayServer:
    """The production app under uvicorn, as `icat-gateway serve` runs it."""

    def __init__(self, settings: Settings, hooks: Hooks | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings, hooks=hooks)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,  # as `icat-gateway serve`: the app reads trusted proxies'
            timeout_keep_alive=settings.keep_alive_timeout,
            http=partial(DeadlineH11Protocol, header_timeout=settings.header_timeout),  # type: ignore[arg-type]
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class GatewayProcess:
    """``icat-gateway serve`` in a process of its own (with its workers), configured by
    ``ICAT_GATEWAY_*`` variables as a deployment is; its log goes to ``log``."""

    def __init__(self, environment: Mapping[str, str], log: Path, *, workers: int = 1) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ICAT_GATEWAY_") and k != "PROMETHEUS_MULTIPROC_DIR"
        }
        bounded = {
            "ICAT_GATEWAY_DATABASE_POOL_SIZE": str(TEST_POOL_SIZE),
            "ICAT_GATEWAY_DATABASE_MAX_OVERFLOW": str(TEST_MAX_OVERFLOW),
        }
        self.environment = {
            "ICAT_GATEWAY_GRAPHIQL": "false",
            **bounded,
            **inherited,
            **environment,
        }
        self.command = [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--no-demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        self.workers = workers
        self._log_start = 0
        self.process: subprocess.Popen[bytes] | None = None

    def _started(self) -> bool:
        """Every worker has started: ``/readyz`` answers as soon as the first one has, and
        on a busy machine the others may take seconds more."""
        try:
            if httpx.get(self.base_url + "/readyz", timeout=2).status_code != 200:
                return False
        except httpx.TransportError:
            return False
        this_run = self.log.read_bytes()[self._log_start :]
        return this_run.count(b"Application startup complete") >= self.workers

    def __enter__(self) -> Self:
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command, env=self.environment, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited: {self.log.read_text()[-2000:]}")
            if self._started():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the gateway did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as an orchestrator stops a container; the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
