"""`me`: who the caller is, their sessions ("My data") and their roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import false, select

from gateway.catalogue.models import Instrument as InstrumentRow
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.catalogue.models import User as UserRow
from gateway.catalogue.queries import columns_of
from gateway.catalogue.sql_text import same_name
from gateway.catalogue.visibility import member_investigation_ids, scientist_beamline_ids
from gateway.resolvers.loaders import fetch_all
from gateway.schema.connection import Connection, page_of
from gateway.schema.facets import InvestigationSearchConnection
from gateway.schema.facility import Instrument
from gateway.schema.info import Info
from gateway.schema.inputs import InvestigationFilter, InvestigationOrder
from gateway.schema.investigation_search import search_investigations
from gateway.schema.people import User

if TYPE_CHECKING:
    from gateway.schema.access import AccessRequest, AccessRequestState
    from gateway.schema.events import NotificationSettings


@strawberry.type(description="The caller.")
class Me:
    user_name: str | None = strawberry.field(
        description="The caller's ICAT user name (with authenticator prefix); null when anonymous."
    )
    is_anonymous: bool = strawberry.field(description="No credentials were given.")
    is_staff: bool = strawberry.field(description="The caller is facility staff (sees everything).")

    @strawberry.field(
        description="The caller's catalogue entry; null when anonymous or unknown to ICAT."
    )
    async def user(self, info: Info) -> User | None:
        if self.user_name is None:
            return None
        statement = select(*columns_of(UserRow)).where(same_name(UserRow.name, self.user_name))
        rows = await fetch_all(info.context.engine, statement)
        return User.from_row(rows[0]) if rows else None

    @strawberry.field(description="Beamlines the caller is a scientist of.")
    async def beamlines(self, info: Info) -> list[Instrument]:
        if self.user_name is None:
            return []
        statement = (
            select(*columns_of(InstrumentRow))
            .where(InstrumentRow.id.in_(scientist_beamline_ids(self.user_name)))
            .order_by(InstrumentRow.id)
        )
        rows = await fetch_all(info.context.engine, statement)
        return [Instrument.from_row(row) for row in rows]

    @strawberry.field(
        description="The access requests the caller made, newest first, with their state "
        "and answer; empty when anonymous."
    )
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
        from gateway.schema.access import own_requests

        return await own_requests(info, state, first, after)

    @strawberry.field(description="What the caller is told of by e-mail; null when anonymous.")
    async def notification_settings(
        self, info: Info
    ) -> Annotated[NotificationSettings, strawberry.lazy("gateway.schema.events")] | None:
        from gateway.schema.events import notification_settings

        if self.user_name is None:
            return None
        return await notification_settings(info, self.user_name)

    @strawberry.field(
        description="Pending access requests the caller may answer, newest first: those of "
        "the sessions whose access they manage (the main proposer's; every session for "
        "staff). Empty when anonymous."
    )
    async def access_requests_to_decide(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[AccessRequest, strawberry.lazy("gateway.schema.access")]]:
        from gateway.schema.access import requests_to_decide

        return await requests_to_decide(info, first, after)

    @strawberry.field(
        description="My data: the sessions the caller is on the team of (any role) or, as a "
        "beamline scientist, the sessions of their beamlines; searchable and sortable like "
        "`investigations`. Newest first by default."
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
        members = member_investigation_ids(info.context.access)
        mine = false() if members is None else InvestigationRow.id.in_(members)
        page = page_of(info, first, after, last, before)
        return await search_investigations(info, "me.investigations", filter, order_by, page, mine)
