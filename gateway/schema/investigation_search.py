"""Listing sessions: the root list and "My data" share filters, orderings and paging."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select

from gateway.catalogue import queries
from gateway.catalogue.models import Instrument as InstrumentRow
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.catalogue.models import InvestigationType as InvestigationTypeRow
from gateway.catalogue.ordering import investigation_keys
from gateway.catalogue.pagination import PageRequest, cursor_listing
from gateway.catalogue.visibility import Access, released
from gateway.compiled.items import item_renderer
from gateway.resolvers.listing import root_connection
from gateway.schema.connection import Connection, wants_total
from gateway.schema.info import Info
from gateway.schema.inputs import InvestigationFilter, InvestigationOrder, like_pattern
from gateway.schema.investigation import Investigation


async def search_investigations(
    info: Info,
    name: str,
    filter: InvestigationFilter | None,
    order_by: InvestigationOrder | None,
    page: PageRequest,
    *within: ColumnElement[bool],
) -> Connection[Investigation]:
    """A page of sessions matching the filter (and any further conditions), sorted. The
    list's ``name`` tells its cursors from another list's; the filter does not: a cursor
    is a position in the ordering, which the pages of another filter share."""
    context = info.context
    order = (order_by or InvestigationOrder()).key()
    keys = investigation_keys(*order)
    statement = queries.investigations(context.access).where(*within)
    if filter is not None:
        statement = statement.where(*investigation_conditions(context.access, filter))
    now = context.now
    return await root_connection(
        context.engine,
        statement,
        keys,
        page,
        lambda row: Investigation.from_row(row, now),
        item_renderer(info),
        listing=cursor_listing(name, order),
        total=wants_total(info),
        costly_filter=filter is not None and filter.search is not None,
    )


def investigation_conditions(
    access: Access, filter: InvestigationFilter
) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions on sessions, for this caller (free text reaches
    summaries and keywords only where they may read them)."""
    conditions: list[ColumnElement[bool]] = []
    if filter.proposal is not None:
        conditions.append(InvestigationRow.name == filter.proposal)
    if filter.visit_id is not None:
        conditions.append(InvestigationRow.visit_id == filter.visit_id)
    if filter.instrument is not None:
        beamline = select(InstrumentRow.id).where(InstrumentRow.name == filter.instrument)
        conditions.append(queries.investigations_of_instrument(beamline))
    if filter.dates is not None:
        dates = filter.dates.checked()
        conditions.append(
            queries.date_overlap(
                InvestigationRow.start_date, InvestigationRow.end_date, dates.since, dates.until
            )
        )
    if filter.search is not None:
        conditions.append(queries.investigation_text_match(access, like_pattern(filter.search)))
    if filter.released is not None:
        is_released = released(InvestigationRow.release_date, access.now)
        conditions.append(is_released if filter.released else ~is_released)
    if filter.type is not None:
        conditions.append(
            InvestigationRow.type_id.in_(
                select(InvestigationTypeRow.id).where(InvestigationTypeRow.name == filter.type)
            )
        )
    return conditions
