"""Reviewer links in the API: made and revoked by those who manage a session's access,
listed on the session for them (``Investigation.reviewerLinks``)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import select

from gateway.auth.policy import is_link_valid
from gateway.auth.reviewer_link import QUERY_PARAMETER
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.catalogue.reviewer_links import NEWEST_LINKS, link_by_id, links_listed
from gateway.errors import ReviewerLinksUnavailable
from gateway.fields.catalogue import REVIEWER_LINK
from gateway.resolvers.loaders import ChildListing, fetch_all
from gateway.schema.connection import Connection, child_connection, page_of
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.inputs import naive_utc
from gateway.schema.node import global_id, parse_global_id
from gateway.usecases.reviewer_links import (
    LinkTerms,
    create_reviewer_link,
    revoke_reviewer_link,
)

ERRORS = (
    "UNAUTHENTICATED (not signed in), FORBIDDEN (you do not manage the access of every "
    "session named, or of every dataset's session), NOT_FOUND (no such session or "
    "dataset), BAD_USER_INPUT (nothing named, a session already public, a dataset in no "
    "reserved DOI, an expiry in the past or beyond the facility's maximum, a note over 2000 "
    "characters), REVIEWER_LINKS_UNAVAILABLE (the gateway reads by the facility's ICAT "
    "rules, which no link may widen)"
)


@strawberry.type(description=REVIEWER_LINK.description)
@declared(REVIEWER_LINK)
class ReviewerLink(Declared):
    @strawberry.field
    def is_active(self, info: Info) -> bool:
        row = self._row
        return is_link_valid(row["revoked_at"], row["expires_at"], info.context.now)


@strawberry.type(description="A reviewer link as made, with its token (shown this once).")
class NewReviewerLink:
    id: strawberry.ID = strawberry.field(description="Global id (to revoke it).")
    token: str = strawberry.field(
        description="The secret: `Authorization: Bearer <token>` on the API and for "
        "downloads. Only its hash is kept: it cannot be shown again."
    )
    url: str | None = strawberry.field(
        description="The landing page of the first session it touches that has a DOI, with "
        "the token in it (`?reviewer=`); null when none has a DOI."
    )
    expires_at: datetime = strawberry.field(description="When it stops working.")
    link: ReviewerLink = strawberry.field(description="The link as listed on its sessions.")


@strawberry.input(
    description="What a reviewer link opens: embargoed sessions and datasets of reserved DOIs."
)
class CreateReviewerLinkInput:
    investigation_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Sessions under embargo (their data, read-only)."
    )
    dataset_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Datasets of a reserved DOI (the DOI's selection)."
    )
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="When it stops working: in the future, at most the facility's maximum "
        "ahead; the facility's default when not given.",
    )
    note: str | None = strawberry.field(
        default=None, description="For those who manage it: the journal, the paper."
    )


@strawberry.type(description="A reviewer link just made.")
class CreateReviewerLinkPayload:
    link: NewReviewerLink = strawberry.field(description="The link, with its token.")


@strawberry.input(description="A reviewer link to revoke.")
class RevokeReviewerLinkInput:
    id: strawberry.ID = strawberry.field(description="The link.")


@strawberry.type(description="A reviewer link after its revocation.")
class RevokeReviewerLinkPayload:
    link: ReviewerLink = strawberry.field(description="The link, revoked.")


async def _link(info: Info, link_id: int) -> ReviewerLink:
    rows = await fetch_all(info.context.writer, link_by_id(link_id))
    return ReviewerLink.from_row(rows[0], info.context.now)


async def _landing_url(info: Info, investigation_ids: tuple[int, ...], token: str) -> str | None:
    rows = await fetch_all(
        info.context.writer,
        select(InvestigationRow.doi.label("doi"))
        .where(InvestigationRow.id.in_(investigation_ids), InvestigationRow.doi.is_not(None))
        .order_by(InvestigationRow.id)
        .limit(1),
    )
    if not rows:
        return None
    context = info.context
    base = context.settings.public_url
    if base is None:
        base = str(context.request.base_url) if context.request is not None else "/"
    return f"{base.rstrip('/')}/doi/{rows[0].doi}?{QUERY_PARAMETER}={token}"


@strawberry.type(description="Reviewer links.")
class ReviewerLinkMutation:
    @strawberry.mutation(
        description="Make a secret link for a journal's reviewers to embargoed sessions or "
        "to a reserved DOI's datasets: its token opens their data read-only (the API, "
        "downloads, the landing page) and nothing else, until it expires or is revoked. "
        f"The main proposer or staff (as for grants). All or nothing. Errors: {ERRORS}."
    )
    async def create_reviewer_link(
        self, info: Info, input: CreateReviewerLinkInput
    ) -> CreateReviewerLinkPayload:
        context = info.context
        settings = context.settings
        if settings.authorization == "icat-rules":
            raise ReviewerLinksUnavailable(
                "This gateway reads by the facility's ICAT rules: reviewer links are not "
                "made (ask the facility to open the data by its rules, e.g. a grouping)."
            )
        made = await create_reviewer_link(
            context.writer,
            context.access.caller,
            investigation_ids=[
                parse_global_id(v, "Investigation")[1] for v in input.investigation_ids
            ],
            dataset_ids=[parse_global_id(v, "Dataset")[1] for v in input.dataset_ids],
            expires_at=naive_utc(input.expires_at),
            note=input.note,
            rules=settings.access_rules,
            terms=LinkTerms(settings.reviewer_link_default_days, settings.reviewer_link_max_days),
            now=context.now,
        )
        return CreateReviewerLinkPayload(
            link=NewReviewerLink(
                id=strawberry.ID(global_id("ReviewerLink", made.id)),
                token=made.token,
                url=await _landing_url(info, made.investigation_ids, made.token),
                expires_at=made.expires_at,
                link=await _link(info, made.id),
            )
        )

    @strawberry.mutation(
        description="Revoke a reviewer link: from the next request on, its token is refused "
        "as a wrong one. Who may make a link to its sessions may revoke it. Errors: "
        "UNAUTHENTICATED, NOT_FOUND (no such link, or not one you manage)."
    )
    async def revoke_reviewer_link(
        self, info: Info, input: RevokeReviewerLinkInput
    ) -> RevokeReviewerLinkPayload:
        context = info.context
        link_id = await revoke_reviewer_link(
            context.writer,
            context.access.caller,
            link_id=parse_global_id(input.id, "ReviewerLink")[1],
            rules=context.settings.access_rules,
            now=context.now,
        )
        return RevokeReviewerLinkPayload(link=await _link(info, link_id))


async def links_of_investigation(
    info: Info, investigation_id: int, first: int | None, after: str | None
) -> Connection[ReviewerLink]:
    """``Investigation.reviewerLinks``: a page of each session's links, newest first; one
    statement for the pages of every session of the level, one for their totals."""
    context = info.context
    statement, session = links_listed(context.access, context.settings.access_rules)
    listing = ChildListing(
        statement=lambda: statement, parent=session, keys=lambda order: NEWEST_LINKS
    )
    return await child_connection(
        info,
        "Investigation.reviewerLinks",
        listing,
        investigation_id,
        page_of(info, first, after),
        ("id", True),
        lambda row: ReviewerLink.from_row(row, context.now),
    )
