"""Relay connections: edges with opaque cursors, page info, and a lazy total count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import Select, SQLColumnExpression, null

from gateway.catalogue.pages import JSON_COLUMN
from gateway.catalogue.pagination import PageRequest, cursor_listing, encode_cursor, page_request
from gateway.catalogue.relations import related_keys
from gateway.compiled.completed import completed_list
from gateway.compiled.items import (
    ItemRenderer,
    completed_or,
    item_renderer,
)
from gateway.fields.declaration import Relation
from gateway.resolvers.loaders import ChildListing, ChildPageKey
from gateway.schema.node import instance
from gateway.schema.selections import selected, selected_names, selected_under

T = TypeVar("T")


@strawberry.type(description="Where a page sits in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item.")


@strawberry.type(description="One item of a page and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor: pass it as `after` or `before`.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, Relay style.")
class Connection(Generic[T]):
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    _rows: strawberry.Private[Sequence[Any]]
    _listing: strawberry.Private[str]
    _cursor_names: strawberry.Private[Sequence[str]]
    _to_node: strawberry.Private[Callable[[Any], T]]
    _count: strawberry.Private[Callable[[], Awaitable[int]]]
    _nodes: strawberry.Private[list[T] | None] = None

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[T]:
        items = self.items()
        # Items the database rendered (gateway.compiled) go out as one value.
        return completed_list(items) or items  # type: ignore[return-value]

    def items(self) -> list[T]:
        """The page's objects, built on first use: a page is only turned into objects
        if they are asked for."""
        if self._nodes is None:
            self._nodes = [self._to_node(row) for row in self._rows]
        return self._nodes

    @strawberry.field(description="The items of this page with their cursors.")
    def edges(self) -> list[Edge[T]]:
        listing, names = self._listing, self._cursor_names
        return [
            instance(Edge, cursor=_cursor(listing, row, names), node=node)
            for row, node in zip(self._rows, self.items(), strict=True)
        ]

    @strawberry.field(
        description="How many items the whole list holds for this caller (counted only when asked)."
    )
    async def total_count(self) -> int:
        return await self._count()


def _cursor(listing: str, row: Any, names: Sequence[str]) -> str:
    mapping = row._mapping
    return encode_cursor(listing, [mapping[name] for name in names])


def build_connection(
    rows: Sequence[Any],
    page: PageRequest,
    key_count: int,
    to_node: Callable[[Any], T],
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """A connection from rows read with one row more than the page (to know if more follow).

    Rows carry their sort-key values as ``_k0 .. _kn``; cursors are encoded only for what
    is asked (the page's ends, and every edge only if `edges` is selected), with the
    page's listing (``page`` is :meth:`PageRequest.of` its list).
    """
    listing = page.listing
    if listing is None:
        # A programming error: the page's cursors were never checked against its list.
        raise TypeError("build_connection needs a page of a listing (PageRequest.of)")
    more = len(rows) > page.limit
    rows = list(rows[: page.limit])
    if page.backward:
        rows.reverse()
    names = [f"_k{i}" for i in range(key_count)]
    if page.backward:
        has_previous, has_next = more, page.before is not None
    else:
        has_next, has_previous = more, page.after is not None
    return instance(
        Connection,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=_cursor(listing, rows[0], names) if rows else None,
            end_cursor=_cursor(listing, rows[-1], names) if rows else None,
        ),
        _rows=rows,
        _listing=listing,
        _cursor_names=names,
        _to_node=to_node,
        _count=count,
        _nodes=None,
    )


PAGELESS = frozenset({"totalCount", "__typename"})


def wants_page(info: Any) -> bool:
    """Whether the connection field asks for more than its total (then no page is read).

    The data portal asks `datasets { totalCount }` for every session of a list: reading
    a page of datasets per session only to throw it away would be the main cost.
    """
    return not selected_names(info) <= PAGELESS


def wants_total(info: Any) -> bool:
    """Whether the connection field asks for its totalCount."""
    return "totalCount" in selected_names(info)


def page_of(
    info: Any,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    """The Relay arguments of a connection field, checked against the configured sizes;
    its list's resolver checks the cursors' listing (:meth:`PageRequest.of`)."""
    settings = info.context.settings
    return page_request(
        first=first,
        after=after,
        last=last,
        before=before,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )


async def child_connection(
    info: Any,
    name: str,
    listing: ChildListing,
    parent_id: Any,
    page: PageRequest,
    order: tuple[str, bool],
    to_node: Callable[[Any], T],
    prepare: Callable[[Any, list[T]], Awaitable[None]] | None = None,
    loader_key: str = "",
) -> Connection[T]:
    """A nested connection (the datasets of a session...), batched over all parents of the
    level: one statement for the pages, one for the totals, each only if asked for.
    ``prepare`` may load what the page's objects will be asked for, all at once (items
    the database rendered, ``gateway.compiled``, are among them: it should skip those).
    The cursors are of the listing ``name`` in ``order``, whichever the parent (see
    :func:`cursor_listing`). Parents whose ``listing`` differs by an argument (a filter)
    pass it as ``loader_key``: they share statements only with parents of the same key."""
    page = page.of(cursor_listing(name, order))
    loaders = info.context.loaders
    batch = f"{name}|{loader_key}" if loader_key else name
    counts = loaders.child_counts(batch, listing.statement, listing.parent)
    # Ask for the total now, with every other parent of the level, not after this page
    # (and its prefetch) came back: that would split the totals into several batches.
    total = counts.load(parent_id) if wants_total(info) else None
    rows = []
    if wants_page(info):
        pages_name, computed = batch, None
        render = item_renderer(info)
        if render is not None:
            # One loader per selection: parents asking the same share one statement.
            pages_name, computed = f"{batch}:{render.key}", _json_column(render)
            to_node = completed_or(render, to_node)
        pages = loaders.child_pages(pages_name, listing, computed)
        rows = await pages.load(ChildPageKey(parent_id, page, order))

    async def count() -> int:
        return int(await (total if total is not None else counts.load(parent_id)))

    connection = build_connection(rows, page, len(listing.keys(order)), to_node, count)
    if prepare is not None and rows:
        await prepare(info, connection.items())
    return connection


async def relation_connection(
    info: Any,
    type_name: str,
    relation: Relation,
    parent_id: Any,
    first: int | None,
    after: str | None,
    rows: Callable[[], Select[Any]],
    parent: SQLColumnExpression[Any],
    to_node: Callable[[Any], T],
) -> Connection[T]:
    """A page of a declared relation's children (``Cardinality.PAGE``): ``rows`` for every
    parent (``parent``: the column of their parent's key), in the relation's order, by the
    keyset of its order's columns (``relations.related_keys``); the cursors are of the
    listing ``Type.field``."""
    keys = related_keys(relation)
    listing = ChildListing(statement=rows, parent=parent, keys=lambda order: keys)
    return await child_connection(
        info,
        f"{type_name}.{relation.name}",
        listing,
        parent_id,
        page_of(info, first, after),
        (",".join(relation.order), False),
        to_node,
    )


def _json_column(
    render: ItemRenderer,
) -> Callable[[Mapping[str, Any]], tuple[list[Any], bool]]:
    def computed(cols: Mapping[str, Any]) -> tuple[list[Any], bool]:
        rendering = render.json(cols)
        if rendering is None:
            # NULL: every row resolves the standard way.
            return [null().label(JSON_COLUMN)], False
        json, complete = rendering
        return [json.label(JSON_COLUMN)], complete

    return computed


def node_selections(info: Any) -> set[str]:
    """Names of the fields asked of the items of a connection (under nodes or edges.node);
    through fragments too."""
    names: set[str] = set()
    for field in selected(info):
        if field.name.value == "nodes":
            names.update(item.name.value for item in selected_under(info, field))
        elif field.name.value == "edges":
            for edge in selected_under(info, field):
                if edge.name.value == "node":
                    names.update(item.name.value for item in selected_under(info, edge))
    return names
