"""The embedded default registrar: DOIs under a configured prefix, registered nowhere.

It keeps DataCite's rules (gateway.doi.lifecycle) so that the saga behaves the same on it
as on DataCite, and keeps its DOIs in the gateway's own table ``GATEWAY_LOCAL_DOI``, so
every worker and replica sees the same ones. ``registers`` is False, and making one logs
a warning: its DOIs resolve nowhere, and citing one cites nothing. For DOIs that resolve,
configure DataCite (``ICAT_GATEWAY_DOI_REGISTRAR=datacite``); a facility's DataCite test
account has a prefix of its own (the shared test prefix 10.5072 was retired in 2019).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.catalogue.database import is_deadlock
from gateway.catalogue.gateway_tables import LocalDoi
from gateway.doi.lifecycle import after_put, check_deletable, own_doi
from gateway.doi.registrar import DoiState, RegisteredDoi

__all__ = ["NOT_REGISTERED", "LocalRegistrar"]

log = logging.getLogger(__name__)

NOT_REGISTERED = (
    "DOIs are minted by the gateway's local registrar under {prefix} and registered "
    "nowhere: they do not resolve (configure ICAT_GATEWAY_DOI_REGISTRAR=datacite for "
    "DOIs that do)"
)
"""What the log (and the API, through ``registers``) says about the local registrar."""


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class LocalRegistrar:
    """DOIs in the gateway's own table; make one per process, at start-up."""

    registers = False

    def __init__(
        self, engine: AsyncEngine, prefix: str, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._engine = engine
        self._prefix = prefix
        self._clock = clock
        log.warning(NOT_REGISTERED.format(prefix=prefix))

    @property
    def prefix(self) -> str:
        return self._prefix

    async def put_draft(self, doi: str, attributes: Mapping[str, Any]) -> RegisteredDoi:
        return await self._put(doi, attributes, event=None, url=None)

    async def publish(self, doi: str, attributes: Mapping[str, Any], url: str) -> RegisteredDoi:
        return await self._put(doi, attributes, event="publish", url=url)

    async def get(self, doi: str) -> RegisteredDoi | None:
        doi = own_doi(self._prefix, doi)
        async with self._engine.connect() as connection:
            held = await self._held(connection, doi)
            await connection.commit()
        return held

    async def delete_draft(self, doi: str) -> None:
        doi = own_doi(self._prefix, doi)
        async with self._engine.begin() as connection:
            held = await self._held(connection, doi, lock=True)
            if held is None:
                return
            check_deletable(held)
            await connection.execute(delete(LocalDoi).where(LocalDoi.doi == doi))

    async def _put(
        self, doi: str, attributes: Mapping[str, Any], *, event: str | None, url: str | None
    ) -> RegisteredDoi:
        doi = own_doi(self._prefix, doi)
        # Two workers creating the same DOI at once: one insert wins, the other retries
        # as the update it is. Its insert fails on the key, or, on MariaDB, where both
        # locked the gap of the missing row, as a deadlock's victim (rolled back).
        for attempt in range(2):
            try:
                async with self._engine.begin() as connection:
                    held = await self._held(connection, doi, lock=True)
                    result = after_put(held, doi, attributes, event=event, url=url)
                    await self._store(connection, result, new=held is None)
                return result
            except DBAPIError as error:
                if attempt or not (isinstance(error, IntegrityError) or is_deadlock(error)):
                    raise
        raise AssertionError("unreachable")

    async def _held(
        self, connection: AsyncConnection, doi: str, *, lock: bool = False
    ) -> RegisteredDoi | None:
        query = select(LocalDoi.state, LocalDoi.url, LocalDoi.attributes).where(LocalDoi.doi == doi)
        if lock:
            query = query.with_for_update()
        row = (await connection.execute(query)).one_or_none()
        if row is None:
            return None
        state, url, attributes = row
        return RegisteredDoi(doi, DoiState(state), url, json.loads(attributes))

    async def _store(self, connection: AsyncConnection, held: RegisteredDoi, *, new: bool) -> None:
        now = self._clock()
        values = {
            "state": str(held.state),
            "url": held.url,
            "attributes": json.dumps(held.attributes, ensure_ascii=False),
            "updated_at": now,
        }
        if new:
            await connection.execute(
                insert(LocalDoi).values(doi=held.doi, created_at=now, **values)
            )
        else:
            await connection.execute(
                update(LocalDoi).where(LocalDoi.doi == held.doi).values(**values)
            )
