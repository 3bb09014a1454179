"""Federation's `_entities`: the router's way in, batched and under the same rules.

A router resolving a query plan sends ``_entities(representations: [...])`` with up to
hundreds of ``{__typename, <key fields>}`` objects. Here they are checked (a known entity
type, exactly the fields of one of its keys, string values; anything else is
BAD_USER_INPUT at that representation's index), grouped by type, and each type's
representations are answered by one statement, whatever their number and whichever of the
type's keys they use. The statements are the same visibility-filtered ones every other
path uses (``gateway.catalogue.queries``): a dataset, file or reserved DOI the caller may
not see resolves to null, a session under embargo to its landing facts with its DATA
fields refused. ``_entities`` is no side door.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, false, or_, select

from gateway.catalogue import queries
from gateway.catalogue.models import Datafile as DatafileRow
from gateway.catalogue.models import DataPublication as PublicationRow
from gateway.catalogue.models import Dataset as DatasetRow
from gateway.catalogue.models import Facility as FacilityRow
from gateway.catalogue.models import Instrument as InstrumentRow
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.catalogue.models import Technique as TechniqueRow
from gateway.catalogue.models import User as UserRow
from gateway.catalogue.orcid import normalise_orcid, orcid_key, orcid_variants
from gateway.catalogue.visibility import Access
from gateway.errors import BadUserInput
from gateway.fields.identity import parse_global_id
from gateway.resolvers.loaders import fetch_all
from gateway.schema.dataset import Datafile, Dataset
from gateway.schema.facility import Facility, Instrument
from gateway.schema.info import Info
from gateway.schema.investigation import Investigation
from gateway.schema.keys import ENTITY_KEYS, PERSON, PERSON_KEY
from gateway.schema.people import User
from gateway.schema.publication import DataPublication
from gateway.schema.sample import Technique

MAX_REPRESENTATIONS = 10_000
"""More representations than this in one `_entities` call are refused. A router sends all
the references of one step of its plan in one call (a page of 1000 sessions with their
teams is thousands of people), and each costs up to three bound values (a DOI's or an
ORCID iD's stored forms): 30,000 stays within what every driver binds in one statement
(asyncpg and SQLite: 32,766)."""


@dataclass(frozen=True)
class Reference:
    """One checked representation: the entity type, the key field it uses, its value."""

    type_name: str
    field: str
    value: str


def parse_representation(representation: object, types: Mapping[str, str]) -> Reference:
    """A representation as the router sends it, checked: ``types`` maps the schema's
    entity type names to the gateway's (they differ under a namespace)."""

    def refuse(reason: str) -> BadUserInput:
        return BadUserInput(reason)

    if not isinstance(representation, dict):
        raise refuse("not an object.")
    typename = representation.get("__typename")
    if not isinstance(typename, str) or typename not in types:
        raise refuse(f"`{typename}` is not an entity type of this subgraph.")
    type_name = types[typename]
    given = {name for name in representation if name != "__typename"}
    keys = (PERSON_KEY,) if type_name == PERSON else ENTITY_KEYS[type_name]
    if len(given) != 1 or not given <= set(keys):
        fields = ", ".join(f"`{key}`" for key in keys)
        raise refuse(f"`{typename}` is referenced by exactly one of {fields}.")
    (field,) = given
    value = representation[field]
    if not isinstance(value, str) or not value.strip():
        raise refuse(f"`{field}` must be a non-empty string.")
    return Reference(type_name, field, value)


@dataclass(frozen=True)
class Lookup:
    """How one entity type's references become one statement and objects."""

    statement: Callable[[Access], Select[Any]]
    columns: Mapping[str, SQLColumnExpression[Any]]
    """Key field -> the column it matches (``id``: the ICAT id)."""
    row_keys: Mapping[str, Callable[[Any], str | None]]
    """Key field -> the normalised key value of a row (to hand each row to its reference)."""
    to_object: Callable[[Any, Info], object]


def _doi_key(value: str | None) -> str | None:
    return None if value is None else queries.normalise_doi(value).lower()


def _text_key(value: str | None) -> str | None:
    return None if value is None else value.strip()


def _plain(model: Any) -> Callable[[Access], Select[Any]]:
    return lambda access: select(*queries.columns_of(model))


LOOKUPS: Mapping[str, Lookup] = {
    "Investigation": Lookup(
        queries.investigations,
        {"id": InvestigationRow.id, "doi": InvestigationRow.doi},
        {"doi": lambda row: _doi_key(row.doi)},
        lambda row, info: Investigation.from_row(row, info.context.now),
    ),
    "DataPublication": Lookup(
        queries.data_publications,
        {"id": PublicationRow.id, "doi": PublicationRow.pid},
        {"doi": lambda row: _doi_key(row.pid)},
        lambda row, info: DataPublication.from_row(row),
    ),
    "User": Lookup(
        _plain(UserRow),
        {"id": UserRow.id, "orcidId": UserRow.orcid_id},
        {"orcidId": lambda row: orcid_key(row.orcid_id)},
        lambda row, info: User.from_row(row),
    ),
    "Instrument": Lookup(
        _plain(InstrumentRow),
        {"id": InstrumentRow.id, "pid": InstrumentRow.pid},
        {"pid": lambda row: _text_key(row.pid)},
        lambda row, info: Instrument.from_row(row),
    ),
    "Technique": Lookup(
        _plain(TechniqueRow),
        {"id": TechniqueRow.id, "pid": TechniqueRow.pid},
        {"pid": lambda row: _text_key(row.pid)},
        lambda row, info: Technique.from_row(row),
    ),
    "Dataset": Lookup(
        queries.datasets,
        {"id": DatasetRow.id},
        {},
        lambda row, info: Dataset.from_row(row),
    ),
    "Datafile": Lookup(
        queries.datafiles,
        {"id": DatafileRow.id},
        {},
        lambda row, info: Datafile.from_row(row),
    ),
    "Facility": Lookup(
        _plain(FacilityRow), {"id": FacilityRow.id}, {}, lambda row, info: Facility.from_row(row)
    ),
}
"""Every entity type of ``ENTITY_KEYS`` but the namespaced ``Person``."""


def _normalised(reference: Reference) -> str | int:
    """The value the reference is matched by (BAD_USER_INPUT if it cannot name a row)."""
    if reference.field == "id":
        return parse_global_id(reference.value, reference.type_name)[1]
    if reference.field == "doi":
        return _doi_key(reference.value) or ""
    if reference.field in ("orcidId", PERSON_KEY):
        return normalise_orcid(reference.value)
    return reference.value.strip()


def _search_values(field: str, values: set[Any]) -> list[Any]:
    """What the column is compared with: a DOI as the caller spelled it (resolver prefix
    removed), upper- and lower-cased; an ORCID iD bare and as its URLs."""
    if field == "doi":
        return sorted({v for doi in values for v in queries.doi_variants(doi)})
    if field == "orcidId":
        return orcid_variants(sorted(values))
    return sorted(values)


def _searched(reference: Reference, value: str | int) -> str | int:
    """The value a reference is searched by (its match key may be case-folded)."""
    if reference.field == "doi":
        return queries.normalise_doi(reference.value)
    return value


async def _resolve_type(
    info: Info, type_name: str, wanted: Sequence[tuple[int, Reference, str | int]]
) -> dict[int, object]:
    """The objects of one type's references, by the representations' indexes: one
    statement for all of them, whichever keys they use."""
    lookup = LOOKUPS[type_name]
    by_field: dict[str, set[Any]] = defaultdict(set)
    for _, reference, value in wanted:
        by_field[reference.field].add(_searched(reference, value))
    conditions = [
        lookup.columns[field].in_(_search_values(field, values))
        for field, values in sorted(by_field.items())
    ]
    access = info.context.access
    statement = lookup.statement(access).where(or_(false(), *conditions))
    found: dict[tuple[str, Any], Any] = {}
    # Lowest id first: where a DOI, ORCID iD or PID is held by several rows (ICAT does not
    # make them unique), the reference resolves to the oldest of them, always the same.
    for row in sorted(await fetch_all(info.context.engine, statement), key=lambda r: r.id):
        found.setdefault(("id", row.id), row)
        for field, key_of in lookup.row_keys.items():
            key = key_of(row)
            if key is not None:
                found.setdefault((field, key), row)
    objects: dict[int, object] = {}
    for index, reference, value in wanted:
        match = found.get((reference.field, value))
        if match is not None:
            objects[index] = lookup.to_object(match, info)
    return objects


async def resolve_entities(
    info: Info,
    representations: Sequence[object],
    types: Mapping[str, str],
    person: Callable[..., object] | None = None,
) -> list[object]:
    """The entities of the representations, in order: an object, None (unknown or hidden),
    or the BAD_USER_INPUT error of a malformed representation (reported at its index).
    ``types``: the schema's entity type names -> the gateway's; ``person``: the shared
    ``Person`` type of a namespaced schema."""
    if len(representations) > MAX_REPRESENTATIONS:
        raise BadUserInput(
            f"At most {MAX_REPRESENTATIONS} representations per `_entities` call.",
            argument="representations",
        )
    results: list[object] = [None] * len(representations)
    grouped: dict[str, list[tuple[int, Reference, str | int]]] = defaultdict(list)
    for index, representation in enumerate(representations):
        try:
            reference = parse_representation(representation, types)
            value = _normalised(reference)
        except BadUserInput as error:
            results[index] = BadUserInput(
                f"Representation {index}: {error.message}", argument="representations"
            )
            continue
        if reference.type_name == PERSON and person is not None:
            results[index] = person(orcid=value)  # the iD is the whole of it: no statement
            continue
        grouped[reference.type_name].append((index, reference, value))
    answers = await asyncio.gather(
        *(_resolve_type(info, type_name, wanted) for type_name, wanted in grouped.items())
    )
    for objects in answers:
        for index, found in objects.items():
            results[index] = found
    return results
