"""Facilities, their beamlines (ICAT instruments) and session types. All LANDING class."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.schema.info import Info
from gateway.schema.node import Node, global_id, instance

if TYPE_CHECKING:
    from gateway.schema.people import User


@strawberry.federation.type(
    keys=["id"], description="A facility (ICAT FACILITY), e.g. a synchrotron. Public."
)
class Facility(Node):
    icat_id: int = strawberry.field(description="ICAT FACILITY.ID.")
    name: str = strawberry.field(description="Short name, e.g. ESRF.")
    full_name: str | None = strawberry.field(description="Full name.")
    description: str | None = strawberry.field(description="Description.")
    url: str | None = strawberry.field(description="Web site.")
    days_until_release: int | None = strawberry.field(
        description="The facility's default embargo, in days after a session ends."
    )

    @staticmethod
    def from_row(row: Any) -> Facility:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            Facility,
            id=global_id("Facility", values["id"]),
            icat_id=values["id"],
            name=values["name"],
            full_name=values["full_name"],
            description=values["description"],
            url=values["url"],
            days_until_release=values["days_until_release"],
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Facility | None:
        from gateway.schema.lookup import load_node

        return await load_node(info, id, "Facility")  # type: ignore[return-value]


@strawberry.federation.type(
    keys=["id"], description="A beamline or instrument (ICAT INSTRUMENT). Public."
)
class Instrument(Node):
    icat_id: int = strawberry.field(description="ICAT INSTRUMENT.ID.")
    name: str = strawberry.field(description="Short name, e.g. ID30A-1.")
    full_name: str | None = strawberry.field(description="Full name.")
    description: str | None = strawberry.field(description="Description.")
    type: str | None = strawberry.field(description="Kind of instrument, e.g. MX beamline.")
    url: str | None = strawberry.field(description="Web page of the beamline.")
    _facility_id: strawberry.Private[int]

    @staticmethod
    def from_row(row: Any) -> Instrument:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            Instrument,
            id=global_id("Instrument", values["id"]),
            icat_id=values["id"],
            name=values["name"],
            full_name=values["full_name"],
            description=values["description"],
            type=values["type"],
            url=values["url"],
            _facility_id=values["facility_id"],
        )

    @strawberry.field(description="The facility that runs this beamline.")
    async def facility(self, info: Info) -> Facility:
        return Facility.from_row(
            await info.context.loaders.reference("facility").load(self._facility_id)
        )

    @strawberry.field(description="The beamline's scientists (ICAT INSTRUMENTSCIENTIST). Public.")
    async def scientists(
        self, info: Info
    ) -> list[Annotated[User, strawberry.lazy("gateway.schema.people")]]:
        from gateway.schema.people import User

        rows = await info.context.loaders.scientists_of_instrument.load(self.icat_id)
        return [User.from_row(row) for row in rows]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Instrument | None:
        from gateway.schema.lookup import load_node

        return await load_node(info, id, "Instrument")  # type: ignore[return-value]


@strawberry.type(
    description="A kind of session (ICAT INVESTIGATIONTYPE), e.g. experiment or proprietary."
)
class InvestigationType:
    name: str = strawberry.field(description="Name of the type.")
    description: str | None = strawberry.field(description="Description.")

    @staticmethod
    def from_row(row: Any) -> InvestigationType:
        values = row._mapping  # far cheaper than attribute access on a Row
        return InvestigationType(name=values["name"], description=values["description"])
