"""Facets on a search's connection: counts per value over the caller's matches.

A search's counts are read by the page's own statement, as JSON, over the matches its
page and total read (:func:`facets_over`): the words are searched once. Elsewhere (a list
without free text, or a page past the last match) they are one statement of their own
(``gateway.catalogue.facets``), started beside the page's (on a connection of its own)
when the query asks for ``facets``, so that the filter panel costs no extra round trip
after the page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Sequence
from functools import lru_cache
from typing import Any

import strawberry
from sqlalchemy import ColumnElement, Select, column, literal_column, select, table, union_all
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import Caller
from gateway.catalogue.facets import facet_order, session_facet_columns, session_facet_counts
from gateway.catalogue.gateway_tables import OWN_SCHEMA
from gateway.catalogue.icat_rules.ruleset import IcatRules
from gateway.catalogue.pages import FACETS_COLUMN, MATCHES, OverMatches, shares_matches
from gateway.catalogue.search import named_values, nearest
from gateway.catalogue.text_search import Terms, highlighted
from gateway.catalogue.visibility import Access
from gateway.compiled.dialects import JsonDialect, json_dialect
from gateway.compiled.templates import (
    NOW,
    USER,
    RenderedJSON,
    Template,
    template_of,
    template_values,
)
from gateway.resolvers.loaders import fetch_all
from gateway.schema.connection import Connection
from gateway.schema.dataset import Dataset
from gateway.schema.info import Info
from gateway.schema.investigation import Investigation
from gateway.schema.node import global_id, instance
from gateway.schema.selections import selected, selected_under


@strawberry.type(description="One value of a facet and how many items of the list have it.")
class FacetCount:
    value: str = strawberry.field(description="The value (a name, a year, true or false).")
    count: int = strawberry.field(description="How many items of the whole list have it.")


Counts = dict[str, list[FacetCount]]


@strawberry.type(
    description="Counts per value over every session the search matches for the caller (not "
    "only the page), most frequent first: what a filter panel offers."
)
class SessionFacets:
    _counts: strawberry.Private[Counts]

    @strawberry.field(description="By beamline (a session on two counts under both).")
    def instrument(self) -> list[FacetCount]:
        return self._counts.get("instrument", [])

    @strawberry.field(description="By the year the session started.")
    def year(self) -> list[FacetCount]:
        return self._counts.get("year", [])

    @strawberry.field(description="By session type (experiment, ...).")
    def type(self) -> list[FacetCount]:
        return self._counts.get("type", [])

    @strawberry.field(description="By release state: true (released) or false (embargoed).")
    def released(self) -> list[FacetCount]:
        return self._counts.get("released", [])

    @strawberry.field(
        description="By technique of the session's datasets (those the caller may see)."
    )
    def technique(self) -> list[FacetCount]:
        return self._counts.get("technique", [])


@strawberry.type(
    description="Counts per value over every dataset the filter matches for the caller."
)
class DatasetFacets:
    _counts: strawberry.Private[Counts]

    @strawberry.field(description="By technique.")
    def technique(self) -> list[FacetCount]:
        return self._counts.get("technique", [])

    @strawberry.field(description="By dataset type.")
    def type(self) -> list[FacetCount]:
        return self._counts.get("type", [])

    @strawberry.field(description="By the name of the parameters recorded with the dataset.")
    def parameter(self) -> list[FacetCount]:
        return self._counts.get("parameter", [])


@strawberry.type(description="What a search matched in one session of the page.")
class SearchHighlight:
    investigation_id: strawberry.ID = strawberry.field(description="The session (its id).")
    title: str | None = strawberry.field(
        description="A fragment of its title (public) with the searched words, and the words "
        "they start, in <mark>...</mark> (other text HTML-escaped); null where the title does "
        "not hold them (the session matched by other landing facts or its data)."
    )


@strawberry.type(description="A filter value that names nothing, and the names nearest to it.")
class FilterSuggestion:
    argument: str = strawberry.field(description="The filter's argument, e.g. instrument.")
    given: str = strawberry.field(description="The value given.")
    nearest: list[str] = strawberry.field(
        description="Existing values nearest to it, most alike first (may be empty)."
    )


@strawberry.type(description="A page of sessions, Relay style, with the facets of the whole list.")
class InvestigationSearchConnection(Connection[Investigation]):
    _facets: strawberry.Private[Awaitable[Counts] | None] = None
    _terms: strawberry.Private[Terms | None] = None
    _filter: strawberry.Private[Any] = None

    @strawberry.field(
        description="For a beamline or session type in the filter that names none (a typo), "
        "the existing names nearest to it; empty when every one names something."
    )
    async def suggestions(self, info: Info) -> list[FilterSuggestion]:
        found = []
        for argument in ("instrument", "type"):
            value = getattr(self._filter, argument, None)
            names = named_values(info.context.access, argument)
            if value is None or names is None:
                continue
            rows = await fetch_all(info.context.engine, names)
            close = nearest(value, [row[0] for row in rows])
            if close is not None:
                found.append(FilterSuggestion(argument=argument, given=value, nearest=close))
        return found

    @strawberry.field(
        description="For each session of the page, in its order, what the search matched in "
        "its landing facts; empty without a search."
    )
    async def highlights(self, info: Info) -> list[SearchHighlight]:
        terms = self._terms
        if terms is None or not self._rows:
            return []
        # The id is the last sort key of every ordering (the row's own columns may have
        # been left out for the JSON the database rendered).
        ids = [row._mapping[self._cursor_names[-1]] for row in self._rows]
        rows = await info.context.loaders.investigation.load_many(ids)
        return [
            SearchHighlight(
                investigation_id=strawberry.ID(global_id("Investigation", id_)),
                title=highlighted(row._mapping["title"] if row is not None else None, terms),
            )
            for id_, row in zip(ids, rows, strict=True)
        ]

    @strawberry.field(description="Counts per value over the whole list, for a filter panel.")
    async def facets(self) -> SessionFacets:
        counts = await self._facets if self._facets is not None else {}
        return instance(SessionFacets, _counts=counts)


@strawberry.type(description="A page of datasets, Relay style, with the facets of the whole list.")
class DatasetSearchConnection(Connection[Dataset]):
    _facets: strawberry.Private[Awaitable[Counts] | None] = None

    @strawberry.field(description="Counts per value over the whole list, for a filter panel.")
    async def facets(self) -> DatasetFacets:
        counts = await self._facets if self._facets is not None else {}
        return instance(DatasetFacets, _counts=counts)


def selected_facets(info: Any, offered: Sequence[str]) -> list[str]:
    """The facets the query asks of the connection (through fragments too), in
    ``offered``'s order; empty when it asks for none."""
    names = {
        facet.name.value
        for field in selected(info)
        if field.name.value == "facets"
        for facet in selected_under(info, field)
    }
    return [name for name in offered if name in names]


def counting(engine: AsyncEngine, statement: Select[Any] | None) -> Awaitable[Counts] | None:
    """Start counting now (beside the page), to be awaited by the ``facets`` field."""
    if statement is None:
        return None

    async def count() -> Counts:
        counts: Counts = {}
        for facet, value, number in await fetch_all(engine, statement):
            counts.setdefault(facet, []).append(FacetCount(value=str(value), count=int(number)))
        return counts

    return asyncio.ensure_future(count())


def facets_over(
    dialect: Dialect, access: Access, names: Sequence[str], summarised: bool = False
) -> OverMatches | None:
    """The session facets ``names`` counted over a list's matches inside its page's
    statement, as one JSON array of {facet, value, count} in the counts' order; None
    where the database would search again to count them (not ``pages.shares_matches``),
    where the compiled renderer speaks no JSON for it, or none is asked.

    The counting's SQL depends only on the facets asked and the shape of the caller
    (staff or not, anonymous or not, the catalogue's rules): it is compiled once per
    shape, with placeholders for the request's clock and user name, and reused
    (``gateway.compiled.templates``), as building it and its cache key cost more than
    the database takes to count. ``summarised``: the sessions' techniques are summarised
    with the search documents (``catalogue.facets.session_facets``)."""
    json = json_dialect(dialect.name)
    if json is None or not names or not shares_matches(dialect.name):
        return None
    carried = session_facet_columns(access, names)
    caller = access.caller
    if caller.reviewer_link is not None or access.member_ids is not None:
        # Rare shapes (a reviewer link's datasets, a plan's CTE of the caller's sessions):
        # built for the request.
        return OverMatches(
            carried=carried,
            value=lambda matches: _counted(json, access, matches, names, summarised),
        )
    used = _template(
        dialect,
        tuple(names),
        tuple(column.name for column in carried),
        caller.is_staff,
        caller.user_name is None,
        access.rules,
        summarised,
    )
    values = template_values(access.now, caller.user_name)

    def counted(matches: Any) -> ColumnElement[Any]:
        # The template reads the matches by their name.
        assert matches.name == MATCHES, matches.name
        return RenderedJSON(used, {}, values)

    return OverMatches(carried=carried, value=counted)


def _counted(
    json: JsonDialect, access: Access, matches: Any, names: Sequence[str], summarised: bool
) -> ColumnElement[Any]:
    """The counts over ``matches`` as a JSON array (see :func:`facets_over`)."""
    counts = union_all(
        *session_facet_counts(access, matches, names, json.name, summarised)
    ).subquery("facet_counts")
    item = json.object(
        [
            literal_column("'facet'"),
            counts.c.facet,
            literal_column("'value'"),
            counts.c.value,
            literal_column("'count'"),
            counts.c["count"],
        ]
    )
    return json.array(select(item).select_from(counts), facet_order(counts))


@lru_cache(maxsize=256)
def _template(
    dialect: Dialect,
    names: tuple[str, ...],
    carried: tuple[str, ...],
    is_staff: bool,
    anonymous: bool,
    rules: IcatRules | None,
    summarised: bool,
) -> Template:
    """:func:`_counted` for a shape of caller, compiled with placeholders for the
    request's values, over a stand-in for the matches of that name and columns."""
    placeholders = Access(
        caller=Caller(user_name=None if anonymous else literal_column(USER), is_staff=is_staff),  # type: ignore[arg-type]
        now=literal_column(NOW),  # type: ignore[arg-type]
        rules=rules,
    )
    matches = table(MATCHES, column("id"), *(column(name) for name in carried))
    json = json_dialect(dialect.name)
    assert json is not None
    expression = _counted(json, placeholders, matches, names, summarised)
    # The gateway's own tables keep their schema's placeholder (see
    # ``gateway.compiled.templates.template``).
    sql = str(
        expression.compile(
            dialect=dialect,
            schema_translate_map={OWN_SCHEMA: OWN_SCHEMA},
            compile_kwargs={"literal_binds": True},
        )
    )
    return template_of(sql, complete=True)


def counted_in_page(rows: Sequence[Any]) -> Awaitable[Counts] | None:
    """The counts the page's first row carries (:func:`facets_over`); None without rows
    (past the last match, or none: the counts are then read on their own)."""
    if not rows:
        return None
    value = rows[0]._mapping[FACETS_COLUMN]
    counts: Counts = {}
    for item in json.loads(value) if isinstance(value, str | bytes) else value:
        counts.setdefault(item["facet"], []).append(
            FacetCount(value=str(item["value"]), count=int(item["count"]))
        )
    known: asyncio.Future[Counts] = asyncio.get_running_loop().create_future()
    known.set_result(counts)
    return known


def with_facets(
    connection: Connection[Investigation],
    facets: Awaitable[Counts] | None,
    terms: Terms | None = None,
    filter: Any = None,
) -> InvestigationSearchConnection:
    """The page as a search's connection, with the facets being counted, the words
    searched (for the highlights) and the filter (for the suggestions)."""
    return instance(
        InvestigationSearchConnection,
        **vars(connection),
        _facets=facets,
        _terms=terms,
        _filter=filter,
    )


def datasets_with_facets(
    connection: Connection[Dataset], facets: Awaitable[Counts] | None
) -> DatasetSearchConnection:
    """The page of datasets with their facets being counted."""
    return instance(DatasetSearchConnection, **vars(connection), _facets=facets)
