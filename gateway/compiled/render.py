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
    or_,
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
from gateway.catalogue.visibility import published_dataset_ids
from gateway.compiled.selection import TYPENAME, Field, Unsupported
from gateway.errors import GatewayError

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
    data_fields = DATA_FIELDS.get(type_name, frozenset())
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
        value = _col(cols, name)
        return and_(value.is_not(None), value < ctx.now)

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


def _user_fields() -> dict[str, Handler]:
    return {
        "id": global_id("User"),
        "icatId": plain("id"),
        "name": plain("name"),
        "fullName": plain("full_name"),
        "givenName": plain("given_name"),
        "familyName": plain("family_name"),
        "orcidId": plain("orcid_id"),
        "affiliation": plain("affiliation"),
    }


def _is_main_proposer(cols: Cols, field: Field, ctx: Context) -> Any:
    from gateway.catalogue.visibility import is_main_proposer

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
        .where(InvestigationUser.investigation_id == _col(cols, "id"), User.name == name)
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


def _value_kind(cols: Cols, field: Field, ctx: Context) -> Any:
    value = _col(cols, "value_type")
    return case(
        (value == 0, _text("DATE_AND_TIME")),
        (value == 1, _text("NUMERIC")),
        (value == 2, _text("STRING")),
        else_=None,
    )


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
    return {**model_columns(Dataset), "type_name": DatasetType.name}


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
    visible = _col(cols, "data_visible")
    return statement.where(or_(visible, Dataset.id.in_(published_dataset_ids(ctx.now))))


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


INVESTIGATION: dict[str, Handler] = {
    "id": global_id("Investigation"),
    "icatId": plain("id"),
    "proposal": plain("name"),
    "visitId": plain("visit_id"),
    "title": plain("title"),
    "startDate": iso("start_date"),
    "endDate": iso("end_date"),
    "releaseDate": iso("release_date"),
    "doi": plain("doi"),
    "isReleased": released("release_date"),
    "canReadData": plain("data_visible"),
    "summary": plain("summary"),
    "fileSize": plain("file_size"),
    "fileCount": plain("file_count"),
    "facility": one(
        "Facility",
        "FACILITY",
        lambda: model_columns(Facility),
        lambda cols: select(Facility.id).where(Facility.id == _col(cols, "facility_id")),
    ),
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
        InvestigationParameter, InvestigationParameter.investigation_id, "INVESTIGATIONPARAMETER"
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
}

DATASET: dict[str, Handler] = {
    "id": global_id("Dataset"),
    "icatId": plain("id"),
    "name": plain("name"),
    "description": plain("description"),
    "location": plain("location"),
    "doi": plain("doi"),
    "startDate": iso("start_date"),
    "endDate": iso("end_date"),
    "complete": plain("complete"),
    "fileSize": plain("file_size"),
    "fileCount": plain("file_count"),
    "type": plain("type_name"),
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
    "parameters": _parameters(DatasetParameter, DatasetParameter.dataset_id, "DATASETPARAMETER"),
    "investigation": _dataset_investigation,
    "datafiles": connection(
        "Datafile",
        "DATAFILE",
        _datafiles_of_dataset,
        _datafile_cols,
        lambda order: datafile_keys(*order),
        ("NAME", False),
    ),
}

TYPES: dict[str, dict[str, Handler]] = {
    "Investigation": INVESTIGATION,
    "Dataset": DATASET,
    "Datafile": {
        "id": global_id("Datafile"),
        "icatId": plain("id"),
        "name": plain("name"),
        "description": plain("description"),
        "location": plain("location"),
        "fileSize": plain("file_size"),
        "checksum": plain("checksum"),
        "createTime": iso("datafile_create_time"),
        "modTime": iso("datafile_mod_time"),
        "doi": plain("doi"),
        "format": plain("format_name"),
    },
    "Sample": {
        "id": global_id("Sample"),
        "icatId": plain("id"),
        "name": plain("name"),
        "pid": plain("pid"),
        "typeName": plain("type_name"),
        "molecularFormula": plain("type_molecular_formula"),
        "parameters": _parameters(SampleParameter, SampleParameter.sample_id, "SAMPLEPARAMETER"),
    },
    "Technique": {
        "id": global_id("Technique"),
        "icatId": plain("id"),
        "name": plain("name"),
        "pid": plain("pid"),
        "description": plain("description"),
    },
    "Parameter": {
        "name": plain("name"),
        "units": plain("units"),
        "unitsFullName": plain("units_full_name"),
        "valueKind": _value_kind,
        "numericValue": number("numeric_value"),
        "stringValue": plain("string_value"),
        "dateTimeValue": iso("datetime_value"),
        "error": number("error"),
        "rangeBottom": number("range_bottom"),
        "rangeTop": number("range_top"),
    },
    "Instrument": {
        "id": global_id("Instrument"),
        "icatId": plain("id"),
        "name": plain("name"),
        "fullName": plain("full_name"),
        "description": plain("description"),
        "type": plain("type"),
        "url": plain("url"),
        "facility": one(
            "Facility",
            "FACILITY",
            lambda: model_columns(Facility),
            lambda cols: select(Facility.id).where(Facility.id == _col(cols, "facility_id")),
        ),
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
    "Facility": {
        "id": global_id("Facility"),
        "icatId": plain("id"),
        "name": plain("name"),
        "fullName": plain("full_name"),
        "description": plain("description"),
        "url": plain("url"),
        "daysUntilRelease": plain("days_until_release"),
    },
    "InvestigationType": {"name": plain("name"), "description": plain("description")},
    "User": _user_fields(),
    "TeamMember": {
        "role": plain("role"),
        "isMainProposer": _is_main_proposer,
        "user": _team_user,
    },
}

DATA_FIELDS: dict[str, frozenset[str]] = {
    "Investigation": frozenset(
        {"summary", "fileSize", "fileCount", "keywords", "parameters", "samples"}
    ),
}
"""Fields that need the row's ``data_visible`` (see ``gateway.auth.policy``'s DATA class)."""
