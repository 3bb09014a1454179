"""People and their roles in sessions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.auth.policy import is_grant_in_force, is_main_proposer_role
from gateway.catalogue import queries
from gateway.fields.catalogue import TEAM_MEMBER, USER
from gateway.resolvers.loaders import ChildListing
from gateway.schema.connection import Connection, child_connection, page_of
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.inputs import InvestigationFilter, InvestigationOrder
from gateway.schema.keys import keys_of
from gateway.schema.node import Node

if TYPE_CHECKING:
    from gateway.schema.investigation import Investigation


@strawberry.federation.type(keys=keys_of("User"), description=USER.description)
@declared(USER)
class User(Node, Declared):
    @strawberry.field
    async def investigations(
        self,
        info: Info,
        filter: InvestigationFilter | None = None,
        order_by: InvestigationOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[Investigation, strawberry.lazy("gateway.schema.investigation")]]:
        from gateway.schema.investigation import Investigation
        from gateway.schema.investigation_search import (
            filtered,
            session_keys,
            session_ordering,
            text_match_of,
        )

        access = info.context.access
        now = info.context.now
        match = await text_match_of(info, filter)
        order = session_ordering(order_by, match)
        session_keys(
            order, match, access
        )  # RELEVANCE without a search: refused before any statement

        teams = queries.memberships_reached(access)

        def statement() -> object:
            return filtered(queries.sessions_of_people(access, teams), access, filter, match)

        listing = ChildListing(
            statement=statement,  # type: ignore[arg-type]
            parent=teams.c.user_id,
            keys=lambda order: session_keys(order, match, access),
        )
        # The people of one level asking with the same filter share one statement (the
        # loaders are named by it); the cursors are the list's, whatever the filter.
        return await child_connection(
            info,
            "user.investigations",
            listing,
            self._row["id"],
            page_of(info, first, after, last, before),
            order,
            lambda row: Investigation.from_row(row, now),
            loader_key=repr(filter),
        )


@strawberry.type(description=TEAM_MEMBER.description)
@declared(TEAM_MEMBER)
class TeamMember(Declared):
    """Its row is the INVESTIGATIONUSER row's role with the person's USER_ columns."""

    @strawberry.field
    def is_main_proposer(self, info: Info) -> bool:
        return is_main_proposer_role(self._row["role"], info.context.settings.main_proposer_roles)

    @strawberry.field
    def access_expires_at(self) -> datetime | None:
        return self._row.get("access_expires_at")

    @strawberry.field
    def is_expired(self, info: Info) -> bool:
        return not is_grant_in_force(self._row.get("access_expires_at"), info.context.now)

    @strawberry.field
    def user(self) -> User:
        return User.from_row(self._row)
