"""Strawberry types from the field catalogue: fields, guards and the row-to-object step.

``@declared(SPEC)`` under ``@strawberry.type`` gives a class every scalar field of its
declaration (``gateway.fields.catalogue``), with the description and class sentence the
catalogue writes, and puts the guard of each field's class on it: a DATA or PERSONAL
field the caller may not read resolves to null with FORBIDDEN at its own path. Fields with
hand-written resolvers (relations, lists, rules) are written in the class as plain
``@strawberry.field`` methods; the decorator gives them their description and guard from
their declaration too. A field in the class that the catalogue does not declare, or a
declared field the class lacks, stops the import: a forgotten declaration cannot ship.

``Declared.from_row`` is the one row-to-object step: each scalar's column, converted by
its format. The object keeps the row (``_row``) for its resolvers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Annotated, Any, Optional, Self, TypeVar

import strawberry
from strawberry.annotation import StrawberryAnnotation
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from gateway.auth.policy import FieldClass, can_read_personal, is_released
from gateway.catalogue.icat_rules.relationships import entity_of_table
from gateway.catalogue.relations import related_rows
from gateway.errors import Forbidden
from gateway.fields.declaration import Cardinality, Format, ObjectFields, Relation, Scalar
from gateway.schema import declared_types
from gateway.schema.connection import Connection, relation_connection
from gateway.schema.node import global_id
from gateway.schema.scalars import Long, ParameterValueKind

T = TypeVar("T")

FORMAT_TYPES: Mapping[Format, Any] = {
    Format.TEXT: str,
    Format.INT: int,
    Format.LONG: Long,
    Format.FLOAT: float,
    Format.BOOLEAN: bool,
    Format.DATETIME: datetime,
    Format.GLOBAL_ID: strawberry.ID,
    Format.VALUE_KIND: ParameterValueKind,
    Format.RELEASED: bool,
}
"""The Python (and so GraphQL) type of each format."""

EMBARGOED = (
    "This field of an experiment session under embargo is visible only to its team, "
    "the beamline's scientists and facility staff."
)
PERSONAL = "This personal field is visible to its owner and to facility staff only."

Converter = Callable[[Any, datetime | None], Any]


def _converter(type_name: str, scalar: Scalar) -> Converter | None:
    """How the row's value (None included) becomes the field's; None: as it is."""
    fmt = scalar.format
    if fmt is Format.GLOBAL_ID:
        return lambda value, now: global_id(type_name, value)
    if fmt is Format.VALUE_KIND:
        return lambda value, now: None if value is None else ParameterValueKind(value)
    if fmt is Format.RELEASED:
        return lambda value, now: is_released(value, _instant(now))
    if fmt is Format.BOOLEAN:
        # MariaDB hands booleans over as 0 and 1.
        return lambda value, now: None if value is None else bool(value)
    return None


def _instant(now: datetime | None) -> datetime:
    if now is None:
        raise TypeError("a field of this type depends on the request's instant: pass `now`")
    return now


class Declared:
    """A strawberry type built from its declaration (see :func:`declared`)."""

    __declared__: Any
    _row: Mapping[str, Any]

    @classmethod
    def from_row(cls, row: Any, now: datetime | None = None) -> Self:
        """The object of a row of this type's statements (``now``: the request's instant,
        for fields that depend on it)."""
        step: RowStep = cls.__declared__
        values: Mapping[str, Any] = getattr(row, "_mapping", row)
        # Built without the dataclass __init__, as ``instance`` does: pages build
        # thousands of these per request.
        built = cls.__new__(cls)
        attributes = built.__dict__
        attributes.update(zip(step.names, step.read(values), strict=True))
        for name, column, convert in step.converted:
            attributes[name] = convert(values[column], now)
        attributes["_row"] = values
        return built


@dataclass(frozen=True)
class RowStep:
    """How a type's row becomes its object: columns read as they are, and converted ones."""

    names: tuple[str, ...]
    read: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    """The plain columns' values, in the order of ``names``."""
    converted: tuple[tuple[str, str, Converter], ...]


def _getter(columns: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(columns) == 1:  # itemgetter of one key returns the value, not a tuple
        (column,) = columns
        return lambda values: (values[column],)
    return itemgetter(*columns) if columns else lambda values: ()


class Guard(FieldExtension):
    """A field's class as a check before its resolver: FORBIDDEN where the caller may not
    read it (the DATA of a session under embargo, another person's PERSONAL data)."""

    def __init__(self, allowed: Callable[[Any, Any], bool], message: str, reason: str) -> None:
        super().__init__()
        self.allowed = allowed
        self.message = message
        self.reason = reason

    def _check(self, source: Any, info: Any) -> None:
        if not self.allowed(source, info):
            raise Forbidden(self.message, reason=self.reason)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        self._check(source, info)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        self._check(source, info)
        result = next_(source, info, **kwargs)
        if hasattr(result, "__await__"):
            return await result
        return result


def _data_visible(source: Any, info: Any) -> bool:
    """The session's DATA: decided in SQL, carried by the row as ``data_visible``."""
    return bool(source._row["data_visible"])


def guard_of(spec: ObjectFields, field_class: FieldClass) -> Guard:
    """The guard of a class of fields of this type."""
    if field_class is FieldClass.DATA:
        return Guard(_data_visible, EMBARGOED, "EMBARGOED")
    owner = spec.owner
    assert owner is not None  # checked by ObjectFields

    def personal(source: Any, info: Any) -> bool:
        return can_read_personal(info.context.access.caller, source._row[owner])

    return Guard(personal, PERSONAL, "PERSONAL")


def _python_type(scalar: Scalar) -> Any:
    base = FORMAT_TYPES[scalar.format]
    return base | None if scalar.nullable else base


def _reader(column: str, annotation: Any) -> Callable[..., Any]:
    def read(self: Any) -> Any:
        return self._row[column]

    read.__annotations__ = {"return": annotation}
    return read


def _looked_up(
    column: str, annotation: Any, convert: Converter | None, entity: str
) -> Callable[..., Any]:
    """A never-null field read from a lookup's row (a parameter's name, from its
    PARAMETERTYPE): NULL only where ICAT's rules hide that row (``relations.
    row_statement``), which answers FORBIDDEN at the field, as a hidden reference does."""

    def read(self: Any) -> Any:
        value = self._row[column]
        if value is None:
            raise Forbidden(f"The catalogue's rules do not let you read this {entity}.")
        return value if convert is None else convert(value, None)

    read.__annotations__ = {"return": annotation}
    return read


DECLARED_CLASSES: dict[str, Any] = vars(declared_types)
"""Every class built by ``@declared``, by type name: the derived resolvers' children,
found when the schema is built (then all are known)."""


def _relation_field(spec: ObjectFields, relation: Relation, description: str, guards: Any) -> Any:
    """The strawberry field of a declared relation: its children by the relation's loader
    (one statement per level of a request), built by their class's row-to-object step."""
    type_name, name, key = spec.type_name, relation.name, relation.parent_key
    value = relation.value
    child = relation.child
    one = relation.cardinality is Cardinality.ONE

    async def resolve(self: Any, info: strawberry.Info) -> Any:
        parent = self._row[key]
        if parent is None:
            return None if one else []
        rows = await info.context.loaders.related(type_name, name).load(parent)
        if value is not None:
            return [row._mapping[value] for row in rows]
        build = DECLARED_CLASSES[child].from_row
        now = info.context.access.now
        if one:
            if rows:
                return build(rows[0], now)
            if not relation.nullable:
                # A reference that is never null and found nothing: only ICAT's rules
                # (``icat-rules``) hide the row it names.
                raise Forbidden(f"The catalogue's rules do not let you read this {child}.")
            return None
        return [build(row, now) for row in rows]

    if value is not None:
        annotation: Any = str
    else:
        # Resolved once the schema is built, by name.
        annotation = Annotated[child, strawberry.lazy(declared_types.__name__)]
    if not one:
        annotation = list[annotation]
    if relation.nullable:
        annotation = Optional[annotation]  # noqa: UP045 (a runtime type, not a hint)
    made = strawberry.field(resolver=resolve, description=description, extensions=guards)
    made.type_annotation = StrawberryAnnotation(annotation)
    return made


def _page_field(spec: ObjectFields, relation: Relation, description: str, guards: Any) -> Any:
    """The strawberry field of a declared page of children: a Relay connection in the
    relation's order (``first``/``after``), batched over every parent of a level as the
    other nested connections are (``connection.relation_connection``)."""
    type_name, key, child = spec.type_name, relation.parent_key, relation.child

    async def resolve(
        self: Any, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Any:
        access = info.context.access
        statement, owner = related_rows(relation, access)
        build = DECLARED_CLASSES[child].from_row
        return await relation_connection(
            info,
            type_name,
            relation,
            self._row[key],
            first,
            after,
            lambda: statement,
            owner,
            lambda row: build(row, access.now),
        )

    annotation: Any = Connection[
        Annotated[child, strawberry.lazy(declared_types.__name__)]  # type: ignore[valid-type]
    ]
    made = strawberry.field(resolver=resolve, description=description, extensions=guards)
    made.type_annotation = StrawberryAnnotation(annotation)
    return made


def declared(spec: ObjectFields) -> Callable[[type[T]], type[T]]:
    """Give a class (to be decorated by ``strawberry.type``) the fields of ``spec``."""

    def decorate(cls: type[T]) -> type[T]:
        own = dict(inspect.get_annotations(cls))
        hand_written = {
            name: value
            for name, value in cls.__dict__.items()
            if isinstance(value, StrawberryField)
        }
        annotations: dict[str, Any] = {}
        steps: list[tuple[str, str, Converter | None]] = []
        looked_up = {
            key: entity_of_table(lookup.table) or lookup.table
            for lookup in spec.lookups
            for key, _ in lookup.columns
        }
        for field in spec.fields:
            name = field.python_name
            guards: list[FieldExtension] = (
                [guard_of(spec, field.field_class)] if spec.guards(field) else []
            )
            description = spec.describe(field)
            if isinstance(field, Scalar):
                if name in hand_written or name in own:
                    raise TypeError(f"{spec.type_name}.{field.name} is declared, not written")
                annotation = _python_type(field)
                annotations[name] = annotation
                if guards:
                    # Read from the row only once the guard allowed it.
                    setattr(
                        cls,
                        name,
                        strawberry.field(
                            resolver=_reader(field.column, annotation),
                            description=description,
                            extensions=guards,
                        ),
                    )
                elif not field.nullable and field.column in looked_up:
                    # Read from a lookup's row, which ICAT's rules may hide (NULL columns).
                    setattr(
                        cls,
                        name,
                        strawberry.field(
                            resolver=_looked_up(
                                field.column,
                                annotation,
                                _converter(spec.type_name, field),
                                looked_up[field.column],
                            ),
                            description=description,
                        ),
                    )
                else:
                    setattr(cls, name, strawberry.field(description=description))
                    steps.append((name, field.column, _converter(spec.type_name, field)))
                continue
            if isinstance(field, Relation) and field.written is None:
                if name in hand_written or name in own:
                    raise TypeError(
                        f"{spec.type_name}.{field.name} is a declared relation: derived, not "
                        "written (or declare why it is written by hand)"
                    )
                derive = _page_field if field.cardinality is Cardinality.PAGE else _relation_field
                setattr(cls, name, derive(spec, field, description, guards))
                continue
            written = hand_written.pop(name, None)
            if written is None:
                raise TypeError(f"{spec.type_name}.{field.name} is declared but not resolved")
            written.description = description
            written.extensions = [*guards, *written.extensions]
            # Moved after the fields derived before it: the schema lists them in the
            # catalogue's order.
            delattr(cls, name)
            setattr(cls, name, written)
        if hand_written:
            raise TypeError(f"{spec.type_name}: {sorted(hand_written)} not in the field catalogue")
        for name, annotation in own.items():
            if not _is_private(annotation):
                raise TypeError(f"{spec.type_name}.{name} is not in the field catalogue")
            annotations[name] = annotation
        cls.__annotations__ = annotations
        plain = [(name, column) for name, column, convert in steps if convert is None]
        cls.__declared__ = RowStep(  # type: ignore[attr-defined]
            names=tuple(name for name, _ in plain),
            read=_getter(tuple(column for _, column in plain)),
            converted=tuple((n, c, f) for n, c, f in steps if f is not None),
        )
        DECLARED_CLASSES[spec.type_name] = cls
        return cls

    return decorate


def _is_private(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return "Private" in text
