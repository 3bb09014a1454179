"""The portal's "Publications" view: public data publications, filtered, sorted, paged."""

from __future__ import annotations

import enum
import re
from datetime import datetime

import strawberry
from sqlalchemy import ColumnElement, func, or_, select

from gateway.catalogue import queries
from gateway.catalogue.models import (
    DataCollection,
    DataCollectionDataset,
    DataPublicationUser,
    Dataset,
    Investigation,
    InvestigationInstrument,
    User,
)
from gateway.catalogue.models import DataPublication as PublicationRow
from gateway.catalogue.models import Instrument as InstrumentRow
from gateway.catalogue.pagination import PageRequest, SortKey, cursor_listing
from gateway.catalogue.search import like_pattern
from gateway.catalogue.visibility import Access, along_by_rules, released
from gateway.errors import BadUserInput
from gateway.schema.connection import Connection, wants_total
from gateway.schema.info import Info
from gateway.schema.listing import root_connection
from gateway.schema.publication import DataPublication
from gateway.schema.scalars import SortDirection

_ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$", re.IGNORECASE)


@strawberry.input(description="Which public data publications to list.")
class PublicationFilter:
    year: int | None = strawberry.field(default=None, description="Published in this year.")
    beamline: str | None = strawberry.field(
        default=None, description="Holding datasets of a session on this beamline (its name)."
    )
    creator_orcid: str | None = strawberry.field(
        default=None, description="With this creator (ORCID iD, bare or as its URL)."
    )
    search: str | None = strawberry.field(
        default=None, description="Words in the title or the abstract (case-insensitive)."
    )


@strawberry.enum(description="What publications can be sorted by.")
class PublicationSortField(enum.Enum):
    PUBLICATION_DATE = "PUBLICATION_DATE"
    TITLE = "TITLE"


@strawberry.input(description="How to sort publications.")
class PublicationOrder:
    field: PublicationSortField = strawberry.field(
        default=PublicationSortField.PUBLICATION_DATE, description="Sort key."
    )
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="Direction."
    )


BEAMLINE_PATH = (
    ("DataPublication", "content", DataCollection),
    ("DataCollection", "dataCollectionDatasets", DataCollectionDataset),
    ("DataCollectionDataset", "dataset", Dataset),
    ("Dataset", "investigation", Investigation),
    ("Investigation", "investigationInstruments", InvestigationInstrument),
    ("InvestigationInstrument", "instrument", InstrumentRow),
)
"""How a publication reaches a beamline in ICAT (each hop: origin, field, its rows' model)."""
CREATOR_PATH = (
    ("DataPublication", "users", DataPublicationUser),
    ("DataPublicationUser", "user", User),
)
"""How a publication reaches its creators in ICAT."""


def _conditions(filter: PublicationFilter, access: Access) -> list[ColumnElement[bool]]:
    """The filter as conditions on DATAPUBLICATION rows. Under ICAT's rules a publication
    is found by a beamline or a creator only through rows the caller reaches from it, hop
    by hop (``visibility.along_by_rules``): a filter must not tell what the rules hide."""
    conditions: list[ColumnElement[bool]] = []
    if filter.year is not None:
        if not 1000 <= filter.year <= 9999:
            raise BadUserInput("A year has four digits.", argument="year")
        conditions.append(PublicationRow.publication_date >= datetime(filter.year, 1, 1))
        conditions.append(PublicationRow.publication_date < datetime(filter.year + 1, 1, 1))
    if filter.beamline is not None:
        collections = (
            select(DataCollectionDataset.data_collection_id)
            .join(Dataset, Dataset.id == DataCollectionDataset.dataset_id)
            .join(
                InvestigationInstrument,
                InvestigationInstrument.investigation_id == Dataset.investigation_id,
            )
            .join(InstrumentRow, InstrumentRow.id == InvestigationInstrument.instrument_id)
            .where(InstrumentRow.name == filter.beamline.strip())
        )
        reached = along_by_rules(access, *BEAMLINE_PATH)
        if reached:  # the rows the rules read, joined only for them
            collections = (
                collections.join(
                    DataCollection, DataCollection.id == DataCollectionDataset.data_collection_id
                )
                .join(Investigation, Investigation.id == Dataset.investigation_id)
                .where(*reached)
            )
        conditions.append(PublicationRow.data_collection_id.in_(collections))
    if filter.creator_orcid is not None:
        match = _ORCID.match(filter.creator_orcid.strip())
        if match is None:
            raise BadUserInput("Not an ORCID iD.", argument="creatorOrcid")
        by = (
            select(DataPublicationUser.publication_id)
            .join(User, User.id == DataPublicationUser.user_id)
            .where(User.orcid_id == match.group(1).upper(), *along_by_rules(access, *CREATOR_PATH))
        )
        conditions.append(PublicationRow.id.in_(by))
    if filter.search is not None:
        pattern = like_pattern(filter.search)
        conditions.append(
            or_(
                func.lower(PublicationRow.title).like(pattern),
                func.lower(PublicationRow.description).like(pattern),
            )
        )
    return conditions


async def search_publications(
    info: Info,
    filter: PublicationFilter | None,
    order_by: PublicationOrder | None,
    page: PageRequest,
) -> Connection[DataPublication]:
    """A page of the public data publications matching the filter, sorted."""
    context = info.context
    order = order_by or PublicationOrder()
    descending = order.direction is SortDirection.DESC
    statement = queries.data_publications(context.access).where(
        released(PublicationRow.publication_date, context.now)
    )
    if filter is not None:
        statement = statement.where(*_conditions(filter, context.access))
    column = (
        PublicationRow.publication_date
        if order.field is PublicationSortField.PUBLICATION_DATE
        else PublicationRow.title
    )
    keys = [SortKey(column, descending), SortKey(PublicationRow.id, descending)]
    return await root_connection(
        context.engine,
        statement,
        keys,
        page,
        DataPublication.from_row,
        listing=cursor_listing("publications", (order.field.value, descending)),
        total=wants_total(info),
    )
