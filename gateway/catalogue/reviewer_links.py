"""Reviewer links in the gateway's tables: made, revoked, used (counted) and listed.

What a link lets its holder read is decided in ``gateway.catalogue.visibility`` (the
linked ids join the reading filters); this module keeps the links themselves. Who may see
a link (and its note, its use) is the same people who may make one: those who manage the
access of a session it names (``visibility.managed_investigation_ids``), and staff.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.auth.policy import AccessRules
from gateway.catalogue.gateway_tables import ReviewerLink, ReviewerLinkItem
from gateway.catalogue.models import (
    DataCollectionDataset,
    DataPublication,
    Dataset,
    Investigation,
)
from gateway.catalogue.pagination import SortKey
from gateway.catalogue.visibility import Access, managed_investigation_ids, released


async def create_link(
    connection: AsyncConnection,
    *,
    token_hash: str,
    created_by: str,
    now: datetime,
    expires_at: datetime,
    note: str | None,
    investigation_ids: Sequence[int],
    dataset_ids: Sequence[int],
) -> int:
    """Store a link and its items in the caller's transaction; its id."""
    result = await connection.execute(
        insert(ReviewerLink).values(
            token_hash=token_hash,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
            note=note,
            use_count=0,
        )
    )
    link_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    items = [{"investigation_id": i} for i in investigation_ids]
    items += [{"dataset_id": d} for d in dataset_ids]
    for item in items:
        await connection.execute(insert(ReviewerLinkItem).values(link_id=link_id, **item))
    return link_id


async def revoke_link(connection: AsyncConnection, link_id: int, *, by: str, now: datetime) -> None:
    """Mark the link revoked (a second revocation keeps the first's time and name)."""
    await connection.execute(
        update(ReviewerLink)
        .where(ReviewerLink.id == link_id, ReviewerLink.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by)
    )


def valid(now: Any) -> ColumnElement[bool]:
    """A link neither revoked nor expired at ``now``."""
    return and_(ReviewerLink.revoked_at.is_(None), ReviewerLink.expires_at > now)


async def use_link(engine: AsyncEngine, token_hash: str, now: datetime) -> int | None:
    """The id of the valid link with this token hash, its use counted (how often, when
    last; never by whom); None when there is none."""
    async with engine.begin() as connection:
        found = (
            await connection.execute(
                select(ReviewerLink.id).where(ReviewerLink.token_hash == token_hash, valid(now))
            )
        ).scalar()
        if found is None:
            return None
        await connection.execute(
            update(ReviewerLink)
            .where(ReviewerLink.id == found)
            .values(use_count=ReviewerLink.use_count + 1, last_used_at=now)
        )
    return int(found)


def link_sessions(link_ids: Any = None) -> Select[Any]:
    """(link id, session id) of every item: a dataset's item counts for its session."""
    statement = select(
        ReviewerLinkItem.link_id.label("link_id"),
        func.coalesce(ReviewerLinkItem.investigation_id, Dataset.investigation_id).label(
            "investigation_id"
        ),
    ).outerjoin(Dataset, Dataset.id == ReviewerLinkItem.dataset_id)
    if link_ids is not None:
        statement = statement.where(ReviewerLinkItem.link_id.in_(link_ids))
    return statement


async def sessions_of_link(connection: AsyncConnection, link_id: int) -> list[int]:
    """The sessions a link touches (its own, and its datasets'), in id order."""
    rows = await connection.execute(link_sessions([link_id]))
    return sorted({int(row.investigation_id) for row in rows if row.investigation_id is not None})


async def datasets_of(connection: AsyncConnection, dataset_ids: Sequence[int]) -> dict[int, int]:
    """The session of each of these datasets that exists (dataset id -> session id)."""
    rows = await connection.execute(
        select(Dataset.id, Dataset.investigation_id).where(Dataset.id.in_(list(dataset_ids)))
    )
    return {int(dataset): int(session) for dataset, session in rows}


async def reserved_dataset_ids(
    connection: AsyncConnection, dataset_ids: Sequence[int], now: datetime
) -> set[int]:
    """Those of the datasets that a reserved (not yet published) DOI holds."""
    rows = await connection.execute(
        select(DataCollectionDataset.dataset_id)
        .join(
            DataPublication,
            DataPublication.data_collection_id == DataCollectionDataset.data_collection_id,
        )
        .where(
            DataCollectionDataset.dataset_id.in_(list(dataset_ids)),
            ~released(DataPublication.publication_date, now),
        )
    )
    return {int(dataset_id) for (dataset_id,) in rows}


async def embargoed_ids(
    connection: AsyncConnection, investigation_ids: Sequence[int], now: datetime
) -> set[int]:
    """Those of the sessions still under embargo (not released at ``now``)."""
    rows = await connection.execute(
        select(Investigation.id).where(
            Investigation.id.in_(list(investigation_ids)),
            ~released(Investigation.release_date, now),
        )
    )
    return {int(session_id) for (session_id,) in rows}


def link_visible(access: Access, rules: AccessRules, session: Any) -> ColumnElement[bool]:
    """Who sees a link listed under ``session`` (a session id column): staff, and those
    who manage that session's access."""
    if access.is_staff:
        return true()
    name = access.caller.user_name
    if name is None:
        return false()
    managed: ColumnElement[bool] = session.in_(managed_investigation_ids(name, rules, access.now))
    return managed


LINK_COLUMNS = (
    ReviewerLink.id.label("id"),
    ReviewerLink.created_by.label("created_by"),
    ReviewerLink.created_at.label("created_at"),
    ReviewerLink.expires_at.label("expires_at"),
    ReviewerLink.revoked_at.label("revoked_at"),
    ReviewerLink.revoked_by.label("revoked_by"),
    ReviewerLink.note.label("note"),
    ReviewerLink.use_count.label("use_count"),
    ReviewerLink.last_used_at.label("last_used_at"),
)
"""What a link shows: everything but its token's hash."""


def link_by_id(link_id: int) -> Select[Any]:
    return select(*LINK_COLUMNS).where(ReviewerLink.id == link_id)


def links_listed(access: Access, rules: AccessRules) -> tuple[Select[Any], Any]:
    """The links touching each session that the caller may see, one row per session and
    link (``owner_key``: the session), and the column of the session (the parent of a
    page of them, ``Investigation.reviewerLinks``). Its order: :data:`NEWEST_LINKS`."""
    items = link_sessions().distinct().subquery("items")
    statement = (
        select(items.c.investigation_id.label("owner_key"), *LINK_COLUMNS)
        .join(ReviewerLink, ReviewerLink.id == items.c.link_id)
        .where(link_visible(access, rules, items.c.investigation_id))
    )
    return statement, items.c.investigation_id


NEWEST_LINKS = (SortKey(ReviewerLink.id, descending=True),)
"""Newest first: the links' keyset."""


def link_items(link_ids: Sequence[int]) -> Select[Any]:
    """The items of these links (``owner_key``: the link)."""
    return select(
        ReviewerLinkItem.link_id.label("owner_key"),
        ReviewerLinkItem.investigation_id.label("investigation_id"),
        ReviewerLinkItem.dataset_id.label("dataset_id"),
    ).where(ReviewerLinkItem.link_id.in_(list(link_ids)))
