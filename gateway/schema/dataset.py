"""Datasets and datafiles. A caller who may not see one finds nothing: not found."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.catalogue import queries
from gateway.catalogue.models import Datafile as DatafileRow
from gateway.catalogue.ordering import datafile_keys
from gateway.compiled.items import plain_items
from gateway.resolvers.loaders import ChildListing
from gateway.schema.connection import Connection, child_connection, node_selections, page_of
from gateway.schema.info import Info
from gateway.schema.inputs import DatafileOrder
from gateway.schema.node import Node, global_id, instance
from gateway.schema.sample import Parameter, Sample, Technique
from gateway.schema.scalars import Long

if TYPE_CHECKING:
    from gateway.schema.investigation import Investigation


@strawberry.federation.type(
    keys=["id"],
    description="A dataset: one acquisition or processing run within a session (ICAT DATASET). "
    "DATA class as a whole: visible once its session is released, to the session's team, "
    "or once a published DOI includes it.",
)
class Dataset(Node):
    icat_id: int = strawberry.field(description="ICAT DATASET.ID.")
    name: str = strawberry.field(description="Dataset name.")
    description: str | None = strawberry.field(description="Description.")
    location: str | None = strawberry.field(description="Storage location (path).")
    doi: str | None = strawberry.field(description="The dataset's own DOI, if it has one.")
    start_date: datetime | None = strawberry.field(description="Acquisition start.")
    end_date: datetime | None = strawberry.field(description="Acquisition end (ICAT END_DATE).")
    complete: bool | None = strawberry.field(description="Whether acquisition is complete.")
    file_size: Long | None = strawberry.field(description="Total bytes, where ICAT keeps it.")
    file_count: Long | None = strawberry.field(description="Number of files, where ICAT keeps it.")
    type: str = strawberry.field(description="The kind of dataset, e.g. acquisition or processed.")
    _investigation_id: strawberry.Private[int]
    _sample_id: strawberry.Private[int | None]
    _prefetched: strawberry.Private[dict[str, Any] | None]

    @staticmethod
    def from_row(row: Any) -> Dataset:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            Dataset,
            id=global_id("Dataset", values["id"]),
            icat_id=values["id"],
            name=values["name"],
            description=values["description"],
            location=values["location"],
            doi=values["doi"],
            start_date=values["start_date"],
            end_date=values["end_date"],
            complete=values["complete"],
            file_size=values["file_size"],
            file_count=values["file_count"],
            type=values["type_name"],
            _investigation_id=values["investigation_id"],
            _sample_id=values["sample_id"],
            _prefetched=None,
        )

    @strawberry.field(description="The session the dataset belongs to.")
    async def investigation(
        self, info: Info
    ) -> Annotated[Investigation, strawberry.lazy("gateway.schema.investigation")]:
        from gateway.schema.investigation import Investigation

        row = await info.context.loaders.investigation.load(self._investigation_id)
        return Investigation.from_row(row, info.context.now)

    # These three are plain (not async) resolvers: when the page that holds the dataset
    # loaded them ahead (see prefetch_children) they answer at once, without an awaitable
    # per dataset; otherwise they hand graphql-core the loader's awaitable.

    @strawberry.field(description="The sample measured.")
    def sample(self, info: Info) -> Sample | None:
        if self._prefetched is not None:
            return self._prefetched["sample"]  # type: ignore[no-any-return]
        return _sample(info, self._sample_id)  # type: ignore[return-value]

    @strawberry.field(description="Techniques used.")
    def techniques(self, info: Info) -> list[Technique]:
        if self._prefetched is not None:
            return self._prefetched["techniques"]  # type: ignore[no-any-return]
        return _techniques(info, self.icat_id)  # type: ignore[return-value]

    @strawberry.field(description="The dataset's parameters, with units.")
    def parameters(self, info: Info) -> list[Parameter]:
        if self._prefetched is not None:
            return self._prefetched["parameters"]  # type: ignore[no-any-return]
        return _parameters(info, self.icat_id)  # type: ignore[return-value]

    @strawberry.field(description="The dataset's files.")
    async def datafiles(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        order_by: DatafileOrder | None = None,
    ) -> Connection[Datafile]:
        # The dataset is visible, so all of its files are: no visibility filter needed.
        return await child_connection(
            info,
            "datafiles_of_dataset",
            DATAFILES_OF_DATASET,
            self.icat_id,
            page_of(info, first, after, last, before),
            (order_by or DatafileOrder()).key(),
            Datafile.from_row,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Dataset | None:
        from gateway.schema.lookup import load_node

        return await load_node(info, id, "Dataset")  # type: ignore[return-value]


async def _sample(info: Info, sample_id: int | None) -> Sample | None:
    if sample_id is None:
        return None
    row = await info.context.loaders.sample.load(sample_id)
    return Sample.from_row(row) if row is not None else None


async def _techniques(info: Info, dataset_id: int) -> list[Technique]:
    rows = await info.context.loaders.techniques_of_dataset.load(dataset_id)
    return [Technique.from_row(row) for row in rows]


async def _parameters(info: Info, dataset_id: int) -> list[Parameter]:
    rows = await info.context.loaders.parameters_of_dataset.load(dataset_id)
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
    ids = [dataset.icat_id for dataset in datasets]
    samples, techniques, parameters = await asyncio.gather(
        _samples_by_id(info, datasets),
        info.context.loaders.techniques_of_dataset.load_many(ids),
        info.context.loaders.parameters_of_dataset.load_many(ids),
    )
    for dataset, technique_rows, parameter_rows in zip(
        datasets, techniques, parameters, strict=True
    ):
        dataset._prefetched = {
            "sample": samples.get(dataset._sample_id),
            "techniques": [Technique.from_row(row) for row in technique_rows],
            "parameters": [Parameter.from_row(row) for row in parameter_rows],
        }


async def _samples_by_id(info: Info, datasets: list[Dataset]) -> dict[int | None, Sample]:
    ids = sorted({d._sample_id for d in datasets if d._sample_id is not None})
    rows = await info.context.loaders.sample.load_many(ids)
    return {row._mapping["id"]: Sample.from_row(row) for row in rows if row is not None}


DATAFILES_OF_DATASET = ChildListing(
    statement=queries.all_datafiles,
    parent=DatafileRow.dataset_id,
    keys=lambda order: datafile_keys(*order),
)


@strawberry.federation.type(
    keys=["id"], description="A file of a dataset (ICAT DATAFILE). DATA class."
)
class Datafile(Node):
    icat_id: int = strawberry.field(description="ICAT DATAFILE.ID.")
    name: str = strawberry.field(description="File name.")
    description: str | None = strawberry.field(description="Description.")
    location: str | None = strawberry.field(description="Storage location (path).")
    file_size: Long | None = strawberry.field(description="Size in bytes.")
    checksum: str | None = strawberry.field(description="Checksum.")
    create_time: datetime | None = strawberry.field(
        description="When the file was written (ICAT DATAFILECREATETIME)."
    )
    mod_time: datetime | None = strawberry.field(description="When the file was last modified.")
    doi: str | None = strawberry.field(description="The file's own DOI, if any.")
    format: str | None = strawberry.field(description="The file format, e.g. HDF5.")
    _dataset_id: strawberry.Private[int]

    @staticmethod
    def from_row(row: Any) -> Datafile:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            Datafile,
            id=global_id("Datafile", values["id"]),
            icat_id=values["id"],
            name=values["name"],
            description=values["description"],
            location=values["location"],
            file_size=values["file_size"],
            checksum=values["checksum"],
            create_time=values["datafile_create_time"],
            mod_time=values["datafile_mod_time"],
            doi=values["doi"],
            format=values["format_name"],
            _dataset_id=values["dataset_id"],
        )

    @strawberry.field(description="The dataset the file belongs to.")
    async def dataset(self, info: Info) -> Dataset | None:
        row = await info.context.loaders.dataset.load(self._dataset_id)
        return Dataset.from_row(row) if row is not None else None

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Datafile | None:
        from gateway.schema.lookup import load_node

        return await load_node(info, id, "Datafile")  # type: ignore[return-value]
