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

A rule's condition that joins a one-to-many field of the row (a session's team) is a
correlated ``EXISTS``, which SQLite runs again for every row it tests: listing sessions
where few are readable, that is every session down the ordering's index, and every session
again for the total. :class:`semi_join` gives SQLite the same test as ``id IN (<the keys
the rule selects>)``, a set it builds once per statement, then probes; other databases
plan both forms as the same semi-join and get the ``EXISTS``.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Boolean, ColumnElement, Select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import replacement_traverse


class row_filter(FunctionElement[bool]):
    """``condition``, tested on each row (see the module's docstring)."""

    name = "row_filter"
    type = Boolean()
    inherit_cache = True

    def __init__(self, condition: ColumnElement[bool]) -> None:
        super().__init__(condition)


def counted_plainly(statement: Select[Any]) -> Select[Any]:
    """``statement`` with each :class:`row_filter` replaced by its condition: what a count
    reads, in no order (no index to keep), so that SQLite plans the condition itself (an
    ``OR`` of indexed terms is then read index by index, not tested row by row)."""

    def plain(element: Any, **_: Any) -> Any:
        return element.clauses.clauses[0] if isinstance(element, row_filter) else None

    replaced: Any = replacement_traverse(statement, {}, plain)
    return cast(Select[Any], replaced)


@compiles(row_filter)
def _row_filter_default(element: row_filter, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(row_filter, "sqlite")
def _row_filter_sqlite(element: row_filter, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXISTS (SELECT 1 WHERE {compiler.process(element.clauses, **kw)})"


class semi_join(FunctionElement[bool]):
    """``correlated`` (an ``EXISTS``), or on SQLite ``keyed`` (the same test as ``id IN
    (<uncorrelated keys>)``, never NULL: the keys hold no NULL and the id is never NULL)."""

    name = "semi_join"
    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True  # a condition as it is (no "= 1": SQLite indexes it)

    def __init__(self, correlated: ColumnElement[bool], keyed: ColumnElement[bool]) -> None:
        super().__init__(correlated, keyed)


@compiles(semi_join)
def _semi_join_default(element: semi_join, compiler: SQLCompiler, **kw: Any) -> str:
    correlated, _ = element.clauses.clauses
    return str(compiler.process(correlated, **kw))


@compiles(semi_join, "sqlite")
def _semi_join_sqlite(element: semi_join, compiler: SQLCompiler, **kw: Any) -> str:
    _, keyed = element.clauses.clauses
    return f"({compiler.process(keyed, **kw)})"
