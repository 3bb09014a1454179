"""Arguments of the list fields: filters and orderings."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import strawberry

from gateway.errors import BadUserInput
from gateway.schema.scalars import SortDirection


@strawberry.input(description="An interval of time; either end may be left open.")
class DateRange:
    since: datetime | None = strawberry.field(
        default=None, description="From this instant (inclusive)."
    )
    until: datetime | None = strawberry.field(
        default=None, description="Up to this instant (inclusive)."
    )

    def checked(self) -> DateRange:
        """The range in the catalogue's time (naive UTC), refused if it ends before it starts."""
        since, until = naive_utc(self.since), naive_utc(self.until)
        if since is not None and until is not None and since > until:
            raise BadUserInput("A date range must not end before it starts.", argument="dates")
        return DateRange(since=since, until=until)


def naive_utc(moment: datetime | None) -> datetime | None:
    """ICAT stores naive timestamps, read as UTC: convert an aware input to that."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


@strawberry.enum(description="What sessions can be sorted by.")
class InvestigationSortField(enum.Enum):
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    RELEASE_DATE = "RELEASE_DATE"
    PROPOSAL = "PROPOSAL"
    INSTRUMENT = "INSTRUMENT"
    TITLE = "TITLE"
    RELEVANCE = "RELEVANCE"


@strawberry.input(
    description="How to sort sessions. A search (`filter.search`) is sorted by RELEVANCE "
    "(most relevant first) unless told otherwise; RELEVANCE without a search is BAD_USER_INPUT."
)
class InvestigationOrder:
    field: InvestigationSortField = strawberry.field(
        default=InvestigationSortField.START_DATE, description="Sort key."
    )
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="Direction."
    )

    def key(self) -> tuple[str, bool]:
        """(sort field, descending), as the catalogue's orderings take it."""
        return self.field.value, self.direction is SortDirection.DESC


@strawberry.input(description="Which sessions to list. All conditions must hold.")
class InvestigationFilter:
    proposal: str | None = strawberry.field(
        default=None,
        description="Proposal number as stored, or all in upper or all in lower case (MX-2345, "
        "mx-2345).",
    )
    visit_id: str | None = strawberry.field(default=None, description="Visit id, exactly.")
    instrument: str | None = strawberry.field(
        default=None, description="Beamline name, in any case (ID30A-1, id30a-1)."
    )
    dates: DateRange | None = strawberry.field(
        default=None, description="Sessions that ran (in part) within this interval."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Free text through the search index: every word (or the start of a word) "
        "must be in the session's landing facts (title, proposal, visit, beamline, DOI), or in "
        "its data fields (summary, keywords, sample and dataset names) where the caller may "
        "read them. At most 16 words and 200 characters.",
    )
    released: bool | None = strawberry.field(
        default=None, description="Only released (true) or only embargoed (false) sessions."
    )
    type: str | None = strawberry.field(
        default=None, description="Session type name, in any case, e.g. experiment."
    )


@strawberry.enum(description="What datasets can be sorted by.")
class DatasetSortField(enum.Enum):
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    NAME = "NAME"


@strawberry.input(description="How to sort datasets.")
class DatasetOrder:
    field: DatasetSortField = strawberry.field(
        default=DatasetSortField.START_DATE, description="Sort key."
    )
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")

    def key(self) -> tuple[str, bool]:
        """(sort field, descending), as the catalogue's orderings take it."""
        return self.field.value, self.direction is SortDirection.DESC


@strawberry.input(
    description="A numeric parameter within a range (inclusive ends; either may be open)."
)
class ParameterRange:
    name: str = strawberry.field(description="Parameter name, e.g. InstrumentMonochromator_energy.")
    units: str | None = strawberry.field(
        default=None,
        description="The units `min` and `max` are in (as ICAT writes them: keV, eV, Å, mm, K, "
        "°C...): values stored in any units of the same dimension match after conversion; values "
        "stored in units that cannot be read are compared as they are, those of another "
        "dimension never match. Unknown units are BAD_USER_INPUT. Without units, every value "
        "is compared as it is stored.",
    )
    min: float | None = strawberry.field(default=None, description="Lowest value.")
    max: float | None = strawberry.field(default=None, description="Highest value.")

    def checked(self) -> ParameterRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise BadUserInput(
                f"The range of `{self.name}` has min above max.", argument="parameters"
            )
        return self


@strawberry.input(description="Which datasets to list. All conditions must hold.")
class DatasetFilter:
    investigation_id: strawberry.ID | None = strawberry.field(
        default=None, description="Datasets of this session."
    )
    sample_id: strawberry.ID | None = strawberry.field(
        default=None, description="Datasets of this sample."
    )
    technique: str | None = strawberry.field(default=None, description="Technique name or PID.")
    parameters: list[ParameterRange] | None = strawberry.field(
        default=None, description="Numeric parameters that must lie within ranges (at most 10)."
    )
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive text in the dataset's name or description."
    )
    dates: DateRange | None = strawberry.field(
        default=None, description="Datasets recorded (in part) within this interval."
    )


@strawberry.enum(description="What datafiles can be sorted by.")
class DatafileSortField(enum.Enum):
    NAME = "NAME"
    CREATE_TIME = "CREATE_TIME"
    FILE_SIZE = "FILE_SIZE"


@strawberry.input(description="How to sort datafiles.")
class DatafileOrder:
    field: DatafileSortField = strawberry.field(
        default=DatafileSortField.NAME, description="Sort key."
    )
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")

    def key(self) -> tuple[str, bool]:
        """(sort field, descending), as the catalogue's orderings take it."""
        return self.field.value, self.direction is SortDirection.DESC
