"""The items of a page, rendered by the page's own statement.

A resolver of a connection asks :func:`item_renderer` whether what the query asks of the
items can be compiled; if so, the page's statement gets one more column, ``_json``, and
each row whose JSON is not NULL becomes a :class:`~gateway.schema.execution.Completed`
value that the executor passes through. A NULL (a guard said no: DATA fields of a session
the caller may not read) builds the usual object, resolved field by field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import BigInteger, ClauseElement, ColumnElement, Text, cast, literal
from sqlalchemy.engine import Dialect

from gateway.catalogue.pages import JSON_COLUMN
from gateway.compiled.completed import Completed
from gateway.compiled.dialects import compiles_on, json_dialect
from gateway.compiled.render import Cols
from gateway.compiled.selection import Field, Request, Unsupported, collect, connection_nodes
from gateway.compiled.templates import Shape, column_names, fields_key, rendered_json
from gateway.fields.catalogue import TYPES

T = TypeVar("T")


def _row_tables(type_name: str) -> frozenset[str]:
    declared = TYPES[type_name]
    assert declared.table is not None
    return frozenset({declared.table, *(lookup.table for lookup in declared.lookups)})


ITEM_TABLES: dict[str, frozenset[str]] = {
    name: _row_tables(name)
    for name in ("Investigation", "Dataset", "Datafile", "Instrument", "Facility", "Technique")
}
"""The tables in the FROM of each item type's page statement (its table and its lookups',
from its declaration): nested subqueries may not use them again (see ``render``)."""


@dataclass(frozen=True)
class ItemRenderer:
    """What a query asks of a connection's items, ready to be rendered from a row."""

    shape: Shape
    """Without the outer columns: those are the call site's."""
    dialect: Dialect
    now: datetime | ColumnElement[Any]
    user_name: str | ColumnElement[Any] | None
    fragments: bool = False
    """Read the JSON as text and pass it on unparsed (see ``RequestContext``)."""
    bound: tuple[tuple[str, Any], ...] = ()
    """Columns of the outer row and their values, bound (see :meth:`keyed`)."""

    @property
    def key(self) -> str:
        """Identifies the selection (loaders batch pages of the same selection together)."""
        return f"{self.shape.type_name}{self.shape.fields_key}"

    def json(self, cols: Cols) -> tuple[ColumnElement[Any], bool] | None:
        """The items' JSON from a row's columns, and whether it is never NULL (then the
        row's other columns are not needed); None if it cannot be compiled."""
        if self.bound:
            cols = {**cols, **{name: _bound(value) for name, value in self.bound}}
        shape = dataclasses.replace(
            self.shape,
            columns=column_names(cols),
            bound=frozenset(name for name, _ in self.bound),
        )
        json = rendered_json(shape, self.dialect, cols, self.now, self.user_name)
        if json is None:
            return None
        complete = json.template.complete
        if self.fragments:
            return cast(json, Text), complete  # asyncpg hands json text over undecoded
        return json, complete

    def keyed(self, key: Mapping[str, Any]) -> ItemRenderer:
        """This renderer for a statement of the one row whose columns ``key`` have these
        values (a root field by id; the values may be an operation plan's parameters).
        Where a derived table reads no outer column (MariaDB:
        ``JsonDialect.correlated_pages``), the rendering reads the values bound instead of
        the row's columns, so that its nested pages can be read once, by the listing's
        index, in a derived table of their own (``render._page_once``)."""
        json = json_dialect(self.dialect.name)
        if json is None or json.correlated_pages:
            return self
        return dataclasses.replace(self, bound=tuple(key.items()))


def _bound(value: Any) -> Any:
    """A key's value as SQL: a bind parameter of its own, or the plan's."""
    return value if isinstance(value, ClauseElement) else literal(value, BigInteger())


def item_renderer(info: Any, access: Any = None) -> ItemRenderer | None:
    """For the connection field being resolved: its items' renderer, or None (not
    a database without a JSON dialect, switched off, or a selection the compiler does not
    handle). ``access``: the caller's, where not the request's (with bind parameters in
    place of its clock and user name: a statement kept for later requests)."""
    if not _compiling(info):
        return None
    try:
        item, fields = connection_nodes(info._raw_info)
    except Unsupported:
        return None
    return _renderer(info, item.name, fields, access)


def object_renderer(info: Any, type_name: str) -> ItemRenderer | None:
    """For a field being resolved that returns one object (``investigation(id:)``, or
    ``doi`` when it finds a session): the renderer of what it asks of a ``type_name``."""
    if not _compiling(info):
        return None
    raw = info._raw_info
    try:
        fields = collect(
            Request.of(raw),
            raw.schema.get_type(type_name),
            [node.selection_set for node in raw.field_nodes if node.selection_set],
        )
    except Unsupported:
        return None
    return _renderer(info, type_name, fields)


def _compiling(info: Any) -> bool:
    context = info.context
    return bool(context.settings.compiled_sql) and compiles_on(context.engine.dialect.name)


def _renderer(
    info: Any, type_name: str, fields: tuple[Field, ...], access: Any = None
) -> ItemRenderer | None:
    context = info.context
    return renderer_for(
        type_name,
        fields,
        context.settings,
        context.access if access is None else access,
        context.engine.dialect,
        fragments=context.json_fragments,
    )


def renderer_for(
    type_name: str,
    fields: tuple[Field, ...],
    settings: Any,
    access: Any,
    dialect: Dialect,
    *,
    fragments: bool = False,
    checked: bool = False,
) -> ItemRenderer | None:
    """The renderer of these fields of a ``type_name`` for this caller; None for a type
    the compiler does not render. ``access.now`` and the caller's user name may be SQL
    expressions (bind parameters of an operation plan, ``gateway.compiled.operations``);
    ``checked``: the statement's warnings are checked (``JsonDialect.checked``)."""
    tables = ITEM_TABLES.get(type_name)
    if tables is None:
        return None
    caller = access.caller
    if caller.reviewer_link is not None:
        # A reviewer link's reads are few: the standard path answers them, with the
        # linked ids in its filters, rather than a second rendering of that rule.
        return None
    shape = Shape(
        type_name=type_name,
        fields_key=fields_key(fields),
        fields=fields,
        is_staff=caller.is_staff,
        anonymous=caller.user_name is None,
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
        main_proposer_roles=settings.main_proposer_roles,
        tables=tables,
        rules=access.rules,
        checked=checked,
    )
    return ItemRenderer(shape, dialect, access.now, caller.user_name, fragments=fragments)


def completed_or(render: ItemRenderer, to_node: Callable[[Any], T]) -> Callable[[Any], T]:
    """Rows to items: the rendered JSON where there is one, else the usual object."""
    fragments = render.fragments

    def convert(row: Any) -> Any:
        rendered = row._mapping[JSON_COLUMN]
        if rendered is None:
            return to_node(row)
        if fragments:
            return Completed(orjson.Fragment(rendered), rendered)
        # asyncpg decodes json with the engine's deserializer (orjson); text otherwise.
        return Completed(orjson.loads(rendered) if isinstance(rendered, str) else rendered)

    return convert


def plain_items(items: Collection[Any]) -> list[Any]:
    """The items that were not rendered (objects a prefetch may fill)."""
    return [item for item in items if not isinstance(item, Completed)]
