"""Federation: the entity keys of the subgraph, declared once.

Each entity type's ``@key`` directives and the representations ``_entities`` accepts come
from ``ENTITY_KEYS``. Besides the global ``id``, every key here means something outside
this facility: a session's or a data publication's DOI, a person's ORCID iD, a beamline's
or a technique's PID. A partner's subgraph can point at our objects by those alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

FEDERATION_VERSION: Final = "2.3"
"""The Apollo Federation version the subgraph declares in its ``@link``. Everything the
schema uses (``@key``, ``@shareable``) is Federation 2.0; 2.3 is pinned as a floor every
router we test accepts (``@apollo/gateway`` 2.x, Hive Gateway, whose composer reads
v2.0 to v2.9), rather than strawberry's default, the newest (2.11, which Hive refuses)."""

ENTITY_KEYS: Mapping[str, tuple[str, ...]] = {
    "Investigation": ("id", "doi"),
    "DataPublication": ("id", "doi"),
    "User": ("id", "orcidId"),
    "Instrument": ("id", "pid"),
    "Technique": ("id", "pid"),
    "Dataset": ("id",),
    "Datafile": ("id",),
    "Facility": ("id",),
}
"""Entity type (its name without a namespace) -> its key fields, one ``@key`` each."""

PERSON = "Person"
PERSON_KEY = "orcid"
"""The facility-neutral person of a namespaced subgraph (see ``gateway.schema.namespace``):
``Person @key(fields: "orcid")``, the same entity in every facility's subgraph."""


def keys_of(type_name: str) -> list[str]:
    """The ``keys`` argument of ``strawberry.federation.type`` for an entity type."""
    return list(ENTITY_KEYS[type_name])
