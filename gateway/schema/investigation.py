"""Experiment sessions (ICAT investigations): their fields are declared in the field
catalogue (``gateway.fields.catalogue``), their relations resolved here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from gateway.catalogue import queries
from gateway.catalogue.models import Dataset as DatasetRow
from gateway.catalogue.models import InvestigationUser as InvestigationUserRow
from gateway.catalogue.ordering import dataset_keys
from gateway.doi.renderings import DEFAULT_STYLE
from gateway.fields.catalogue import INVESTIGATION
from gateway.resolvers.loaders import ChildListing
from gateway.schema.citing import (
    CITATION_ARGUMENTS,
    CitationFormat,
    citation_of,
    session_json_ld,
    session_metadata,
)
from gateway.schema.connection import (
    Connection,
    child_connection,
    page_of,
    relation_connection,
)
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.inputs import DatasetOrder
from gateway.schema.keys import keys_of
from gateway.schema.node import Node
from gateway.schema.people import TeamMember

_TEAM = INVESTIGATION.relation("team")

if TYPE_CHECKING:
    from gateway.schema.access import AccessRequest, AccessRequestState
    from gateway.schema.dataset import Dataset
    from gateway.schema.reviewer_links import ReviewerLink


@strawberry.federation.type(keys=keys_of("Investigation"), description=INVESTIGATION.description)
@declared(INVESTIGATION)
class Investigation(Node, Declared):
    @strawberry.field
    async def team(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[TeamMember]:
        access = info.context.access
        return await relation_connection(
            info,
            "Investigation",
            _TEAM,
            self._row["id"],
            first,
            after,
            lambda: queries.team_rows(access),
            InvestigationUserRow.investigation_id,
            TeamMember.from_row,
        )

    @strawberry.field
    async def data_cite_metadata(self, info: Info) -> JSON | None:
        attributes = await session_metadata(info, self._row)
        return None if attributes is None else JSON(attributes)

    @strawberry.field
    async def citation(
        self,
        info: Info,
        format: Annotated[
            CitationFormat, strawberry.argument(description=CITATION_ARGUMENTS["format"])
        ] = CitationFormat.TEXT,
        style: Annotated[str, strawberry.argument(description=CITATION_ARGUMENTS["style"])] = (
            DEFAULT_STYLE
        ),
        locale: Annotated[
            str, strawberry.argument(description=CITATION_ARGUMENTS["locale"])
        ] = "en-US",
    ) -> str | None:
        attributes = await session_metadata(info, self._row)
        if attributes is None:
            return None
        return citation_of(attributes["doi"], attributes, format, style, locale)

    @strawberry.field
    async def json_ld(self, info: Info) -> JSON | None:
        document = await session_json_ld(info, self._row)
        return None if document is None else JSON(document)

    @strawberry.field
    async def my_roles(self, info: Info) -> list[str]:
        name = info.context.access.caller.user_name
        if name is None:
            return []
        rows = await info.context.loaders.memberships_of_investigation.load(self._row["id"])
        return [row.role for row in rows if row.name == name]

    @strawberry.field
    async def datasets(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        order_by: DatasetOrder | None = None,
    ) -> Connection[Annotated[Dataset, strawberry.lazy("gateway.schema.dataset")]]:
        from gateway.schema.dataset import Dataset, prefetch_children

        access = info.context.access
        listing = ChildListing(
            statement=lambda: queries.datasets_of_sessions(access),
            parent=DatasetRow.investigation_id,
            keys=lambda order: dataset_keys(*order),
        )
        return await child_connection(
            info,
            "datasets_of_investigation",
            listing,
            self._row["id"],
            page_of(info, first, after, last, before),
            (order_by or DatasetOrder()).key(),
            Dataset.from_row,
            prefetch_children,
        )

    @strawberry.field
    async def access_requests(
        self,
        info: Info,
        state: Annotated[
            Annotated[AccessRequestState, strawberry.lazy("gateway.schema.access")] | None,
            strawberry.argument(description="Only in this state; all when not given."),
        ] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Annotated[AccessRequest, strawberry.lazy("gateway.schema.access")]]:
        from gateway.schema.access import requests_of_investigation

        return await requests_of_investigation(info, self._row["id"], state, first, after)

    @strawberry.field
    async def reviewer_links(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[ReviewerLink, strawberry.lazy("gateway.schema.reviewer_links")]]:
        from gateway.schema.reviewer_links import links_of_investigation

        return await links_of_investigation(info, self._row["id"], first, after)
