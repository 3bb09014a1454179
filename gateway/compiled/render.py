"""A selection rendered as JSON by the database, with the visibility rules as SQL.

For each object type the compiler knows, a table of its fields: how each is computed from
the columns of the object's row (``Cols``), as a JSON-ready SQL expression. Scalars come
from their declarations' formats, relations from their declarations' join keys and order
(``derived``); only pages and rules computed per row are written by hand (``SPECIAL``).
Nested objects and lists are correlated subqueries, so one statement answers the whole
subtree; nested pages read ``LIMIT`` rows by the same keyset orderings and visibility
rules as the loaders. Values are formatted as strawberry would serialise them (global ids,
ISO date-times, enum names), each database in its own JSON functions
(``gateway.compiled.dialects``), and the tests compare both paths on the same queries.
Tables and columns are named through the models (``catalogue.relations.model_of`` and
``column``), never as text.

What the compiler does not know raises :class:`Unsupported`: the field then resolves the
standard way. Two rules keep the SQL honest:

- a table appears at most once along a path (its columns would be ambiguous, and a
  visibility subquery over it would correlate with the outer row);
- DATA fields are only rendered at the top of a compiled subtree, where the row carries
  ``data_visible``: the rendering is guarded by it, and a row whose guard is false
  resolves the standard way, which reports FORBIDDEN at the field's path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    case,
    exists,
    false,
    func,
    inspect,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import FromClause

from gateway.auth.policy import Caller
from gateway.catalogue.icat_rules import relationships
from gateway.catalogue.icat_rules.ruleset import IcatRules
from gateway.catalogue.models import (
    Datafile,
    Dataset,
    InvestigationUser,
    User,
)
from gateway.catalogue.ordering import datafile_keys, dataset_keys
from gateway.catalogue.pagination import (
    PageRequest,
    SortKey,
    cursor_listing,
    keyset_condition,
    order_terms,
    page_request,
)
from gateway.catalogue.relations import column, lookups_of, model_of, related_keys
from gateway.catalogue.sql_text import same_name
from gateway.catalogue.visibility import (
    Access,
    dataset_visible_with,
    datasets_of_session_by_rules,
    is_main_proposer,
    reached_by_rules,
    related_by_rules,
    team_rows_by_rules,
)
from gateway.catalogue.visibility import released as is_released
from gateway.compiled.dialects import POSTGRESQL, JsonDialect
from gateway.compiled.selection import TYPENAME, Field, Unsupported
from gateway.errors import GatewayError
from gateway.fields.catalogue import TYPES as DECLARED
from gateway.fields.declaration import (
    Cardinality,
    FieldClass,
    Format,
    ObjectFields,
    Relation,
    Scalar,
    ValueKind,
)

Cols = Mapping[str, Any]
"""The columns of an object's row by attribute name (``start_date``), and ``data_visible``."""

Handler = Callable[[Cols, Field, "Context"], ColumnElement[Any]]

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


class OuterKey(ColumnClause[Any]):
    """A column of the outer row whose value the statement binds: the key of the one row
    a root field reads by it (``dataset(id:)``). A nested page that reads nothing else of
    the outer row needs no correlation with it (see :func:`_self_contained`)."""

    inherit_cache = True

    def __init__(self, text: str) -> None:
        super().__init__(text, is_literal=True)


_OUTER_COLUMN = re.compile(r"^__gw_c[0-9]+__$")


def _self_contained(statement: Any) -> bool:
    """Whether a statement reads nothing of an enclosing row: no column of a table outside
    its own FROM clauses (its subqueries' included), and no placeholder of a template's
    outer row but bound keys (:class:`OuterKey`)."""
    froms: set[int] = set()
    read: list[Any] = []
    for element in visitors.iterate(statement):
        if isinstance(element, OuterKey):
            continue
        if isinstance(element, ColumnClause):
            if element.table is not None:
                read.append(element.table)
            elif element.is_literal and _OUTER_COLUMN.match(element.name):
                return False
        elif isinstance(element, FromClause):
            froms.add(id(element._deannotate()))
    # A table and its columns may be annotated copies (the ORM's): compared unannotated.
    return all(id(table._deannotate()) in froms for table in read)


@dataclass(frozen=True)
class Context:
    """Who asks and the limits that apply, and the tables along the current path.

    ``now`` and ``user_name`` are SQL expressions: placeholders while a template is
    compiled (``gateway.compiled.templates``), bound to the request's values when used.
    """

    now: Any
    user_name: Any | None
    """None for an anonymous caller."""
    is_staff: bool
    default_page_size: int
    max_page_size: int
    main_proposer_roles: frozenset[str]
    tables: frozenset[str] = frozenset()
    dialect: JsonDialect = POSTGRESQL
    rules: IcatRules | None = None
    """The catalogue's rules (``icat-rules`` authorization): the filters of
    ``gateway.catalogue.visibility`` under them, with ``now`` and ``user_name``."""
    cursor_slots: Mapping[int, int] = dataclass_field(default_factory=dict)
    """The ``after`` cursors of a template's selection (by the ``id`` of their fields):
    each one's number, whose values are the template's placeholders ``cursor_value``
    (``templates.cursor_values``), bound per request."""

    @property
    def access(self) -> Access:
        """The caller as the visibility filters take them (SQL values for now and name)."""
        return Access(
            caller=Caller(user_name=self.user_name, is_staff=self.is_staff),
            now=self.now,
            rules=self.rules,
        )

    def entering(self, table: str) -> Context:
        if table in self.tables:
            raise Unsupported(f"{table} twice along a path")
        return replace(self, tables=self.tables | {table})


@dataclass(frozen=True)
class Rendering:
    """An object's JSON, and the condition under which it is the whole answer."""

    json: ColumnElement[Any]
    guard: ColumnElement[bool] | None


def model_columns(model: type[Any]) -> dict[str, Any]:
    return {attr.key: attr.columns[0] for attr in inspect(model).column_attrs}


def render_object(type_name: str, cols: Cols, fields: tuple[Field, ...], ctx: Context) -> Rendering:
    """The JSON of one object of ``type_name`` from its row's columns."""
    handlers = TYPES.get(type_name)
    if handlers is None:
        raise Unsupported(type_name)
    data_fields = GUARDED_BY_DATA[type_name]
    if ctx.rules is not None:
        _decline_hidden_lookups(type_name, fields, ctx.rules)
    arguments: list[Any] = []
    guarded = False
    for field in fields:
        if field.name == TYPENAME:
            value: Any = _text(type_name)
        else:
            handler = handlers.get(field.name)
            if handler is None:
                raise Unsupported(f"{type_name}.{field.name}")
            value = handler(cols, field, ctx)
            guarded = guarded or field.name in data_fields
        arguments += [_text(field.key), value]
    if len(arguments) > ctx.dialect.max_arguments:
        raise Unsupported("too many fields")
    guard = _col(cols, "data_visible") if guarded else None
    return Rendering(ctx.dialect.object(arguments), guard)


@cache
def _lookup_fields(type_name: str) -> dict[str, str]:
    """The fields of a type read from its lookups' rows (a parameter's name, a dataset's
    type), with the lookup's ICAT entity."""
    declared = DECLARED.get(type_name)
    if declared is None:
        return {}
    found: dict[str, str] = {}
    for lookup in declared.lookups:
        entity = relationships.entity_of_table(lookup.table) or lookup.table
        keys = {key for key, _ in lookup.columns}
        for field in declared.fields:
            reads = isinstance(field, Scalar) and field.column in keys
            refers = isinstance(field, Relation) and (field.table, field.parent_key) == (
                lookup.table,
                lookup.key,
            )
            if reads or refers:
                found[field.name] = entity
    return found


def _decline_hidden_lookups(type_name: str, fields: tuple[Field, ...], rules: IcatRules) -> None:
    """Under ICAT's rules, a field read from a lookup's row that the rules may hide (its
    entity not public to everyone: ``relations.row_statement`` leaves its columns NULL, a
    never-null field answers FORBIDDEN) is left to the standard path."""
    if rules.root:
        return
    reads = _lookup_fields(type_name)
    public = rules.ruleset.public_entities
    for field in fields:
        entity = reads.get(field.name)
        if entity is not None and entity not in public:
            raise Unsupported(f"{type_name}.{field.name}: a {entity} the rules may hide")


def guarded(rendering: Rendering) -> Any:
    """An object's JSON, NULL where the row's guard is false (it resolves the standard way)."""
    if rendering.guard is None:
        return rendering.json
    return case((rendering.guard, rendering.json), else_=None)


# Leaves ------------------------------------------------------------------------------


def _text(value: str) -> ColumnElement[Any]:
    """A constant text (a key or a type name: GraphQL names, safe to inline)."""
    if not _NAME.match(value):
        raise Unsupported(value)
    return literal_column(f"'{value}'")


def _col(cols: Cols, name: str) -> Any:
    try:
        return cols[name]
    except KeyError:
        raise Unsupported(name) from None


def plain(name: str) -> Handler:
    return lambda cols, field, ctx: ctx.dialect.text(_col(cols, name))


def boolean(name: str) -> Handler:
    return lambda cols, field, ctx: ctx.dialect.boolean(_col(cols, name))


def iso(name: str) -> Handler:
    """A date-time as ``datetime.isoformat()`` writes a naive one (strawberry's DateTime)."""
    return lambda cols, field, ctx: ctx.dialect.datetime(_col(cols, name))


def number(name: str) -> Handler:
    """A GraphQL Float, written as Python writes it."""
    return lambda cols, field, ctx: ctx.dialect.number(_col(cols, name))


def global_id(type_name: str, name: str = "id") -> Handler:
    """``gateway.schema.node.global_id`` in SQL: base64 of ``Type:id``."""
    return lambda cols, field, ctx: ctx.dialect.global_id(type_name, _col(cols, name))


def released(name: str) -> Handler:
    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        return ctx.dialect.boolean(is_released(_col(cols, name), ctx.now))

    return handler


# Nested objects and lists ------------------------------------------------------------


def _nested(type_name: str, cols: Cols, field: Field, ctx: Context) -> ColumnElement[Any]:
    rendering = render_object(type_name, cols, field.children, ctx)
    if rendering.guard is not None:
        raise Unsupported(f"DATA fields of a nested {type_name}")
    return rendering.json


def page_after(
    arguments: Mapping[str, Any], ctx: Context, listing: str, keys: list[SortKey]
) -> PageRequest:
    """The page a connection's arguments ask for, if it is a first page or the page after
    a cursor (not from the end): ``last`` and ``before`` are the standard path's. The
    cursor is decoded and checked as the standard path does (``page_request``,
    :meth:`PageRequest.of` the connection's ``listing``, ``keyset_condition`` over the
    standard path's ``keys``); bad sizes and cursors are the standard path's to report."""
    if any(arguments.get(name) is not None for name in ("before", "last")):
        raise Unsupported("cursor arguments")
    after = arguments.get("after")
    try:
        page = page_request(
            first=arguments.get("first"),
            after=after,
            last=None,
            before=None,
            default_size=ctx.default_page_size,
            max_size=ctx.max_page_size,
        ).of(listing)
        if page.after is not None:
            keyset_condition(keys, page.after, after=True)
    except GatewayError:
        raise Unsupported("bad page") from None
    if page.after is not None:
        slot = ctx.cursor_slots.get(id(arguments))
        if slot is None:
            raise Unsupported("a cursor outside a template")
        # The cursor's values are the template's placeholders, bound per request (the
        # template serves every cursor of this listing, types and NULLs).
        placeholders: tuple[Any, ...] = tuple(
            None if value is None else literal_column(cursor_value(slot, index))
            for index, value in enumerate(page.after)
        )
        page = replace(page, after=placeholders)
    return page


def cursor_value(slot: int, index: int) -> str:
    """The placeholder of a value of a template's ``slot``-th cursor (``templates``)."""
    return f"__gw_v_k{slot}_{index}__"


_LISTING = re.compile(r"^[_A-Za-z0-9.:,]+$")


def cursor_text(dialect: JsonDialect, listing: str, values: list[Any], keys: list[SortKey]) -> Any:
    """``pagination.encode_cursor(listing, values)`` in SQL, byte for byte: the JSON
    ``{"of":listing,"at":[values]}`` as orjson writes it (a date-time as ``{"t":iso}``),
    base64url without padding. ``keys`` (the standard path's) give the values' types."""
    if not _LISTING.match(listing):
        raise Unsupported(listing)
    parts: list[Any] = [literal_column(f'\'{{"of":{orjson.dumps(listing).decode()},"at":[\'')]
    for index, (value, key) in enumerate(zip(values, keys, strict=True)):
        column_type = getattr(key.expression, "type", None)
        if isinstance(column_type, DateTime):
            written = dialect.concat(
                [literal_column('\'{"t":"\''), dialect.datetime(value), literal_column("'\"}'")]
            )
        elif isinstance(column_type, Integer):
            written = dialect.integer_text(value)
        elif isinstance(column_type, String):
            written = dialect.json_text(value)
        else:
            raise Unsupported(f"a sort key of {column_type}")
        if key.nullable:
            written = case((value.is_(None), literal_column("'null'")), else_=written)
        if index:
            parts.append(literal_column("','"))
        parts.append(written)
    parts.append(literal_column("']}'"))
    return dialect.base64url(dialect.concat(parts))


def connection(
    item_type: str,
    table: str,
    name: str,
    base: Callable[[Cols, Context], Select[Any]],
    item_cols: Callable[[], Cols],
    keys: Callable[[tuple[str, bool]], list[SortKey]],
    default_order: tuple[str, bool],
) -> Handler:
    """A nested Relay connection: its total, its first page of items or the page after a
    cursor, their cursors, whether more follow. Its cursors are of the listing ``name``
    in the order asked (as ``schema.connection.child_connection`` writes them).

    ``last`` and ``before`` are left to the standard path.
    """

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        arguments = field.arguments
        order = _order(arguments.get("orderBy"), default_order)
        sort_keys = keys(order)
        listing = cursor_listing(name, order)
        page = page_after(arguments, ctx, listing, sort_keys)
        inner = ctx.entering(table)
        statement = base(cols, inner)
        return _page_json(
            field,
            statement,
            lambda nodes: _nested(item_type, item_cols(), nodes, inner),
            sort_keys,
            sort_keys,
            page,
            inner,
        )

    return handler


EDGE_FIELDS = frozenset({"cursor", "node", TYPENAME})


def _page_json(
    field: Field,
    statement: Select[Any],
    items: Callable[[Field], Any],
    sort_keys: list[SortKey],
    standard_keys: list[SortKey],
    page: PageRequest,
    ctx: Context,
) -> Any:
    """A connection's page from the statement of its children (``items``: the JSON of one
    child from what ``nodes`` asks): its total, its items in the keys' order after the
    page's cursor, their cursors, and whether more follow. ``standard_keys`` are the
    standard path's keys (their types write the cursors' values)."""
    listing = page.listing
    if listing is None:
        raise TypeError("a page of no listing")
    dialect = ctx.dialect
    paged = statement
    if page.after is not None:
        paged = statement.where(
            keyset_condition(sort_keys, page.after, after=True, row_values=dialect.native_nulls)
        )
    ordered = order_terms(sort_keys, native_nulls=dialect.native_nulls)
    values = [key.expression for key in sort_keys]

    def cursor_of(keys: list[Any]) -> Any:
        return cursor_text(dialect, listing, keys, standard_keys)

    def cursor() -> Any:
        return cursor_of(values)

    def edge(selection: Field) -> Any:
        pairs: list[Any] = []
        for child in selection.children:
            if child.name == TYPENAME:
                value: Any = _text(selection.type_name)
            elif child.name == "cursor":
                value = cursor()
            elif child.name == "node":
                value = items(child)
            else:
                raise Unsupported(f"edge field {child.name}")
            pairs += [_text(child.key), value]
        return dialect.object(pairs)

    for child in field.children:
        if child.name == "pageInfo":
            for info in child.children:
                if info.name not in PAGE_INFO_FIELDS:
                    raise Unsupported(f"pageInfo.{info.name}")
        elif child.name not in ("nodes", "edges", "totalCount", TYPENAME):
            raise Unsupported(f"connection field {child.name}")
    cursors = page.after is not None or any(
        child.name == "edges"
        or (
            child.name == "pageInfo"
            and any(info.name in ("startCursor", "endCursor") for info in child.children)
        )
        for child in field.children
    )
    if cursors and not dialect.cursor_pages:
        raise Unsupported(f"nested cursors on {dialect.name}")
    reads_rows = any(
        child.name in ("nodes", "edges")
        or (
            child.name == "pageInfo"
            and any(
                info.name in ("hasNextPage", "startCursor", "endCursor") for info in child.children
            )
        )
        for child in field.children
    )
    if cursors and page.limit > 0 and reads_rows:
        # Every value read from the rows is an aggregate over them (one row). Only where
        # cursors are asked: a first page without them keeps the subqueries that the
        # session list and page were measured with on every database.
        once = _page_once(field, statement, paged, items, edge, cursor_of, sort_keys, page, ctx)
        if once is not None:
            return once
    limit = page.limit
    pairs: list[Any] = []
    for child in field.children:
        if child.name == TYPENAME:
            value: Any = _text(field.type_name)
        elif child.name == "totalCount":
            value = statement.with_only_columns(func.count()).scalar_subquery()
        elif child.name == "nodes":
            value = dialect.array(paged.with_only_columns(items(child)), ordered, limit=limit)
        elif child.name == "edges":
            value = dialect.array(paged.with_only_columns(edge(child)), ordered, limit=limit)
        else:  # pageInfo
            value = _page_info(child, paged, ordered, page, cursor, sort_keys, ctx)
        pairs += [_text(child.key), value]
    return dialect.object(pairs)


PAGE_INFO_FIELDS = frozenset(
    {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor", TYPENAME}
)


def _page_info(
    field: Field,
    paged: Select[Any],
    ordered: list[Any],
    page: PageRequest,
    cursor: Callable[[], Any],
    sort_keys: list[SortKey],
    ctx: Context,
) -> Any:
    """A page's info, each value a correlated subquery of its own (MariaDB: see
    ``dialects.JsonDialect.correlated_pages``)."""
    limit = page.limit
    values: list[Any] = []
    for child in field.children:
        if child.name == TYPENAME:
            value: Any = _text("PageInfo")
        elif child.name == "hasNextPage":
            value = ctx.dialect.boolean(
                exists(paged.with_only_columns(literal(1)).order_by(*ordered).offset(limit))
            )
        elif child.name == "hasPreviousPage":
            value = ctx.dialect.boolean(true() if page.after is not None else false())
        elif limit == 0:
            value = null()
        elif child.name == "startCursor":
            value = paged.with_only_columns(cursor()).order_by(*ordered).limit(1).scalar_subquery()
        else:  # endCursor: the last of the page's rows (the list's last, on a short page)
            nth = paged.with_only_columns(cursor()).order_by(*ordered).offset(limit - 1).limit(1)
            backwards = order_terms(sort_keys, reverse=True, native_nulls=ctx.dialect.native_nulls)
            last = paged.with_only_columns(cursor()).order_by(*backwards).limit(1)
            value = func.coalesce(nth.scalar_subquery(), last.scalar_subquery())
        values += [_text(child.key), value]
    return ctx.dialect.object(values)


def _page_once(
    field: Field,
    statement: Select[Any],
    paged: Select[Any],
    items: Callable[[Field], Any],
    edge: Callable[[Field], Any],
    cursor_of: Callable[[list[Any]], Any],
    sort_keys: list[SortKey],
    page: PageRequest,
    ctx: Context,
) -> Any | None:
    """The page read once: a derived table of its ``limit + 1`` rows in the keys' order
    (by the listing's index: ``JsonDialect.page_limit``), each with its sort keys and
    what the query asks of it (the node's JSON, each edge's), numbered; the connection's
    JSON is one aggregate over the first ``limit`` of them, and the one more read says
    whether more follow. The start and end cursors are written once, from the keys of
    their row (a cursor per row read cost MariaDB a quarter of a millisecond a page of
    100). None where the database reads no outer column from a derived table (MariaDB:
    ``JsonDialect.correlated_pages``) and the rows read their parent's."""
    dialect = ctx.dialect
    limit = page.limit
    columns: dict[str, Any] = {f"_k{i}": key.expression for i, key in enumerate(sort_keys)}
    for index, child in enumerate(field.children):
        if child.name == "nodes":
            columns[f"_v{index}"] = dialect.page_value(items(child))
        elif child.name == "edges":
            columns[f"_v{index}"] = dialect.page_value(edge(child))
    ordered = order_terms(sort_keys, native_nulls=dialect.native_nulls)
    selected = (
        paged.with_only_columns(*(value.label(name) for name, value in columns.items()))
        .order_by(*ordered)
        .limit(dialect.page_limit(limit + 1))
        .correlate_except(None)
    )
    if not dialect.correlated_pages and not _self_contained(selected):
        return None
    rows = selected.subquery("page_rows")
    reading = [
        SortKey(rows.c[f"_k{i}"], key.descending, key.nullable) for i, key in enumerate(sort_keys)
    ]
    if not dialect.numbered_pages:
        return _page_aggregated(field, statement, rows, reading, cursor_of, page, ctx)
    numbered = select(
        rows,
        func.row_number()
        .over(order_by=order_terms(reading, native_nulls=dialect.native_nulls))
        .label("_rn"),
        func.count().over().label("_n"),
    ).subquery("page_numbered")
    number, read = numbered.c._rn, numbered.c._n

    def cursor_at(row: Any) -> Any:
        """The cursor of the row where ``row`` holds (NULL: none does)."""
        keys = [
            func.max(case((row, numbered.c[f"_k{i}"]), else_=None)) for i in range(len(sort_keys))
        ]
        found = func.max(case((row, literal_column("1")), else_=None))
        return case((found.is_(None), null()), else_=cursor_of(keys))

    pairs = _connection_pairs(
        field,
        statement,
        page,
        ctx,
        nodes=lambda index: dialect.rows_array(numbered.c[f"_v{index}"], number),
        has_next=lambda: func.coalesce(func.max(read), 0) > limit,
        start=lambda: cursor_at(number == 1),
        # The row numbered ``limit``, or the last of a short page.
        end=lambda: cursor_at(or_(number == read, number == limit)),
    )
    answered = select(dialect.object(pairs)).select_from(numbered).where(number <= limit)
    return dialect.nested(answered.scalar_subquery())


def _connection_pairs(
    field: Field,
    statement: Select[Any],
    page: PageRequest,
    ctx: Context,
    *,
    nodes: Callable[[int], Any],
    has_next: Callable[[], Any],
    start: Callable[[], Any],
    end: Callable[[], Any],
) -> list[Any]:
    """The key/value pairs of a page's connection object, whichever way its rows were
    read (:func:`_page_once`, :func:`_page_aggregated`): ``nodes`` the array of the field
    of that index, ``has_next`` whether more rows follow, ``start`` and ``end`` the
    cursors of the first and last rows shown (each asked only if selected)."""
    dialect = ctx.dialect
    pairs: list[Any] = []
    for index, child in enumerate(field.children):
        if child.name == TYPENAME:
            value: Any = _text(field.type_name)
        elif child.name == "totalCount":
            # Correlated with the parent's row two SELECTs up (SQLAlchemy correlates
            # only with the enclosing one unless told).
            counted = statement.with_only_columns(func.count()).correlate_except(None)
            value = counted.scalar_subquery()
        elif child.name in ("nodes", "edges"):
            value = nodes(index)
        else:  # pageInfo
            infos: list[Any] = []
            for info in child.children:
                if info.name == TYPENAME:
                    found: Any = _text("PageInfo")
                elif info.name == "hasNextPage":
                    found = dialect.boolean(has_next())
                elif info.name == "hasPreviousPage":
                    found = dialect.boolean(true() if page.after is not None else false())
                elif info.name == "startCursor":
                    found = start()
                else:  # endCursor
                    found = end()
                infos += [_text(info.key), found]
            value = dialect.object(infos)
        pairs += [_text(child.key), value]
    return pairs


def _page_aggregated(
    field: Field,
    statement: Select[Any],
    rows: Any,
    reading: list[SortKey],
    cursor_of: Callable[[list[Any]], Any],
    page: PageRequest,
    ctx: Context,
) -> Any:
    """:func:`_page_once` without numbering the rows (``JsonDialect.numbered_pages`` off):
    the nodes are an aggregate of the first ``limit`` rows in the keys' order, more follow
    if more were read, and the cursors are written from the keys of the first and last of
    those rows (each key's values aggregated in the same order, as a JSON array). One
    SELECT of aggregates over the rows: read through a derived table of one row, the
    aggregates' JSON was a temporary table of MariaDB's on disk (see ``MariaDBJson``);
    a cursor's key read twice is aggregated twice, over at most ``limit + 1`` rows of
    plain values, in memory."""
    dialect = ctx.dialect
    limit = page.limit
    order = order_terms(reading, native_nulls=dialect.native_nulls)
    read = func.count()

    def cursor_at(position: str) -> Any:
        keys = [
            dialect.json_value(dialect.first_values(key.expression, order, limit), f"$[{position}]")
            for key in reading
        ]
        return case((read == 0, null()), else_=cursor_of(keys))

    pairs = _connection_pairs(
        field,
        statement,
        page,
        ctx,
        nodes=lambda index: dialect.first_rows(rows.c[f"_v{index}"], order, limit),
        has_next=lambda: read > limit,
        start=lambda: cursor_at("0"),
        end=lambda: cursor_at("last"),  # the last of the first ``limit`` rows
    )
    answered = select(dialect.object(pairs)).select_from(rows)
    return dialect.nested(answered.scalar_subquery())


def _order(value: Any, default: tuple[str, bool]) -> tuple[str, bool]:
    """An ``orderBy`` input as graphql-core coerced it, as (field, descending)."""
    if value is None:
        return default
    key = getattr(value, "key", None)
    if callable(key):
        return key()  # type: ignore[no-any-return]
    field = value.get("field", default[0]) if isinstance(value, Mapping) else default[0]
    direction = value.get("direction") if isinstance(value, Mapping) else None
    name = getattr(field, "value", field)
    descending = (
        default[1] if direction is None else getattr(direction, "value", direction) == "desc"
    )
    return str(name), bool(descending)


# Relations, derived from their declarations ------------------------------------------


def _lookup_cols(
    type_name: str, model: Any, lateral: bool
) -> tuple[Cols, list[tuple[Any, Any, bool]]]:
    """The columns a type's row reads through its lookups (``gateway.fields``), and the
    joins that bring them: (target, condition, outer).

    On PostgreSQL a lookup is a LATERAL subquery by primary key with LIMIT 1: a join
    would hash the whole reference table (PARAMETERTYPE, SAMPLETYPE) once per row of the
    outer page (37 of 46 ms of the session page at 1M datasets), and LIMIT 1 keeps the
    planner from turning it back into one. Elsewhere it is a plain join by key, which
    MariaDB and SQLite run as an index lookup per row anyway."""
    cols: dict[str, Any] = {}
    joins: list[tuple[Any, Any, bool]] = []
    for lookup in lookups_of(type_name):
        other = model_of(lookup.table)
        if lateral:
            found = (
                select(*(column(other, name).label(key) for key, name in lookup.columns))
                .where(column(other, "id") == column(model, lookup.key))
                .limit(1)
                .lateral(f"lookup_{lookup.table.lower()}")
            )
            cols.update({key: found.c[key] for key, _ in lookup.columns})
            joins.append((found, true(), lookup.optional))
        else:
            cols.update({key: column(other, name) for key, name in lookup.columns})
            condition = column(other, "id") == column(model, lookup.key)
            joins.append((other, condition, lookup.optional))
    return cols, joins


def _joined(statement: Select[Any], joins: list[tuple[Any, Any, bool]]) -> Select[Any]:
    for target, condition, outer in joins:
        statement = (
            statement.outerjoin(target, condition) if outer else statement.join(target, condition)
        )
    return statement


def row_cols(type_name: str, model: Any, lateral: bool = False) -> tuple[Cols, list[Any]]:
    """A type's row as the renderer reads it: the table's columns and its lookups'."""
    cols, joins = _lookup_cols(type_name, model, lateral)
    return {**model_columns(model), **cols}, joins


def derived(
    relation: Relation, owner: str, rows_by_rules: Callable[[Access], list[Any]] | None = None
) -> Handler:
    """The handler of a declared relation: its children by its join keys, rendered in
    its order, as one correlated subquery (an object, a JSON array, or a connection's
    page: its total, its nodes, edges and cursors of the listing ``owner.name``, as
    ``schema.connection.relation_connection`` writes them).

    Under ICAT's rules the children are those ``visibility.related_by_rules`` reaches, or
    ``rows_by_rules`` where the standard path's loader filters them otherwise (a session's
    team). A non-null object the rules may not reach would be rendered as null where the
    standard path reports the null as an error: unless ``rows_by_rules`` says that its
    parent rows are listed only with it, the standard path answers."""
    child = model_of(relation.table)
    through = relation.through
    link = None if through is None else model_of(through.table)
    tables: tuple[str, ...] = (
        (relation.table,) if through is None else (through.table, relation.table)
    )
    tables += tuple(lookup.table for lookup in lookups_of(relation.child))
    if link is not None and lookups_of(relation.child):
        raise TypeError(f"{relation.name}: lookups of a child through a link table")
    child_key = column(child, relation.child_key)
    standard_keys = related_keys(relation) if relation.cardinality is Cardinality.PAGE else []
    listing = cursor_listing(f"{owner}.{relation.name}", (",".join(relation.order), False))

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        ruled: list[Any] = []
        if ctx.rules is not None:
            # The children the catalogue's rules let the caller reach (as the loader's).
            if rows_by_rules is None:
                ruled = related_by_rules(ctx.access, relation)
                if ruled and relation.cardinality is Cardinality.ONE and not relation.nullable:
                    raise Unsupported(f"{relation.name}: a non-null object the rules filter")
            else:
                ruled = rows_by_rules(ctx.access)
            if ruled and through is not None:
                raise Unsupported(f"{relation.name}: rules on a link table")
        elif relation.visibility is not None:
            # The loader filters the children by their rule (``relations.rule``); its
            # correlated SQL form is not written yet: the standard path answers.
            raise Unsupported(f"{relation.name}: children filtered by {relation.visibility}")
        inner = ctx
        for table in tables:
            inner = inner.entering(table)
        parent = _col(cols, relation.parent_key)
        lateral = ctx.dialect.lateral
        if through is None or link is None:
            child_cols, joins = row_cols(relation.child, child, lateral)
            statement = _joined(select(literal(1)).select_from(child), joins)
            statement = statement.where(child_key == parent, *ruled)
        else:
            on_link = child_key == column(link, through.child)
            statement = select(literal(1)).select_from(link)
            if lateral:
                # The child by primary key from each link row (see ``_lookup_cols``).
                found = (
                    select(*(c.label(k) for k, c in model_columns(child).items()))
                    .where(on_link)
                    .limit(1)
                    .lateral(f"link_{relation.table.lower()}")
                )
                child_cols = dict(found.c.items())
                statement = statement.join(found, true())
            else:
                child_cols = model_columns(child)
                statement = statement.join(child, on_link)
            statement = statement.where(column(link, through.parent) == parent)

        def rendered(selection: Field) -> Any:
            if relation.value is not None:
                return inner.dialect.text(_col(child_cols, relation.value))
            return _nested(relation.child, child_cols, selection, inner)

        if relation.cardinality is Cardinality.PAGE:
            page = page_after(field.arguments, ctx, listing, standard_keys)
            keys = [
                SortKey(_col(child_cols, key), nullable=standard.nullable)
                for key, standard in zip(relation.order, standard_keys, strict=True)
            ]
            # The nodes by the keyset the standard path's pages follow (``related_keys``).
            return _page_json(field, statement, rendered, keys, standard_keys, page, inner)
        json = rendered(field)
        if relation.cardinality is Cardinality.ONE:
            return inner.dialect.nested(statement.with_only_columns(json).scalar_subquery())
        order = [_col(child_cols, key) for key in relation.order]
        listed = statement.with_only_columns(json)
        return inner.dialect.array(listed, order, values=relation.value is not None)

    return handler


# Hand-written: what no declaration of keys says --------------------------------------


def _is_main_proposer(cols: Cols, field: Field, ctx: Context) -> Any:
    return ctx.dialect.boolean(is_main_proposer(_col(cols, "role"), ctx.main_proposer_roles))


def _my_roles(cols: Cols, field: Field, ctx: Context) -> Any:
    name = ctx.user_name
    if name is None:
        return ctx.dialect.empty_list
    ctx.entering("INVESTIGATIONUSER")
    return ctx.dialect.array(
        select(InvestigationUser.role)
        .join(User, User.id == InvestigationUser.user_id)
        .where(InvestigationUser.investigation_id == _col(cols, "id"), same_name(User.name, name)),
        [InvestigationUser.id],
        values=True,
    )


def value_kind(name: str) -> Handler:
    """PARAMETERTYPE.VALUETYPE as the name of its ``ValueKind``."""

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        value = _col(cols, name)
        return case(*((value == kind.value, _text(kind.name)) for kind in ValueKind), else_=None)

    return handler


def _dataset_cols() -> tuple[Cols, list[Any]]:
    return row_cols("Dataset", Dataset)


def _dataset_type(cols: Cols, field: Field, ctx: Context) -> Any:
    """The dataset's type from its own row (its statement joins DATASETTYPE)."""
    own = {"name": _col(cols, "type_name"), "description": _col(cols, "type_description")}
    return _nested("DatasetType", own, field, ctx)


class _ColumnsOf:
    """A row's columns as attributes (what a compiled rule reads of its row's model)."""

    def __init__(self, cols: Cols) -> None:
        self._cols = cols

    def __getattr__(self, name: str) -> Any:
        return _col(self._cols, name)


def _datasets_of_investigation(cols: Cols, ctx: Context) -> Select[Any]:
    """The session's datasets the caller may see: all if the session's data are visible,
    else those a published data publication holds (``dataset_visible``, for one parent)."""
    _, joins = _dataset_cols()
    statement = _joined(select(Dataset.id), joins).where(
        Dataset.investigation_id == _col(cols, "id")
    )
    if ctx.rules is not None:
        session = _ColumnsOf(cols)  # the Dataset rules that read only the session, on it
        ruled = datasets_of_session_by_rules(ctx.access, _col(cols, "data_visible"), session)
        return statement.where(ruled)
    if ctx.is_staff:
        return statement
    return statement.where(dataset_visible_with(_col(cols, "data_visible"), ctx.now))


def _datafiles_of_dataset(cols: Cols, ctx: Context) -> Select[Any]:
    """The files of a dataset the caller sees: all of them (as ``Dataset.datafiles``)."""
    _, joins = row_cols("Datafile", Datafile)
    statement = _joined(select(Datafile.id), joins).where(Datafile.dataset_id == _col(cols, "id"))
    if ctx.rules is not None:
        step = relationships.step("Dataset", "datafiles")
        assert step is not None
        reached = reached_by_rules(ctx.access, step, Datafile)
        if reached is not None:
            statement = statement.where(reached)
    return statement


_TEAM = DECLARED["Investigation"].relation("team")
_MEMBER = DECLARED["TeamMember"].relation("user")


SPECIAL: dict[str, dict[str, Handler]] = {
    "Investigation": {
        # Under ICAT's rules, the members whose person the caller reaches too.
        "team": derived(_TEAM, "Investigation", team_rows_by_rules),
        # A rule per row: the caller's own roles (by user name, case as ICAT compares).
        "myRoles": _my_roles,
        # Pages: a total, a first page by the orderings' keysets, pageInfo; the visibility
        # of each dataset correlated with the session's row.
        "datasets": connection(
            "Dataset",
            "DATASET",
            "datasets_of_investigation",
            _datasets_of_investigation,
            lambda: _dataset_cols()[0],
            lambda order: dataset_keys(*order),
            ("START_DATE", False),
        ),
    },
    "Dataset": {
        # Read from the dataset's own row: no table to join.
        "type": _dataset_type,
        "datafiles": connection(
            "Datafile",
            "DATAFILE",
            "datafiles_of_dataset",
            _datafiles_of_dataset,
            lambda: row_cols("Datafile", Datafile)[0],
            lambda order: datafile_keys(*order),
            ("NAME", False),
        ),
    },
    "TeamMember": {
        # A rule per row: the main proposer's roles are a setting.
        "isMainProposer": _is_main_proposer,
        # Under ICAT's rules ``Investigation.team`` lists a member only with their person.
        "user": derived(_MEMBER, "TeamMember", lambda access: related_by_rules(access, _MEMBER)),
    },
}
"""The handlers written by hand, and why: rules computed per row, pages, and a child read
from its parent's own row. Every other compiled relation's handler is ``derived`` from its
declaration."""


def _personal(handler: Handler) -> Handler:
    """PERSONAL data is rendered for staff, who may read all of it; for anyone else it
    is the person's own or refused, which the standard path decides and reports."""

    def guarded_handler(cols: Cols, field: Field, ctx: Context) -> Any:
        if not ctx.is_staff:
            raise Unsupported(f"PERSONAL {field.name}")
        return handler(cols, field, ctx)

    return guarded_handler


_FORMATS: dict[Format, Callable[[str, str], Handler]] = {
    Format.TEXT: lambda type_name, column: plain(column),
    Format.INT: lambda type_name, column: plain(column),
    Format.LONG: lambda type_name, column: plain(column),
    Format.BOOLEAN: lambda type_name, column: boolean(column),
    Format.FLOAT: lambda type_name, column: number(column),
    Format.DATETIME: lambda type_name, column: iso(column),
    Format.GLOBAL_ID: lambda type_name, column: global_id(type_name, column),
    Format.VALUE_KIND: lambda type_name, column: value_kind(column),
    Format.RELEASED: lambda type_name, column: released(column),
}
"""Each format's SQL, written as strawberry serialises the format's Python value."""


def scalar_handler(type_name: str, scalar: Scalar) -> Handler:
    """The SQL of a declared scalar field: its column in its format."""
    handler = _FORMATS[scalar.format](type_name, scalar.column)
    if scalar.field_class is FieldClass.PERSONAL:
        return _personal(handler)
    return handler


def _handlers(declared: ObjectFields) -> dict[str, Handler]:
    special = SPECIAL.get(declared.type_name, {})
    handlers: dict[str, Handler] = {}
    for field in declared.fields:
        if isinstance(field, Scalar):
            handlers[field.name] = scalar_handler(declared.type_name, field)
        elif not field.compiled:
            continue
        elif field.name in special:
            handlers[field.name] = special[field.name]
        elif isinstance(field, Relation) and (
            field.cardinality is not Cardinality.PAGE or field.written is None
        ):
            # An object, a list, or a page in its declared order (not one a client orders).
            handlers[field.name] = derived(field, declared.type_name)
        else:
            # A rule or a page the compiler cannot derive: written by hand, or compiled=False.
            raise TypeError(f"{declared.type_name}.{field.name}: compiled, but no handler")
    unused = set(special) - set(handlers)
    if unused:
        raise TypeError(f"{declared.type_name}: handlers of no compiled field {sorted(unused)}")
    return handlers


TYPES: dict[str, dict[str, Handler]] = {
    name: _handlers(declared) for name, declared in DECLARED.items() if declared.compiled
}
"""Every field the compiler renders, by type: the catalogue's scalars and the relations
above. A field not here resolves the standard way."""

GUARDED_BY_DATA: dict[str, frozenset[str]] = {
    name: DECLARED[name].guarded_names(FieldClass.DATA) for name in TYPES
}
"""Fields that need the row's ``data_visible`` (their class is DATA, on a type whose rows
are public): from the catalogue, as the standard path's guards are."""

if set(SPECIAL) - set(TYPES):
    raise TypeError(
        f"handlers of types the catalogue does not compile: {set(SPECIAL) - set(TYPES)}"
    )
