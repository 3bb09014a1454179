"""A search of datasets by their words alone: its page statement kept for its shape
(``gateway.schema.kept``)."""

from __future__ import annotations

from gateway.catalogue import queries
from gateway.catalogue.facets import DATASET_FACETS
from gateway.catalogue.ordering import dataset_keys
from gateway.catalogue.pagination import PageRequest, cursor_listing
from gateway.catalogue.text_search import TextIndex, dataset_text_match, search_terms
from gateway.schema.connection import Connection
from gateway.schema.dataset import Dataset
from gateway.schema.facets import selected_facets
from gateway.schema.info import Info
from gateway.schema.inputs import DatasetFilter
from gateway.schema.investigation_search import request_text_index
from gateway.schema.kept import (
    SENTINEL,
    KeptSearch,
    built,
    fetched,
    kept,
    planned_access,
    shape_key,
)

LISTING = "datasets"


def _kept(
    info: Info, order: tuple[str, bool], page: PageRequest, index: TextIndex
) -> KeptSearch | None:
    """The statement of a search of datasets of this request's shape (``kept.built``): as
    ``Query.datasets`` builds it for words alone."""
    planned = planned_access(info.context.access)
    match = dataset_text_match(planned, SENTINEL, index)
    return built(
        info,
        planned,
        match.applied(queries.datasets_checked_by_row(planned)),
        dataset_keys(*order),
        page.of(cursor_listing(LISTING, order)),
        columns_from=queries.datasets_checked_by_row(planned),
    )


async def kept_dataset_search(
    info: Info, filter: DatasetFilter | None, order: tuple[str, bool], page: PageRequest
) -> Connection[Dataset] | None:
    """A search of datasets by words alone (no facets asked) from the statement kept for
    its shape: the ordering besides ``kept.shape_key``'s. None: built for the request."""
    if filter is None or filter.search is None or selected_facets(info, DATASET_FACETS):
        return None
    terms = search_terms(filter.search)
    index = await request_text_index(info)
    common = shape_key(info, filter, page, index, terms)
    if common is None:
        return None
    found = kept(
        info.context.engine, (LISTING, order, *common), lambda: _kept(info, order, page, index)
    )
    if found is None:
        return None
    listed = page.of(cursor_listing(LISTING, order))
    connection, _ = await fetched(info, found, index, terms, listed, Dataset.from_row)
    return connection
