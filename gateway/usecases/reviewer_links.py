"""Reviewer links: the main proposer (or staff) makes a secret, expiring link for a
journal's reviewers to embargoed sessions or to a reserved DOI's datasets, and revokes it.

Who may make a link to a session is who manages its access (``policy.manages_access``):
a link opens its data to whoever holds the token, as a grant would to a person. A link
is all or nothing: every session and dataset named must be one the caller may open. The
expiry is required by the facility's maximum (``reviewer_link_max_days``) and defaults to
``reviewer_link_default_days``. Each change is recorded in the audit trail, in its
transaction, once per session the link touches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import AccessRules, Caller
from gateway.auth.reviewer_link import new_reviewer_token, token_hash
from gateway.catalogue import access_log
from gateway.catalogue import reviewer_links as links
from gateway.catalogue.access_log import AccessAction
from gateway.errors import BadUserInput, NotFound, Unauthenticated
from gateway.usecases.access_grants import checked_reason, lock_managed

MAX_ITEMS = 100
"""Sessions and datasets one link may name."""


@dataclass(frozen=True)
class LinkTerms:
    """The facility's limits (``Settings``)."""

    default_days: int
    max_days: int


@dataclass(frozen=True)
class NewLink:
    """A link just made: the token is shown this once (only its hash is kept)."""

    id: int
    token: str
    expires_at: datetime
    investigation_ids: tuple[int, ...]


def subject(link_id: int) -> str:
    """How the audit trail names a link (its ``subject``: no person is concerned)."""
    return f"reviewer link {link_id}"


def checked_link_expiry(expires_at: datetime | None, now: datetime, terms: LinkTerms) -> datetime:
    """The link's end: the default when not given; after ``now`` and at most the
    facility's maximum ahead (BAD_USER_INPUT otherwise)."""
    if expires_at is None:
        return now + timedelta(days=terms.default_days)
    if expires_at <= now:
        raise BadUserInput("The expiry must be in the future.", argument="expiresAt")
    if expires_at > now + timedelta(days=terms.max_days):
        raise BadUserInput(
            f"A reviewer link lasts at most {terms.max_days} days.",
            argument="expiresAt",
            maxDays=terms.max_days,
        )
    return expires_at


async def create_reviewer_link(
    engine: AsyncEngine,
    caller: Caller,
    *,
    investigation_ids: Sequence[int],
    dataset_ids: Sequence[int],
    expires_at: datetime | None,
    note: str | None,
    rules: AccessRules,
    terms: LinkTerms,
    now: datetime,
) -> NewLink:
    """Make a link to embargoed sessions and to datasets of reserved DOIs."""
    acting = caller.user_name
    if acting is None:
        raise Unauthenticated("Log in to make a reviewer link.")
    sessions = sorted(set(investigation_ids))
    datasets = sorted(set(dataset_ids))
    if not sessions and not datasets:
        raise BadUserInput("Name at least one session or dataset.", argument="investigationIds")
    if len(sessions) + len(datasets) > MAX_ITEMS:
        raise BadUserInput(
            f"At most {MAX_ITEMS} sessions and datasets in one link.", argument="investigationIds"
        )
    note = checked_reason(note)
    ends = checked_link_expiry(expires_at, now, terms)
    token = new_reviewer_token()
    async with engine.begin() as connection:
        owners = await links.datasets_of(connection, datasets)
        if set(datasets) - set(owners):
            raise NotFound("No such dataset.", argument="datasetIds")
        touched = sorted(set(sessions) | set(owners.values()))
        # The caller's right first, in id order (the order grants lock sessions in): who
        # may not make the link learns nothing more of the sessions.
        for investigation_id in touched:
            await lock_managed(connection, caller, investigation_id, rules, now=now)
        open_sessions = set(sessions) - await links.embargoed_ids(connection, sessions, now)
        if open_sessions:
            raise BadUserInput(
                "A reviewer link is for sessions under embargo; these are public already: "
                + ", ".join(str(i) for i in sorted(open_sessions)),
                argument="investigationIds",
            )
        unreserved = set(datasets) - await links.reserved_dataset_ids(connection, datasets, now)
        if unreserved:
            raise BadUserInput(
                "A reviewer link names datasets of a reserved DOI; these are in none: "
                + ", ".join(str(i) for i in sorted(unreserved)),
                argument="datasetIds",
            )
        link_id = await links.create_link(
            connection,
            token_hash=token_hash(token),
            created_by=acting,
            now=now,
            expires_at=ends,
            note=note,
            investigation_ids=sessions,
            dataset_ids=datasets,
        )
        for investigation_id in touched:
            await access_log.record(
                connection,
                AccessAction.LINK_CREATE,
                actor=acting,
                subject=subject(link_id),
                investigation_id=investigation_id,
                at=now,
                reason=note,
            )
    return NewLink(link_id, token, ends, tuple(touched))


async def revoke_reviewer_link(
    engine: AsyncEngine,
    caller: Caller,
    *,
    link_id: int,
    rules: AccessRules,
    now: datetime,
) -> int:
    """Revoke a link: from the next request on, its token is refused as a wrong one.
    Who may make a link to all of its sessions may revoke it; to anyone else a link is
    NOT_FOUND, as an unknown one."""
    acting = caller.user_name
    if acting is None:
        raise Unauthenticated("Log in to revoke a reviewer link.")
    async with engine.begin() as connection:
        touched = await links.sessions_of_link(connection, link_id)
        if not touched:
            raise NotFound("No such reviewer link.", argument="id")
        for investigation_id in touched:
            await lock_managed(
                connection, caller, investigation_id, rules, now=now, refusal=_Hidden
            )
        await links.revoke_link(connection, link_id, by=acting, now=now)
        for investigation_id in touched:
            await access_log.record(
                connection,
                AccessAction.LINK_REVOKE,
                actor=acting,
                subject=subject(link_id),
                investigation_id=investigation_id,
                at=now,
            )
    return link_id


class _Hidden(NotFound):
    """A link of sessions the caller does not manage is not told apart from none."""

    def __init__(self, message: str) -> None:
        super().__init__("No such reviewer link.", argument="id")
