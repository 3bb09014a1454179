"""Root lists: one statement for a page, one more for its total, only if asked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.pagination import (
    PageRequest,
    SortKey,
    columns_by_name,
    order_terms,
    paged,
    supports_nulls_last,
)
from gateway.compiled.items import JSON_COLUMN, ItemRenderer, completed_or
from gateway.resolvers.loaders import fetch_all
from gateway.schema.connection import Connection, build_connection

T = TypeVar("T")

TOTAL_COLUMN = "_total"


def with_sort_columns(statement: Select[Any], keys: Sequence[SortKey]) -> Select[Any]:
    """Select the sort keys too (as ``_k0 ..``): the cursors are made of them."""
    return statement.add_columns(*(key.expression.label(f"_k{i}") for i, key in enumerate(keys)))


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
) -> Connection[T]:
    """A page of a root list, with a lazy total over the same filters; the list and
    ordering its cursors belong to are ``listing`` (``cursor_listing``); with ``render``,
    the page's statement renders the items' JSON too (``gateway.compiled``). With
    ``total`` (totalCount is asked for) the page's statement counts the list as well, in
    the same round trip; with ``costly_filter`` too (free text), on PostgreSQL, the filter
    is evaluated once for both (see :func:`_matched_once`)."""
    page = page.of(listing)
    statement_page, rendered = page_statement(
        engine.dialect.name, statement, keys, page, render, total=total, costly_filter=costly_filter
    )
    if render is not None and rendered:
        to_node = completed_or(render, to_node)
    rows = await fetch_all(engine, statement_page)
    count = counter(engine, statement)
    if total and rows:
        count = _known(int(rows[0]._mapping[TOTAL_COLUMN]))
    return build_connection(rows, page, len(keys), to_node, count)


def page_statement(
    dialect_name: str,
    statement: Select[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    render: ItemRenderer | None = None,
    *,
    total: bool = False,
    costly_filter: bool = False,
) -> tuple[Select[Any], bool]:
    """The statement of a root page (see :func:`root_connection`): its rows carry the
    sort keys as ``_k0 ..``, the total as ``_total`` with ``total``, the items' JSON as
    ``_json`` where ``render`` renders them; and whether it does."""
    native_nulls = supports_nulls_last(dialect_name)
    if total and costly_filter and dialect_name == "postgresql":
        return _matched_once(statement, keys, page, render, native_nulls)
    extra = []
    if total:
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        extra.append(counted.scalar_subquery().label(TOTAL_COLUMN))
    selected, rendered = _selecting(statement, render, extra)
    return paged(with_sort_columns(selected, keys), keys, page, native_nulls=native_nulls), rendered


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
    statement, rendered = _selecting(statement, render)
    if render is not None and rendered:
        to_object = completed_or(render, to_object)
    rows = await fetch_all(engine, statement.limit(1))
    return to_object(rows[0]) if rows else None


def select_rendered(statement: Select[Any], render: ItemRenderer) -> Select[Any] | None:
    """The statement selecting only its rows' rendered JSON (as ``_json``), or None if
    ``render`` cannot render them."""
    rendering = render.json(columns_by_name(statement))
    if rendering is None:
        return None
    json, _ = rendering
    return statement.with_only_columns(json.label(JSON_COLUMN), maintain_column_froms=True)


def _selecting(
    statement: Select[Any], render: ItemRenderer | None, extra: Sequence[Any] = ()
) -> tuple[Select[Any], bool]:
    """The statement with ``extra`` columns and, where ``render`` can render, the JSON
    column; whether it did. When the JSON is never NULL, the row's own columns are left
    out: they would only be read to be thrown away."""
    rendering = render.json(columns_by_name(statement)) if render is not None else None
    if rendering is None:
        return statement.add_columns(*extra), False
    json, complete = rendering
    columns = [json.label(JSON_COLUMN), *extra]
    if complete:
        return statement.with_only_columns(*columns, maintain_column_froms=True), True
    return statement.add_columns(*columns), True


def _matched_once(
    statement: Select[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    render: ItemRenderer | None,
    native_nulls: bool,
) -> tuple[Select[Any], bool]:
    """A page and the list's total from one evaluation of the filter; whether the items'
    JSON is rendered (see :func:`_selecting`).

    The matches' ids and sort keys are a materialised CTE: the total counts it, the page is
    its top rows (keyset conditions, order, limit), joined back to the statement for the
    columns.
    """
    ident = columns_by_name(statement)["id"]
    matches = (
        statement.with_only_columns(
            ident.label("id"),
            *(key.expression.label(f"_k{i}") for i, key in enumerate(keys)),
            maintain_column_froms=True,
        )
        .order_by(None)
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    matched_keys = [
        SortKey(matches.c[f"_k{i}"], key.descending, key.nullable) for i, key in enumerate(keys)
    ]
    top = paged(
        select(matches.c.id, *(key.expression for key in matched_keys)),
        matched_keys,
        page,
        native_nulls=native_nulls,
    ).subquery("top")
    top_keys = [
        SortKey(top.c[f"_k{i}"], key.descending, key.nullable) for i, key in enumerate(keys)
    ]
    counted = select(func.count()).select_from(matches).scalar_subquery().label(TOTAL_COLUMN)
    selected, rendered = _selecting(statement, render, [counted])
    statement_page = (
        selected.add_columns(*(top.c[f"_k{i}"] for i in range(len(keys))))
        .join(top, top.c.id == ident)
        .order_by(*order_terms(top_keys, reverse=page.backward, native_nulls=native_nulls))
    )
    return statement_page, rendered
