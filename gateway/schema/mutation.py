"""Mutations: each one atomic, authorised by the policy, answered with a typed payload."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.schema.doi_mutations import DoiMutation
from gateway.schema.info import Info
from gateway.schema.inputs import naive_utc
from gateway.schema.investigation import Investigation
from gateway.schema.node import parse_global_id
from gateway.schema.people import TeamMember
from gateway.usecases.access_grants import grant_access
from gateway.usecases.release_dates import change_release_date


@strawberry.input(description="Who gets access to which session.")
class GrantAccessInput:
    investigation_id: strawberry.ID = strawberry.field(description="The session.")
    user_name: str = strawberry.field(description="The scientist's ICAT user name, e.g. esrf/jdoe.")


@strawberry.type(description="The result of a grant: the new team entry and the session.")
class GrantAccessPayload:
    member: TeamMember = strawberry.field(description="The grantee's new role (collaborator).")
    investigation: Investigation = strawberry.field(
        description="The session, as the caller now sees it."
    )


@strawberry.input(description="A new release date for a session, and why.")
class ChangeReleaseDateInput:
    investigation_id: strawberry.ID = strawberry.field(description="The session.")
    release_date: datetime | None = strawberry.field(
        description="The new release date; null: never released automatically."
    )
    reason: str = strawberry.field(description="Why (recorded with who and when).")


@strawberry.type(description="The result of a release-date change.")
class ChangeReleaseDatePayload:
    change_id: int = strawberry.field(description="Id of the recorded change.")
    investigation: Investigation = strawberry.field(description="The session after the change.")


async def _investigation(info: Info, icat_id: int) -> Investigation:
    from gateway.catalogue import queries
    from gateway.catalogue.models import Investigation as InvestigationRow
    from gateway.resolvers.loaders import fetch_all

    rows = await fetch_all(
        info.context.engine,
        queries.investigations(info.context.access).where(InvestigationRow.id == icat_id),
    )
    return Investigation.from_row(rows[0], info.context.now)


@strawberry.type(description="Change the catalogue.")
class Mutation(DoiMutation):
    @strawberry.mutation(
        description="Give a scientist access to a session: they join its team as a collaborator "
        "and see what the team sees. Only the main proposer or staff may grant. Errors: "
        "UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (session or user), CONFLICT (already on the team)."
    )
    async def grant_access(self, info: Info, input: GrantAccessInput) -> GrantAccessPayload:
        context = info.context
        _, icat_id = parse_global_id(input.investigation_id, "Investigation")
        grant = await grant_access(
            context.writer,
            context.access.caller,
            investigation_id=icat_id,
            user_name=input.user_name.strip(),
            role=context.settings.collaborator_role,
            main_proposer_roles=context.settings.main_proposer_roles,
            now=context.now,
        )
        user = await context.loaders.reference("user").load(grant.user_id)
        return GrantAccessPayload(
            member=TeamMember.from_row({**user._mapping, "role": grant.role}),
            investigation=await _investigation(info, icat_id),
        )

    @strawberry.mutation(
        description="Set a session's release date (extend or shorten its embargo). Staff only; "
        "recorded with who, when and why. Errors: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, "
        "BAD_USER_INPUT (no reason)."
    )
    async def change_release_date(
        self, info: Info, input: ChangeReleaseDateInput
    ) -> ChangeReleaseDatePayload:
        context = info.context
        _, icat_id = parse_global_id(input.investigation_id, "Investigation")
        change_id = await change_release_date(
            context.writer,
            context.access.caller,
            investigation_id=icat_id,
            release_date=naive_utc(input.release_date),
            reason=input.reason,
            main_proposer_roles=context.settings.main_proposer_roles,
            now=context.now,
        )
        return ChangeReleaseDatePayload(
            change_id=change_id, investigation=await _investigation(info, icat_id)
        )
