"""Mutations: each one atomic, authorised by the policy, answered with a typed payload."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.schema.access import AccessMutation
from gateway.schema.doi_mutations import DoiMutation
from gateway.schema.downloads import DownloadMutation
from gateway.schema.events import EventMutation
from gateway.schema.info import Info
from gateway.schema.inputs import naive_utc
from gateway.schema.investigation import Investigation
from gateway.schema.node import parse_global_id
from gateway.schema.reviewer_links import ReviewerLinkMutation
from gateway.usecases.release_dates import change_release_date


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
class Mutation(AccessMutation, DoiMutation, DownloadMutation, EventMutation, ReviewerLinkMutation):
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
