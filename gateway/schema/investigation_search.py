"""Listing sessions: the root list and "My data" share filters, orderings and paging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select

from gateway.catalogue import queries
from gateway.catalogue.facets import SESSION_FACETS, session_facets, session_facets_in_one_pass
from gateway.catalogue.ordering import NEWEST_FIRST, RELEVANCE, investigation_keys, relevance_keys
from gateway.catalogue.pagination import PageRequest, SortKey, cursor_listing
from gateway.catalogue.search import investigation_conditions
from gateway.catalogue.text_search import (
    TextIndex,
    TextMatch,
    search_terms,
    session_text_match,
    text_index,
)
from gateway.catalogue.visibility import Access
from gateway.compiled.items import item_renderer
from gateway.errors import BadUserInput
from gateway.schema.connection import wants_total
from gateway.schema.facets import (
    InvestigationSearchConnection,
    counted_in_page,
    counting,
    facets_over,
    selected_facets,
    with_facets,
)
from gateway.schema.info import Info
from gateway.schema.inputs import InvestigationFilter, InvestigationOrder
from gateway.schema.investigation import Investigation
from gateway.schema.kept import (
    SENTINEL,
    KeptSearch,
    built,
    fetched,
    kept,
    planned_access,
    shape_key,
)
from gateway.schema.listing import root_connection

TEXT_INDEX = "text_index"
"""Where a request's context holds the free-text index's state it read (``extra``): the
gate plans a search's operation for it (``compiled.operations``)."""


async def request_text_index(info: Info) -> TextIndex:
    """The free-text index's state, once per request (``text_search.text_index``: held by the
    process for a few seconds)."""
    extra = info.context.extra
    if TEXT_INDEX not in extra:
        extra[TEXT_INDEX] = await text_index(info.context.engine)
    index: TextIndex = extra[TEXT_INDEX]
    return index


async def text_match_of(info: Info, filter: InvestigationFilter | None) -> TextMatch | None:
    """The filter's free text for this caller, or None without one."""
    if filter is None or filter.search is None:
        return None
    return session_text_match(info.context.access, filter.search, await request_text_index(info))


def filtered(
    statement: Select[Any],
    access: Any,
    filter: InvestigationFilter | None,
    match: TextMatch | None,
) -> Select[Any]:
    """A statement over sessions narrowed by the filter, its free text included."""
    if filter is not None:
        statement = statement.where(*investigation_conditions(access, filter))
    if match is not None:
        statement = match.applied(statement)
    return statement


def session_ordering(
    order_by: InvestigationOrder | None, match: TextMatch | None
) -> tuple[str, bool]:
    """The ordering asked for: most relevant first when searching, else newest first."""
    if order_by is not None:
        return order_by.key()
    return (RELEVANCE, True) if match is not None else NEWEST_FIRST


def session_keys(order: tuple[str, bool], match: TextMatch | None, access: Access) -> list[SortKey]:
    """The sort keys of an ordering; RELEVANCE ranks a search's matches."""
    field, descending = order
    if field != RELEVANCE:
        return investigation_keys(field, descending, access)
    if match is None:
        raise BadUserInput(
            "RELEVANCE orders a search: give `filter.search`, or another order.",
            argument="orderBy",
        )
    return relevance_keys(match.relevance, descending)


async def search_investigations(
    info: Info,
    name: str,
    filter: InvestigationFilter | None,
    order_by: InvestigationOrder | None,
    page: PageRequest,
    *within: ColumnElement[bool],
) -> InvestigationSearchConnection:
    """A page of sessions matching the filter (and any further conditions), sorted, with
    the facets of all of them when asked. The list's ``name`` tells its cursors from
    another list's; the filter does not: a cursor is a position in the ordering, which
    the pages of another filter share."""
    context = info.context
    if not within:
        kept = await kept_search(info, name, filter, order_by, page)
        if kept is not None:
            return kept
    match = await text_match_of(info, filter)
    order = session_ordering(order_by, match)
    keys = session_keys(order, match, context.access)
    statement = filtered(
        queries.investigations(context.access).where(*within), context.access, filter, match
    )
    facets = selected_facets(info, SESSION_FACETS)
    # The technique facet reads the summary the search documents' refresh keeps, where
    # they are built (``catalogue.facets``).
    index = await request_text_index(info) if match is not None or "technique" in facets else None
    summarised = index is not None and index.built
    # A search counts its facets in the page's statement, over the matches it reads.
    in_page = (
        facets_over(context.engine.dialect, context.access, facets, summarised) if match else None
    )

    def counted() -> Select[Any] | None:
        return facets_statement(info, filter, facets, index, within)

    counts = None if in_page is not None else counting(context.engine, counted())
    now = context.now
    connection = await root_connection(
        context.engine,
        statement,
        keys,
        page,
        lambda row: Investigation.from_row(row, now),
        item_renderer(info),
        listing=cursor_listing(name, order),
        total=wants_total(info),
        costly_filter=match is not None,
        # The page's rows by id, the text not searched again (their ids matched it).
        columns_from=queries.investigations(context.access) if match is not None else None,
        facets=in_page,
    )
    if in_page is not None:
        counts = counted_in_page(connection._rows) or counting(context.engine, counted())
    terms = search_terms(filter.search) if filter is not None and filter.search else None
    return with_facets(connection, counts, terms, filter)


def facets_statement(
    info: Info,
    filter: InvestigationFilter | None,
    facets: Sequence[str],
    index: TextIndex | None,
    within: Sequence[ColumnElement[bool]] = (),
) -> Select[Any] | None:
    """The facets' statement of their own: a list without free text, or a page with no
    rows to carry them (see ``facets_over``). MariaDB, which fills a plain CTE again for
    each reading, reads the sessions in one pass. ``index``: the free-text index's state
    (read where the filter searches or the technique facet is asked: built, the sessions'
    techniques are summarised), or None."""
    if not facets:
        return None
    context = info.context
    base = queries.investigations(context.access).where(*within)
    # The same sessions without their ranks (built only here: a page that carries its
    # counts never needs them).
    unranked = (
        session_text_match(context.access, filter.search, index, ranked=False)
        if index is not None and filter is not None and filter.search is not None
        else None
    )
    matched = filtered(base, context.access, filter, unranked)
    summarised = index is not None and index.built
    if context.engine.dialect.name in ("mariadb", "mysql"):
        return session_facets_in_one_pass(context.access, matched, facets, summarised)
    return session_facets(context.access, matched, facets, context.engine.dialect.name, summarised)


# A search's statement, kept (``gateway.schema.kept``) ---------------------------------


def _searching(order_by: InvestigationOrder | None) -> tuple[str, bool]:
    """A search's ordering (``session_ordering`` with free text)."""
    return order_by.key() if order_by is not None else (RELEVANCE, True)


def _kept(
    info: Info, name: str, order_by: InvestigationOrder | None, page: PageRequest, index: TextIndex
) -> KeptSearch | None:
    """The statement of a search of sessions of this request's shape (``kept.built``)."""
    planned = planned_access(info.context.access)
    match = session_text_match(planned, SENTINEL, index)
    order = session_ordering(order_by, match)
    keys = session_keys(order, match, planned)
    facets = selected_facets(info, SESSION_FACETS)
    in_page = facets_over(info.context.engine.dialect, planned, facets, index.built)
    if facets and in_page is None:
        return None
    return built(
        info,
        planned,
        match.applied(queries.investigations(planned)),
        keys,
        page.of(cursor_listing(name, order)),
        columns_from=queries.investigations(planned),
        facets=in_page,
    )


async def kept_search(
    info: Info,
    name: str,
    filter: InvestigationFilter | None,
    order_by: InvestigationOrder | None,
    page: PageRequest,
) -> InvestigationSearchConnection | None:
    """A search's page from the statement kept for its shape (``gateway.schema.kept``):
    its shape is the list, the ordering and the facets asked besides ``kept.shape_key``'s.
    None: the search is built for the request."""
    if filter is None or filter.search is None:
        return None
    terms = search_terms(filter.search)
    index = await request_text_index(info)
    common = shape_key(info, filter, page, index, terms)
    if common is None:
        return None
    facets = selected_facets(info, SESSION_FACETS)
    key = (name, _searching(order_by), tuple(facets), *common)
    found = kept(info.context.engine, key, lambda: _kept(info, name, order_by, page, index))
    if found is None:
        return None
    now = info.context.now

    def to_node(row: Any) -> Investigation:
        return Investigation.from_row(row, now)

    listed = page.of(cursor_listing(name, _searching(order_by)))
    connection, rows = await fetched(info, found, index, terms, listed, to_node)
    counts = (
        counted_in_page(rows)
        or counting(info.context.engine, facets_statement(info, filter, facets, index))
        if facets
        else None
    )
    return with_facets(connection, counts, terms, filter)
