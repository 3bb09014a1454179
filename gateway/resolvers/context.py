"""What every resolver of one request shares: the caller, the clock, the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.visibility import Access
from gateway.resolvers.loaders import Loaders
from gateway.settings import Settings


@dataclass
class RequestContext:
    """Built once per GraphQL request, before execution starts.

    ``now`` is fixed at the start of the request so that every embargo decision within
    one response is taken at the same instant.
    """

    engine: AsyncEngine
    """For reads: may be an autocommit engine (no BEGIN/ROLLBACK round trips per query)."""
    settings: Settings
    access: Access
    write_engine: AsyncEngine | None = None
    """For mutations: transactional. Defaults to ``engine``."""
    request: Any = None
    response: Any = None
    json_fragments: bool = False
    """Pass JSON the database rendered (``gateway.compiled``) into the response as text
    (``orjson.Fragment``), unparsed. Only where the result is serialised by orjson, as
    the HTTP endpoint does; in-process callers get plain dicts and lists."""
    request_id: str | None = None
    """The id the request gate gave the request (logged with its errors)."""
    dois: Any = None
    """The DOI use cases (``gateway.usecases.dois.DoiUseCases``), None where no registrar
    is configured (the DOI mutations then answer UPSTREAM_UNAVAILABLE)."""
    downloads: Any = None
    """The download use cases (``gateway.usecases.downloads.Downloads``), None where
    downloads are off (``DOWNLOADS_UNAVAILABLE``)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def writer(self) -> AsyncEngine:
        return self.write_engine or self.engine

    @property
    def now(self) -> datetime:
        return self.access.now

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.engine, self.access, self.settings)

    def moved_to(self, now: datetime) -> None:
        """A mutation made something public at ``now``: what this request reads next (its
        payload) is decided at that instant, with loaders that have cached nothing from
        before. Otherwise a published DOI's payload would say ``isPublished: false``."""
        if now > self.access.now:
            self.access = replace(self.access, now=now)
            self.__dict__.pop("loaders", None)
