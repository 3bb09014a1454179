"""Rendered selections compiled to SQL once, then reused with each request's values.

Building the SQLAlchemy expression of a large selection and computing its cache key costs
more per request than PostgreSQL takes to run it. The expression depends only on the
selection, on the shape of the caller (staff or not, anonymous or not) and on the settings;
the request's clock and user name and the outer row's columns are its only variables. So
it is built once with placeholders in their stead, compiled to SQL text, and kept; each
use is a :class:`RenderedJSON` element that the statement's compiler renders by putting
the outer columns and fresh bind parameters where the placeholders were. Its cache key is
the template's identity plus those few substitutions.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ClauseElement,
    ColumnElement,
    DateTime,
    String,
    literal,
    literal_column,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType

from gateway.catalogue.gateway_tables import OWN_SCHEMA
from gateway.catalogue.icat_rules.ruleset import IcatRules
from gateway.catalogue.pagination import decode_cursor
from gateway.compiled.dialects import json_dialect
from gateway.compiled.render import Context, OuterKey, cursor_value, guarded, render_object
from gateway.compiled.selection import Field, Unsupported
from gateway.errors import GatewayError

_PLACEHOLDER = re.compile(r"(__gw_[cv][0-9a-z_]*__)")
NOW = "__gw_v_now__"
USER = "__gw_v_user__"


@dataclass(frozen=True)
class Shape:
    """Everything a rendering depends on but the request's values."""

    type_name: str
    fields_key: str
    """``repr`` of the fields (their arguments are dicts: not hashable themselves)."""
    fields: tuple[Field, ...] = dataclasses.field(compare=False, hash=False)
    columns: tuple[str, ...] = ()
    """Names of the outer row's columns available (sorted)."""
    bound: frozenset[str] = frozenset()
    """Those of them whose values the statement binds (``render.OuterKey``)."""
    is_staff: bool = False
    anonymous: bool = True
    default_page_size: int = 50
    max_page_size: int = 1000
    main_proposer_roles: frozenset[str] = frozenset()
    tables: frozenset[str] = frozenset()
    rules: IcatRules | None = None
    """The catalogue's rules (``icat-rules`` authorization), or None."""
    checked: bool = False
    """For a statement whose warnings its executor checks (``JsonDialect.checked``)."""


@dataclass(frozen=True)
class Template:
    """SQL text split at its placeholders: text, then ("c", column) or ("v", value)."""

    identity: str
    parts: tuple[str | tuple[str, str], ...]
    complete: bool
    """Never NULL (no guard): the row's other columns are not needed."""


@lru_cache(maxsize=512)
def template(shape: Shape, dialect: Dialect) -> Template | None:
    """The compiled template of a shape, or None if the compiler does not handle it."""
    json = json_dialect(dialect.name, checked=shape.checked)
    if json is None:
        return None
    columns: dict[str, Any] = {
        name: (OuterKey if name in shape.bound else literal_column)(f"__gw_c{i}__")
        for i, name in enumerate(shape.columns)
    }
    slots = {id(field.arguments): slot for slot, field in enumerate(cursor_fields(shape.fields))}
    context = Context(
        cursor_slots=slots,
        now=literal_column(NOW),
        user_name=None if shape.anonymous else literal_column(USER),
        is_staff=shape.is_staff,
        default_page_size=shape.default_page_size,
        max_page_size=shape.max_page_size,
        main_proposer_roles=shape.main_proposer_roles,
        tables=shape.tables,
        dialect=json,
        rules=shape.rules,
    )
    try:
        rendering = render_object(shape.type_name, columns, shape.fields, context)
    except Unsupported:
        return None
    expression = guarded(rendering)
    # The gateway's own tables (a grant's expiry, joined by ICAT's rules) keep their
    # schema's placeholder: the engine puts the configured schema in when the statement
    # holding the template runs (its ``schema_translate_map`` covers the whole text).
    sql = str(
        expression.compile(
            dialect=dialect,
            schema_translate_map={OWN_SCHEMA: OWN_SCHEMA},
            compile_kwargs={"literal_binds": True},
        )
    )
    by_placeholder = {f"__gw_c{i}__": name for i, name in enumerate(shape.columns)}
    return template_of(sql, rendering.guard is None, by_placeholder)


def template_of(sql: str, complete: bool, columns: Mapping[str, str] | None = None) -> Template:
    """SQL text compiled with placeholders (``NOW``, ``USER``, and the outer columns'
    placeholders ``columns`` names) as a template."""
    by_placeholder = columns or {}
    parts: list[str | tuple[str, str]] = []
    for piece in _PLACEHOLDER.split(sql):
        if piece in by_placeholder:
            parts.append(("c", by_placeholder[piece]))
        elif piece in (NOW, USER) or piece.startswith("__gw_v_"):
            parts.append(("v", piece))
        elif piece:
            parts.append(piece)
    return Template(identity=sql, parts=tuple(parts), complete=complete)


class RenderedJSON(ColumnElement[Any]):
    """A template used in a statement, with the outer columns and values it needs."""

    __visit_name__ = "gateway_rendered_json"
    inherit_cache = True
    _traverse_internals = [
        ("identity", InternalTraversal.dp_string),
        ("substitutions", InternalTraversal.dp_clauseelement_tuple),
    ]
    type: TypeEngine[Any] = NullType()

    def __init__(
        self, used: Template, columns: Mapping[str, Any], values: Mapping[str, Any]
    ) -> None:
        self.template = used
        self.identity = used.identity
        self.substitutions = tuple(
            columns[name] if kind == "c" else values[name]
            for part in used.parts
            if isinstance(part, tuple)
            for kind, name in [part]
        )


@compiles(RenderedJSON)
def _render(element: RenderedJSON, compiler: SQLCompiler, **kw: Any) -> str:
    substitutions = iter(element.substitutions)
    return "".join(
        part if isinstance(part, str) else compiler.process(next(substitutions), **kw)
        for part in element.template.parts
    )


def rendered_json(
    shape: Shape,
    dialect: Dialect,
    columns: Mapping[str, Any],
    now: Any,
    user_name: Any,
) -> RenderedJSON | None:
    """The rendering of a shape over these outer columns, for this request's values (or
    SQL expressions in their stead: the bind parameters of an operation plan)."""
    used = template(shape, dialect)
    if used is None:
        return None
    values = template_values(now, user_name)
    try:
        values.update(cursor_values(shape.fields))
    except (GatewayError, KeyError):  # not a cursor, or a value no sort key has: no
        return None  # template was made of it (``fields_key``)
    return RenderedJSON(used, columns, values)


def cursor_fields(fields: tuple[Field, ...]) -> list[Field]:
    """The fields of a selection paged ``after`` a cursor, depth first: a template's
    cursors are numbered in this order (``render.Context.cursor_slots``)."""
    found: list[Field] = []
    for field in fields:
        if field.arguments.get("after") is not None:
            found.append(field)
        found += cursor_fields(field.children)
    return found


def cursor_values(fields: tuple[Field, ...]) -> dict[str, Any]:
    """The values of a selection's cursors, by their placeholders in its template (a
    NULL is part of the template, not a value)."""
    values: dict[str, Any] = {}
    for slot, field in enumerate(cursor_fields(fields)):
        _, decoded = decode_cursor(field.arguments["after"], "after")
        for index, value in enumerate(decoded):
            if value is not None:
                values[cursor_value(slot, index)] = literal(value, _CURSOR_TYPES[type(value)]())
    return values


_CURSOR_TYPES: dict[type, type[TypeEngine[Any]]] = {
    str: String,
    int: BigInteger,
    datetime: DateTime,
}


def fields_key(fields: tuple[Field, ...]) -> str:
    """What of a selection keys its template: all but its cursors' values, for which
    their listing, types and NULLs stand (the template binds the values)."""
    if not cursor_fields(fields):
        return repr(fields)
    return repr(_without_cursors(fields))


def _without_cursors(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    return tuple(
        dataclasses.replace(
            field,
            arguments=_cursor_shape(field.arguments),
            children=_without_cursors(field.children),
        )
        for field in fields
    )


def _cursor_shape(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    after = arguments.get("after")
    if after is None:
        return arguments
    try:
        listing, values = decode_cursor(after, "after")
    except GatewayError:
        return arguments  # no template: the standard path reports it
    if any(type(value) not in (*_CURSOR_TYPES, type(None)) for value in values) or any(
        isinstance(value, datetime) and value.tzinfo is not None for value in values
    ):
        return arguments  # no template either (a value no sort key has)
    shape = (listing, tuple(type(value).__name__ for value in values))
    return {**arguments, "after": shape}


def template_values(now: Any, user_name: Any) -> dict[str, Any]:
    """The values of a template's ``NOW`` and ``USER`` (None: an anonymous caller's)."""
    values: dict[str, Any] = {NOW: _value(now, DateTime())}
    if user_name is not None:
        values[USER] = _value(user_name, String())
    return values


def _value(value: Any, type_: TypeEngine[Any]) -> Any:
    return value if isinstance(value, ClauseElement) else literal(value, type_)


def column_names(columns: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(columns))


__all__: Sequence[str] = (
    "RenderedJSON",
    "Shape",
    "Template",
    "column_names",
    "rendered_json",
    "template_of",
    "template_values",
)
