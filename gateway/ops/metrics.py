"""Prometheus metrics at GET /metrics, correct with several worker processes.

With several workers each process counts on its own, and a scrape reaches one of them:
``icat-gateway serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` (a fresh directory) before the
workers start, prometheus_client then keeps every process's values in files there, and
the worker that answers a scrape adds them all up (``MultiProcessCollector``). Without the
variable (one process) the values are the process's own.

Label values are bounded, so that a client cannot grow the series without end: operation
names are the client's ``operationName`` when it is a valid GraphQL name, the first
``metrics_operation_names`` of them per worker, then ``other``; no name is ``anonymous``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from gateway.ops.record import RequestRecord

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The gateway's metrics, on a registry of their own (one per application)."""

    def __init__(self, operation_names: int = 200) -> None:
        self.registry = CollectorRegistry()
        self.operation_names = operation_names
        self.pools: list[tuple[str, AsyncEngine]] = []
        """The (name, engine) pairs whose pools are reported, after each GraphQL request
        (every worker's gauges stay current, not only the one that answers scrapes)."""
        self._seen: set[str] = set()
        labels = ("operation", "path")
        self.requests = Counter(
            "icat_gateway_graphql_requests",
            "GraphQL requests, by operation, path (planned, standard or refused) and status.",
            (*labels, "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "icat_gateway_graphql_request_duration_seconds",
            "Time from the request's arrival to its last byte, by operation and path.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "icat_gateway_errors",
            "Errors in responses, by extensions.code (requests refused before GraphQL too).",
            ("code",),
            registry=self.registry,
        )
        self.http = Counter(
            "icat_gateway_http_requests",
            "Every HTTP request, by status (health checks and metrics included).",
            ("status",),
            registry=self.registry,
        )
        self.pool = Gauge(
            "icat_gateway_database_connections",
            "Connections of each database pool: in use, idle and open beyond the pool size.",
            ("pool", "state"),
            multiprocess_mode="livesum",
            registry=self.registry,
        )

    def operation_label(self, name: str | None) -> str:
        if name is None or name == "":
            return "anonymous"
        if not _NAME.fullmatch(name):
            return "other"
        if name in self._seen:
            return name
        if len(self._seen) >= self.operation_names:
            return "other"
        self._seen.add(name)
        return name

    def observe(self, record: RequestRecord, seconds: float) -> None:
        """Count one answered request."""
        self.http.labels(str(record.status)).inc()
        for code in record.codes:
            self.errors.labels(_code_label(code)).inc()
        if record.path is None:
            return
        operation = self.operation_label(record.operation)
        self.requests.labels(operation, record.path, str(record.status)).inc()
        self.latency.labels(operation, record.path).observe(seconds)
        self.observe_pools(self.pools)

    def observe_pools(self, pools: Iterable[tuple[str, AsyncEngine]]) -> None:
        for name, engine in pools:
            pool = engine.sync_engine.pool
            if not isinstance(pool, QueuePool):
                continue  # SQLite: a connection per checkout, nothing pooled
            self.pool.labels(name, "in_use").set(pool.checkedout())
            self.pool.labels(name, "idle").set(pool.checkedin())
            self.pool.labels(name, "overflow").set(max(0, pool.overflow()))

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets: every worker's values in multiprocess mode."""
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @staticmethod
    def process_exited() -> None:
        """A stopping worker's live gauges leave the sums (multiprocess mode)."""
        if multiprocess():
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def _code_label(code: str) -> str:
    return code if _CODE.fullmatch(code) else "OTHER"
