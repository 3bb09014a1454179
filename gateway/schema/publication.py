"""Data publications: DOIs minted for a selection of datasets (ICAT DATAPUBLICATION)."""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from gateway.catalogue import details, doi_versions, queries
from gateway.catalogue.models import DataCollectionDataset
from gateway.catalogue.models import DataPublication as PublicationRow
from gateway.catalogue.models import Dataset as DatasetRow
from gateway.catalogue.ordering import dataset_keys
from gateway.fields.catalogue import (
    AFFILIATION,
    CONTRIBUTOR,
    DATA_PUBLICATION,
    PUBLICATION_DATE,
    RELATED_ITEM,
)
from gateway.resolvers.loaders import ChildListing
from gateway.schema.citing import Citable, citing_fields, publication_json_ld, publication_metadata
from gateway.schema.connection import Connection, child_connection, page_of
from gateway.schema.dataset import Dataset, prefetch_children
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.keys import keys_of
from gateway.schema.node import Node
from gateway.schema.sample import Parameter


@strawberry.enum(description="Where a data publication stands.")
class PublicationState(enum.Enum):
    RESERVED = "RESERVED"
    """A draft DOI: citable, its datasets as hidden as before."""
    PUBLISHED = "PUBLISHED"
    """Findable; its datasets are public."""


@strawberry.type(description=AFFILIATION.description)
@declared(AFFILIATION)
class Affiliation(Declared):
    pass


@strawberry.type(description=PUBLICATION_DATE.description)
@declared(PUBLICATION_DATE)
class PublicationDate(Declared):
    pass


@strawberry.type(description=CONTRIBUTOR.description)
@declared(CONTRIBUTOR)
class Contributor(Declared):
    pass


@strawberry.type(description=RELATED_ITEM.description)
@declared(RELATED_ITEM)
class RelatedItem(Declared):
    pass


@strawberry.type(description="One version of a data publication's DOI.")
class DoiVersion:
    doi: str = strawberry.field(description="The version's DOI.")
    version: int = strawberry.field(description="Its number, from 1.")
    is_latest: bool = strawberry.field(
        description="It is the newest published version: the one the concept DOI resolves to."
    )


@strawberry.federation.type(
    keys=keys_of("DataPublication"), description=DATA_PUBLICATION.description
)
@declared(DATA_PUBLICATION)
class DataPublication(Node, Declared, Citable):
    @strawberry.field
    async def parameters(self, info: Info) -> list[Parameter] | None:
        rows = await info.context.loaders.grouped(details.parameters_by_publication).load(
            self._row["id"]
        )
        return [Parameter.from_row(row) for row in rows]

    @strawberry.field
    def state(self) -> PublicationState:
        return (
            PublicationState.PUBLISHED if self._row["is_published"] else PublicationState.RESERVED
        )

    @strawberry.field
    def registered(self, info: Info) -> bool:
        dois = info.context.dois
        if dois is None or dois.sagas.registrar.registers:
            return True
        # The local registrar's DOIs are under its prefix; the catalogue's others were
        # minted elsewhere.
        prefix = dois.sagas.registrar.prefix.lower() + "/"
        return not str(self._row["pid"]).lower().startswith(prefix)

    data_cite_metadata, citation, json_ld = citing_fields()

    async def cited_metadata(self, info: Info) -> dict[str, Any] | None:
        return await publication_metadata(info, self._row)

    async def described_json_ld(self, info: Info) -> dict[str, Any] | None:
        return await publication_json_ld(info, self._row)

    @strawberry.field
    async def concept_doi(self, info: Info) -> str | None:
        chain = await self._chain(info)
        return chain.concept if chain is not None else None

    @strawberry.field
    async def version(self, info: Info) -> int | None:
        chain = await self._chain(info)
        links = chain.links(str(self._row["pid"])) if chain is not None else None
        return int(links["number"]) if links is not None else None

    @strawberry.field
    async def versions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[DoiVersion]:
        statement, listed_for = doi_versions.versions_listed()
        listing = ChildListing(
            statement=lambda: statement,
            parent=listed_for,
            keys=lambda order: doi_versions.OLDEST_FIRST,
        )
        pid = self._row["pid"]
        return await child_connection(
            info,
            "DataPublication.versions",
            listing,
            str(pid).lower() if pid else "",
            page_of(info, first, after),
            ("version", False),
            lambda row: DoiVersion(
                doi=row.doi, version=int(row.version), is_latest=bool(row.is_latest)
            ),
        )

    async def _chain(self, info: Info) -> doi_versions.Chain | None:
        if not self._row["pid"]:
            return None
        chain: doi_versions.Chain | None = await info.context.loaders.doi_chain.load(
            str(self._row["pid"]).lower()
        )
        return chain

    @strawberry.field
    async def datasets(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Dataset]:
        access = info.context.access

        def statement() -> Any:
            return (
                queries.datasets(access)
                .join(DataCollectionDataset, DataCollectionDataset.dataset_id == DatasetRow.id)
                .join(
                    PublicationRow,
                    PublicationRow.data_collection_id == DataCollectionDataset.data_collection_id,
                )
            )

        listing = ChildListing(
            statement=statement, parent=PublicationRow.id, keys=lambda o: dataset_keys(*o)
        )
        return await child_connection(
            info,
            "datasets_of_publication",
            listing,
            self._row["id"],
            page_of(info, first, after),
            ("START_DATE", False),
            Dataset.from_row,
            prefetch_children,
        )
