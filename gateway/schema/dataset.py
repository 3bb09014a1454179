"""Datasets and datafiles. A caller who may not see one finds nothing: not found."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.catalogue import details, queries
from gateway.catalogue.models import Datafile as DatafileRow
from gateway.catalogue.ordering import datafile_keys
from gateway.compiled.items import plain_items
from gateway.downloads.globus import GlobusCollection
from gateway.errors import Forbidden
from gateway.fields.catalogue import DATAFILE, DATASET, DATASET_TYPE
from gateway.resolvers.loaders import ChildListing
from gateway.schema.connection import Connection, child_connection, node_selections, page_of
from gateway.schema.declared import Declared, declared
from gateway.schema.details import RelatedDatafile
from gateway.schema.info import Info
from gateway.schema.inputs import DatafileOrder
from gateway.schema.keys import keys_of
from gateway.schema.node import Node
from gateway.schema.sample import Parameter, Sample, Technique
from gateway.schema.scalars import Long

if TYPE_CHECKING:
    from gateway.schema.investigation import Investigation


@strawberry.type(description=DATASET_TYPE.description)
@declared(DATASET_TYPE)
class DatasetType(Declared):
    pass


@strawberry.federation.type(keys=keys_of("Dataset"), description=DATASET.description)
@declared(DATASET)
class Dataset(Node, Declared):
    _prefetched: strawberry.Private[dict[str, Any] | None] = None

    @strawberry.field
    def type(self) -> DatasetType:
        row = self._row
        if row["type_name"] is None:
            # Never null in ICAT: only its rules hide it (``relations.row_statement``).
            raise Forbidden("The catalogue's rules do not let you read this DatasetType.")
        return DatasetType.from_row(
            {"name": row["type_name"], "description": row["type_description"]}
        )

    @strawberry.field
    async def investigation(
        self, info: Info
    ) -> Annotated[Investigation, strawberry.lazy("gateway.schema.investigation")] | None:
        from gateway.schema.investigation import Investigation

        # Null only under ICAT's rules: a dataset the caller reads (published) whose
        # session they may not read, unless Dataset.investigation is a public step.
        row = await info.context.loaders.session_of_dataset.load(self._row["investigation_id"])
        return Investigation.from_row(row, info.context.now) if row is not None else None

    @strawberry.field
    async def download_size(self, info: Info) -> Long:
        size: int = await info.context.loaders.download_size_of_dataset.load(self._row["id"])
        return Long(size)

    @strawberry.field
    def globus_url(self, info: Info) -> str | None:
        settings = info.context.settings
        if settings.globus_collection is None:
            return None
        collection = GlobusCollection(
            settings.globus_collection,
            settings.globus_location_prefix,
            settings.globus_path_prefix,
        )
        return collection.link(self._row["location"])

    # These three are plain (not async) resolvers: when the page that holds the dataset
    # loaded them ahead (see prefetch_children) they answer at once, without an awaitable
    # per dataset; otherwise they hand graphql-core the loader's awaitable.

    @strawberry.field
    def sample(self, info: Info) -> Sample | None:
        if self._prefetched is not None:
            return self._prefetched["sample"]  # type: ignore[no-any-return]
        return _sample(info, self._row["sample_id"])  # type: ignore[return-value]

    @strawberry.field
    def techniques(self, info: Info) -> list[Technique]:
        if self._prefetched is not None:
            return self._prefetched["techniques"]  # type: ignore[no-any-return]
        return _techniques(info, self._row["id"])  # type: ignore[return-value]

    @strawberry.field
    def parameters(self, info: Info) -> list[Parameter] | None:
        if self._prefetched is not None:
            return self._prefetched["parameters"]  # type: ignore[no-any-return]
        return _parameters(info, self._row["id"])  # type: ignore[return-value]

    @strawberry.field
    async def datafiles(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        order_by: DatafileOrder | None = None,
    ) -> Connection[Datafile]:
        # The dataset is visible, so all of its files are (under ICAT's rules: unless
        # Dataset.datafiles is no public step, ``queries.datafiles_of_datasets``).
        access = info.context.access
        return await child_connection(
            info,
            "datafiles_of_dataset",
            DATAFILES_OF_DATASET if access.rules is None else datafiles_listing(access),
            self._row["id"],
            page_of(info, first, after, last, before),
            (order_by or DatafileOrder()).key(),
            Datafile.from_row,
        )


async def _sample(info: Info, sample_id: int | None) -> Sample | None:
    if sample_id is None:
        return None
    row = await info.context.loaders.sample.load(sample_id)
    return Sample.from_row(row) if row is not None else None


async def _techniques(info: Info, dataset_id: int) -> list[Technique]:
    rows = await info.context.loaders.related("Dataset", "techniques").load(dataset_id)
    return [Technique.from_row(row) for row in rows]


async def _parameters(info: Info, dataset_id: int) -> list[Parameter]:
    rows = await info.context.loaders.related("Dataset", "parameters").load(dataset_id)
    return [Parameter.from_row(row) for row in rows]


PREFETCHABLE = frozenset({"sample", "techniques", "parameters"})


async def prefetch_children(info: Info, datasets: list[Dataset]) -> None:
    """Load the sample, techniques and parameters of a page of datasets up front, if the
    query asks for any of them: one batched statement each, as the loaders would, but
    without an awaitable per dataset and field. Datasets the database rendered already
    (``gateway.compiled``) need nothing."""
    datasets = plain_items(datasets)
    if not datasets or not node_selections(info) & PREFETCHABLE:
        return
    ids = [dataset._row["id"] for dataset in datasets]
    samples, techniques, parameters = await asyncio.gather(
        _samples_by_id(info, datasets),
        info.context.loaders.related("Dataset", "techniques").load_many(ids),
        info.context.loaders.related("Dataset", "parameters").load_many(ids),
    )
    for dataset, technique_rows, parameter_rows in zip(
        datasets, techniques, parameters, strict=True
    ):
        dataset._prefetched = {
            "sample": samples.get(dataset._row["sample_id"]),
            "techniques": [Technique.from_row(row) for row in technique_rows],
            "parameters": [Parameter.from_row(row) for row in parameter_rows],
        }


async def _samples_by_id(info: Info, datasets: list[Dataset]) -> dict[int | None, Sample]:
    ids = sorted({d._row["sample_id"] for d in datasets if d._row["sample_id"] is not None})
    rows = await info.context.loaders.sample.load_many(ids)
    return {row._mapping["id"]: Sample.from_row(row) for row in rows if row is not None}


def datafiles_listing(access: Any) -> ChildListing:
    """The files of datasets as the caller's rules list them."""
    return ChildListing(
        statement=lambda: queries.datafiles_of_datasets(access),
        parent=DatafileRow.dataset_id,
        keys=lambda order: datafile_keys(*order),
    )


DATAFILES_OF_DATASET = ChildListing(
    statement=queries.all_datafiles,
    parent=DatafileRow.dataset_id,
    keys=lambda order: datafile_keys(*order),
)


@strawberry.federation.type(keys=keys_of("Datafile"), description=DATAFILE.description)
@declared(DATAFILE)
class Datafile(Node, Declared):
    @strawberry.field
    async def dataset(self, info: Info) -> Dataset | None:
        row = await info.context.loaders.dataset.load(self._row["dataset_id"])
        return Dataset.from_row(row) if row is not None else None

    @strawberry.field
    async def related_datafiles(self, info: Info) -> list[RelatedDatafile] | None:
        rows = await info.context.loaders.grouped(details.related_by_datafile).load(self._row["id"])
        return [RelatedDatafile.from_row(row) for row in rows]
