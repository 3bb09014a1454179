"""Secrets the gateway keeps in its own table, shared by every worker of a deployment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.gateway_tables import StoredSecret

__all__ = ["stored_secret"]


async def stored_secret(engine: AsyncEngine, name: str, make: Callable[[], str]) -> str:
    """The secret called ``name``: the stored one, or ``make()``'s, stored first.

    Workers starting together may both make one; the first insert wins and the others
    read it back, so all of them end up with the same secret.
    """
    query = select(StoredSecret.value).where(StoredSecret.name == name)
    async with engine.connect() as connection:
        found = await connection.scalar(query)
        await connection.commit()
    if found is not None:
        return str(found)
    value = make()
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(StoredSecret).values(name=name, value=value, created_at=now)
            )
    except IntegrityError:
        async with engine.connect() as connection:
            found = await connection.scalar(query)
            await connection.commit()
        if found is None:
            raise
        return str(found)
    return value
