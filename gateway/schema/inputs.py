"""Arguments of the list fields: filters and orderings."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from gateway.errors import BadUserInput
from gateway.schema.scalars import SortDirection


@strawberry.input(description="An interval of time; either end may be left open.")
class DateRange:
    since: datetime | None = strawberry.field(default=None, description="From this instant (inclusive).")
    until: datetime | None = strawberry.field(default=None, description="Up to this instant (inclusive).")

    def checked(self) -> DateRange:
        if self.since is not None and self.until is not None:
            since, until = self.since, self.until
            if (since.tzinfo is None) != (until.tzinfo is None):
                raise BadUserInput("Give both ends of a date range with a time zone, or neither.")
            if since > until:
                raise BadUserInput("A date range must not end before it starts.", argument="dates")
        return self


@strawberry.enum(description="What sessions can be sorted by.")
class InvestigationSortField(enum.Enum):
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    RELEASE_DATE = "RELEASE_DATE"
    PROPOSAL = "PROPOSAL"
    INSTRUMENT = "INSTRUMENT"
    TITLE = "TITLE"


@strawberry.input(description="How to sort sessions.")
class InvestigationOrder:
    field: InvestigationSortField = strawberry.field(
        default=InvestigationSortField.START_DATE, description="Sort key."
    )
    direction: SortDirection = strawberry.field(default=SortDirection.DESC, description="Direction.")


@strawberry.input(description="Which sessions to list. All conditions must hold.")
class InvestigationFilter:
    proposal: str | None = strawberry.field(default=None, description="Proposal number, exactly (e.g. MX-2345).")
    visit_id: str | None = strawberry.field(default=None, description="Visit id, exactly.")
    instrument: str | None = strawberry.field(default=None, description="Beamline name, exactly (e.g. ID30A-1).")
    dates: DateRange | None = strawberry.field(default=None, description="Sessions that ran (in part) within this interval.")
    search: str | None = strawberry.field(
        default=None,
        description="Free text, case-insensitive, over title and proposal, and over summary and "
        "keywords of the sessions whose data the caller may read.",
    )
    released: bool | None = strawberry.field(default=None, description="Only released (true) or only embargoed (false) sessions.")
    type: str | None = strawberry.field(default=None, description="Session type name, e.g. experiment.")


@strawberry.enum(description="What datasets can be sorted by.")
class DatasetSortField(enum.Enum):
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    NAME = "NAME"


@strawberry.input(description="How to sort datasets.")
class DatasetOrder:
    field: DatasetSortField = strawberry.field(default=DatasetSortField.START_DATE, description="Sort key.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")


@strawberry.input(description="A numeric parameter within a range (inclusive ends; either may be open).")
class ParameterRange:
    name: str = strawberry.field(description="Parameter name, e.g. InstrumentMonochromator_energy.")
    units: str | None = strawberry.field(default=None, description="Only values in these units.")
    min: float | None = strawberry.field(default=None, description="Lowest value.")
    max: float | None = strawberry.field(default=None, description="Highest value.")

    def checked(self) -> ParameterRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise BadUserInput(f"The range of `{self.name}` has min above max.", argument="parameters")
        return self


@strawberry.input(description="Which datasets to list. All conditions must hold.")
class DatasetFilter:
    investigation_id: strawberry.ID | None = strawberry.field(default=None, description="Datasets of this session.")
    sample_id: strawberry.ID | None = strawberry.field(default=None, description="Datasets of this sample.")
    technique: str | None = strawberry.field(default=None, description="Technique name or PID.")
    parameters: list[ParameterRange] | None = strawberry.field(
        default=None, description="Numeric parameters that must lie within ranges."
    )
    search: str | None = strawberry.field(default=None, description="Case-insensitive text in the dataset's name or description.")
    dates: DateRange | None = strawberry.field(default=None, description="Datasets recorded (in part) within this interval.")


@strawberry.enum(description="What datafiles can be sorted by.")
class DatafileSortField(enum.Enum):
    NAME = "NAME"
    CREATE_TIME = "CREATE_TIME"
    FILE_SIZE = "FILE_SIZE"


@strawberry.input(description="How to sort datafiles.")
class DatafileOrder:
    field: DatafileSortField = strawberry.field(default=DatafileSortField.NAME, description="Sort key.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")


def like_pattern(text: str) -> str:
    """A case-insensitive LIKE pattern for a substring, with LIKE's wildcards escaped."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise BadUserInput("A search text must not be empty.", argument="search")
    if len(cleaned) > 200:
        raise BadUserInput("A search text is at most 200 characters.", argument="search")
    return "%" + cleaned.replace("\\", "").replace("%", "").replace("_", " ").replace(" ", "%") + "%"
