"""People and their roles in sessions."""

from __future__ import annotations

import strawberry

from gateway.auth.policy import is_main_proposer_role
from gateway.fields.catalogue import TEAM_MEMBER, USER
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.node import Node


@strawberry.federation.type(keys=["id"], description=USER.description)
@declared(USER)
class User(Node, Declared):
    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> User | None:
        from gateway.schema.lookup import load_node

        return await load_node(info, id, "User")  # type: ignore[return-value]


@strawberry.type(description=TEAM_MEMBER.description)
@declared(TEAM_MEMBER)
class TeamMember(Declared):
    """Its row is the INVESTIGATIONUSER row's role with the person's USER_ columns."""

    @strawberry.field
    def is_main_proposer(self, info: Info) -> bool:
        return is_main_proposer_role(self._row["role"], info.context.settings.main_proposer_roles)

    @strawberry.field
    def user(self) -> User:
        return User.from_row(self._row)
