"""Listing sessions: the root list and "My data" share filters, orderings and paging."""

from __future__ import annotations

import dataclasses
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Select, String, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import Caller
from gateway.catalogue import queries
from gateway.catalogue.facets import SESSION_FACETS, session_facets, session_facets_in_one_pass
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.catalogue.ordering import NEWEST_FIRST, investigation_keys
from gateway.catalogue.pages import TOTAL_COLUMN, page_statement
from gateway.catalogue.pagination import PageRequest, SortKey, cursor_listing
from gateway.catalogue.search import investigation_conditions
from gateway.catalogue.text_search import (
    TEXT_BIND,
    Terms,
    TextIndex,
    TextMatch,
    search_terms,
    session_text_match,
    text_binds,
    text_index,
    text_shape,
)
from gateway.catalogue.visibility import Access
from gateway.compiled.items import ItemRenderer, completed_or, item_renderer
from gateway.compiled.operations import NOW, USER
from gateway.compiled.templates import cursor_fields
from gateway.errors import BadUserInput
from gateway.resolvers.loaders import fetch_all
from gateway.schema.connection import build_connection, wants_total
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
from gateway.schema.listing import root_connection

RELEVANCE = "RELEVANCE"


async def request_text_index(info: Info) -> TextIndex:
    """The free-text index's state, once per request (``text_search.text_index``: held by the
    process for a few seconds)."""
    extra = info.context.extra
    if "text_index" not in extra:
        extra["text_index"] = await text_index(info.context.engine)
    index: TextIndex = extra["text_index"]
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
    return [SortKey(match.relevance, descending), SortKey(InvestigationRow.id, descending)]


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
    # A search counts its facets in the page's statement, over the matches it reads.
    in_page = facets_over(context.engine.dialect, context.access, facets) if match else None

    index = await request_text_index(info) if match is not None else None

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
    each reading, reads the sessions in one pass."""
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
    if context.engine.dialect.name in ("mariadb", "mysql"):
        return session_facets_in_one_pass(context.access, matched, facets)
    return session_facets(context.access, matched, facets, context.engine.dialect.name)


# A search's statement, kept ----------------------------------------------------------

SENTINEL = "gwtextsentinel"
"""The word a kept statement is built with: found anywhere but in the words' own bind
parameters (``text_search.text_binds``), the statement is not kept."""

KEPT_SEARCHES = 256
"""How many shapes of search a process keeps the statement of."""


@dataclass(frozen=True)
class KeptSearch:
    """A search's page statement (page, total, facets, the items' JSON) built once for
    its shape, with bind parameters for the words (``text_search.text_binds``), the
    request's clock and the caller's user name (``gateway.compiled.operations``' names)."""

    statement: Select[Any]
    matched: Select[Any]
    """The sessions it matches (for a count the page did not read)."""
    keys: int
    render: ItemRenderer | None
    rendered: bool


KEPT_STATEMENTS: weakref.WeakKeyDictionary[
    AsyncEngine, OrderedDict[Hashable, KeptSearch | None]
] = weakref.WeakKeyDictionary()
"""By engine (an app's: its statements are compiled for its dialect), by shape."""


def _kept_key(
    info: Info,
    name: str,
    filter: InvestigationFilter | None,
    order_by: InvestigationOrder | None,
    page: PageRequest,
    index: TextIndex,
    terms: Terms,
) -> Hashable | None:
    """What a search's statement depends on but its words, clock and user name; None
    where it is built for the request (the standard way): ``compiled_sql`` off (the
    tests compare the two), a filter beside the words, a cursor or an empty page, a
    reviewer link, ICAT's rules, no index, words of another shape than the sentinel's
    (too short for the trigrams, none in MariaDB's index), a selection of the items with
    cursors."""
    context = info.context
    access = context.access
    if (
        not context.settings.compiled_sql
        or filter is None
        or _beside_search(filter)
        or page.after is not None
        or page.before is not None
        or page.limit == 0
        or access.rules is not None
        or access.member_ids is not None
        or access.caller.reviewer_link is not None
        or not index.built
        or text_shape(index, terms) != text_shape(index, search_terms(SENTINEL))
    ):
        return None
    render = item_renderer(info)
    if render is not None and cursor_fields(render.shape.fields):
        return None
    caller = access.caller
    try:
        hash(context.settings)
    except TypeError:  # settings that do not hash: built for the request
        return None
    return (
        context.settings,
        name,
        _searching(order_by),
        page.limit,
        page.backward,
        wants_total(info),
        tuple(selected_facets(info, SESSION_FACETS)),
        caller.user_name is None,
        caller.is_staff,
        index.dialect,
        index.trigrams,
        None if render is None else (render.key, repr(render.shape.fields), render.fragments),
    )


def _searching(order_by: InvestigationOrder | None) -> tuple[str, bool]:
    """A search's ordering (``session_ordering`` with free text)."""
    return order_by.key() if order_by is not None else (RELEVANCE, True)


def _beside_search(filter: InvestigationFilter) -> bool:
    """Whether the filter gives anything beside its free text."""
    return any(
        getattr(filter, field.name) is not None
        for field in dataclasses.fields(filter)
        if field.name != "search"
    )


def _kept(
    info: Info, name: str, order_by: InvestigationOrder | None, page: PageRequest, index: TextIndex
) -> KeptSearch | None:
    """The statement of a search of this request's shape, built with the sentinel word,
    bind parameters for the caller's clock and name; None where a value of the request
    would be held in it otherwise (the sentinel is found outside its parameters)."""
    context = info.context
    access = context.access
    planned = Access(
        caller=Caller(
            user_name=None if access.caller.user_name is None else bindparam(USER, None, String()),  # type: ignore[arg-type]
            is_staff=access.is_staff,
        ),
        now=bindparam(NOW, None, DateTime()),  # type: ignore[arg-type]
    )
    match = session_text_match(planned, SENTINEL, index)
    order = session_ordering(order_by, match)
    keys = session_keys(order, match, planned)
    matched = match.applied(queries.investigations(planned))
    facets = selected_facets(info, SESSION_FACETS)
    in_page = facets_over(context.engine.dialect, planned, facets)
    if facets and in_page is None:
        return None
    render = item_renderer(info, planned)
    statement, rendered = page_statement(
        context.engine.dialect.name,
        matched,
        keys,
        page.of(cursor_listing(name, order)),
        render,
        total=wants_total(info),
        costly_filter=True,
        columns_from=queries.investigations(planned),
        facets=in_page,
    )
    compiled = statement.compile(dialect=context.engine.dialect)
    held = [
        value
        for bind, value in compiled.params.items()
        if not bind.startswith(TEXT_BIND) and isinstance(value, str)
    ]
    if SENTINEL in str(compiled).lower() or any(SENTINEL in value.lower() for value in held):
        return None
    return KeptSearch(statement, matched, len(keys), render, rendered)


async def kept_search(
    info: Info,
    name: str,
    filter: InvestigationFilter | None,
    order_by: InvestigationOrder | None,
    page: PageRequest,
) -> InvestigationSearchConnection | None:
    """A search's page from the statement kept for its shape (built at its first
    request): only the words, the clock and the user name are the request's, bound. What
    a request would build again otherwise (the statement, and SQLAlchemy's cache key of
    it, a traversal of every element) was most of a search's time in the gateway's own
    Python. None: the search is built for the request (see :func:`_kept_key`)."""
    if filter is None or filter.search is None:
        return None
    terms = search_terms(filter.search)
    index = await request_text_index(info)
    key = _kept_key(info, name, filter, order_by, page, index, terms)
    if key is None:
        return None
    held = KEPT_STATEMENTS.setdefault(info.context.engine, OrderedDict())
    if key in held:
        held.move_to_end(key)
        kept = held[key]
    else:
        kept = held[key] = _kept(info, name, order_by, page, index)
        while len(held) > KEPT_SEARCHES:
            held.popitem(last=False)
    if kept is None:
        return None
    context = info.context
    access = context.access
    values: dict[str, Any] = {**text_binds(index, terms), NOW: access.now}
    if access.caller.user_name is not None:
        values[USER] = access.caller.user_name
    listed = page.of(cursor_listing(name, _searching(order_by)))
    rows = await fetch_all(context.engine, kept.statement, values)
    now = context.now

    def to_node(row: Any) -> Investigation:
        return Investigation.from_row(row, now)

    converted = (
        to_node if kept.render is None or not kept.rendered else completed_or(kept.render, to_node)
    )
    engine = context.engine

    async def count() -> int:
        if rows and TOTAL_COLUMN in rows[0]._mapping:
            return int(rows[0]._mapping[TOTAL_COLUMN])
        counted = select(func.count()).select_from(kept.matched.order_by(None).subquery())
        return int((await fetch_all(engine, counted, values))[0][0])

    connection = build_connection(rows, listed, kept.keys, converted, count)
    facets = selected_facets(info, SESSION_FACETS)
    counts = (
        counted_in_page(rows) or counting(engine, facets_statement(info, filter, facets, index))
        if facets
        else None
    )
    return with_facets(connection, counts, terms, filter)
