"""The items of a page, rendered by the page's own statement.

A resolver of a connection asks :func:`item_renderer` whether what the query asks of the
items can be compiled; if so, the page's statement gets one more column, ``_json``, and
each row whose JSON is not NULL becomes a :class:`~gateway.schema.execution.Completed`
value that the executor passes through. A NULL (a guard said no: DATA fields of a session
the caller may not read) builds the usual object, resolved field by field.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement

from gateway.compiled.render import Cols, Context, guarded_json
from gateway.compiled.selection import Field, Unsupported, connection_nodes
from gateway.schema.execution import Completed

T = TypeVar("T")

JSON_COLUMN = "_json"

ITEM_TABLES: dict[str, frozenset[str]] = {
    "Investigation": frozenset({"INVESTIGATION"}),
    "Dataset": frozenset({"DATASET", "DATASETTYPE"}),
    "Datafile": frozenset({"DATAFILE", "DATAFILEFORMAT"}),
    "Instrument": frozenset({"INSTRUMENT"}),
    "Facility": frozenset({"FACILITY"}),
    "Technique": frozenset({"TECHNIQUE"}),
}
"""The tables in the FROM of each item type's page statement: nested subqueries may not
use them again (see ``render``)."""


@dataclass(frozen=True)
class ItemRenderer:
    """What a query asks of a connection's items, ready to be rendered from a row."""

    type_name: str
    fields: tuple[Field, ...]
    context: Context

    @property
    def key(self) -> str:
        """Identifies the selection (loaders batch pages of the same selection together)."""
        return f"{self.type_name}{self.fields!r}"

    def json(self, cols: Cols) -> ColumnElement[Any] | None:
        """The items' JSON from a row's columns, or None if it cannot be compiled."""
        try:
            return guarded_json(self.type_name, cols, self.fields, self.context)  # type: ignore[no-any-return]
        except Unsupported:
            return None


def item_renderer(info: Any) -> ItemRenderer | None:
    """For the connection field being resolved: its items' renderer, or None (not
    PostgreSQL, switched off, or a selection the compiler does not handle)."""
    context = info.context
    settings = context.settings
    if not settings.compiled_sql or context.engine.dialect.name != "postgresql":
        return None
    try:
        item, fields = connection_nodes(info._raw_info)
    except Unsupported:
        return None
    tables = ITEM_TABLES.get(item.name)
    if tables is None:
        return None
    return ItemRenderer(
        item.name,
        fields,
        Context(
            access=context.access,
            default_page_size=settings.default_page_size,
            max_page_size=settings.max_page_size,
            main_proposer_roles=settings.main_proposer_roles,
            tables=tables,
        ),
    )


def completed_or(to_node: Callable[[Any], T]) -> Callable[[Any], T]:
    """Rows to items: the rendered JSON where there is one, else the usual object."""

    def convert(row: Any) -> Any:
        rendered = row._mapping[JSON_COLUMN]
        if rendered is None:
            return to_node(row)
        # asyncpg decodes json with the engine's deserializer (orjson); text otherwise.
        return Completed(orjson.loads(rendered) if isinstance(rendered, str) else rendered)

    return convert


def plain_items(items: Collection[Any]) -> list[Any]:
    """The items that were not rendered (objects a prefetch may fill)."""
    return [item for item in items if not isinstance(item, Completed)]
