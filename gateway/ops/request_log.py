"""Request ids, the access log and per-request metrics: the outermost layer of the app.

Every request gets an id: the client's (or its proxy's) ``X-Request-Id`` when it is a
sane token, a new one otherwise. It is sent back in ``X-Request-Id``, put on every log
line written while the request runs (a context variable read by a logging filter), and
the masked ``INTERNAL_SERVER_ERROR`` gives it to the client so a report can be matched
with the log. When the response has gone, one access line (JSON) and the metrics are
written from the request's record (``gateway.ops.record``).
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import sys
import time
import uuid
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.ops.metrics import Metrics
from gateway.ops.record import SCOPE_KEY, RequestRecord
from gateway.ops.tracing import current_trace_id

access_logger = logging.getLogger("gateway.access")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the running request's id on each record (``request_id``; absent outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        if not hasattr(record, "trace_id"):
            trace_id = current_trace_id()
            if trace_id is not None:
                record.trace_id = trace_id
        return True


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is written, not to the stream
    it was when logging was configured (a test's captured stream, since closed)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def log_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the gateway and uvicorn: JSON lines (``time``,
    ``level``, ``logger``, ``message``, ``request_id`` and the access fields) or text."""
    formatter: dict[str, Any]
    if log_format == "json":
        formatter = {
            "()": JsonFormatter,
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
            # uvicorn passes its message again with terminal colours: not for a log shipper
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
        }
    else:
        formatter = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    handler = {
        "()": StderrHandler,
        "formatter": "gateway",
        "filters": ["request_id"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"gateway": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's own handlers off: every line goes through the root's formatter.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            # Alembic narrates every run at INFO (its plugins, the dialect): each worker of a
            # start would print it; the gateway logs once what a migration changed.
            "alembic": {"level": "WARNING"},
            # warnings.warn (SQLAlchemy's among them) as records of this format, one a line
            "py.warnings": {"level": "WARNING"},
        },
    }


def configure_logging(log_format: str, level: str = "INFO") -> None:
    """Every logger of this process in one format (:func:`log_config`), Python's warnings
    included. uvicorn applies the same configuration in each worker it starts."""
    logging.config.dictConfig(log_config(log_format, level))
    logging.captureWarnings(False)  # again, should something have replaced the hook since
    logging.captureWarnings(True)


class RequestLogMiddleware:
    """Request id in and out, the access line and the metrics of every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        # The request's own header says the id from here on (the gate reads it there).
        scope["headers"] = [
            *(item for item in scope["headers"] if item[0] != REQUEST_ID_HEADER),
            (REQUEST_ID_HEADER, request_id.encode()),
        ]
        record = RequestRecord(request_id=request_id)
        scope[SCOPE_KEY] = record
        token = current_request_id.set(request_id)
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == REQUEST_ID_HEADER for name, _ in headers):
                    headers.append(header)  # the gate sets its own (the same id)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            record.status = record.status or 500
            raise
        finally:
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe(record, seconds)
            _log_access(scope, record, seconds)
            current_request_id.reset(token)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if _SANE_ID.fullmatch(value):
                return bytes(value).decode()
            break
    return new_request_id()


def _log_access(scope: Scope, record: RequestRecord, seconds: float) -> None:
    if not access_logger.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    fields: dict[str, Any] = {
        "request_id": record.request_id,
        "method": scope["method"],
        "path": scope["path"],
        "status": record.status,
        "duration_ms": round(seconds * 1000, 3),
        "client": client[0] if client else None,
    }
    if record.path is not None:
        fields["operation"] = record.operation
        fields["answered_by"] = record.path
        if record.cost is not None:
            fields["cost"] = record.cost
    if record.codes:
        fields["codes"] = record.codes
    access_logger.info("%s %s %d", scope["method"], scope["path"], record.status, extra=fields)
