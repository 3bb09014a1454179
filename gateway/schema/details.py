"""The detailed metadata a portal shows beside a session, a dataset, a file or a data
publication: shifts, papers, grants, studies, facility cycles, publication types and
related files. Their fields are declared in the field catalogue; the relations that reach
them are resolved in their owners' modules through ``gateway.catalogue.details``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.fields.catalogue import (
    DATA_PUBLICATION_TYPE,
    FACILITY_CYCLE,
    FUNDING_REFERENCE,
    PUBLICATION,
    RELATED_DATAFILE,
    SHIFT,
    STUDY,
)
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info

if TYPE_CHECKING:
    from gateway.schema.dataset import Datafile


@strawberry.type(description=SHIFT.description)
@declared(SHIFT)
class Shift(Declared):
    pass


@strawberry.type(description=PUBLICATION.description)
@declared(PUBLICATION)
class Publication(Declared):
    pass


@strawberry.type(description=FUNDING_REFERENCE.description)
@declared(FUNDING_REFERENCE)
class FundingReference(Declared):
    pass


@strawberry.type(description=STUDY.description)
@declared(STUDY)
class Study(Declared):
    pass


@strawberry.type(description=FACILITY_CYCLE.description)
@declared(FACILITY_CYCLE)
class FacilityCycle(Declared):
    pass


@strawberry.type(description=DATA_PUBLICATION_TYPE.description)
@declared(DATA_PUBLICATION_TYPE)
class DataPublicationType(Declared):
    pass


@strawberry.type(description=RELATED_DATAFILE.description)
@declared(RELATED_DATAFILE)
class RelatedDatafile(Declared):
    @strawberry.field
    async def datafile(
        self, info: Info
    ) -> Annotated[Datafile, strawberry.lazy("gateway.schema.dataset")] | None:
        from gateway.schema.dataset import Datafile

        row = await info.context.loaders.datafile.load(self._row["datafile_id"])
        return Datafile.from_row(row) if row is not None else None
