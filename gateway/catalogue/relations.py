"""The statements of the declared relations (``gateway.fields``): one per relation, for
every parent of a request level at once.

A relation names tables and columns by the models' names (``INSTRUMENT``,
``investigation_id``); the rows of a child type are its table's columns and those its
lookups read (a sample's type name), labelled with the keys the row-to-object step reads.
The loaders (``gateway.resolvers.loaders``) run these statements; the compiled renderer
builds its joins from the same declarations.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, inspect, select
from sqlalchemy.sql.elements import Label

from gateway.catalogue import visibility
from gateway.catalogue.models import IcatBase
from gateway.catalogue.pagination import SortKey
from gateway.catalogue.visibility import Access
from gateway.fields.catalogue import TYPES
from gateway.fields.declaration import Lookup, Relation


@cache
def model_of(table: str) -> Any:
    """The model of an ICAT table, by the table's name (``INSTRUMENT``)."""
    for mapper in IcatBase.registry.mappers:
        if getattr(mapper.local_table, "name", None) == table:
            return mapper.class_
    raise KeyError(f"no model of table {table}")


def column(model: Any, key: str) -> Any:
    """A model's column by attribute name; a declaration naming another fails loudly."""
    try:
        return getattr(model, key).expression
    except AttributeError:
        raise KeyError(f"{model.__name__} has no column {key}") from None


def declared_columns(table: str) -> frozenset[str] | None:
    """The columns of an ICAT table that the field catalogue reads: the scalars of the
    types stored there, the keys of their relations and lookups, the owner of their
    PERSONAL fields, the keys by which relations reach the table, and ``id``; None for a
    table no declaration names (the gateway's own tables: read whole)."""
    found: set[str] = set()
    named = False
    for declared in TYPES.values():
        stored = declared.table == table or any(
            relation.table == table and relation.child == declared.type_name
            for other in TYPES.values()
            for relation in other.relations
        )
        if stored:
            named = True
            found |= {scalar.column for scalar in declared.scalars}
            found |= {relation.parent_key for relation in declared.relations}
            found |= {lookup.key for lookup in declared.lookups}
            found |= {declared.owner} if declared.owner else set()
            found |= set(declared.reads)
        for relation in declared.relations:
            if relation.table == table:
                named = True
                found.add(relation.child_key)
                found |= {relation.value} if relation.value else set()
    return frozenset({"id", *found}) if named else None


@cache
def columns_of(model: Any) -> tuple[Label[Any], ...]:
    """The columns of a model's table that the declarations read (``declared_columns``),
    labelled with their attribute names (``start_date``, not ``STARTDATE``), so rows read
    the same whatever the table's column names. Keys a row does not hold (a label such as
    ``type_name``, read from a lookup) are the statement's to add."""
    # Built once per model: expressions are immutable, and building labels is not free.
    wanted = declared_columns(model.__table__.name)
    return tuple(
        attr.columns[0].label(attr.key)
        for attr in inspect(model).column_attrs
        if wanted is None or attr.key in wanted
    )


def lookups_of(type_name: str) -> tuple[Lookup, ...]:
    return TYPES[type_name].lookups if type_name in TYPES else ()


def row_statement(type_name: str, model: Any, access: Access | None) -> Select[Any]:
    """The rows of a type stored in ``model``'s table: its columns and its lookups'. Under
    ICAT's rules a lookup's row the caller may not read (``visibility.lookup_by_rules``)
    is not joined: its columns are NULL, the row itself is kept (a non-null field read
    from them answers FORBIDDEN, ``gateway.schema.declared``). ``access`` None: the
    built-in policy, where every lookup is read."""
    statement = select(*columns_of(model))
    for lookup in lookups_of(type_name):
        other = model_of(lookup.table)
        statement = statement.add_columns(
            *(column(other, name).label(key) for key, name in lookup.columns)
        )
        condition = column(other, "id") == column(model, lookup.key)
        ruled = None if access is None else visibility.lookup_by_rules(access, model, lookup)
        if ruled is not None:
            statement = statement.outerjoin_from(model, other, and_(condition, ruled))
        elif lookup.optional:
            statement = statement.outerjoin(other, condition)
        else:
            statement = statement.join(other, condition)
    return statement


def rule(name: str) -> Any:
    """A visibility rule of ``gateway.catalogue.visibility`` by name: ``rule(access)``."""
    found = getattr(visibility, name, None)
    if not callable(found):
        raise KeyError(f"no visibility rule {name}")
    return found


def related_rows(relation: Relation, access: Access) -> tuple[Select[Any], ColumnElement[Any]]:
    """The children of a relation that the caller may see, for every parent, and the
    column holding each child's parent key (``owner_key`` in the rows)."""
    child = model_of(relation.table)
    if relation.value is not None:
        statement = select(column(child, relation.value).label(relation.value))
    else:
        statement = row_statement(relation.child, child, access)
    if relation.through is None:
        owner: ColumnElement[Any] = column(child, relation.child_key)
    else:
        link = model_of(relation.through.table)
        owner = column(link, relation.through.parent)
        statement = statement.join(
            link, column(link, relation.through.child) == column(child, relation.child_key)
        )
    statement = statement.add_columns(owner.label("owner_key"))
    if access.rules is not None:
        statement = statement.where(*visibility.related_by_rules(access, relation))
    elif relation.visibility is not None:
        statement = statement.where(rule(relation.visibility)(access))
    return statement, owner


def related_statement(relation: Relation, ids: Sequence[Any], access: Access) -> Select[Any]:
    """The children of parents whose ``parent_key`` is in ``ids``, each row with that key
    as ``owner_key``, in the relation's order within each parent."""
    statement, owner = related_rows(relation, access)
    child = model_of(relation.table)
    statement = statement.where(owner.in_(ids))
    return statement.order_by(owner, *(_order_key(statement, child, k) for k in relation.order))


def related_keys(relation: Relation) -> list[SortKey]:
    """The keyset a page of a relation's children resumes after: its order's columns of
    the child table (the last one unique among a parent's children)."""
    child = model_of(relation.table)
    return [
        SortKey(column(child, key), nullable=bool(column(child, key).nullable))
        for key in relation.order
    ]


def _order_key(statement: Select[Any], child: Any, key: str) -> Any:
    if key in statement.selected_columns:
        return statement.selected_columns[key]
    return column(child, key)
