"""Experiment sessions (ICAT investigations): their fields are declared in the field
catalogue (``gateway.fields.catalogue``), their relations resolved here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.catalogue import queries
from gateway.catalogue.models import InvestigationUser as InvestigationUserRow
from gateway.catalogue.ordering import dataset_keys
from gateway.fields.catalogue import INVESTIGATION
from gateway.resolvers.loaders import ChildListing
from gateway.schema.citing import Citable, citing_fields, session_json_ld, session_metadata
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
class Investigation(Node, Declared, Citable):
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

    data_cite_metadata, citation, json_ld = citing_fields()

    async def cited_metadata(self, info: Info) -> dict[str, Any] | None:
        return await session_metadata(info, self._row)

    async def described_json_ld(self, info: Info) -> dict[str, Any] | None:
        return await session_json_ld(info, self._row)

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
            parent=queries.dataset_session_key(access),
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
