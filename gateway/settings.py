"""Configuration in one place, read from the environment and passed down explicitly.

Every setting has an ``ICAT_GATEWAY_`` environment variable; the defaults give the
embedded development mode (SQLite file with demo data, GraphiQL on).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

PREFIX = "ICAT_GATEWAY_"

NAMESPACE = re.compile(r"[a-z][a-z0-9]{0,15}")
"""A federation namespace: it starts type and root field names (``ill`` -> ``IllUser``)."""

DEFAULT_MAIN_PROPOSER_ROLES = (
    "principal investigator",
    "principal_experimenter",
    "pi",
    "main proposer",
)


class SettingsError(ValueError):
    """Settings that contradict each other: the gateway refuses to start."""


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
    """Connections a worker may open beyond ``database_pool_size`` under a burst (closed
    again afterwards)."""

    embedded: bool = True
    """Embedded mode: the gateway creates ICAT's schema and its own tables itself. Off when
    it reads an existing ICAT database (then it only reads ICAT's tables)."""

    gateway_schema: str | None = None
    """Where the gateway's own tables live (release-date changes, access requests, audit,
    the DOI saga): unset, beside ICAT's tables; else a PostgreSQL schema or a MariaDB
    database on the same server, made if missing, so that ICAT's own schema is never
    touched and one transaction still spans both. Not on SQLite."""

    facility: str = "ESRF"
    """Name of the FACILITY row this gateway serves (demo data and new rows use it)."""

    debug: bool = False
    """Starlette's debug mode: tracebacks in error responses. Development only."""

    graphiql: bool = True
    """Serve the GraphiQL explorer on GET /graphql (and redirect / to it)."""

    production: bool = False
    """A production deployment: development conveniences (``demo_login``) are refused, and
    asking for both is an error at start-up."""

    demo_login: bool | None = None
    """Sign in as the demo's fixed users (``esrf/pi1``...) with real tokens from the
    gateway's own development OIDC issuer (``/dev/oidc``), and a user picker in GraphiQL.
    Unset: on in embedded mode unless ``production``; on outside embedded mode or with
    ``production`` is an error."""

    max_page_size: int = 1000
    """Largest `first`/`last` a client may ask for on a connection."""

    default_page_size: int = 50
    """`first` of a connection when the client gives neither `first` nor `last`."""

    max_query_depth: int = 12
    """Deepest selection a query may nest; deeper queries are refused before they run."""

    compiled_sql: bool = True
    """On PostgreSQL, answer the items of a page with one statement that renders their JSON
    (``gateway.compiled``) wherever the selection allows; off resolves every field the
    standard way (the tests compare the two)."""

    federation_namespace: str | None = None
    """Name this facility's part of a shared supergraph (lower case, e.g. ``ill``): every
    type is prefixed (``IllInvestigation``), every root field too (``illInvestigations``),
    and a shared ``Person`` entity keyed by ORCID iD gets a field ``ill``. Unset: the
    schema as exported in schema.graphql. Compiled execution is off under a namespace."""

    # Authentication ------------------------------------------------------------------
    oidc_issuer: str | None = None
    """Accept OIDC bearer tokens of this issuer (exactly its ``iss``; for Keycloak
    ``https://host/realms/<realm>``), found through OpenID Connect discovery."""

    oidc_audience: str | None = None
    """Required in a token's ``aud`` when set."""

    oidc_username_claim: str = "preferred_username"
    """The token claim holding the user name (a dotted path reaches a nested claim)."""

    oidc_user_prefix: str = ""
    """Put before the claim's value to make the ICAT user name (``esrf/``)."""

    oidc_groups_claim: str = "groups"
    """The token claim listing the caller's groups (compared with ``staff_groups``)."""

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

    # DOIs --------------------------------------------------------------------------------
    doi_registrar: str = "local"
    """Who registers the DOIs the gateway mints: ``local`` (the embedded default: DOIs are
    allocated under ``doi_prefix`` and registered nowhere, and the API and the log say so)
    or ``datacite`` (DataCite's REST API at ``datacite_api_url``)."""

    doi_prefix: str = "10.5072"
    """The DOI prefix minted under. With DataCite, your repository's prefix (a test account
    has its own: DataCite retired the shared test prefix 10.5072 in 2019, so it is refused
    there); 10.5072 is only the local registrar's default."""

    doi_landing_url: str | None = None
    """The landing page a DOI resolves to, with ``{doi}`` where the DOI goes (e.g.
    ``https://data.facility.eu/doi/{doi}``). Required with ``datacite``; unset, the local
    registrar records ``https://doi.org/{doi}``."""

    datacite_api_url: str = "https://api.test.datacite.org"
    """DataCite's REST API: the test service by default; ``https://api.datacite.org`` for
    real DOIs."""

    datacite_repository_id: str | None = None
    """The DataCite repository (client) id, e.g. ``ESRF.DATA``: the Basic-auth user."""

    datacite_password: str | None = field(default=None, repr=False)
    """The repository's password (never logged, never shown)."""

    datacite_connect_timeout: float = 5.0
    """Seconds to wait for a connection to DataCite before the step is retried later."""

    datacite_read_timeout: float = 30.0
    """Seconds to wait for DataCite's answer before the step is retried later (a PUT is an
    upsert of a DOI the gateway named, so the retry cannot make a second DOI)."""

    def __post_init__(self) -> None:
        if self.demo_login and not self.embedded:
            raise SettingsError(
                "ICAT_GATEWAY_DEMO_LOGIN is for the embedded demo catalogue only: "
                "unset it, or set ICAT_GATEWAY_EMBEDDED=true"
            )
        if self.demo_login and self.production:
            raise SettingsError(
                "ICAT_GATEWAY_DEMO_LOGIN and ICAT_GATEWAY_PRODUCTION are both set: "
                "a production gateway does not hand out demo tokens; unset one of them"
            )
        if self.federation_namespace is not None:
            if not NAMESPACE.fullmatch(self.federation_namespace):
                raise SettingsError(
                    "ICAT_GATEWAY_FEDERATION_NAMESPACE must be a lower-case letter followed "
                    f"by up to 15 lower-case letters or digits, not {self.federation_namespace!r}"
                )
            # The compiled renderer writes the schema's type names into its SQL: it knows
            # only the unprefixed ones.
            object.__setattr__(self, "compiled_sql", False)
        if self.gateway_schema is not None and self.dialect == "sqlite":
            raise SettingsError(
                "ICAT_GATEWAY_GATEWAY_SCHEMA is for PostgreSQL and MariaDB: on SQLite the "
                "gateway's tables live in the catalogue's file; unset it"
            )
        self._check_doi_settings()
        # ICAT roles are free text: compare them case-insensitively.
        normalised = frozenset(role.strip().lower() for role in self.main_proposer_roles)
        object.__setattr__(self, "main_proposer_roles", normalised)

    def _check_doi_settings(self) -> None:
        if self.doi_registrar not in {"local", "datacite"}:
            raise SettingsError(
                f"ICAT_GATEWAY_DOI_REGISTRAR is {self.doi_registrar!r}: it is 'local' or 'datacite'"
            )
        if not re.fullmatch(r"10\.[0-9]{4,9}", self.doi_prefix):
            raise SettingsError(
                f"ICAT_GATEWAY_DOI_PREFIX is {self.doi_prefix!r}: a DOI prefix is 10.NNNN"
            )
        template = self.doi_landing_url
        if template is not None and (
            "{doi}" not in template or not template.startswith(("https://", "http://"))
        ):
            raise SettingsError(
                "ICAT_GATEWAY_DOI_LANDING_URL must be an http(s) URL with {doi} in it, "
                "e.g. https://data.facility.eu/doi/{doi}"
            )
        if self.doi_registrar != "datacite":
            return
        missing = [
            PREFIX + name.upper()
            for name in ("datacite_repository_id", "datacite_password", "doi_landing_url")
            if not getattr(self, name)
        ]
        if missing:
            raise SettingsError(
                "ICAT_GATEWAY_DOI_REGISTRAR=datacite needs " + ", ".join(missing) + " set"
            )
        if self.doi_prefix == "10.5072":
            raise SettingsError(
                "ICAT_GATEWAY_DOI_PREFIX is 10.5072, which DataCite retired in 2019: "
                "set your repository's own prefix (a test account has one too)"
            )

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
    def demo_login_enabled(self) -> bool:
        """Whether the development issuer and the GraphiQL user picker are on."""
        if self.demo_login is None:
            return self.embedded and not self.production
        return self.demo_login

    @property
    def dialect(self) -> str:
        """The database dialect name: sqlite, postgresql or mysql."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0].replace("mariadb", "mysql")


def _parse(raw: str, annotation: Any) -> Any:
    kind = str(annotation)
    if "None" in kind and raw == "":
        return None
    if kind.startswith("bool"):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("float"):
        return float(raw)
    if kind.startswith("frozenset"):
        return frozenset(part.strip() for part in raw.split(",") if part.strip())
    return raw
