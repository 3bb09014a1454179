"""The registrar interface: what the DOI saga asks of DataCite, and nothing more.

Every call is idempotent, so the saga may repeat any step after any failure:
``put_draft`` and ``publish`` are ``PUT /dois/{doi}`` upserts of a DOI whose suffix the
gateway chose (deterministic from catalogue ids), never a ``POST`` that could mint a
second DOI; ``delete_draft`` of a DOI that is gone already succeeds.

Failures are of two kinds, because the saga treats them differently:
- ``TransientRegistrarError``: the registrar may answer differently later (a timeout, a
  refused connection, a 5xx, 429). The saga keeps its step and retries (the same call
  again with its idempotency key, or ``icat-gateway doi reconcile``).
- ``PermanentRegistrarError``: the registrar refused this request and will again (401/403
  credentials, 422 metadata it rejects, 405/409 a state that forbids it). The saga rolls
  back what it did and reports it; a person must change something.

Implementations: ``gateway.doi.datacite`` (DataCite's REST API), ``gateway.doi.local``
(the embedded default: allocates DOIs under a configured prefix and registers them
nowhere, and says so), ``tests`` have a fake and a loopback DataCite.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class DoiState(enum.StrEnum):
    """DataCite's states of a DOI."""

    DRAFT = "draft"
    """Reserved: resolvable nowhere, deletable."""
    REGISTERED = "registered"
    """Resolves, not in DataCite's search."""
    FINDABLE = "findable"
    """Resolves and is indexed: published."""


@dataclass(frozen=True)
class RegisteredDoi:
    """What the registrar holds for a DOI."""

    doi: str
    """Lower case, no ``doi:`` or resolver prefix (DataCite answers DOIs in lower case)."""
    state: DoiState
    url: str | None
    """The landing page it resolves to (None for a draft without one)."""
    attributes: Mapping[str, Any]
    """The DataCite kernel-4.5 attributes it holds (JSON:API ``data.attributes``)."""


class RegistrarError(Exception):
    """The registrar did not do what was asked."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientRegistrarError(RegistrarError):
    """It may work later: timeout, connection refused, 5xx, 429."""


class PermanentRegistrarError(RegistrarError):
    """It will not work as asked: bad credentials, rejected metadata, forbidden state."""


class Registrar(Protocol):
    """A DOI registration agency as the saga sees it."""

    @property
    def prefix(self) -> str:
        """The DOI prefix this gateway mints under, e.g. ``10.15151``."""
        ...

    @property
    def registers(self) -> bool:
        """False for a registrar whose DOIs resolve nowhere (the embedded local one): the
        API and the log say so."""
        ...

    async def put_draft(self, doi: str, attributes: Mapping[str, Any]) -> RegisteredDoi:
        """Create the draft DOI, or update the metadata of the draft it is."""
        ...

    async def publish(self, doi: str, attributes: Mapping[str, Any], url: str) -> RegisteredDoi:
        """Make the DOI findable at ``url`` with these attributes (a draft's ``publish``
        event; a findable DOI's metadata update)."""
        ...

    async def get(self, doi: str) -> RegisteredDoi | None:
        """The registrar's record of the DOI, None if it has none."""
        ...

    async def delete_draft(self, doi: str) -> None:
        """Delete a draft (a DOI that no longer exists is deleted already); a registered
        or findable DOI cannot be deleted: PermanentRegistrarError."""
        ...
