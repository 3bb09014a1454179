"""Configuration in one place, read from the environment and passed down explicitly.

Every setting has an ``ICAT_GATEWAY_`` environment variable; the defaults give the
embedded development mode (SQLite file with demo data, GraphiQL on).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

PREFIX = "ICAT_GATEWAY_"

DEFAULT_MAIN_PROPOSER_ROLES = (
    "principal investigator",
    "principal_experimenter",
    "pi",
    "main proposer",
)


@dataclass(frozen=True)
class Settings:
    """All of the gateway's configuration."""

    database_url: str = "sqlite+aiosqlite:///icat-gateway.sqlite3"
    """SQLAlchemy URL of the catalogue (sqlite+aiosqlite, postgresql+asyncpg, mysql+asyncmy)."""

    database_pre_ping: bool = False
    """Test each pooled connection before use (a round trip per checkout): on where the
    network drops idle connections; connections are recycled after 30 minutes anyway."""

    database_pool_size: int = 20
    """Connections each worker keeps open. Concurrent requests beyond it wait (up to
    ``database_max_overflow`` extra connections are opened and closed again, which is
    slow): size it to the worker's concurrency, within the server's max_connections."""

    database_max_overflow: int = 5

    embedded: bool = True
    """Embedded mode: the gateway creates ICAT's schema and its own tables itself. Off when
    it reads an existing ICAT database (then it only reads ICAT's tables)."""

    facility: str = "ESRF"
    """Name of the FACILITY row this gateway serves (demo data and new rows use it)."""

    debug: bool = False
    graphiql: bool = True
    """Serve the GraphiQL explorer on GET /graphql."""

    max_page_size: int = 1000
    """Largest `first`/`last` a client may ask for on a connection."""

    default_page_size: int = 50
    max_query_depth: int = 12

    compiled_sql: bool = True
    """On PostgreSQL, answer the items of a page with one statement that renders their JSON
    (``gateway.compiled``) wherever the selection allows; off resolves every field the
    standard way (the tests compare the two)."""

    # Authentication ------------------------------------------------------------------
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_username_claim: str = "preferred_username"
    oidc_user_prefix: str = ""
    oidc_groups_claim: str = "groups"
    icat_url: str | None = None
    """Base URL of an ICAT server whose sessions are accepted (`/icat/session/{id}`)."""

    # Authorization -------------------------------------------------------------------
    staff_users: frozenset[str] = field(default_factory=frozenset)
    """ICAT user names that are facility staff (see everything)."""

    staff_groups: frozenset[str] = field(default_factory=frozenset)
    """Token groups whose members are facility staff."""

    main_proposer_roles: frozenset[str] = field(
        default_factory=lambda: frozenset(DEFAULT_MAIN_PROPOSER_ROLES)
    )
    """INVESTIGATIONUSER.ROLE values (case-insensitive) that make the main proposer."""

    collaborator_role: str = "Collaborator"
    """Role given to a scientist granted access to a session."""

    def __post_init__(self) -> None:
        # ICAT roles are free text: compare them case-insensitively.
        normalised = frozenset(role.strip().lower() for role in self.main_proposer_roles)
        object.__setattr__(self, "main_proposer_roles", normalised)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every field from ``ICAT_GATEWAY_<FIELD>``; keyword overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(raw, f.type)
        values.update(overrides)
        return cls(**values)

    @property
    def dialect(self) -> str:
        """The database dialect name: sqlite, postgresql or mysql."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0].replace("mariadb", "mysql")


def _parse(raw: str, annotation: Any) -> Any:
    kind = str(annotation)
    if kind.startswith("bool"):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("frozenset"):
        return frozenset(part.strip() for part in raw.split(",") if part.strip())
    if "None" in kind and raw == "":
        return None
    return raw
