"""A search's page statement kept for its shape: built once (at the shape's first request)
with bind parameters for the words (``text_search.text_binds``), the request's clock and
the caller's user name (``gateway.compiled.operations``' names), then run with the
request's values. What a request would build again otherwise (the statement, and
SQLAlchemy's cache key of it, a traversal of every element) was most of a search's time
in the gateway's own Python. What is general lives here: the shape's conditions, the
store per engine, the planned caller, the sentinel check and the fetch; each search
(``investigation_search``, ``dataset_search``) states its own statement and shape."""

from __future__ import annotations

import dataclasses
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import DateTime, Select, String, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import Caller
from gateway.catalogue.pages import TOTAL_COLUMN, OverMatches, page_statement
from gateway.catalogue.pagination import PageRequest, SortKey
from gateway.catalogue.text_search import TEXT_BIND, Terms, TextIndex, search_terms, text_binds
from gateway.catalogue.text_search import text_shape as shape_of_words
from gateway.catalogue.visibility import Access
from gateway.compiled.items import ItemRenderer, completed_or, item_renderer
from gateway.compiled.operations import NOW, USER
from gateway.compiled.templates import cursor_fields
from gateway.resolvers.loaders import fetch_all
from gateway.schema.connection import Connection, build_connection, wants_total
from gateway.schema.info import Info

T = TypeVar("T")

SENTINEL = "gwtextsentinel"
"""The word a kept statement is built with: found anywhere but in the words' own bind
parameters (``text_search.text_binds``), the statement is not kept."""

KEPT_SEARCHES = 256
"""How many shapes of search a process keeps the statement of."""


@dataclass(frozen=True)
class KeptSearch:
    """A search's page statement (page, total, facets, the items' JSON) built once for
    its shape, with bind parameters for the words, the clock and the user name."""

    statement: Select[Any]
    matched: Select[Any]
    """The rows it matches (for a count the page did not read)."""
    keys: int
    render: ItemRenderer | None
    rendered: bool


KEPT_STATEMENTS: weakref.WeakKeyDictionary[
    AsyncEngine, OrderedDict[Hashable, KeptSearch | None]
] = weakref.WeakKeyDictionary()
"""By engine (an app's: its statements are compiled for its dialect), by shape (the
search's own key first: its list's name)."""


def beside_search(filter: Any) -> bool:
    """Whether a filter (a dataclass with ``search``) gives anything beside its free text."""
    return any(
        getattr(filter, field.name) is not None
        for field in dataclasses.fields(filter)
        if field.name != "search"
    )


def shape_key(
    info: Info, filter: Any, page: PageRequest, index: TextIndex, terms: Terms
) -> tuple[Hashable, ...] | None:
    """What any search's statement depends on but its words, clock and user name; None
    where it is built for the request (the standard way): ``compiled_sql`` off (the tests
    compare the two), a filter beside the words, a cursor or an empty page, a reviewer
    link, ICAT's rules, no index, words of another shape than the sentinel's (too short
    for the trigrams, none in MariaDB's index), a selection of the items with cursors."""
    context = info.context
    access = context.access
    if (
        not context.settings.compiled_sql
        or filter is None
        or beside_search(filter)
        or page.after is not None
        or page.before is not None
        or page.limit == 0
        or access.rules is not None
        or access.member_ids is not None
        or access.caller.reviewer_link is not None
        or not index.built
        or shape_of_words(index, terms) != shape_of_words(index, search_terms(SENTINEL))
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
        page.limit,
        page.backward,
        wants_total(info),
        caller.user_name is None,
        caller.is_staff,
        index.dialect,
        index.trigrams,
        None if render is None else (render.key, repr(render.shape.fields), render.fragments),
    )


def planned_access(access: Access) -> Access:
    """The caller as a kept statement sees it: bind parameters for the clock and the user
    name (none for an anonymous caller), the staff flag as it is (it is in the key)."""
    return Access(
        caller=Caller(
            user_name=None if access.caller.user_name is None else bindparam(USER, None, String()),  # type: ignore[arg-type]
            is_staff=access.is_staff,
        ),
        now=bindparam(NOW, None, DateTime()),  # type: ignore[arg-type]
    )


def built(
    info: Info,
    planned: Access,
    matched: Select[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    *,
    columns_from: Select[Any],
    facets: OverMatches | None = None,
) -> KeptSearch | None:
    """The page statement of ``matched`` (built with the sentinel word and the planned
    caller) for ``page`` (of its listing); None where a value of the request would be held
    in it otherwise (the sentinel is found outside the words' parameters)."""
    dialect = info.context.engine.dialect
    render = item_renderer(info, planned)
    statement, rendered = page_statement(
        dialect.name,
        matched,
        keys,
        page,
        render,
        total=wants_total(info),
        costly_filter=True,
        columns_from=columns_from,
        facets=facets,
    )
    compiled = statement.compile(dialect=dialect)
    held = [
        value
        for bind, value in compiled.params.items()
        if not bind.startswith(TEXT_BIND) and isinstance(value, str)
    ]
    if SENTINEL in str(compiled).lower() or any(SENTINEL in value.lower() for value in held):
        return None
    return KeptSearch(statement, matched, len(keys), render, rendered)


def kept(
    engine: AsyncEngine, key: Hashable, build: Callable[[], KeptSearch | None]
) -> KeptSearch | None:
    """The statement kept for ``key`` on this engine, built now if it is not (the least
    recently used shapes forgotten past ``KEPT_SEARCHES``); None: not kept."""
    held = KEPT_STATEMENTS.setdefault(engine, OrderedDict())
    if key in held:
        held.move_to_end(key)
        return held[key]
    found = held[key] = build()
    while len(held) > KEPT_SEARCHES:
        held.popitem(last=False)
    return found


async def fetched(
    info: Info,
    found: KeptSearch,
    index: TextIndex,
    terms: Terms,
    page: PageRequest,
    to_node: Callable[[Any], T],
) -> tuple[Connection[T], Sequence[Any]]:
    """The page (of its listing) read by the kept statement with the request's words,
    clock and user name bound, and the rows read (one more than the page)."""
    context = info.context
    access = context.access
    values: dict[str, Any] = {**text_binds(index, terms), NOW: access.now}
    if access.caller.user_name is not None:
        values[USER] = access.caller.user_name
    engine = context.engine
    rows = await fetch_all(engine, found.statement, values)
    converted = (
        to_node
        if found.render is None or not found.rendered
        else completed_or(found.render, to_node)
    )

    def count() -> Awaitable[int]:
        return _count(engine, found, rows, values)

    return build_connection(rows, page, found.keys, converted, count), rows


async def _count(
    engine: AsyncEngine, found: KeptSearch, rows: Sequence[Any], values: dict[str, Any]
) -> int:
    if rows and TOTAL_COLUMN in rows[0]._mapping:
        return int(rows[0]._mapping[TOTAL_COLUMN])
    counted = select(func.count()).select_from(found.matched.order_by(None).subquery())
    return int((await fetch_all(engine, counted, values))[0][0])
