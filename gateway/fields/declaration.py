"""The vocabulary of the field catalogue: a field is one declaration, as data.

A :class:`Scalar` says what a GraphQL field is called, which column of its object's row it
reads, how the value is formatted, what it means and which rule guards it (its
:class:`~gateway.auth.policy.FieldClass`). A :class:`Resolved` says the same of a field
whose resolver is written by hand (a rule, a connection): its name, description and class,
and whether the compiled path renders it. A :class:`Relation` says how an object reaches
other objects: the child type, the table of its rows, the join keys (directly or through a
link table), the order, the cardinality (one, a list, a page) and the visibility rule of
the children; the loader, the strawberry resolver, the compiled join and the relationship
graph (:func:`gateway.fields.graph.relationship_graph`) are derived from it.

Nothing here knows strawberry or SQL: ``gateway.schema`` turns declarations into
strawberry fields and the row-to-object step, ``gateway.compiled`` into SQL that renders
them, and both take the guard of each field from its class.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from gateway.auth.policy import FieldClass

__all__ = [
    "Cardinality",
    "FieldClass",
    "Format",
    "Link",
    "Lookup",
    "ObjectFields",
    "Relation",
    "Resolved",
    "Rows",
    "Scalar",
    "ValueKind",
]


class Format(enum.Enum):
    """How a column's value becomes a GraphQL value (the same on both paths)."""

    TEXT = "text"
    INT = "int"
    LONG = "long"
    """A 64-bit integer (sizes in bytes): GraphQL's Int is 32-bit."""
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATETIME = "date-time"
    GLOBAL_ID = "global id"
    """The object's global id, from its ICAT id: base64 of ``Type:id``."""
    VALUE_KIND = "value kind"
    """PARAMETERTYPE.VALUETYPE (0, 1, 2) as the enum's name."""
    RELEASED = "released"
    """Whether a release date is past, at the request's instant (``policy.is_released``)."""


class ValueKind(enum.Enum):
    """The kind of value a parameter holds: ICAT's PARAMETERTYPE.VALUETYPE numbers."""

    DATE_AND_TIME = 0
    NUMERIC = 1
    STRING = 2


class Rows(enum.Enum):
    """How the rows of a type are guarded as a whole."""

    PUBLIC = "public"
    """Every row may be read by anyone: its fields are guarded one by one, by class (a
    session: its landing facts are public, its DATA fields are not)."""
    FILTERED = "filtered"
    """Rows are DATA as a whole: every statement that reads them filters by the caller's
    visibility (``gateway.catalogue.visibility``), so a row that is read may be shown."""
    RESTRICTED = "restricted"
    """Rows the gateway keeps about people's access (requests, the audit trail): every
    statement that reads them keeps only those the caller is a party to (the rule is in
    ``gateway.catalogue.visibility``); their fields carry no class of their own."""


@dataclass(frozen=True)
class Scalar:
    """A field read from one column of its object's row."""

    name: str
    """The GraphQL name (``releaseDate``)."""
    column: str
    """The key of the row's column (the model's attribute name, ``release_date``, or a
    label the type's statements select, ``type_name``)."""
    format: Format
    description: str
    """What it means, without its class: the class sentence is added from ``field_class``."""
    field_class: FieldClass = FieldClass.LANDING
    nullable: bool = True

    @property
    def python_name(self) -> str:
        return snake_case(self.name)


@dataclass(frozen=True)
class Resolved:
    """A field with a hand-written resolver (a related object, a list, a connection, a
    rule computed per row): declared here for its class and description; its strawberry
    resolver and its compiled handler are written beside their types."""

    name: str
    description: str
    field_class: FieldClass = FieldClass.LANDING
    compiled: bool = True
    """Rendered by ``gateway.compiled`` where its type is; False: resolved only the
    standard way (the compiled path declines the selection)."""
    filtered: bool = False
    """A DATA list that is filtered by the caller's visibility (it lists what the caller
    may see) instead of being refused whole."""

    @property
    def python_name(self) -> str:
        return snake_case(self.name)


class Cardinality(enum.Enum):
    """How many children a parent has."""

    ONE = "one"
    """At most one object (null when there is none, or a non-null field)."""
    LIST = "list"
    """Every child, in the relation's order."""
    PAGE = "page"
    """A Relay connection (``first``/``after``): pages of children by keyset over the
    relation's order, whose last key is unique among a parent's children."""


@dataclass(frozen=True)
class Link:
    """A link table between a parent and its children (``INVESTIGATIONINSTRUMENT``): its
    ``parent`` column holds the parent's key, its ``child`` column the child's."""

    table: str
    parent: str
    child: str


@dataclass(frozen=True)
class Lookup:
    """Columns a type's row reads from another table by key (a sample's type name from
    SAMPLETYPE): ``key`` is the row's column holding the other row's id; ``columns`` maps
    the row's keys to the other table's columns; ``optional``: the key may be NULL (an
    outer join)."""

    table: str
    key: str
    columns: tuple[tuple[str, str], ...]
    optional: bool = False


@dataclass(frozen=True)
class Relation:
    """A field whose value is another object, a list of them (or of one of their columns)
    or a page of them, declared by the keys that join them.

    A child row is found where the child table's ``child_key`` equals the parent row's
    ``parent_key`` (``through`` a link table: the link's ``parent`` column equals
    ``parent_key`` and the child's ``child_key`` the link's ``child`` column)."""

    name: str
    description: str
    child: str
    """The GraphQL type of a child (``Instrument``), or ``String`` with ``value``."""
    table: str
    """The ICAT table of the child rows (``INSTRUMENT``)."""
    parent_key: str
    """The parent row's column (``id``, ``facility_id``)."""
    child_key: str
    """The child table's column equal to it (or to the link's ``child`` column)."""
    cardinality: Cardinality
    order: tuple[str, ...] = ()
    """The children's order, by the keys of the child row; the last one unique (the
    keyset a page resumes after)."""
    through: Link | None = None
    value: str | None = None
    """For a list of values rather than objects: the child row's column (keywords)."""
    visibility: str | None = None
    """The rule of ``gateway.catalogue.visibility`` (by name) that filters the children,
    or None when every child of a visible parent is visible."""
    field_class: FieldClass = FieldClass.LANDING
    nullable: bool = False
    compiled: bool = True
    filtered: bool = False
    written: str | None = None
    """Why the strawberry resolver and the loader are written by hand (a page a client
    orders or filters, a child row built from the parent's row): None for a derived one."""

    @property
    def python_name(self) -> str:
        return snake_case(self.name)

    def __post_init__(self) -> None:
        if self.cardinality is Cardinality.PAGE and self.value is not None:
            raise ValueError(f"{self.name}: a page lists objects, not values")
        if self.cardinality is not Cardinality.ONE and not self.order:
            raise ValueError(f"{self.name}: a list needs an order")
        if self.value is not None and self.child != "String":
            raise ValueError(f"{self.name}: a list of values is a list of String")


Field = Scalar | Resolved | Relation

_GUARD_SENTENCE = {
    FieldClass.LANDING: "LANDING: public.",
    FieldClass.DATA: "DATA: embargoed until the session's release date; meanwhile visible "
    "to its team, the beamline's scientists and staff (null with FORBIDDEN otherwise).",
    FieldClass.PERSONAL: "PERSONAL: visible to the person and to staff only (null with "
    "FORBIDDEN otherwise).",
}


@dataclass(frozen=True)
class ObjectFields:
    """The fields of one GraphQL object type, in the order the schema lists them."""

    type_name: str
    description: str
    fields: tuple[Field, ...]
    rows: Rows = Rows.PUBLIC
    compiled: bool = False
    """Whether ``gateway.compiled`` renders objects of this type at all."""
    owner: str | None = None
    """For PERSONAL fields: the column holding the user name of the person they are about."""
    table: str | None = None
    """The ICAT table of its rows; None where a relation names it (parameters: one
    table per kind of owner)."""
    lookups: tuple[Lookup, ...] = ()
    """Columns its row reads from other tables by key (its type's name...)."""
    reads: tuple[str, ...] = ()
    """Other columns of its table that hand-written code reads from its rows."""

    def __post_init__(self) -> None:
        names = [field.name for field in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.type_name}: a field declared twice")
        for field in self.fields:
            if self.rows is Rows.RESTRICTED and field.field_class is not FieldClass.LANDING:
                raise ValueError(
                    f"{self.type_name}.{field.name}: restricted rows are guarded whole"
                )
            if self.rows is Rows.FILTERED and field.field_class is not FieldClass.DATA:
                # A row that only its readers ever see has no public part.
                raise ValueError(f"{self.type_name}.{field.name}: rows are DATA as a whole")
            guarded = self.guards(field)
            if guarded and isinstance(field, Scalar | Relation) and not field.nullable:
                # A refused field resolves to null: non-null, the null would take its
                # parent (a whole page) with it.
                raise ValueError(f"{self.type_name}.{field.name}: a guarded field is nullable")
            if field.field_class is FieldClass.PERSONAL and self.owner is None:
                raise ValueError(f"{self.type_name}.{field.name}: PERSONAL needs an owner")

    def guards(self, field: Field) -> bool:
        """Whether the field is refused (null, FORBIDDEN) to a caller its class excludes,
        row by row. Rows that are filtered as a whole need no guard of their own, nor
        does a list filtered by visibility."""
        if self.rows is not Rows.PUBLIC or field.field_class is FieldClass.LANDING:
            return False
        return not (isinstance(field, Resolved | Relation) and field.filtered)

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"{self.type_name}.{name}")

    def relation(self, name: str) -> Relation:
        """A declared relation by name (a field of another kind is an error)."""
        found = self.field(name)
        if not isinstance(found, Relation):
            raise TypeError(f"{self.type_name}.{name} is no relation")
        return found

    @property
    def scalars(self) -> tuple[Scalar, ...]:
        return tuple(field for field in self.fields if isinstance(field, Scalar))

    @property
    def relations(self) -> tuple[Relation, ...]:
        return tuple(field for field in self.fields if isinstance(field, Relation))

    def guarded_names(self, field_class: FieldClass) -> frozenset[str]:
        """The names of the fields of a class that are guarded row by row."""
        return frozenset(
            field.name
            for field in self.fields
            if field.field_class is field_class and self.guards(field)
        )

    def describe(self, field: Field) -> str:
        """A field's description as the schema shows it: its meaning and its class."""
        if self.rows is Rows.FILTERED:
            sentence = "DATA."
        elif self.rows is Rows.RESTRICTED:
            sentence = "RESTRICTED: listed only to the parties (see the list)."
        elif isinstance(field, Resolved | Relation) and field.filtered:
            sentence = "DATA: lists only what the caller may see."
        else:
            sentence = _GUARD_SENTENCE[field.field_class]
        return f"{field.description} {sentence}"


def snake_case(name: str) -> str:
    """``releaseDate`` -> ``release_date`` (strawberry's auto camel case, reversed)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
