"""Which statements the compiled path sent: those that render objects as JSON. Without
one, a query compiled was answered by the standard resolvers alone (``compiled_sql``
changes nothing else), so the tests that compare the paths need not run it again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


def renders_json(statement: str) -> bool:
    """Whether a statement renders objects as JSON (on any dialect)."""
    lowered = statement.lower()
    return "json_build_object(" in lowered or "json_object(" in lowered


@contextmanager
def json_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements rendering JSON that ``engine`` sends while the block runs."""
    rendered: list[str] = []

    def spot(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if renders_json(statement):
            rendered.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", spot)
    try:
        yield rendered
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", spot)
