"""Data publications: DOIs minted for a selection of datasets (ICAT DATAPUBLICATION)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from gateway.catalogue import queries
from gateway.catalogue.models import DataCollectionDataset
from gateway.catalogue.models import DataPublication as PublicationRow
from gateway.catalogue.models import Dataset as DatasetRow
from gateway.catalogue.ordering import dataset_keys
from gateway.resolvers.loaders import ChildListing
from gateway.schema.connection import Connection, child_connection, page_of
from gateway.schema.dataset import Dataset, prefetch_children
from gateway.schema.info import Info
from gateway.schema.node import Node, global_id


@strawberry.type(
    description="A creator or contributor of a data publication (ICAT DATAPUBLICATIONUSER)."
)
class Contributor:
    full_name: str | None = strawberry.field(description="Name as cited.")
    given_name: str | None = strawberry.field(description="Given name.")
    family_name: str | None = strawberry.field(description="Family name.")
    contributor_type: str = strawberry.field(description="Creator, or a DataCite contributor type.")
    order_key: str | None = strawberry.field(description="Position in the author list.")

    @staticmethod
    def from_row(row: Any) -> Contributor:
        values = row._mapping  # far cheaper than attribute access on a Row
        return Contributor(
            full_name=values["full_name"],
            given_name=values["given_name"],
            family_name=values["family_name"],
            contributor_type=values["contributor_type"],
            order_key=values["order_key"],
        )


@strawberry.type(
    description="An identifier related to a data publication, e.g. the paper (ICAT RELATEDITEM)."
)
class RelatedItem:
    identifier: str = strawberry.field(description="The related identifier, e.g. a DOI.")
    relation_type: str | None = strawberry.field(description="DataCite relation, e.g. IsCitedBy.")
    related_item_type: str | None = strawberry.field(description="DataCite resource type.")
    title: str | None = strawberry.field(description="Title of the related item.")
    full_reference: str | None = strawberry.field(description="Full citation.")

    @staticmethod
    def from_row(row: Any) -> RelatedItem:
        values = row._mapping  # far cheaper than attribute access on a Row
        return RelatedItem(
            identifier=values["identifier"],
            relation_type=values["relation_type"],
            related_item_type=values["related_item_type"],
            title=values["title"],
            full_reference=values["full_reference"],
        )


@strawberry.federation.type(
    keys=["id"],
    description="A DOI minted for a selection of datasets from one or more sessions. Public "
    "once published (which makes its datasets public); a reservation is visible to the team.",
)
class DataPublication(Node):
    icat_id: int = strawberry.field(description="ICAT DATAPUBLICATION.ID.")
    doi: str = strawberry.field(description="The DOI (ICAT PID).")
    title: str = strawberry.field(description="Title.")
    description: str | None = strawberry.field(description="Description.")
    subject: str | None = strawberry.field(description="Subject keywords.")
    publication_date: datetime | None = strawberry.field(
        description="When it was (or will be) published; null while reserved."
    )
    is_published: bool = strawberry.field(description="Whether the DOI is public.")

    @staticmethod
    def from_row(row: Any) -> DataPublication:
        values = row._mapping  # far cheaper than attribute access on a Row
        return DataPublication(
            id=global_id("DataPublication", values["id"]),
            icat_id=values["id"],
            doi=values["pid"],
            title=values["title"],
            description=values["description"],
            subject=values["subject"],
            publication_date=values["publication_date"],
            is_published=bool(values["is_published"]),
        )

    @strawberry.field(description="Creators and contributors, in order.")
    async def contributors(self, info: Info) -> list[Contributor]:
        rows = await info.context.loaders.creators_of_publication.load(self.icat_id)
        return [Contributor.from_row(row) for row in rows]

    @strawberry.field(description="Related identifiers.")
    async def related_items(self, info: Info) -> list[RelatedItem]:
        rows = await info.context.loaders.related_items_of_publication.load(self.icat_id)
        return [RelatedItem.from_row(row) for row in rows]

    @strawberry.field(description="The datasets of the publication that the caller may see.")
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
            self.icat_id,
            page_of(info, first, after),
            ("START_DATE", False),
            Dataset.from_row,
            prefetch_children,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> DataPublication | None:
        from gateway.schema.lookup import load_node

        return await load_node(info, id, "DataPublication")  # type: ignore[return-value]
