"""Versions of a data publication's DOI: a concept DOI and the version DOIs under it.

A published DOI gets a new version (``DoiUseCases.new_version``): a new data publication
with a DOI of its own, numbered under a concept DOI that stands for every version. The
chain is kept in the DOI saga's table (``GATEWAY_DOI_SAGA.CONCEPT_DOI`` and ``VERSION``):
ICAT has no column for it. The first version is the DOI that was versioned first; it
joins the chain as version 1 when version 2 is made.

A version counts once its saga is not FAILED or CANCELLED; it is *findable* once the
registrar shows it so (the saga's steps from FINDABLE on), and *published* once its
catalogue publication date is set. The DataCite relations follow from the chain alone
(``links``), so the saga and the API's ``dataCiteMetadata`` compute the same ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from gateway.catalogue.gateway_tables import DoiSaga
from gateway.catalogue.pagination import SortKey

GONE = ("FAILED", "CANCELLED")
"""Saga steps of a version that never was (``gateway.usecases.doi_saga.Step``)."""
FINDABLE = ("FINDABLE", "LINKED", "PUBLISHED", "AMENDED")
"""Saga steps at which the registrar shows the DOI findable."""
PUBLISHED = ("PUBLISHED", "AMENDED")
"""Saga steps at which the catalogue shows the publication published."""


CONCEPT_SUFFIX = "-concept"


def concept_doi_of(first_doi: str) -> str:
    """The concept DOI of the versions of ``first_doi`` (its DOI with ``-concept``)."""
    return f"{first_doi.lower()}{CONCEPT_SUFFIX}"


def may_be_concept(doi: str) -> bool:
    """Whether ``doi`` (normalised) is spelled as concept DOIs are."""
    return doi.endswith(CONCEPT_SUFFIX)


@dataclass(frozen=True)
class Version:
    doi: str
    number: int
    step: str
    data_publication_id: int

    @property
    def findable(self) -> bool:
        return self.step in FINDABLE

    @property
    def published(self) -> bool:
        return self.step in PUBLISHED


@dataclass(frozen=True)
class Chain:
    """A concept DOI and its versions that count, oldest first."""

    concept: str
    versions: tuple[Version, ...]

    def latest(self) -> Version | None:
        """The newest published version: what the concept resolves to."""
        return next((v for v in reversed(self.versions) if v.published), None)

    def newest(self) -> Version | None:
        """The newest version, published or on its way."""
        return self.versions[-1] if self.versions else None

    def findable(self) -> list[str]:
        return [v.doi for v in self.versions if v.findable]

    def links(self, doi: str) -> dict[str, Any] | None:
        """What the DataCite record of ``doi`` says of the chain: its concept, its number,
        the version before it and the findable one after it."""
        doi = doi.lower()
        for index, version in enumerate(self.versions):
            if version.doi != doi:
                continue
            following = [v.doi for v in self.versions[index + 1 :] if v.findable]
            return {
                "concept": self.concept,
                "number": version.number,
                "previous": self.versions[index - 1].doi if index else None,
                "next": following[0] if following else None,
            }
        return None


async def chains(connection: AsyncConnection, concepts: Sequence[str]) -> dict[str, Chain]:
    """The chains of these concept DOIs (lower case), by concept."""
    wanted = sorted({c.lower() for c in concepts})
    if not wanted:
        return {}
    rows = await connection.execute(
        select(
            DoiSaga.concept_doi, DoiSaga.doi, DoiSaga.version, DoiSaga.step,
            DoiSaga.data_publication_id,
        )
        .where(DoiSaga.concept_doi.in_(wanted), DoiSaga.step.not_in(GONE))
        .order_by(DoiSaga.concept_doi, DoiSaga.version)
    )  # fmt: skip
    found: dict[str, list[Version]] = {}
    for concept, doi, number, step, publication in rows:
        found.setdefault(concept, []).append(Version(doi, int(number), step, int(publication)))
    return {concept: Chain(concept, tuple(versions)) for concept, versions in found.items()}


_VERSION = aliased(DoiSaga, name="listed_version")
_NEWER = aliased(DoiSaga, name="newer_version")

OLDEST_FIRST = (SortKey(_VERSION.version), SortKey(_VERSION.id))
"""The order of :func:`versions_listed` (a version's number, unique in its chain, then
its saga's id): the keyset of a page of versions."""


def versions_listed() -> tuple[Select[Any], Any]:
    """The versions ``DataPublication.versions`` lists for each DOI of a chain: the chain's
    published versions and the DOI itself (those that count, as in :func:`chains`), each
    row with the DOI it is listed for (``owner_key``, lower case), its ``doi``, its
    ``version`` and ``is_latest`` (the newest published one, as ``Chain.latest``); and the
    column of the DOI listed for (the parent of a page of them)."""
    owners = (
        select(DoiSaga.doi.label("doi"), DoiSaga.concept_doi.label("concept_doi"))
        .where(DoiSaga.concept_doi.is_not(None))
        .distinct()
        .subquery("versioned")
    )
    published = _VERSION.step.in_(PUBLISHED)
    newer = exists().where(
        _NEWER.concept_doi == _VERSION.concept_doi,
        _NEWER.step.in_(PUBLISHED),
        _NEWER.version > _VERSION.version,
    )
    statement = (
        select(
            owners.c.doi.label("owner_key"),
            _VERSION.doi.label("doi"),
            _VERSION.version.label("version"),
            and_(published, ~newer).label("is_latest"),
        )
        .join(_VERSION, _VERSION.concept_doi == owners.c.concept_doi)
        .where(_VERSION.step.not_in(GONE), or_(published, _VERSION.doi == owners.c.doi))
    )
    return statement, owners.c.doi


async def chain_of(connection: AsyncConnection, concept: str) -> Chain | None:
    return (await chains(connection, [concept])).get(concept.lower())


async def concepts_of(connection: AsyncConnection, dois: Sequence[str]) -> dict[str, str]:
    """The concept DOI of each of these DOIs that is a version, by lower-case DOI."""
    wanted = sorted({d.lower() for d in dois})
    if not wanted:
        return {}
    rows = await connection.execute(
        select(DoiSaga.doi, DoiSaga.concept_doi).where(
            DoiSaga.doi.in_(wanted), DoiSaga.concept_doi.is_not(None)
        )
    )
    return {doi: concept for doi, concept in rows}


async def version_links(connection: AsyncConnection, dois: Sequence[str]) -> dict[str, Any]:
    """``Chain.links`` of each of these DOIs that is a version, by lower-case DOI."""
    concepts = await concepts_of(connection, dois)
    found = await chains(connection, list(concepts.values()))
    out: dict[str, Any] = {}
    for doi, concept in concepts.items():
        chain = found.get(concept)
        links = chain.links(doi) if chain else None
        if links is not None:
            out[doi] = links
    return out
