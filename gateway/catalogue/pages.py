"""The statements of root pages: sort keys for cursors, the total, the rendered items.

Statement builders only (no I/O): ``gateway.schema.listing`` runs them for the standard
path and ``gateway.compiled.operations`` puts them into operation plans. ``render`` is a
:class:`Renderer`: what ``gateway.compiled.items.Renderer`` offers, the JSON of a
row's object, seen without the compiler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import CTE, ColumnElement, Select, false, func, select

from gateway.catalogue.pagination import (
    PageRequest,
    SortKey,
    columns_by_name,
    order_terms,
    paged,
    supports_nulls_last,
)
from gateway.catalogue.row_filter import counted_plainly

TOTAL_COLUMN = "_total"
JSON_COLUMN = "_json"
FACETS_COLUMN = "_facets"
MATCHES = "matches"
"""The name of the CTE of a page's matches, which ``OverMatches.value`` reads."""


@dataclass(frozen=True)
class OverMatches:
    """A value computed from the list's matches, read in the page's statement as
    ``_facets``: the facets' counts of a search. ``carried``: labelled columns of the
    list's statement that the CTE of matches holds beside each match's ``id`` (what the
    value groups by, read while the match is read); ``value``: the value, given that CTE."""

    carried: Sequence[Any]
    value: Callable[[Any], ColumnElement[Any]]


class Renderer(Protocol):
    """Renders the JSON of a row's object from the row's columns (``gateway.compiled``)."""

    def json(self, cols: Mapping[str, Any]) -> tuple[ColumnElement[Any], bool] | None:
        """The JSON and whether it is never NULL; None if it cannot be rendered."""


def with_sort_columns(statement: Select[Any], keys: Sequence[SortKey]) -> Select[Any]:
    """Select the sort keys too (as ``_k0 ..``): the cursors are made of them."""
    return statement.add_columns(*(key.expression.label(f"_k{i}") for i, key in enumerate(keys)))


def page_statement(
    dialect_name: str,
    statement: Select[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    render: Renderer | None = None,
    *,
    total: bool = False,
    costly_filter: bool = False,
    columns_from: Select[Any] | None = None,
    facets: OverMatches | None = None,
) -> tuple[Select[Any], bool]:
    """The statement of a root page (see :func:`root_connection`): its rows carry the
    sort keys as ``_k0 ..``, the total as ``_total`` with ``total``, the items' JSON as
    ``_json`` where ``render`` renders them; and whether it does. ``columns_from``: see
    :func:`_matched_once`. With ``costly_filter``, ``facets`` is read as ``_facets`` from
    the same matches as the page and total (the caller counts them otherwise: without a
    costly filter the page does not evaluate the whole list)."""
    native_nulls = supports_nulls_last(dialect_name)
    if costly_filter and (total or facets is not None):
        return _matched_once(
            statement, keys, page, render, native_nulls, columns_from, dialect_name, facets
        )
    extra = []
    if total:
        plain = counted_plainly(statement.order_by(None))
        counted = select(func.count()).select_from(plain.subquery())
        extra.append(counted.scalar_subquery().label(TOTAL_COLUMN))
    selected, rendered = selecting(statement, render, extra)
    return paged(with_sort_columns(selected, keys), keys, page, native_nulls=native_nulls), rendered


def shares_matches(dialect_name: str) -> bool:
    """Whether the database evaluates a CTE once for every place that reads it, written
    as :func:`evaluated_once` writes it: PostgreSQL and SQLite (told ``MATERIALIZED``),
    MariaDB and MySQL (a recursive CTE)."""
    return dialect_name in ("postgresql", "sqlite") or _recursive_shares(dialect_name)


def _recursive_shares(dialect_name: str) -> bool:
    return dialect_name in ("mariadb", "mysql")


def evaluated_once(statement: Select[Any], name: str, dialect_name: str) -> CTE:
    """``statement`` as a CTE the database fills once, however many places read it
    (where :func:`shares_matches`). PostgreSQL and SQLite take the ``MATERIALIZED`` hint.
    MariaDB has none and fills a plain CTE again for each reference (a search per
    reading), but a recursive CTE once for all of them (10.11: four reads of one search's
    matches 16.4 ms as a plain CTE, 6.0 ms as a recursive one): so there it is a recursive
    CTE whose recursive member finds nothing."""
    if _recursive_shares(dialect_name):
        cte = statement.cte(name, recursive=True)
        return cte.union_all(select(*cte.c).where(false()))
    cte = statement.cte(name)
    if shares_matches(dialect_name):
        cte = cte.prefix_with("MATERIALIZED")
    return cte


def select_rendered(statement: Select[Any], render: Renderer) -> Select[Any] | None:
    """The statement selecting only its rows' rendered JSON (as ``_json``), or None if
    ``render`` cannot render them."""
    rendering = render.json(columns_by_name(statement))
    if rendering is None:
        return None
    json, _ = rendering
    return statement.with_only_columns(json.label(JSON_COLUMN), maintain_column_froms=True)


def selecting(
    statement: Select[Any], render: Renderer | None, extra: Sequence[Any] = ()
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
    render: Renderer | None,
    native_nulls: bool,
    columns_from: Select[Any] | None = None,
    dialect_name: str = "postgresql",
    facets: OverMatches | None = None,
) -> tuple[Select[Any], bool]:
    """A page and the list's total (and ``facets``) from one evaluation of the filter;
    whether the items' JSON is rendered (see :func:`_selecting`).

    The matches' ids and sort keys are a CTE filled once (:func:`evaluated_once`), or, where
    the database would fill it again for each reading (MariaDB) and nothing but the page
    reads it, a derived table whose window counts it: the total counts it, the page is
    its top rows (keyset conditions, order, limit), joined back for the columns to
    ``columns_from``: a statement selecting the same columns by the same ``id`` without
    the costly filter (the top rows passed it already; joined back to the statement
    itself, PostgreSQL evaluates a free-text search a second time, since the join cannot
    reach into its grouped scores). Without it, the statement itself.
    """
    ident = columns_by_name(statement)["id"]
    matched = statement.with_only_columns(
        ident.label("id"),
        *(key.expression.label(f"_k{i}") for i, key in enumerate(keys)),
        *(facets.carried if facets is not None else ()),
        maintain_column_froms=True,
    ).order_by(None)
    # MariaDB's recursive CTE is kept for a page that reads the matches more than once.
    materialized = shares_matches(dialect_name) and (
        facets is not None or not _recursive_shares(dialect_name)
    )
    counted: Any
    if materialized:
        matches: Any = evaluated_once(matched, MATCHES, dialect_name)
        found: Any = matches
        counted = select(func.count()).select_from(matches).scalar_subquery()
    else:
        # Only the page reads the matches: they are read once, the total a window over
        # all of them (before the keyset's cut).
        matches = matched.cte(MATCHES)
        found = select(*matches.c, func.count().over().label(TOTAL_COLUMN)).subquery("found")
    matched_keys = [
        SortKey(found.c[f"_k{i}"], key.descending, key.nullable) for i, key in enumerate(keys)
    ]
    top = paged(
        select(
            found.c.id,
            *(key.expression for key in matched_keys),
            *([] if materialized else [found.c[TOTAL_COLUMN]]),
        ),
        matched_keys,
        page,
        native_nulls=native_nulls,
    ).subquery("top")
    top_keys = [
        SortKey(top.c[f"_k{i}"], key.descending, key.nullable) for i, key in enumerate(keys)
    ]
    if not materialized:
        counted = top.c[TOTAL_COLUMN]
    extra = [counted.label(TOTAL_COLUMN)]
    if facets is not None:
        extra.append(facets.value(matches).label(FACETS_COLUMN))
    source = statement if columns_from is None else columns_from
    selected, rendered = selecting(source, render, extra)
    statement_page = (
        selected.add_columns(*(top.c[f"_k{i}"] for i in range(len(keys))))
        .join(top, top.c.id == columns_by_name(source)["id"])
        .order_by(*order_terms(top_keys, reverse=page.backward, native_nulls=native_nulls))
    )
    return statement_page, rendered
