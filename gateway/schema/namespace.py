"""A facility's part of a shared supergraph: its namespace.

Two facilities running icat-gateway serve the same schema over different catalogues. Put
side by side in one supergraph, identical type names would either fail to compose or,
marked ``@shareable``, let the router take any facility's answer for any object: the
sessions of one facility would be served by the other's subgraph. So a facility that
joins a shared supergraph names its part (``ICAT_GATEWAY_FEDERATION_NAMESPACE=ill``):

- every type it defines is prefixed with the namespace (``IllInvestigation``,
  ``IllUser``, ``IllInvestigationConnection``, ``IllNode``...), custom scalars excepted
  (``DateTime`` and ``Long`` mean the same everywhere);
- every root field is prefixed too (``illInvestigations``, ``illMe``, ``illGrantAccess``);
- one entity is shared, facility-neutral: ``Person @key(fields: "orcid")``, found by the
  root field ``person(orcid:)`` that every facility serves (``@shareable``: it returns
  only the iD it was given, the same at every facility), with one field per facility,
  named by its namespace: ``person(orcid: "...") { esrf { investigations { ... } } ill {
  investigations { ... } } }`` is answered by both subgraphs, joined by the router.

Without a namespace none of this applies and the schema is schema.graphql.
"""

from __future__ import annotations

import copy
import types
from typing import Any

import strawberry
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.union import StrawberryUnion

from gateway.catalogue.orcid import normalise_orcid
from gateway.schema.info import Info
from gateway.schema.keys import PERSON, PERSON_KEY
from gateway.schema.people import User

UNPREFIXED = frozenset({"Query", "Mutation", "Subscription", PERSON})
"""Type names a namespace leaves as they are: the roots and the shared entity."""


def type_prefix(namespace: str) -> str:
    """``ill`` -> ``Ill``: how the namespace starts a type name."""
    return namespace[0].upper() + namespace[1:]


class NamespacedNames(NameConverter):
    """Strawberry's names, with the namespace before every type name of the gateway's."""

    def __init__(self, namespace: str) -> None:
        super().__init__()
        self.prefix = type_prefix(namespace)

    def named(self, name: str) -> str:
        if name in UNPREFIXED or name.startswith("_"):  # federation's own: _Service...
            return name
        return self.prefix + name

    def from_object(self, object_type: StrawberryObjectDefinition) -> str:
        # Interfaces, input types and generics (``InvestigationConnection``) come here.
        return self.named(super().from_object(object_type))

    def from_enum(self, enum: StrawberryEnumDefinition) -> str:
        return self.named(super().from_enum(enum))

    def from_union(self, union: StrawberryUnion) -> str:
        if union.graphql_name is not None:
            return self.named(union.graphql_name)
        return super().from_union(union)  # made of its (prefixed) members' names


def namespaced_root(root: type, namespace: str, *extra: StrawberryField) -> type:
    """A copy of a root type (``Query``, ``Mutation``) whose fields start with the
    namespace (``investigations`` -> ``illInvestigations``), plus ``extra`` fields."""
    definition: StrawberryObjectDefinition = root.__strawberry_definition__  # type: ignore[attr-defined]
    plain = NameConverter()
    fields: list[StrawberryField] = []
    for field in definition.fields:
        renamed = copy.copy(field)
        name = plain.get_graphql_name(field)
        renamed.graphql_name = namespace + name[0].upper() + name[1:]
        fields.append(renamed)
    from strawberry.tools import create_type

    return create_type(definition.name, [*fields, *extra], description=definition.description)


async def _users_at_facility(self: Any, info: Info) -> list[User]:
    rows = await info.context.loaders.users_by_orcid.load(self.orcid)
    return [User.from_row(row) for row in rows]


def person_type(namespace: str) -> type:
    """The shared ``Person`` entity as this facility serves it: its ORCID iD (the key,
    which every facility's subgraph resolves alike) and the field named by the namespace."""
    attributes: dict[str, Any] = {
        "__annotations__": {PERSON_KEY: str},
        PERSON_KEY: strawberry.field(
            description="The person's ORCID iD, bare (e.g. 0000-0002-1825-0097)."
        ),
        "at_facility": strawberry.field(
            resolver=_users_at_facility,
            name=namespace,
            description=f"The person at this facility ({namespace}): the catalogue's "
            "people holding this ORCID iD (usually one; ICAT does not make it unique), "
            "oldest first; empty if none.",
        ),
    }
    cls = types.new_class(PERSON, (), {}, lambda ns: ns.update(attributes))
    return strawberry.federation.type(
        cls,
        keys=[PERSON_KEY],
        description="A person, the same at every facility of the supergraph: identified by "
        "their ORCID iD, with one field per facility (named by its namespace) for the "
        "people that facility's catalogue holds under that iD.",
    )


def person_root_field(person: type) -> StrawberryField:
    """``person(orcid:)``: where a query across facilities starts."""

    def resolve(orcid: str) -> Any:
        return person(orcid=normalise_orcid(orcid))

    field: StrawberryField = strawberry.federation.field(
        resolver=resolve,
        name="person",
        graphql_type=person,
        shareable=True,
        description="A person by ORCID iD (bare or as its https://orcid.org/ URL): every "
        "facility of the supergraph answers with the same iD, and each adds its own field. "
        "BAD_USER_INPUT if it is not an ORCID iD.",
    )
    return field
