"""The root Query: what the data portal, GraphiQL users and scripts ask for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import strawberry
from sqlalchemy import ColumnElement, Select, func, or_

from gateway.catalogue import queries
from gateway.catalogue.facets import DATASET_FACETS, dataset_facets
from gateway.catalogue.models import DataPublication as PublicationRow
from gateway.catalogue.models import Dataset as DatasetRow
from gateway.catalogue.models import Facility as FacilityRow
from gateway.catalogue.models import Instrument as InstrumentRow
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.catalogue.models import ParameterType as ParameterTypeRow
from gateway.catalogue.models import Technique as TechniqueRow
from gateway.catalogue.ordering import dataset_keys, instrument_keys
from gateway.catalogue.pagination import SortKey, cursor_listing
from gateway.catalogue.parameter_search import NUMERIC, datasets_within_all, stored_bounds
from gateway.catalogue.search import like_pattern
from gateway.catalogue.text_search import dataset_text_match
from gateway.catalogue.units import StoredBounds
from gateway.catalogue.visibility import Access
from gateway.compiled.items import item_renderer, object_renderer
from gateway.errors import BadUserInput, NotFound
from gateway.schema.access import AccessQuery
from gateway.schema.connection import Connection, page_of, wants_total
from gateway.schema.dataset import Datafile, Dataset, prefetch_children
from gateway.schema.dataset_search import kept_dataset_search
from gateway.schema.downloads import DownloadQuery
from gateway.schema.events import EventQuery
from gateway.schema.facets import (
    DatasetSearchConnection,
    InvestigationSearchConnection,
    counting,
    datasets_with_facets,
    selected_facets,
)
from gateway.schema.facility import Facility, Instrument
from gateway.schema.info import Info
from gateway.schema.inputs import (
    DatasetFilter,
    DatasetOrder,
    InvestigationFilter,
    InvestigationOrder,
)
from gateway.schema.investigation import Investigation
from gateway.schema.investigation_search import request_text_index, search_investigations
from gateway.schema.listing import root_connection, root_object
from gateway.schema.lookup import find_by_doi, load_node
from gateway.schema.me import Me
from gateway.schema.node import Node, parse_global_id
from gateway.schema.publication import DataPublication
from gateway.schema.publication_search import (
    PublicationFilter,
    PublicationOrder,
    search_publications,
)
from gateway.schema.sample import ParameterType, Technique

DoiTarget = Annotated[
    Investigation | Dataset | Datafile | DataPublication,
    strawberry.union("DoiTarget", description="Anything the catalogue holds under a DOI."),
]

T = TypeVar("T")

PAGE_ARGUMENTS = "Relay paging: `first`/`after` forwards, `last`/`before` backwards."


@strawberry.type(description="Read the catalogue.")
class Query(AccessQuery, DownloadQuery, EventQuery):
    @strawberry.field(
        description="Who is asking: user, staff status, their sessions and beamlines."
    )
    def me(self, info: Info) -> Me:
        caller = info.context.access.caller
        return Me(
            user_name=caller.user_name, is_anonymous=caller.is_anonymous, is_staff=caller.is_staff
        )

    @strawberry.field(description="Any object by its global id; null if unknown or hidden.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, id)

    @strawberry.field(
        description="One experiment session: by `id`, by `doi`, or by `proposal` and `visitId`. "
        "Its landing facts are public; an unknown session is null, with a NOT_FOUND error for "
        "this field alone."
    )
    async def investigation(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        doi: str | None = None,
        proposal: str | None = None,
        visit_id: str | None = None,
    ) -> Investigation | None:
        given = [id is not None, doi is not None, proposal is not None or visit_id is not None]
        if sum(given) != 1 or (given[2] and (proposal is None or visit_id is None)):
            raise BadUserInput(
                "Identify the session by `id`, by `doi`, or by `proposal` and `visitId`."
            )
        context = info.context
        now = context.now
        statement = queries.investigations(context.access)

        def to_object(row: Any) -> Investigation:
            return Investigation.from_row(row, now)

        if id is not None:
            _, icat_id = parse_global_id(id, "Investigation")
            found = await _one_by_id(
                info,
                "Investigation",
                context.loaders.investigation,
                lambda: statement.where(InvestigationRow.id == icat_id),
                icat_id,
                to_object,
            )
        else:
            if doi is not None:
                statement = statement.where(
                    InvestigationRow.doi.in_(queries.doi_variants(queries.normalise_doi(doi)))
                )
            else:
                statement = statement.where(
                    InvestigationRow.name == proposal, InvestigationRow.visit_id == visit_id
                )
            found = await root_object(
                context.engine,
                statement.order_by(InvestigationRow.id),
                to_object,
                object_renderer(info, "Investigation"),
            )
        if found is None:
            raise NotFound("No such experiment session.")
        return found

    @strawberry.field(
        description="Experiment sessions, filtered and sorted (newest first by default). "
        "Every session's landing facts are public, so every session is listed. " + PAGE_ARGUMENTS
    )
    async def investigations(
        self,
        info: Info,
        filter: InvestigationFilter | None = None,
        order_by: InvestigationOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> InvestigationSearchConnection:
        page = page_of(info, first, after, last, before)
        return await search_investigations(info, "investigations", filter, order_by, page)

    @strawberry.field(
        description="One dataset by id; null, with a NOT_FOUND error for this field alone, "
        "if unknown "
        "or hidden from the caller."
    )
    async def dataset(self, info: Info, id: strawberry.ID) -> Dataset | None:
        _, icat_id = parse_global_id(id, "Dataset")
        context = info.context
        found = await _one_by_id(
            info,
            "Dataset",
            context.loaders.dataset,
            lambda: queries.datasets_by_id(context.access, [icat_id]),
            icat_id,
            Dataset.from_row,
        )
        if found is None:
            raise NotFound("No such dataset.")
        return found

    @strawberry.field(description="Datasets the caller may see, filtered. " + PAGE_ARGUMENTS)
    async def datasets(
        self,
        info: Info,
        filter: DatasetFilter | None = None,
        order_by: DatasetOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> DatasetSearchConnection:
        context = info.context
        page = page_of(info, first, after, last, before)
        order = (order_by or DatasetOrder()).key()
        kept = await kept_dataset_search(info, filter, order, page)
        if kept is not None:
            await prefetch_children(info, kept.items())
            return datasets_with_facets(kept, None)
        statement = queries.datasets(context.access)
        searching = filter is not None and filter.search is not None
        if filter is not None:
            ranges = [parameter.checked() for parameter in filter.parameters or []]
            bounds = await stored_bounds(context.engine, ranges)
            if filter.search is not None:
                # The index finds the rows; the visibility is checked on those alone.
                match = dataset_text_match(
                    context.access, filter.search, await request_text_index(info)
                )
                statement = match.applied(queries.datasets_checked_by_row(context.access))
            statement = statement.where(*_dataset_conditions(context.access, filter, bounds))
        facets = selected_facets(info, DATASET_FACETS)
        counts = counting(
            context.engine, dataset_facets(context.access, statement, facets) if facets else None
        )
        connection = await root_connection(
            context.engine,
            statement,
            dataset_keys(*order),
            page,
            Dataset.from_row,
            item_renderer(info),
            listing=cursor_listing("datasets", order),
            total=wants_total(info),
            costly_filter=searching,
            # The page's rows by id, the text not searched again (their ids matched it).
            columns_from=queries.datasets_checked_by_row(context.access) if searching else None,
        )
        await prefetch_children(info, connection.items())
        return datasets_with_facets(connection, counts)

    @strawberry.field(
        description="One datafile by id; null, with a NOT_FOUND error for this field alone, "
        "if unknown "
        "or hidden from the caller."
    )
    async def datafile(self, info: Info, id: strawberry.ID) -> Datafile | None:
        _, icat_id = parse_global_id(id, "Datafile")
        context = info.context
        found = await _one_by_id(
            info,
            "Datafile",
            context.loaders.datafile,
            lambda: queries.datafiles_by_id(context.access, [icat_id]),
            icat_id,
            Datafile.from_row,
        )
        if found is None:
            raise NotFound("No such datafile.")
        return found

    @strawberry.field(
        description="Resolve a DOI the catalogue knows: a session's, a dataset's, a file's or a "
        "data publication's. Accepts `10.x/y`, `doi:10.x/y` and `https://doi.org/10.x/y`; "
        "null if unknown or hidden from the caller."
    )
    async def doi(self, info: Info, doi: str) -> DoiTarget | None:
        if not doi.strip():
            raise BadUserInput("A DOI must not be empty.", argument="doi")
        return await find_by_doi(info, doi)

    @strawberry.field(
        description="One beamline by id or by name; null, with a NOT_FOUND error for this field "
        "alone, "
        "if unknown."
    )
    async def instrument(
        self, info: Info, id: strawberry.ID | None = None, name: str | None = None
    ) -> Instrument | None:
        if (id is None) == (name is None):
            raise BadUserInput("Identify the beamline by `id` or by `name`.")
        from gateway.resolvers.loaders import fetch_all

        if id is not None:
            _, icat_id = parse_global_id(id, "Instrument")
            row = await info.context.loaders.reference("instrument").load(icat_id)
        else:
            rows = await fetch_all(
                info.context.engine,
                queries.reference_rows(info.context.access, InstrumentRow)
                .where(InstrumentRow.name == name)
                .limit(1),
            )
            row = rows[0] if rows else None
        if row is None:
            raise NotFound("No such beamline.")
        return Instrument.from_row(row)

    @strawberry.field(
        description="Kinds of numeric parameters, by name, with their units and permitted "
        "range: what `datasets(filter: {parameters})` can filter on (give a range in any units "
        "of the same dimension). `search`: words in the name (case-insensitive). " + PAGE_ARGUMENTS
    )
    async def parameter_types(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ParameterType]:
        statement = queries.reference_rows(info.context.access, ParameterTypeRow).where(
            ParameterTypeRow.value_type == NUMERIC
        )
        if search is not None:
            statement = statement.where(
                func.lower(ParameterTypeRow.name).like(like_pattern(search))
            )
        keys = [SortKey(ParameterTypeRow.name), SortKey(ParameterTypeRow.id)]
        return await root_connection(
            info.context.engine,
            statement,
            keys,
            page_of(info, first, after, last, before),
            ParameterType.from_row,
            listing=cursor_listing("parameterTypes"),
            total=wants_total(info),
        )

    @strawberry.field(description="Beamlines, by name. " + PAGE_ARGUMENTS)
    async def instruments(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Instrument]:
        from sqlalchemy import func

        statement = queries.reference_rows(info.context.access, InstrumentRow)
        if search is not None:
            pattern = like_pattern(search)
            statement = statement.where(
                or_(
                    func.lower(InstrumentRow.name).like(pattern),
                    func.lower(InstrumentRow.full_name).like(pattern),
                )
            )
        return await root_connection(
            info.context.engine,
            statement,
            instrument_keys(),
            page_of(info, first, after, last, before),
            Instrument.from_row,
            item_renderer(info),
            listing=cursor_listing("instruments"),
            total=wants_total(info),
        )

    @strawberry.field(description="Facilities. " + PAGE_ARGUMENTS)
    async def facilities(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Facility]:
        return await _reference_list(
            info, FacilityRow, Facility.from_row, "facilities", first, after
        )

    @strawberry.field(description="Techniques known to the catalogue, by name. " + PAGE_ARGUMENTS)
    async def techniques(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Technique]:
        return await _reference_list(
            info, TechniqueRow, Technique.from_row, "techniques", first, after
        )

    @strawberry.field(
        description="Public data publications (published DOIs), the portal's Publications view: "
        "filtered by year, beamline, creator ORCID or text; newest first by default. "
        + PAGE_ARGUMENTS
    )
    async def publications(
        self,
        info: Info,
        filter: PublicationFilter | None = None,
        order_by: PublicationOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[DataPublication]:
        page = page_of(info, first, after, last, before)
        return await search_publications(info, filter, order_by, page)

    @strawberry.field(
        description="Data publications (minted DOIs): published ones, and reservations of the "
        "caller's sessions. Newest first. " + PAGE_ARGUMENTS
    )
    async def data_publications(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[DataPublication]:
        from sqlalchemy import func

        context = info.context
        statement = queries.data_publications(context.access)
        if search is not None:
            statement = statement.where(func.lower(PublicationRow.title).like(like_pattern(search)))
        keys = [
            SortKey(PublicationRow.publication_date, True, True),
            SortKey(PublicationRow.id, True),
        ]
        return await root_connection(
            context.engine,
            statement,
            keys,
            page_of(info, first, after),
            DataPublication.from_row,
            listing=cursor_listing("dataPublications"),
        )


async def _reference_list(
    info: Info,
    model: Any,
    to_node: Callable[[Any], T],
    listing: str,
    first: int | None,
    after: str | None,
) -> Connection[T]:
    """A root list of a reference table (facilities, techniques) by name, then id: the
    rows the caller may read (``queries.reference_rows``)."""
    return await root_connection(
        info.context.engine,
        queries.reference_rows(info.context.access, model),
        [SortKey(model.name), SortKey(model.id)],
        page_of(info, first, after),
        to_node,
        item_renderer(info),
        listing=cursor_listing(listing),
        total=wants_total(info),
    )


async def _one_by_id(
    info: Info,
    type_name: str,
    loader: Any,
    statement: Callable[[], Select[Any]],
    icat_id: int,
    to_object: Callable[[Any], T],
) -> T | None:
    """One object by ICAT id: rendered by its ``statement`` where what the query asks
    of it compiles (``gateway.compiled``), else through the request's loader, which other
    fields asking for the same id share."""
    render = object_renderer(info, type_name)
    if render is None:
        row = await loader.load(icat_id)
        return to_object(row) if row is not None else None
    return await root_object(
        info.context.engine, statement(), to_object, render.keyed({"id": icat_id})
    )


def _dataset_conditions(
    access: Access, filter: DatasetFilter, bounds: list[list[StoredBounds]]
) -> list[ColumnElement[bool]]:

    conditions: list[ColumnElement[bool]] = []
    if filter.investigation_id is not None:
        _, icat_id = parse_global_id(filter.investigation_id, "Investigation")
        conditions.append(DatasetRow.investigation_id == icat_id)
    if filter.sample_id is not None:
        _, icat_id = parse_global_id(filter.sample_id, "Sample")
        conditions.append(DatasetRow.sample_id == icat_id)
    if filter.technique is not None:
        conditions.append(queries.dataset_has_technique(access, filter.technique))
    # The bounds of every range converted into each stored type's units, all ranges read
    # by one grouped subquery (parameter_search.datasets_within_all).
    if bounds:
        conditions.append(datasets_within_all(access, bounds))
    if filter.dates is not None:
        dates = filter.dates.checked()
        conditions.append(
            queries.date_overlap(
                DatasetRow.start_date, DatasetRow.end_date, dates.since, dates.until
            )
        )
    return conditions
