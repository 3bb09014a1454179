"""A reviewer link made straight in the gateway's tables, for the leak tests: they check
what its holder reads, not who may make one (``tests/integration/test_reviewer_links.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import Caller
from gateway.auth.reviewer_link import new_reviewer_token, token_hash
from gateway.catalogue.gateway_tables import ReviewerLink, ReviewerLinkItem
from gateway.catalogue.models import Dataset, Investigation
from gateway.catalogue.reviewer_links import create_link
from gateway.catalogue.visibility import Access, dataset_visible, investigation_data_visible

REVIEWER = "reviewer-link"
"""How the leak tests name the caller a reviewer link's token becomes."""


async def make_reviewer_link(engine: AsyncEngine) -> Caller:
    """A valid link to the first session and, one by one, the first dataset of another
    session that anonymous may not read: the caller its token becomes."""
    now = datetime.now(UTC).replace(tzinfo=None)
    anonymous = Access(caller=Caller(), now=now)
    async with engine.begin() as connection:
        session = (
            await connection.execute(
                select(func.min(Investigation.id)).where(~investigation_data_visible(anonymous))
            )
        ).scalar_one()
        dataset = (
            await connection.execute(
                select(func.min(Dataset.id)).where(
                    ~dataset_visible(anonymous), Dataset.investigation_id != session
                )
            )
        ).scalar_one()
        assert session is not None and dataset is not None
        link_id = await create_link(
            connection,
            token_hash=token_hash(new_reviewer_token()),
            created_by="esrf/staff1",
            now=now,
            expires_at=now + timedelta(days=1),
            note="leak tests",
            investigation_ids=[session],
            dataset_ids=[dataset],
        )
    return Caller(reviewer_link=link_id)


async def remove_reviewer_link(engine: AsyncEngine, caller: Caller) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            delete(ReviewerLinkItem).where(ReviewerLinkItem.link_id == caller.reviewer_link)
        )
        await connection.execute(
            delete(ReviewerLink).where(ReviewerLink.id == caller.reviewer_link)
        )
