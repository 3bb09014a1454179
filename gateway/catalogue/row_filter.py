"""A condition a statement tests on each row it reads, never one that picks its index.

SQLite plans without statistics: each plain condition in a WHERE clause counts as halving
the rows a scan yields, and a subquery's none. A list read in the order of an index up to
the end of its page (the sessions by start date) then looks costlier to it, under one more
plain condition, than reading a range of another index (the released sessions, by release
date) and sorting all of it; and it builds each row's answer before the sort, for every
row of the range rather than for the page's. Under ICAT's rules the condition under which
a session is listed holds such conditions (``o.releaseDate < CURRENT_TIMESTAMP``): written
as ``EXISTS (SELECT 1 WHERE ...)`` on SQLite it is the same test of the same row, which
SQLite no longer counts. Other databases plan with statistics and get the condition as
it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class row_filter(FunctionElement[bool]):
    """``condition``, tested on each row (see the module's docstring)."""

    name = "row_filter"
    type = Boolean()
    inherit_cache = True

    def __init__(self, condition: ColumnElement[bool]) -> None:
        super().__init__(condition)


@compiles(row_filter)
def _row_filter_default(element: row_filter, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(row_filter, "sqlite")
def _row_filter_sqlite(element: row_filter, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXISTS (SELECT 1 WHERE {compiler.process(element.clauses, **kw)})"
