"""Root lists and lookups: a page of objects with its lazy total, or one object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.pages import TOTAL_COLUMN, OverMatches, page_statement, selecting
from gateway.catalogue.pagination import PageRequest, SortKey
from gateway.compiled.items import ItemRenderer, completed_or
from gateway.resolvers.loaders import fetch_all
from gateway.schema.connection import Connection, build_connection

T = TypeVar("T")


def counter(engine: AsyncEngine, statement: Select[Any]) -> Callable[[], Awaitable[int]]:
    """A thunk counting the rows of a filtered statement (run only if totalCount is asked)."""

    async def count() -> int:
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        rows = await fetch_all(engine, counted)
        return int(rows[0][0])

    return count


async def root_connection(
    engine: AsyncEngine,
    statement: Select[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    to_node: Callable[[Any], T],
    render: ItemRenderer | None = None,
    *,
    listing: str,
    total: bool = False,
    costly_filter: bool = False,
    columns_from: Select[Any] | None = None,
    facets: OverMatches | None = None,
) -> Connection[T]:
    """A page of a root list, with a lazy total over the same filters; the list and
    ordering its cursors belong to are ``listing`` (``cursor_listing``); with ``render``,
    the page's statement renders the items' JSON too (``gateway.compiled``). With
    ``total`` (totalCount is asked for) the page's statement counts the list as well, in
    the same round trip; with ``costly_filter`` too (free text), on PostgreSQL, the filter
    is evaluated once for both, and the page's columns are read from ``columns_from``
    where given (see ``pages._matched_once``); ``facets`` too, then in each row's
    ``_facets`` (see ``pages.page_statement``)."""
    page = page.of(listing)
    statement_page, rendered = page_statement(
        engine.dialect.name,
        statement,
        keys,
        page,
        render,
        total=total,
        costly_filter=costly_filter,
        columns_from=columns_from,
        facets=facets,
    )
    if render is not None and rendered:
        to_node = completed_or(render, to_node)
    rows = await fetch_all(engine, statement_page)
    count = counter(engine, statement)
    if total and rows:
        count = _known(int(rows[0]._mapping[TOTAL_COLUMN]))
    return build_connection(rows, page, len(keys), to_node, count)


def _known(value: int) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return value

    return count


async def root_object(
    engine: AsyncEngine,
    statement: Select[Any],
    to_object: Callable[[Any], T],
    render: ItemRenderer | None = None,
) -> T | None:
    """The first row of a statement as an object (None if there is none); with
    ``render``, as the JSON the statement renders where it can (``gateway.compiled``)."""
    statement, rendered = selecting(statement, render)
    if render is not None and rendered:
        to_object = completed_or(render, to_object)
    rows = await fetch_all(engine, statement.limit(1))
    return to_object(rows[0]) if rows else None
