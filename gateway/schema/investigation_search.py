"""Listing sessions: the root list and "My data" share filters, orderings and paging."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from gateway.catalogue import queries
from gateway.catalogue.ordering import investigation_keys
from gateway.catalogue.pagination import PageRequest, cursor_listing
from gateway.catalogue.search import investigation_conditions
from gateway.compiled.items import item_renderer
from gateway.schema.connection import Connection, wants_total
from gateway.schema.info import Info
from gateway.schema.inputs import InvestigationFilter, InvestigationOrder
from gateway.schema.investigation import Investigation
from gateway.schema.listing import root_connection


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
