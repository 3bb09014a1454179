"""Experiment sessions (ICAT investigations), field by field LANDING or DATA."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.catalogue import queries
from gateway.catalogue.models import Dataset as DatasetRow
from gateway.catalogue.ordering import dataset_keys
from gateway.resolvers.loaders import ChildListing
from gateway.schema.access import embargoed
from gateway.schema.connection import Connection, child_connection, page_of
from gateway.schema.facility import Facility, Instrument, InvestigationType
from gateway.schema.info import Info
from gateway.schema.inputs import DatasetOrder
from gateway.schema.node import Node, global_id, instance
from gateway.schema.people import TeamMember
from gateway.schema.sample import Parameter, Sample
from gateway.schema.scalars import Long

if TYPE_CHECKING:
    from gateway.schema.dataset import Dataset


@strawberry.federation.type(
    keys=["id"],
    description="An experiment session: one visit on a beamline under a proposal (ICAT "
    "INVESTIGATION). Its landing facts are public; its data and detailed metadata (fields "
    "marked DATA) are embargoed until the release date, visible meanwhile only to the team, "
    "the beamline's scientists and facility staff.",
)
class Investigation(Node):
    icat_id: int = strawberry.field(description="ICAT INVESTIGATION.ID. LANDING.")
    proposal: str = strawberry.field(
        description="Proposal number (ICAT NAME), e.g. MX-2345. LANDING."
    )
    visit_id: str = strawberry.field(description="Visit of the proposal (ICAT VISIT_ID). LANDING.")
    title: str | None = strawberry.field(description="Title of the proposal. LANDING.")
    start_date: datetime | None = strawberry.field(description="When the session started. LANDING.")
    end_date: datetime | None = strawberry.field(description="When the session ended. LANDING.")
    release_date: datetime | None = strawberry.field(
        description="When the data become public; null means never automatically "
        "(e.g. proprietary sessions). LANDING."
    )
    doi: str | None = strawberry.field(description="The session's DOI. LANDING.")
    is_released: bool = strawberry.field(
        description="Whether the embargo is over (release date in the past). LANDING."
    )
    can_read_data: bool = strawberry.field(
        description="Whether the caller may read this session's DATA fields. LANDING."
    )
    _summary: strawberry.Private[str | None]
    _file_size: strawberry.Private[int | None]
    _file_count: strawberry.Private[int | None]
    _facility_id: strawberry.Private[int]
    _type_id: strawberry.Private[int]

    @staticmethod
    def from_row(row: Any, now: datetime) -> Investigation:
        values = row._mapping  # far cheaper than attribute access on a Row
        release = values["release_date"]
        return instance(
            Investigation,
            id=global_id("Investigation", values["id"]),
            icat_id=values["id"],
            proposal=values["name"],
            visit_id=values["visit_id"],
            title=values["title"],
            start_date=values["start_date"],
            end_date=values["end_date"],
            release_date=release,
            doi=values["doi"],
            is_released=release is not None and release < now,
            can_read_data=bool(values["data_visible"]),
            _summary=values["summary"],
            _file_size=values["file_size"],
            _file_count=values["file_count"],
            _facility_id=values["facility_id"],
            _type_id=values["type_id"],
        )

    @strawberry.field(description="Abstract of the proposal. DATA.")
    def summary(self) -> str | None:
        return embargoed(self.can_read_data, self._summary)

    @strawberry.field(
        description="Total size in bytes of the session's files, where ICAT keeps it. DATA."
    )
    def file_size(self) -> Long | None:
        return embargoed(self.can_read_data, _long(self._file_size))

    @strawberry.field(description="Number of files, where ICAT keeps it. DATA.")
    def file_count(self) -> Long | None:
        return embargoed(self.can_read_data, _long(self._file_count))

    @strawberry.field(description="The facility. LANDING.")
    async def facility(self, info: Info) -> Facility:
        row = await info.context.loaders.reference("facility").load(self._facility_id)
        return Facility.from_row(row)

    @strawberry.field(description="The kind of session. LANDING.")
    async def type(self, info: Info) -> InvestigationType:
        row = await info.context.loaders.reference("investigation_type").load(self._type_id)
        return InvestigationType.from_row(row)

    @strawberry.field(description="The beamlines used (ICAT INVESTIGATIONINSTRUMENT). LANDING.")
    async def instruments(self, info: Info) -> list[Instrument]:
        rows = await info.context.loaders.instruments_of_investigation.load(self.icat_id)
        return [Instrument.from_row(row) for row in rows]

    @strawberry.field(
        description="The team: proposers, participants, local contacts and collaborators, "
        "one entry per role. LANDING."
    )
    async def team(self, info: Info) -> list[TeamMember]:
        rows = await info.context.loaders.team_of_investigation.load(self.icat_id)
        roles = info.context.settings.main_proposer_roles
        return [TeamMember.from_row(row, roles) for row in rows]

    @strawberry.field(description="The caller's roles in this session; empty if none. LANDING.")
    async def my_roles(self, info: Info) -> list[str]:
        name = info.context.access.caller.user_name
        if name is None:
            return []
        rows = await info.context.loaders.team_of_investigation.load(self.icat_id)
        return [row.role for row in rows if row.name == name]

    @strawberry.field(description="Keywords. DATA.")
    async def keywords(self, info: Info) -> list[str]:
        embargoed(self.can_read_data, None)
        return [
            row.name
            for row in await info.context.loaders.keywords_of_investigation.load(self.icat_id)
        ]

    @strawberry.field(description="Samples measured. DATA.")
    async def samples(self, info: Info) -> list[Sample]:
        embargoed(self.can_read_data, None)
        rows = await info.context.loaders.samples_of_investigation.load(self.icat_id)
        return [Sample.from_row(row) for row in rows]

    @strawberry.field(description="Session-level parameters. DATA.")
    async def parameters(self, info: Info) -> list[Parameter]:
        embargoed(self.can_read_data, None)
        rows = await info.context.loaders.parameters_of_investigation.load(self.icat_id)
        return [Parameter.from_row(row) for row in rows]

    @strawberry.field(
        description="The session's datasets the caller may see: all of them once the session "
        "is released or to its team; before that, to others, only those a published DOI has "
        "made public. DATA."
    )
    async def datasets(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        order_by: DatasetOrder | None = None,
    ) -> Connection[Annotated[Dataset, strawberry.lazy("gateway.schema.dataset")]]:
        from gateway.schema.dataset import Dataset, prefetch_children

        access = info.context.access
        listing = ChildListing(
            statement=lambda: queries.datasets(access),
            parent=DatasetRow.investigation_id,
            keys=lambda order: dataset_keys(*order),
        )
        return await child_connection(
            info,
            "datasets_of_investigation",
            listing,
            self.icat_id,
            page_of(info, first, after, last, before),
            (order_by or DatasetOrder()).key(),
            Dataset.from_row,
            prefetch_children,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Investigation | None:
        from gateway.schema.lookup import load_node

        return await load_node(info, id, "Investigation")  # type: ignore[return-value]


def _long(value: int | None) -> Long | None:
    return None if value is None else Long(value)
