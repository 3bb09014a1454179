"""Facilities, their beamlines (ICAT instruments) and session types. All LANDING class."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.fields.catalogue import FACILITY, INSTRUMENT, INVESTIGATION_TYPE
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.keys import keys_of
from gateway.schema.node import Node

if TYPE_CHECKING:
    from gateway.schema.people import User


@strawberry.federation.type(keys=keys_of("Facility"), description=FACILITY.description)
@declared(FACILITY)
class Facility(Node, Declared):
    pass


@strawberry.federation.type(keys=keys_of("Instrument"), description=INSTRUMENT.description)
@declared(INSTRUMENT)
class Instrument(Node, Declared):
    @strawberry.field
    async def facility(self, info: Info) -> Facility:
        return Facility.from_row(
            await info.context.loaders.reference("facility").load(self._row["facility_id"])
        )

    @strawberry.field
    async def scientists(
        self, info: Info
    ) -> list[Annotated[User, strawberry.lazy("gateway.schema.people")]]:
        from gateway.schema.people import User

        rows = await info.context.loaders.scientists_of_instrument.load(self._row["id"])
        return [User.from_row(row) for row in rows]


@strawberry.type(description=INVESTIGATION_TYPE.description)
@declared(INVESTIGATION_TYPE)
class InvestigationType(Declared):
    pass
