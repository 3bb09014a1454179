"""Data publications: DOIs minted for a selection of datasets (ICAT DATAPUBLICATION)."""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.catalogue import queries
from gateway.catalogue.models import DataCollectionDataset
from gateway.catalogue.models import DataPublication as PublicationRow
from gateway.catalogue.models import Dataset as DatasetRow
from gateway.catalogue.ordering import dataset_keys
from gateway.fields.catalogue import CONTRIBUTOR, DATA_PUBLICATION, RELATED_ITEM
from gateway.resolvers.loaders import ChildListing
from gateway.schema.connection import Connection, child_connection, page_of
from gateway.schema.dataset import Dataset, prefetch_children
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.keys import keys_of
from gateway.schema.node import Node


@strawberry.type(description=CONTRIBUTOR.description)
@declared(CONTRIBUTOR)
class Contributor(Declared):
    pass


@strawberry.type(description=RELATED_ITEM.description)
@declared(RELATED_ITEM)
class RelatedItem(Declared):
    pass


@strawberry.federation.type(
    keys=keys_of("DataPublication"), description=DATA_PUBLICATION.description
)
@declared(DATA_PUBLICATION)
class DataPublication(Node, Declared):
    @strawberry.field
    async def contributors(self, info: Info) -> list[Contributor]:
        rows = await info.context.loaders.creators_of_publication.load(self._row["id"])
        return [Contributor.from_row(row) for row in rows]

    @strawberry.field
    async def related_items(self, info: Info) -> list[RelatedItem]:
        rows = await info.context.loaders.related_items_of_publication.load(self._row["id"])
        return [RelatedItem.from_row(row) for row in rows]

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
