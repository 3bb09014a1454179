"""ICAT's relationships by ICAT's names (``Dataset.investigation``, ``Investigation.
investigationGroups``), as the rules' paths name them.

Nothing here restates a join: each relationship is a foreign key of the models (which mirror
icat.server's entity classes, a ``@ManyToOne`` being ``<FIELD>_ID``) read from the models'
metadata, one step each way. Only ICAT's *names* follow from a convention: a many-to-one is
the Java field (the attribute without ``_id``, camel case), its inverse the child entity's
name in the plural, except for the handful below that icat.server's entity classes name
otherwise. The declared relations of the field catalogue (``gateway.fields.graph``) are
steps of this graph: ``tests/unit/test_icat_rules.py`` checks that each of their direct
joins is one of these relationships.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from gateway.catalogue.models import IcatBase, ParameterBase
from gateway.fields.catalogue import TYPES
from gateway.fields.declaration import Relation
from gateway.fields.graph import Join, relationship_graph

_MANY_TO_ONE_NAMES = {
    ("DataPublication", "data_collection_id"): "content",
}
"""Many-to-one fields whose Java name is not the attribute's (``models`` says why)."""

_ONE_TO_MANY_NAMES = {
    ("DataPublication", "DataPublicationUser", "publication"): "users",
    ("DataPublication", "DataPublicationDate", "publication"): "dates",
    ("DataPublication", "DataPublicationFunding", "dataPublication"): "fundingReferences",
    ("FundingReference", "DataPublicationFunding", "funding"): "dataPublications",
    ("Investigation", "InvestigationFunding", "investigation"): "fundingReferences",
    ("FundingReference", "InvestigationFunding", "funding"): "investigations",
    ("Datafile", "RelatedDatafile", "sourceDatafile"): "destDatafiles",
    ("Datafile", "RelatedDatafile", "destDatafile"): "sourceDatafiles",
    ("DataCollection", "Job", "inputDataCollection"): "jobsAsInput",
    ("DataCollection", "Job", "outputDataCollection"): "jobsAsOutput",
    ("User", "Study", "user"): "studies",
}
"""One-to-many fields icat.server names otherwise than "the child entity, plural"."""


@dataclass(frozen=True)
class Step:
    """One relationship of an ICAT entity: ``origin.field`` reaches ``target`` rows where
    ``join`` holds (``join.left_table`` is the origin's table)."""

    origin: str
    field: str
    target: str
    join: Join
    many: bool
    """One-to-many (a collection) rather than many-to-one."""


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def snake(camel_name: str) -> str:
    out = []
    for char in camel_name:
        if char.isupper():
            out.append("_" + char.lower())
        else:
            out.append(char)
    return "".join(out)


@cache
def entities() -> Mapping[str, Any]:
    """ICAT's entities by name (``InvestigationUser``): the models named as icat.server's
    entity classes are."""
    return {
        mapper.class_.__name__: mapper.class_
        for mapper in IcatBase.registry.mappers
        if mapper.class_.__name__ not in {"Sequence"}
    }


def _field_name(model: Any, key: str) -> str:
    named = _MANY_TO_ONE_NAMES.get((model.__name__, key))
    if named is not None:
        return named
    if key == "parameter_type_id" and issubclass(model, ParameterBase):
        return "type"
    return camel(key.removesuffix("_id"))


def _inverse_name(parent: str, child: Any, field: str) -> str:
    named = _ONE_TO_MANY_NAMES.get((parent, child.__name__, field))
    if named is not None:
        return named
    if issubclass(child, ParameterBase) and field != "type":
        return "parameters"
    name = str(child.__name__)
    return name[0].lower() + name[1:] + "s"


@cache
def relationships() -> Mapping[str, Mapping[str, Step]]:
    """Every relationship of every entity, by entity and field name."""
    by_table = {model.__table__.name: name for name, model in entities().items()}
    steps: dict[str, dict[str, Step]] = {name: {} for name in entities()}
    for name, model in entities().items():
        table = model.__table__.name
        for attr in model.__mapper__.column_attrs:
            for key in attr.columns[0].foreign_keys:
                target_table = key.column.table.name
                target = by_table[target_table]
                field = _field_name(model, attr.key)
                forward = Join(table, attr.key, target_table, "id")
                steps[name][field] = Step(name, field, target, forward, many=False)
                inverse = _inverse_name(target, model, field)
                backward = Join(target_table, "id", table, attr.key)
                steps[target][inverse] = Step(target, inverse, name, backward, many=True)
    return steps


def step(entity: str, field: str) -> Step | None:
    """``entity.field`` if it is a relationship, else None (an attribute, or nothing)."""
    return relationships().get(entity, {}).get(field)


def attribute(entity: str, field: str) -> str | None:
    """The model attribute of an ICAT attribute (``releaseDate`` -> ``release_date``)."""
    model = entities().get(entity)
    if model is None:
        return None
    key = snake(field)
    columns = {attr.key for attr in model.__mapper__.column_attrs}
    return key if key in columns else None


def steps_between(origin: str, target: str) -> list[Step]:
    """The relationships from one entity to another (the old ``A <-> B`` form names none)."""
    return [s for s in relationships().get(origin, {}).values() if s.target == target]


@cache
def entity_of_table(table: str) -> str | None:
    for name, model in entities().items():
        if model.__table__.name == table:
            return name
    return None


def step_of_join(join: Join) -> Step | None:
    """The ICAT relationship a join of the declared graph follows."""
    origin = entity_of_table(join.left_table)
    if origin is None:
        return None
    for candidate in relationships().get(origin, {}).values():
        if candidate.join == join:
            return candidate
    return None


@cache
def relation_steps(relation: Relation) -> tuple[tuple[Step, ...] | None, ...]:
    """A declared relation (``gateway.fields``) as ICAT's steps, hop by hop, for each
    table its parents are stored in (``graph.relationship_graph``); None for a path that
    is not ICAT's (the gateway's own tables)."""
    # The types that declare it: another type's relation may have the same name, child
    # table and key (Investigation.instruments and Dataset.instruments).
    owners = {
        declared.type_name
        for declared in TYPES.values()
        if any(own is relation for own in declared.relations)
    }
    found: list[tuple[Step, ...] | None] = []
    for edges in relationship_graph().values():
        for edge in edges:
            if (
                edge.parent_type not in owners
                or edge.field != relation.name
                or edge.child_table != relation.table
                or edge.joins[-1].right_column != relation.child_key
            ):
                continue
            hops = [step_of_join(join) for join in edge.joins]
            found.append(None if any(h is None for h in hops) else tuple(h for h in hops if h))
    return tuple(found)
