"""People and their roles in sessions."""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.auth.policy import can_read_personal, is_main_proposer_role
from gateway.errors import Forbidden
from gateway.schema.info import Info
from gateway.schema.node import Node, global_id, instance


@strawberry.federation.type(
    keys=["id"], description="A person known to the catalogue (ICAT USER_)."
)
class User(Node):
    icat_id: int = strawberry.field(description="ICAT USER_.ID.")
    name: str = strawberry.field(
        description="Login name with its authenticator prefix, e.g. esrf/jdoe. LANDING: public."
    )
    full_name: str | None = strawberry.field(description="Full name. LANDING: public.")
    given_name: str | None = strawberry.field(description="Given name. LANDING: public.")
    family_name: str | None = strawberry.field(description="Family name. LANDING: public.")
    orcid_id: str | None = strawberry.field(description="ORCID iD. LANDING: public.")
    affiliation: str | None = strawberry.field(description="Affiliation. LANDING: public.")
    _email: strawberry.Private[str | None]

    @staticmethod
    def from_row(row: Any) -> User:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            User,
            id=global_id("User", values["id"]),
            icat_id=values["id"],
            name=values["name"],
            full_name=values["full_name"],
            given_name=values["given_name"],
            family_name=values["family_name"],
            orcid_id=values["orcid_id"],
            affiliation=values["affiliation"],
            _email=values["email"],
        )

    @strawberry.field(
        description="E-mail address. PERSONAL: visible to the person and to staff only."
    )
    def email(self, info: Info) -> str | None:
        if not can_read_personal(info.context.access.caller, self.name):
            raise Forbidden("An e-mail address is visible to its owner and to staff only.")
        return self._email

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> User | None:
        from gateway.schema.lookup import load_node

        return await load_node(info, id, "User")  # type: ignore[return-value]


@strawberry.type(
    description="One role a person holds in a session (ICAT INVESTIGATIONUSER). LANDING: public. "
    "A person with several roles appears once per role."
)
class TeamMember:
    role: str = strawberry.field(
        description="The role as the facility records it, e.g. Principal investigator, "
        "Local contact, Collaborator."
    )
    is_main_proposer: bool = strawberry.field(
        description="Whether this role is the main proposer's (who may grant access)."
    )
    user: User = strawberry.field(description="The person.")

    @staticmethod
    def from_row(row: Any, main_proposer_roles: frozenset[str]) -> TeamMember:
        values = row._mapping  # far cheaper than attribute access on a Row
        return instance(
            TeamMember,
            role=values["role"],
            is_main_proposer=is_main_proposer_role(values["role"], main_proposer_roles),
            user=User.from_row(row),
        )
