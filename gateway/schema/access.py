"""Access to sessions: grants, revocations, access requests and their audit trail.

The mutations turn their input into a use case's arguments (``gateway.usecases``) and its
outcome into a payload; the rules are the policy's. ``AccessMutation`` is part of the
``Mutation`` type, ``AccessQuery`` of ``Query``.
"""

from __future__ import annotations

import asyncio
import enum
from datetime import datetime
from typing import Any

import strawberry

from gateway.auth.policy import Caller
from gateway.catalogue.access_log import AccessAction as Action
from gateway.catalogue.access_log import EventFilter, events
from gateway.catalogue.access_requests import (
    access_requests,
    access_requests_to_decide,
    own_access_requests,
)
from gateway.catalogue.gateway_tables import AccessRequest as RequestRow
from gateway.catalogue.gateway_tables import Event as EventRow
from gateway.catalogue.pagination import SortKey, cursor_listing
from gateway.catalogue.team import PersonReference
from gateway.errors import BadUserInput, Forbidden, NotFound, Unauthenticated
from gateway.fields.catalogue import ACCESS_EVENT, ACCESS_REQUEST
from gateway.resolvers.loaders import ChildListing, fetch_all
from gateway.schema.connection import Connection, child_connection, page_of
from gateway.schema.declared import Declared, declared
from gateway.schema.info import Info
from gateway.schema.inputs import naive_utc
from gateway.schema.investigation import Investigation
from gateway.schema.listing import root_connection
from gateway.schema.node import global_id, parse_global_id
from gateway.schema.people import TeamMember, User
from gateway.usecases.access_grants import grant_access, revoke_access
from gateway.usecases.access_requests import (
    cancel_access_request,
    decide_access_request,
    request_access,
)

ERRORS_OF_GRANTS = (
    "UNAUTHENTICATED (not signed in), FORBIDDEN (not the main proposer or staff), NOT_FOUND "
    "(no such session), UNKNOWN_USER (nobody with that name, ORCID iD or e-mail), "
    "AMBIGUOUS_USER (several people share that ORCID iD or e-mail: use the user name), "
    "BAD_USER_INPUT"
)


@strawberry.enum(description="Where an access request stands.")
class AccessRequestState(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Waiting for an answer.")
    APPROVED = strawberry.enum_value(
        "approved", description="Granted: the requester is on the team."
    )
    DECLINED = strawberry.enum_value("declined", description="Refused.")
    CANCELLED = strawberry.enum_value("cancelled", description="Withdrawn by the requester.")


@strawberry.enum(description="What an entry of the audit trail of access records.")
class AccessAction(enum.Enum):
    GRANT = strawberry.enum_value("grant", description="A collaborator was added to a team.")
    REVOKE = strawberry.enum_value("revoke", description="A collaborator was removed.")
    REQUEST = strawberry.enum_value("request", description="Someone asked for access.")
    APPROVE = strawberry.enum_value("approve", description="A request was approved.")
    DECLINE = strawberry.enum_value("decline", description="A request was declined.")
    CANCEL = strawberry.enum_value("cancel", description="A request was withdrawn.")
    LINK_CREATE = strawberry.enum_value(
        "link-create", description="A reviewer link was made (its subject names the link)."
    )
    LINK_REVOKE = strawberry.enum_value("link-revoke", description="A reviewer link was revoked.")


async def _investigation(info: Info, icat_id: int) -> Investigation:
    row = await info.context.loaders.investigation.load(icat_id)
    if row is None:
        raise NotFound("No such experiment session.")
    return Investigation.from_row(row, info.context.now)


@strawberry.type(description=ACCESS_REQUEST.description)
@declared(ACCESS_REQUEST)
class AccessRequest(Declared):
    @strawberry.field
    def state(self) -> AccessRequestState:
        return AccessRequestState(self._row["state"])

    @strawberry.field
    async def requester(self, info: Info) -> User | None:
        row = await info.context.loaders.reference("user").load(self._row["requester_id"])
        return User.from_row(row) if row is not None else None

    @strawberry.field
    async def investigation(self, info: Info) -> Investigation:
        return await _investigation(info, self._row["investigation_id"])


@strawberry.type(description=ACCESS_EVENT.description)
@declared(ACCESS_EVENT)
class AccessEvent(Declared):
    @strawberry.field
    def action(self) -> AccessAction:
        return AccessAction(self._row["action"])

    @strawberry.field
    def request_id(self) -> strawberry.ID | None:
        request = self._row["request_id"]
        return None if request is None else strawberry.ID(global_id("AccessRequest", request))

    @strawberry.field
    async def investigation(self, info: Info) -> Investigation:
        return await _investigation(info, self._row["investigation_id"])


# Inputs and payloads ----------------------------------------------------------------


@strawberry.input(
    description="A person, named by exactly one of their ICAT user name, ORCID iD or e-mail "
    "(BAD_USER_INPUT otherwise). Not @oneOf: federation's composers do not carry it."
)
class PersonInput:
    user_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="ICAT user name, e.g. esrf/jdoe."
    )
    orcid: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="ORCID iD, bare (0000-0002-1825-0097) or as its https://orcid.org/ URL.",
    )
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="E-mail address (compared case-insensitively)."
    )

    def reference(self) -> PersonReference:
        def given(value: str | None) -> str | None:
            return None if value is strawberry.UNSET else value

        return PersonReference(given(self.user_name), given(self.orcid), given(self.email))


@strawberry.input(description="Who gets access to which sessions.")
class GrantAccessInput:
    investigation_ids: list[strawberry.ID] = strawberry.field(
        description="The sessions (all of them are granted, or none)."
    )
    grantee: PersonInput = strawberry.field(description="The scientist to add to the teams.")
    reason: str | None = strawberry.field(
        default=None, description="Why (kept in the audit trail); at most 2000 characters."
    )
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="When the access ends (in the future; BAD_USER_INPUT otherwise); null: "
        "it does not. A grant to someone who is a collaborator already sets their end anew.",
    )


@strawberry.type(description="The grantee's place on one session's team after a grant.")
class AccessGrant:
    investigation: Investigation = strawberry.field(
        description="The session, as the caller now sees it."
    )
    members: list[TeamMember] = strawberry.field(
        description="The grantee's entries in the team: Collaborator, or the roles they "
        "already held (then nothing was added)."
    )


@strawberry.type(description="The result of a grant: the grantee and their place in each session.")
class GrantAccessPayload:
    grantee: User = strawberry.field(description="The person granted access.")
    grants: list[AccessGrant] = strawberry.field(description="One per session, in id order.")


@strawberry.input(description="Whose collaborator access to a session to remove.")
class RevokeAccessInput:
    investigation_id: strawberry.ID = strawberry.field(description="The session.")
    grantee: PersonInput = strawberry.field(description="The collaborator.")
    reason: str | None = strawberry.field(
        default=None, description="Why (kept in the audit trail); at most 2000 characters."
    )


@strawberry.type(description="The result of a revocation.")
class RevokeAccessPayload:
    user: User = strawberry.field(description="The person.")
    investigation: Investigation = strawberry.field(
        description="The session, as the caller now sees it."
    )
    revoked: bool = strawberry.field(
        description="Whether a collaborator entry was removed (false: they were not on the team)."
    )


@strawberry.input(
    description="A request to read sessions' data: name one session (`investigationId`) or "
    "several (`investigationIds`), not both (BAD_USER_INPUT)."
)
class RequestAccessInput:
    investigation_id: strawberry.ID | None = strawberry.field(
        default=None, description="The session."
    )
    investigation_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Several sessions at once (at most 100): one request each, all of them "
        "or none.",
    )
    message: str | None = strawberry.field(
        default=None,
        description="To the main proposer: who you are and why you need the data (at most "
        "2000 characters).",
    )


@strawberry.input(description="An answer to an access request.")
class DecideAccessRequestInput:
    request_id: strawberry.ID = strawberry.field(description="The request.")
    reply: str | None = strawberry.field(
        default=None, description="A message to the requester (at most 2000 characters)."
    )
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="On approval: when the access ends (in the future); null: it does not. "
        "A decline takes none (BAD_USER_INPUT).",
    )


@strawberry.input(description="An access request to withdraw.")
class CancelAccessRequestInput:
    request_id: strawberry.ID = strawberry.field(description="The request.")


@strawberry.type(description="An access request after the change.")
class AccessRequestPayload:
    request: AccessRequest = strawberry.field(
        description="The request, in its new state (the first one, for several sessions)."
    )
    requests: list[AccessRequest] = strawberry.field(
        description="Every request the change made or changed, in the order the sessions "
        "were named."
    )


async def _payload(info: Info, request_ids: list[int]) -> AccessRequestPayload:
    """The requests as the caller sees them, read in one statement."""
    context = info.context
    statement = access_requests(context.access, context.settings.access_rules).where(
        RequestRow.id.in_(request_ids)
    )
    rows = {row.id: row for row in await fetch_all(context.writer, statement)}
    if any(request_id not in rows for request_id in request_ids):
        raise NotFound("No such access request.")
    requests = [AccessRequest.from_row(rows[i], context.now) for i in request_ids]
    return AccessRequestPayload(request=requests[0], requests=requests)


def _request_id(value: strawberry.ID) -> int:
    return parse_global_id(value, "AccessRequest")[1]


@strawberry.type(description="Change who may read a session's data.")
class AccessMutation:
    @strawberry.mutation(
        description="Give a scientist access to one or more sessions: they join each team "
        "as a collaborator and see what the team sees, from their next request on. The "
        "main proposer, staff, and the local contact where the facility allows it may "
        "grant. All sessions or none. Idempotent: someone already on a team gets no second "
        f"entry, and granting twice answers the same. Errors: {ERRORS_OF_GRANTS}."
    )
    async def grant_access(self, info: Info, input: GrantAccessInput) -> GrantAccessPayload:
        context = info.context
        ids = [parse_global_id(value, "Investigation")[1] for value in input.investigation_ids]
        granted = await grant_access(
            context.writer,
            context.access.caller,
            investigation_ids=ids,
            grantee=input.grantee.reference(),
            rules=context.settings.access_rules,
            now=context.now,
            reason=input.reason,
            expires_at=naive_utc(input.expires_at),
        )
        user = await context.loaders.reference("user", named_by_caller=True).load(
            granted.person.user_id
        )
        # Together, so that the loaders read every granted session in one statement each.
        sessions = [grant.investigation_id for grant in granted.grants]
        investigations, teams = await asyncio.gather(
            asyncio.gather(*(_investigation(info, session) for session in sessions)),
            context.loaders.memberships_of_investigation.load_many(sessions),
        )
        grants = [
            AccessGrant(
                investigation=investigation,
                # The grantee's entries as the team lists them (with a grant's expiry).
                members=[
                    TeamMember.from_row(row)
                    for row in team
                    if row._mapping["id"] == granted.person.user_id
                ],
            )
            for investigation, team in zip(investigations, teams, strict=True)
        ]
        return GrantAccessPayload(grantee=User.from_row(user), grants=grants)

    @strawberry.mutation(
        description="Remove a collaborator from a session's team: from their next request on "
        "they no longer read its embargoed data. Who may grant may revoke. People on the "
        "team from the proposal itself (proposers, participants, the local contact) are "
        f"not removable this way. Errors: {ERRORS_OF_GRANTS}, PROPOSAL_MEMBER (on the "
        "team from the proposal)."
    )
    async def revoke_access(self, info: Info, input: RevokeAccessInput) -> RevokeAccessPayload:
        context = info.context
        _, icat_id = parse_global_id(input.investigation_id, "Investigation")
        revoked = await revoke_access(
            context.writer,
            context.access.caller,
            investigation_id=icat_id,
            grantee=input.grantee.reference(),
            rules=context.settings.access_rules,
            now=context.now,
            reason=input.reason,
        )
        user = await context.loaders.reference("user", named_by_caller=True).load(
            revoked.person.user_id
        )
        return RevokeAccessPayload(
            user=User.from_row(user),
            investigation=await _investigation(info, icat_id),
            revoked=revoked.revoked,
        )

    @strawberry.mutation(
        description="Ask for access to the data of one session or several, with a message to "
        "those who manage them (they see it in `me.accessRequestsToDecide`). For signed-in "
        "users who cannot read its data yet; one pending request per person and session. "
        "Several sessions: one request each, all of them or none; a refusal's "
        "`extensions.refusals` lists every session refused with its own code and message, "
        "and `extensions.investigationId` names the first. Errors: UNAUTHENTICATED, "
        "NOT_FOUND (no such session), ALREADY_HAS_ACCESS (you read its data already), "
        "UNKNOWN_USER (you are not in the catalogue), REQUEST_PENDING (you asked already: "
        "wait, or cancel it), BAD_USER_INPUT."
    )
    async def request_access(self, info: Info, input: RequestAccessInput) -> AccessRequestPayload:
        context = info.context
        named = [input.investigation_id] if input.investigation_id is not None else []
        if input.investigation_ids is not None:
            if named:
                raise BadUserInput(
                    "Name the session (investigationId) or the sessions (investigationIds), "
                    "not both.",
                    argument="investigationIds",
                )
            named = list(input.investigation_ids)
        if not named:
            raise BadUserInput("Name at least one session.", argument="investigationIds")
        request_ids = await request_access(
            context.writer,
            context.access.caller,
            investigation_ids=[parse_global_id(value, "Investigation")[1] for value in named],
            message=input.message,
            rules=context.settings.access_rules,
            now=context.now,
        )
        return await _payload(info, request_ids)

    @strawberry.mutation(
        description="Approve a pending access request: the requester joins the team as a "
        "collaborator, in the same transaction. Who may grant may approve. Errors: "
        "UNAUTHENTICATED, NOT_FOUND (no such request), NOT_DECIDER (not yours to decide: "
        "you do not manage that session's access), REQUEST_CLOSED (already decided or "
        "cancelled), BAD_USER_INPUT (an expiry not in the future)."
    )
    async def approve_access_request(
        self, info: Info, input: DecideAccessRequestInput
    ) -> AccessRequestPayload:
        return await _decide(info, input, approve=True)

    @strawberry.mutation(
        description="Decline a pending access request, optionally saying why. Errors: as "
        "`approveAccessRequest`."
    )
    async def decline_access_request(
        self, info: Info, input: DecideAccessRequestInput
    ) -> AccessRequestPayload:
        return await _decide(info, input, approve=False)

    @strawberry.mutation(
        description="Withdraw your own pending access request. Errors: UNAUTHENTICATED, "
        "NOT_FOUND (no such request), NOT_REQUESTER (not your request), REQUEST_CLOSED "
        "(already decided or cancelled)."
    )
    async def cancel_access_request(
        self, info: Info, input: CancelAccessRequestInput
    ) -> AccessRequestPayload:
        context = info.context
        request_id = await cancel_access_request(
            context.writer,
            context.access.caller,
            request_id=_request_id(input.request_id),
            now=context.now,
        )
        return await _payload(info, [request_id])


async def _decide(
    info: Info, input: DecideAccessRequestInput, *, approve: bool
) -> AccessRequestPayload:
    context = info.context
    request_id = await decide_access_request(
        context.writer,
        context.access.caller,
        request_id=_request_id(input.request_id),
        approve=approve,
        reply=input.reply,
        rules=context.settings.access_rules,
        now=context.now,
        expires_at=naive_utc(input.expires_at),
    )
    return await _payload(info, [request_id])


# Lists ------------------------------------------------------------------------------


def _state(state: AccessRequestState | None) -> str | None:
    # strawberry.enum_value hides the value's type from mypy; it is the string.
    return None if state is None else str(state.value)


NEWEST_REQUESTS = [SortKey(RequestRow.id, True)]
NEWEST_EVENTS = [SortKey(EventRow.id, True)]


async def request_connection(
    info: Info,
    statement: Any,
    listing: str,
    first: int | None,
    after: str | None,
) -> Connection[AccessRequest]:
    """A page of access requests, newest first (an empty one for ``statement`` None)."""
    from sqlalchemy import false, select

    if statement is None:
        statement = select(RequestRow.id).where(false())
    context = info.context
    return await root_connection(
        context.engine,
        statement,
        NEWEST_REQUESTS,
        page_of(info, first, after),
        lambda row: AccessRequest.from_row(row, context.now),
        listing=cursor_listing(listing),
    )


async def own_requests(
    info: Info, state: AccessRequestState | None, first: int | None, after: str | None
) -> Connection[AccessRequest]:
    """``me.accessRequests``."""
    statement = own_access_requests(info.context.access, _state(state))
    return await request_connection(info, statement, "me.accessRequests", first, after)


async def requests_to_decide(
    info: Info, first: int | None, after: str | None
) -> Connection[AccessRequest]:
    """``me.accessRequestsToDecide``."""
    context = info.context
    statement = access_requests_to_decide(context.access, context.settings.access_rules)
    return await request_connection(info, statement, "me.accessRequestsToDecide", first, after)


async def requests_of_investigation(
    info: Info,
    investigation_id: int,
    state: AccessRequestState | None,
    first: int | None,
    after: str | None,
) -> Connection[AccessRequest]:
    """``Investigation.accessRequests``: a page of each session's requests, newest first;
    one statement for the pages of every session of the level, one for their totals."""
    context = info.context
    access, rules, wanted = context.access, context.settings.access_rules, _state(state)
    listing = ChildListing(
        statement=lambda: access_requests(access, rules, wanted),
        parent=RequestRow.investigation_id,
        keys=lambda order: NEWEST_REQUESTS,
    )
    return await child_connection(
        info,
        "Investigation.accessRequests",
        listing,
        investigation_id,
        page_of(info, first, after),
        ("id", True),
        lambda row: AccessRequest.from_row(row, context.now),
        loader_key=wanted or "",
    )


@strawberry.input(description="Which entries of the audit trail of access to list.")
class AccessEventFilter:
    investigation_id: strawberry.ID | None = strawberry.field(
        default=None, description="Of this session."
    )
    actor: str | None = strawberry.field(default=None, description="Done by this user name.")
    subject: str | None = strawberry.field(
        default=None, description="About this user name's access."
    )
    actions: list[AccessAction] | None = strawberry.field(
        default=None, description="Of these kinds."
    )
    since: datetime | None = strawberry.field(default=None, description="At or after this time.")
    until: datetime | None = strawberry.field(default=None, description="Before this time.")
    request_id: strawberry.ID | None = strawberry.field(
        default=None, description="Of this access request."
    )

    def selection(self) -> EventFilter:
        return EventFilter(
            investigation_id=(
                parse_global_id(self.investigation_id, "Investigation")[1]
                if self.investigation_id is not None
                else None
            ),
            actor=self.actor,
            subject=self.subject,
            actions=(
                frozenset(Action(action.value) for action in self.actions)
                if self.actions is not None
                else None
            ),
            since=naive_utc(self.since),
            until=naive_utc(self.until),
            request_id=_request_id(self.request_id) if self.request_id is not None else None,
        )


def require_staff(caller: Caller, what: str) -> None:
    """Staff-only reads: UNAUTHENTICATED for anonymous, FORBIDDEN for anyone else."""
    if caller.user_name is None:
        raise Unauthenticated(f"Log in as staff to read {what}.")
    if not caller.is_staff:
        raise Forbidden(f"Only facility staff may read {what}.")


@strawberry.type(description="Reading access.")
class AccessQuery:
    @strawberry.field(
        description="The audit trail of access: every grant, revocation, request and "
        "decision, newest first, with who, whom, which session, when and why. Staff only. "
        "Errors: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT."
    )
    async def access_events(
        self,
        info: Info,
        filter: AccessEventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AccessEvent]:
        context = info.context
        require_staff(context.access.caller, "the audit trail of access")
        statement = events((filter or AccessEventFilter()).selection())
        return await root_connection(
            context.engine,
            statement,
            NEWEST_EVENTS,
            page_of(info, first, after),
            lambda row: AccessEvent.from_row(row, context.now),
            listing=cursor_listing("accessEvents"),
        )
