"""A selection rendered as JSON by PostgreSQL, with the visibility rules as SQL.

For each object type the compiler knows, a table of its fields: how each is computed from
the columns of the object's row (``Cols``), as a JSON-ready SQL expression. Nested objects
and lists are correlated subqueries (``json_build_object``, ``ARRAY(...)``), so one
statement answers the whole subtree; nested pages read ``LIMIT`` rows by the same keyset
orderings and visibility rules as the loaders. Values are formatted as strawberry would
serialise them (global ids, ISO date-times, enum names), and the tests compare both paths
on the same queries.

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
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    inspect,
    literal,
    literal_column,
    select,
    true,
)

from gateway.catalogue.models import (
    Datafile,
    DatafileFormat,
    Dataset,
    DatasetParameter,
    DatasetTechnique,
    DatasetType,
    Facility,
    Instrument,
    InstrumentScientist,
    Investigation,
    InvestigationInstrument,
    InvestigationParameter,
    InvestigationType,
    InvestigationUser,
    Keyword,
    ParameterType,
    Sample,
    SampleParameter,
    SampleType,
    Technique,
    User,
)
from gateway.catalogue.ordering import datafile_keys, dataset_keys
from gateway.catalogue.pagination import PageRequest, SortKey, order_terms, page_request
from gateway.catalogue.sql_text import same_name
from gateway.catalogue.visibility import dataset_visible_with, is_main_proposer
from gateway.catalogue.visibility import released as is_released
from gateway.compiled.selection import TYPENAME, Field, Unsupported
from gateway.errors import GatewayError
from gateway.fields.catalogue import TYPES as DECLARED
from gateway.fields.declaration import FieldClass, Format, ObjectFields, Resolved, Scalar, ValueKind

Cols = Mapping[str, Any]
"""The columns of an object's row by attribute name (``start_date``), and ``data_visible``."""

Handler = Callable[[Cols, Field, "Context"], ColumnElement[Any]]

EMPTY_LIST: ColumnElement[Any] = literal_column("'[]'::json")
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


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
    if len(arguments) > 100:  # PostgreSQL functions take at most 100 arguments
        raise Unsupported("too many fields")
    guard = _col(cols, "data_visible") if guarded else None
    return Rendering(func.json_build_object(*arguments), guard)


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
    return lambda cols, field, ctx: _col(cols, name)


def iso(name: str) -> Handler:
    """A date-time as ``datetime.isoformat()`` writes a naive one (strawberry's DateTime)."""

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        value = _col(cols, name)
        whole = func.to_char(value, literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS'"))
        fraction = func.to_char(value, literal_column("'.US'"))
        return case(
            (value == func.date_trunc(literal_column("'second'"), value), whole),
            else_=whole.op("||")(fraction),
        )

    return handler


def number(name: str) -> Handler:
    """A GraphQL Float: PostgreSQL writes 1357.0 as ``1357``, which would read back as an
    int; whole numbers below 1e15 (written without an exponent) get their ``.0``."""

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        value = _col(cols, name)
        whole = and_(value == func.trunc(value), func.abs(value) < 1e15)
        as_float = cast(cast(value, Text).op("||")(literal_column("'.0'")), JSON)
        return case((whole, as_float), else_=func.to_json(value))

    return handler


def global_id(type_name: str, name: str = "id") -> Handler:
    """``gateway.schema.node.global_id`` in SQL: base64 of ``Type:id``."""

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        text = literal_column(f"'{type_name}:'").op("||")(cast(_col(cols, name), Text))
        return func.encode(
            func.convert_to(text, literal_column("'UTF8'")), literal_column("'base64'")
        )

    return handler


def released(name: str) -> Handler:
    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        return is_released(_col(cols, name), ctx.now)

    return handler


# Nested objects and lists ------------------------------------------------------------


def _nested(type_name: str, cols: Cols, field: Field, ctx: Context) -> ColumnElement[Any]:
    rendering = render_object(type_name, cols, field.children, ctx)
    if rendering.guard is not None:
        raise Unsupported(f"DATA fields of a nested {type_name}")
    return rendering.json


def one(
    type_name: str,
    table: str,
    model_cols: Callable[[], Cols],
    statement: Callable[[Cols], Select[Any]],
) -> Handler:
    """A single related object: NULL if there is none."""

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        inner = ctx.entering(table)
        child = model_cols()
        return (
            statement(cols)
            .with_only_columns(_nested(type_name, child, field, inner))
            .scalar_subquery()
        )

    return handler


def many(
    type_name: str,
    tables: tuple[str, ...],
    model_cols: Callable[[], Cols],
    statement: Callable[[Cols], Select[Any]],
    order: Callable[[], list[Any]],
) -> Handler:
    """A list of related objects, in the loaders' order."""

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        inner = ctx
        for table in tables:
            inner = inner.entering(table)
        child = model_cols()
        json = _nested(type_name, child, field, inner)
        return _array(statement(cols).with_only_columns(json).order_by(*order()))

    return handler


def _array(statement: Select[Any]) -> ColumnElement[Any]:
    """The rows of a one-column statement as a JSON array, in its order."""
    return func.array_to_json(func.array(statement.scalar_subquery()))


def first_page(arguments: Mapping[str, Any], default_size: int, max_size: int) -> PageRequest:
    """The page a connection's arguments ask for, if it is a first page (no cursor, not
    from the end): the compiled SQL has no cursors. Bad sizes are the standard path's
    to report."""
    if any(arguments.get(name) is not None for name in ("after", "before", "last")):
        raise Unsupported("cursor arguments")
    try:
        return page_request(
            first=arguments.get("first"),
            after=None,
            last=None,
            before=None,
            default_size=default_size,
            max_size=max_size,
        )
    except GatewayError:
        raise Unsupported("bad page") from None


def connection(
    item_type: str,
    table: str,
    base: Callable[[Cols, Context], Select[Any]],
    item_cols: Callable[[], Cols],
    keys: Callable[[tuple[str, bool]], list[SortKey]],
    default_order: tuple[str, bool],
) -> Handler:
    """A nested Relay connection: its total, its first page of items, whether more follow.

    Cursors (``edges``, ``startCursor``, ``endCursor``) and ``after``/``before``/``last``
    are left to the standard path.
    """

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        arguments = field.arguments
        page = first_page(arguments, ctx.default_page_size, ctx.max_page_size)
        inner = ctx.entering(table)
        statement = base(cols, inner)
        sort_keys = keys(_order(arguments.get("orderBy"), default_order))
        ordered = order_terms(sort_keys)
        values: list[Any] = []
        for child in field.children:
            if child.name == TYPENAME:
                value: Any = _text(field.type_name)
            elif child.name == "totalCount":
                value = statement.with_only_columns(func.count()).scalar_subquery()
            elif child.name == "nodes":
                json = _nested(item_type, item_cols(), child, inner)
                value = _array(
                    statement.with_only_columns(json).order_by(*ordered).limit(page.limit)
                )
            elif child.name == "pageInfo":
                value = _page_info(child, statement, ordered, page.limit)
            else:
                raise Unsupported(f"connection field {child.name}")
            values += [_text(child.key), value]
        return func.json_build_object(*values)

    return handler


def _page_info(field: Field, statement: Select[Any], ordered: list[Any], limit: int) -> Any:
    values: list[Any] = []
    for child in field.children:
        if child.name == TYPENAME:
            value: Any = _text("PageInfo")
        elif child.name == "hasNextPage":
            value = exists(statement.with_only_columns(literal(1)).order_by(*ordered).offset(limit))
        elif child.name == "hasPreviousPage":
            value = false()
        else:
            raise Unsupported(f"pageInfo.{child.name}")
        values += [_text(child.key), value]
    return func.json_build_object(*values)


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


# The types ---------------------------------------------------------------------------


def _is_main_proposer(cols: Cols, field: Field, ctx: Context) -> Any:
    return is_main_proposer(_col(cols, "role"), ctx.main_proposer_roles)


def _team_cols() -> Cols:
    return {"role": InvestigationUser.role, "user_id": InvestigationUser.user_id}


# The member's person by primary key, row by row: a join would hash the whole USER_
# table once per session of a page.
_team_user = one(
    "User",
    "USER_",
    lambda: model_columns(User),
    lambda cols: select(User.id).where(User.id == _col(cols, "user_id")),
)


def _my_roles(cols: Cols, field: Field, ctx: Context) -> Any:
    name = ctx.user_name
    if name is None:
        return EMPTY_LIST
    ctx.entering("INVESTIGATIONUSER")
    return _array(
        select(InvestigationUser.role)
        .join(User, User.id == InvestigationUser.user_id)
        .where(InvestigationUser.investigation_id == _col(cols, "id"), same_name(User.name, name))
        .order_by(InvestigationUser.id)
    )


def _keywords(cols: Cols, field: Field, ctx: Context) -> Any:
    ctx.entering("KEYWORD")
    return _array(
        select(Keyword.name)
        .where(Keyword.investigation_id == _col(cols, "id"))
        .order_by(Keyword.name)
    )


def _parameters(model: Any, owner: Any, table: str) -> Handler:
    """Typed parameters with their type's name and units, by type name.

    The type is a LATERAL lookup by primary key for each parameter: a join would hash the
    whole PARAMETERTYPE table once per dataset of a page (37 of 46 ms of the session page
    at 1M datasets).
    """
    kind = (
        select(
            ParameterType.name.label("name"),
            ParameterType.units.label("units"),
            ParameterType.units_full_name.label("units_full_name"),
            ParameterType.value_type.label("value_type"),
        )
        .where(ParameterType.id == model.parameter_type_id)
        .limit(1)  # one row by primary key; it also keeps PostgreSQL from making it a join
        .lateral("parameter_type")
    )

    def cols() -> Cols:
        return {
            "name": kind.c.name,
            "units": kind.c.units,
            "units_full_name": kind.c.units_full_name,
            "value_type": kind.c.value_type,
            "numeric_value": model.numeric_value,
            "string_value": model.string_value,
            "datetime_value": model.datetime_value,
            "error": model.error,
            "range_bottom": model.range_bottom,
            "range_top": model.range_top,
        }

    return many(
        "Parameter",
        (table, "PARAMETERTYPE"),
        cols,
        lambda outer: select(model.id).join(kind, true()).where(owner == _col(outer, "id")),
        lambda: [kind.c.name, model.id],
    )


def value_kind(name: str) -> Handler:
    """PARAMETERTYPE.VALUETYPE as the name of its ``ValueKind``."""

    def handler(cols: Cols, field: Field, ctx: Context) -> Any:
        value = _col(cols, name)
        return case(*((value == kind.value, _text(kind.name)) for kind in ValueKind), else_=None)

    return handler


def _by_key(columns: list[Any], key: Any, target: Any, name: str) -> Any:
    """A LATERAL lookup of one row by primary key. Joined, small reference tables
    (sample types, techniques, parameter types) would be hashed whole once per row of the
    outer page; LIMIT 1 keeps PostgreSQL from turning the lookup back into such a join."""
    return select(*columns).where(target == key).limit(1).lateral(name)


_SAMPLE_TYPE = _by_key(
    [SampleType.name.label("name"), SampleType.molecular_formula.label("molecular_formula")],
    Sample.type_id,
    SampleType.id,
    "sample_type",
)

_TECHNIQUE = _by_key(
    [column.label(key) for key, column in model_columns(Technique).items()],
    DatasetTechnique.technique_id,
    Technique.id,
    "technique",
)


_INSTRUMENT = _by_key(
    [column.label(key) for key, column in model_columns(Instrument).items()],
    InvestigationInstrument.instrument_id,
    Instrument.id,
    "instrument",
)


def _sample_cols() -> Cols:
    return {
        **model_columns(Sample),
        "type_name": _SAMPLE_TYPE.c.name,
        "type_molecular_formula": _SAMPLE_TYPE.c.molecular_formula,
    }


def _dataset_cols() -> Cols:
    return {
        **model_columns(Dataset),
        "type_name": DatasetType.name,
        "type_description": DatasetType.description,
    }


def _dataset_type(cols: Cols, field: Field, ctx: Context) -> Any:
    """The dataset's type from its own row (its statement joins DATASETTYPE)."""
    own = {"name": _col(cols, "type_name"), "description": _col(cols, "type_description")}
    return _nested("DatasetType", own, field, ctx)


def _datafile_cols() -> Cols:
    return {**model_columns(Datafile), "format_name": DatafileFormat.name}


def _datasets_of_investigation(cols: Cols, ctx: Context) -> Select[Any]:
    """The session's datasets the caller may see: all if the session's data are visible,
    else those a published data publication holds (``dataset_visible``, for one parent)."""
    statement = (
        select(Dataset.id)
        .join(DatasetType, DatasetType.id == Dataset.type_id)
        .where(Dataset.investigation_id == _col(cols, "id"))
    )
    if ctx.is_staff:
        return statement
    return statement.where(dataset_visible_with(_col(cols, "data_visible"), ctx.now))


def _datafiles_of_dataset(cols: Cols, ctx: Context) -> Select[Any]:
    """The files of a dataset the caller sees: all of them (as ``Dataset.datafiles``)."""
    return (
        select(Datafile.id)
        .outerjoin(DatafileFormat, DatafileFormat.id == Datafile.datafile_format_id)
        .where(Datafile.dataset_id == _col(cols, "id"))
    )


def _dataset_investigation(cols: Cols, field: Field, ctx: Context) -> Any:
    # Without ``data_visible``: canReadData and DATA fields of it resolve the standard way.
    inner = ctx.entering("INVESTIGATION")
    child = model_columns(Investigation)
    return (
        select(_nested("Investigation", child, field, inner))
        .where(Investigation.id == _col(cols, "investigation_id"))
        .scalar_subquery()
    )


_FACILITY = one(
    "Facility",
    "FACILITY",
    lambda: model_columns(Facility),
    lambda cols: select(Facility.id).where(Facility.id == _col(cols, "facility_id")),
)

RELATIONS: dict[str, dict[str, Handler]] = {
    "Investigation": {
        "facility": _FACILITY,
        "type": one(
            "InvestigationType",
            "INVESTIGATIONTYPE",
            lambda: model_columns(InvestigationType),
            lambda cols: select(InvestigationType.id).where(
                InvestigationType.id == _col(cols, "type_id")
            ),
        ),
        "instruments": many(
            "Instrument",
            ("INVESTIGATIONINSTRUMENT", "INSTRUMENT"),
            lambda: dict(_INSTRUMENT.c.items()),
            lambda cols: (
                select(InvestigationInstrument.id)
                .join(_INSTRUMENT, true())
                .where(InvestigationInstrument.investigation_id == _col(cols, "id"))
            ),
            lambda: [_INSTRUMENT.c.name, _INSTRUMENT.c.id],
        ),
        "team": many(
            "TeamMember",
            ("INVESTIGATIONUSER",),
            _team_cols,
            lambda cols: select(InvestigationUser.id).where(
                InvestigationUser.investigation_id == _col(cols, "id")
            ),
            lambda: [InvestigationUser.id],
        ),
        "myRoles": _my_roles,
        "keywords": _keywords,
        "parameters": _parameters(
            InvestigationParameter,
            InvestigationParameter.investigation_id,
            "INVESTIGATIONPARAMETER",
        ),
        "samples": many(
            "Sample",
            ("SAMPLE", "SAMPLETYPE"),
            _sample_cols,
            lambda cols: (
                select(Sample.id)
                .outerjoin(_SAMPLE_TYPE, true())
                .where(Sample.investigation_id == _col(cols, "id"))
            ),
            lambda: [Sample.name, Sample.id],
        ),
        "datasets": connection(
            "Dataset",
            "DATASET",
            _datasets_of_investigation,
            _dataset_cols,
            lambda order: dataset_keys(*order),
            ("START_DATE", False),
        ),
    },
    "Dataset": {
        "type": _dataset_type,
        "sample": one(
            "Sample",
            "SAMPLE",
            _sample_cols,
            lambda cols: (
                select(Sample.id)
                .outerjoin(_SAMPLE_TYPE, true())
                .where(Sample.id == _col(cols, "sample_id"))
            ),
        ),
        "techniques": many(
            "Technique",
            ("DATASETTECHNIQUE", "TECHNIQUE"),
            lambda: dict(_TECHNIQUE.c.items()),
            lambda cols: (
                select(DatasetTechnique.id)
                .join(_TECHNIQUE, true())
                .where(DatasetTechnique.dataset_id == _col(cols, "id"))
            ),
            lambda: [_TECHNIQUE.c.name, _TECHNIQUE.c.id],
        ),
        "parameters": _parameters(
            DatasetParameter, DatasetParameter.dataset_id, "DATASETPARAMETER"
        ),
        "investigation": _dataset_investigation,
        "datafiles": connection(
            "Datafile",
            "DATAFILE",
            _datafiles_of_dataset,
            _datafile_cols,
            lambda order: datafile_keys(*order),
            ("NAME", False),
        ),
    },
    "Sample": {
        "parameters": _parameters(SampleParameter, SampleParameter.sample_id, "SAMPLEPARAMETER"),
    },
    "Instrument": {
        "facility": _FACILITY,
        "scientists": many(
            "User",
            ("INSTRUMENTSCIENTIST", "USER_"),
            lambda: model_columns(User),
            lambda cols: (
                select(User.id)
                .join(InstrumentScientist, InstrumentScientist.user_id == User.id)
                .where(InstrumentScientist.instrument_id == _col(cols, "id"))
            ),
            lambda: [User.name, User.id],
        ),
    },
    "TeamMember": {"isMainProposer": _is_main_proposer, "user": _team_user},
}
"""The hand-written handlers of the fields the catalogue declares as ``Resolved`` (and
``compiled``): related objects, lists, pages, rules computed per row."""


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
    Format.BOOLEAN: lambda type_name, column: plain(column),
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
    relations = RELATIONS.get(declared.type_name, {})
    compiled = {f.name for f in declared.fields if isinstance(f, Resolved) and f.compiled}
    if set(relations) != compiled:
        # Both sides of one declaration: a handler for each compiled relation, no other.
        raise TypeError(
            f"{declared.type_name}: handlers {sorted(relations)} but compiled relations "
            f"{sorted(compiled)} in the field catalogue"
        )
    scalars = {field.name: scalar_handler(declared.type_name, field) for field in declared.scalars}
    return {**scalars, **relations}


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

if set(RELATIONS) - set(TYPES):
    raise TypeError(
        f"handlers of types the catalogue does not compile: {set(RELATIONS) - set(TYPES)}"
    )
