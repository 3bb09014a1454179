"""A request's time budget, and the statements it started.

The gate runs each request in a task of its own within ``settings.request_timeout``.
The statements it starts are recorded as they begin (SQLAlchemy's
``before_cursor_execute``, which runs in the task that sends the statement: the
request's own, or a data loader's batch task started on its behalf, which inherits its
context). When the budget runs out or the client disconnects, every one of those tasks
is cancelled: asyncpg then sends PostgreSQL a cancel request, and the other drivers drop
the connection. The engines' server-side limits (``create_engine(statement_timeout=)``)
are the backstop for a statement no task is waiting on any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.database import STATEMENT_DEADLINE


class Statements:
    """The tasks that sent statements for one request."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.sent = 0

    def cancel(self) -> None:
        for task in self.tasks:
            if not task.done():
                task.cancel()


_CURRENT: ContextVar[Statements | None] = ContextVar("gate_statements", default=None)


class StatementGuard:
    """Records the statements of the request being run (see the module)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def attach(self, engine: AsyncEngine) -> None:
        if not event.contains(engine.sync_engine, "before_cursor_execute", _record):
            event.listen(engine.sync_engine, "before_cursor_execute", _record)

    @contextlib.contextmanager
    def tracking(self) -> Iterator[Statements]:
        statements = Statements()
        token = _CURRENT.set(statements)
        deadline = STATEMENT_DEADLINE.set(time.monotonic() + self.timeout)
        try:
            yield statements
        finally:
            STATEMENT_DEADLINE.reset(deadline)
            _CURRENT.reset(token)


def _record(*_: Any) -> None:
    statements = _CURRENT.get()
    if statements is None:
        return
    statements.sent += 1
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return
    if task is not None:
        statements.tasks.add(task)
