"""ICAT's entities as a graph: entity -> relation -> entity, with the columns that join them.

Derived from the relations of the field catalogue (``gateway.fields.catalogue``), so a new
relation is in the graph the day it is declared. Later work walks it (ICAT's own
authorisation rules, written as paths such as ``investigation.investigationUsers.user``,
and new entities) instead of knowing the joins a second time. Columns are the models'
attribute names (``investigation_id``); ``gateway.catalogue`` maps them to each engine's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from gateway.fields.catalogue import TYPES
from gateway.fields.declaration import Cardinality, ObjectFields, Relation


@dataclass(frozen=True)
class Join:
    """``left_table.left_column = right_table.right_column``."""

    left_table: str
    left_column: str
    right_table: str
    right_column: str


@dataclass(frozen=True)
class Edge:
    """One relation of one entity: from the parent's table to the child's, hop by hop."""

    parent_type: str
    parent_table: str
    field: str
    child_type: str
    child_table: str
    cardinality: Cardinality
    joins: tuple[Join, ...]
    visibility: str | None


def edge(declared: ObjectFields, relation: Relation, parent_table: str) -> Edge:
    """The edge of a relation from a parent stored in ``parent_table``."""
    joins: tuple[Join, ...]
    if relation.through is None:
        joins = (Join(parent_table, relation.parent_key, relation.table, relation.child_key),)
    else:
        link = relation.through
        joins = (
            Join(parent_table, relation.parent_key, link.table, link.parent),
            Join(link.table, link.child, relation.table, relation.child_key),
        )
    return Edge(
        declared.type_name,
        parent_table,
        relation.name,
        relation.child,
        relation.table,
        relation.cardinality,
        joins,
        relation.visibility,
    )


def tables_of(type_name: str) -> tuple[str, ...]:
    """The tables an object of a type is stored in: its own, or (a parameter) the tables
    the relations to it name."""
    own = TYPES[type_name].table
    if own is not None:
        return (own,)
    return tuple(
        sorted(
            {
                relation.table
                for declared in TYPES.values()
                for relation in declared.relations
                if relation.child == type_name
            }
        )
    )


@cache
def relationship_graph() -> Mapping[str, tuple[Edge, ...]]:
    """Every declared relation, by the table of its parent entity."""
    graph: dict[str, list[Edge]] = {}
    for declared in TYPES.values():
        for relation in declared.relations:
            for table in tables_of(declared.type_name):
                graph.setdefault(table, []).append(edge(declared, relation, table))
    return {table: tuple(edges) for table, edges in graph.items()}
