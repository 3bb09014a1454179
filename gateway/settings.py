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

from gateway.auth.policy import AccessRules, Publishers, PublishRules

PREFIX = "ICAT_GATEWAY_"

NAMESPACE = re.compile(r"[a-z][a-z0-9]{0,15}")
_HTTP_URL = re.compile(r"https?://[^\s/?#]+(?:/[^\s?#]*)?")
_SPDX = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}")
"""A federation namespace: it starts type and root field names (``ill`` -> ``IllUser``)."""

DEFAULT_MAIN_PROPOSER_ROLES = (
    "principal investigator",
    "principal_experimenter",
    "pi",
    "main proposer",
)


PERSISTED_QUERY_MODES = ("automatic", "registered", "off")


AUTHORIZATION_MODES = ("builtin", "icat-rules")
"""``Settings.authorization``: the built-in embargo policy, or the catalogue's own rules."""


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

    icat_names: str = "auto"
    """How ICAT's tables and columns are spelt in the database: ``auto`` reads it from the
    database's catalogue at start-up (a real ICAT on PostgreSQL is all lower case, on
    MariaDB its table names are upper case); ``upper`` or ``lower`` says so instead."""

    read_only: bool = False
    """Refuse every mutation (``READ_ONLY``) and write nothing to ICAT's tables: the
    gateway beside icat.server, reading only. Its own tables are still migrated."""

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

    demo_login_on_network: bool = False
    """Serve the demo login (tokens for the demo's staff member and users, to anyone who
    asks) on an address other than loopback. Off: ``icat-gateway serve --host 0.0.0.0``
    (or any non-loopback address) with the demo login on refuses to start. Turn it on only
    for a demo on a network whose every user may act as the demo's staff member."""

    header_timeout: float = 10.0
    """Seconds a connection may take to send a request's headers (from its opening, or
    from the previous response on a kept-alive connection) before it is closed: an idle
    or slowly-writing connection holds none of a worker's capacity for longer."""

    body_timeout: float = 10.0
    """Seconds a request's body may take to arrive once its headers have (408 after)."""

    keep_alive_timeout: int = 5
    """Seconds an idle kept-alive connection stays open between requests (uvicorn's
    ``timeout_keep_alive``)."""

    max_page_size: int = 1000
    """Largest `first`/`last` a client may ask for on a connection."""

    default_page_size: int = 50
    """`first` of a connection when the client gives neither `first` nor `last`."""

    # Limits: every request crosses the gate (gateway.gate), which refuses what passes
    # one of these before anything runs, each with its own extensions.code.
    max_query_depth: int = 12
    """Deepest selection a query may nest, introspection fields counted
    (``QUERY_TOO_DEEP``)."""

    max_introspection_depth: int = 15
    """Deepest selection under ``__schema`` or ``__type``: the standard introspection
    query (GraphiQL's) nests 15 levels with its ``ofType`` chain (``QUERY_TOO_DEEP``)."""

    max_aliases: int = 15
    """Aliased fields in one document (``TOO_MANY_ALIASES``)."""

    max_directives_per_field: int = 4
    """Directives on one field or fragment (``TOO_MANY_DIRECTIVES``)."""

    max_root_fields: int = 10
    """Root fields one operation selects (``TOO_MANY_ROOT_FIELDS``)."""

    max_selections: int = 5000
    """Fields one operation selects once its fragments are spread
    (``TOO_MANY_SELECTIONS``): a fragment that spreads the next one twice, twenty deep,
    is a few hundred bytes and a million fields; validation and execution would walk
    them all. The standard introspection query selects about 200."""

    max_query_tokens: int = 2000
    """Lexical tokens of a document: parsing stops beyond them (``TOO_MANY_TOKENS``)."""

    max_input_list_length: int = 20
    """Items of any list given as an argument, at any depth of an input object
    (``LIST_TOO_LONG``): 120 parameter ranges in a dataset filter cost PostgreSQL 15 s of
    planning."""

    max_query_cost: int = 50000
    """The computed cost allowed per request: the objects and counts a query may return,
    page sizes multiplied down the tree (``QUERY_TOO_COSTLY``)."""

    assumed_list_size: int = 10
    """Items the cost counts for a list that is not a paged connection (a session's beamlines)."""

    max_body_bytes: int = 262144
    """Largest request body (or GET query string), refused before it is read whole
    (413 ``REQUEST_TOO_LARGE``)."""

    max_variable_depth: int = 32
    """Deepest nesting of the variables' JSON (``BAD_USER_INPUT``)."""

    plan_cache_bytes: int = 64 * 1024 * 1024
    """Memory the operation plans of PostgreSQL (their documents and SQL) may hold
    (estimated), half each."""

    parse_cache_bytes: int = 64 * 1024 * 1024
    """Memory the parsed-document cache may hold (estimated), keyed by the text's hash."""

    request_timeout: float = 10.0
    """Seconds a request may run; its statements are cancelled then (``QUERY_TIMEOUT``),
    and each statement of the serving engines is bounded by it on the server too."""

    validation_failure_status: int = 400
    """HTTP status of a validation, variable or limit failure for clients accepting
    ``application/graphql-response+json``: 400 as the GraphQL-over-HTTP draft and its
    ``graphql-http`` audit have it, or 422."""

    introspection: bool | None = None
    """Answer ``__schema`` and ``__type``. Unset: on, except in ``production``."""

    federation_sdl: bool | None = None
    """Answer ``{ _service { sdl } }``, the whole schema, which a federation router
    (``IntrospectAndCompose``, ``rover subgraph introspect``) reads to compose this
    subgraph. Unset: as introspection (off in production); turn it on where a router
    composes from the running gateway rather than from ``schema.graphql``."""

    field_suggestions: bool | None = None
    """"Did you mean ...?" in validation messages. Unset: on, except in ``production``."""

    cors_origins: frozenset[str] = field(default_factory=frozenset)
    """Origins whose browser pages may call /graphql (CORS); ``*`` for any. Empty: none."""

    compiled_sql: bool = True
    """Answer the items of a page with one statement that renders their JSON
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
    """Role given to a scientist granted access to a session; only rows with this role
    (case-insensitive) can be revoked: the others come from the proposal itself."""

    local_contact_roles: frozenset[str] = field(
        default_factory=lambda: frozenset({"local contact"})
    )
    """INVESTIGATIONUSER.ROLE values (case-insensitive) that make a session's local contact."""

    local_contacts_grant: bool = False
    """Whether a session's local contact may grant and revoke access and answer access
    requests, as its main proposer and staff may (some facilities let them)."""

    embargo_days: int = 1095
    """Days from a session's end to its release, for ``release-dates`` and ``ingest
    --release-dates``, where its facility's DAYSUNTILRELEASE is not set."""

    proprietary_types: frozenset[str] = field(default_factory=lambda: frozenset({"proprietary"}))
    """INVESTIGATIONTYPE.NAME values (case-insensitive) of sessions never released by the
    facility's rule: ``release-dates`` leaves their release date unset."""

    publishers: str = "team"
    """Who may publish a DOI for a session's datasets (and so make them public) besides
    staff: ``team`` (every member, collaborators included, as the facility's page says),
    ``proposal`` (members from the proposal, not collaborators) or ``main-proposer``.
    Whatever it says, the datasets of a proprietary session (no release date) are
    published by staff only."""

    authorization: str = "builtin"
    """Where reads take their visibility from: ``builtin`` (the embargo policy: landing
    facts public, DATA to the team, the beamline's scientists and staff until the release
    date) or ``icat-rules`` (the catalogue's own RULE_, GROUPING, USERGROUP and PUBLICSTEP
    rows, compiled to SQL as icat.server applies them: a session the caller may not read
    is not listed at all, unless ``icat_rules_public_landing``)."""

    icat_root_users: frozenset[str] = field(default_factory=frozenset)
    """With ``icat-rules``: ICAT user names that read everything, as icat.server's
    ``rootUserNames``."""

    icat_rules_public_landing: bool = False
    """With ``icat-rules``: list every session with its LANDING facts for everyone (as the
    built-in policy does), the rules then guarding its DATA fields only. Off: a session
    the rules do not open to the caller is not listed at all, as icat.server shows it."""

    icat_rules_refresh: float = 5.0
    """With ``icat-rules``: seconds between checks of whether the RULE_ and PUBLICSTEP rows
    changed (one small statement); the rules are compiled again when they did."""

    # Operations --------------------------------------------------------------------
    redis_url: str | None = None
    """Redis shared by every worker and replica (``redis://host:6379/0``): rate-limit
    counters, automatic persisted queries and registered operations. Unset: each process
    keeps its own in memory (one process only: limits and persisted queries are then not
    shared)."""

    redis_key_prefix: str = "icat-gateway:"
    """Put before every key the gateway writes to Redis (several gateways may share one)."""

    persisted_queries: str = "automatic"
    """``automatic``: Apollo's automatic persisted queries (a query sent once by its
    SHA-256 hash is remembered for the next requests); ``registered``: an allow-list, only
    operations registered with ``icat-gateway register-operations`` run (needs
    ``redis_url``); ``off``."""

    persisted_query_cache_bytes: int = 16 * 1024 * 1024
    """Bytes of query text the in-process store of automatic persisted queries keeps (least
    recently used first out) when no Redis is configured."""

    persisted_query_ttl: int = 7 * 24 * 3600
    """Seconds an automatic persisted query stays in Redis after its last registration."""

    rate_limit_requests: str = "50/second;1000/minute"
    """Requests each caller may make (limits' notation, ``;`` between windows): per user
    name when signed in, per client address when anonymous. Empty: no request limit."""

    rate_limit_address: str = "100/second;3000/minute"
    """Requests each client address may make, signed in or not (a whole institute behind
    one NAT shares it). Empty: no address limit."""

    rate_limit_cost: str = "1000000/minute"
    """Query cost (the gate's estimate of the rows a query can ask for) each caller may
    spend, per user name or, anonymous, per client address. Empty: no cost limit."""

    trusted_proxies: frozenset[str] = field(default_factory=frozenset)
    """Addresses or networks (``10.0.0.0/8``) of reverse proxies whose ``X-Forwarded-For``
    names the client; anyone else's forwarded headers are ignored."""

    metrics: bool = True
    """Serve Prometheus metrics at GET /metrics (keep it off the public network)."""

    metrics_operation_names: int = 200
    """Distinct operation names a worker labels its metrics with; later names (and
    anonymous operations) are counted as ``other`` (``anonymous``)."""

    log_format: str = "json"
    """``json``: one JSON object per log line with the request id (for a log shipper);
    ``text``: plain lines for a terminal."""

    otlp_endpoint: str | None = None
    """Export traces by OTLP over HTTP to this collector (e.g. ``http://127.0.0.1:4318``;
    ``/v1/traces`` is added): a span for each request, its gate, its operation (planned
    or standard), each resolver and each SQL statement, with the trace id on every log
    line. Unset: no tracing."""

    otel_service_name: str = "icat-gateway"
    """The ``service.name`` the traces carry."""

    shutdown_timeout: int = 30
    """Seconds a stopping worker waits for in-flight requests before it closes them."""

    readiness_timeout: float = 2.0
    """Seconds /readyz waits for a database connection (a starved pool is not ready)."""

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
    ``https://data.facility.eu/doi/{doi}``). Unset: the gateway's own landing pages
    (``{public_url}/doi/{doi}``) when ``public_url`` is set, else ``https://doi.org/{doi}``
    (the local registrar only). With ``datacite``, this or ``public_url`` is required."""

    public_url: str | None = None
    """The gateway's public address as its users reach it (``https://data.facility.eu``):
    DOIs then resolve to the gateway's own landing pages, ``{public_url}/doi/{doi}``."""

    doi_licence: str | None = None
    """The facility's default licence of the data its DOIs publish, as an SPDX id
    (``CC-BY-4.0``), in each DOI's ``rightsList`` unless the DOI names its own."""

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

    # Downloads ---------------------------------------------------------------------------
    downloads: str = "off"
    """Where ``prepareDownload`` gets the data: ``store`` (zips streamed by the gateway from
    the files under ``data_root``: the embedded demo and facilities without IDS), ``ids``
    (the facility's ICAT Data Service at ``ids_url``, prepared with a reader session) or
    ``off`` (``DOWNLOADS_UNAVAILABLE``)."""

    data_root: str | None = None
    """The gateway's own store: each datafile's LOCATION is a path under this folder (a
    leading ``/`` is taken as the root's). Locations with ``..``, or whose links lead out of
    it, are refused."""

    ids_url: str | None = None
    """Base URL of the ICAT Data Service (``https://host/ids``), whose ``getData`` links
    (by prepared id) the gateway hands out."""

    ids_reader_session: str | None = field(default=None, repr=False)
    """An ICAT session id of a reader account that may read every dataset (never logged):
    the gateway decides who may download, then prepares with it, as TopCAT's DOI plugin."""

    ids_reader_authenticator: str | None = None
    """Instead of a session: the ICAT authenticator (``db``, ``ldap``...) the reader account
    logs in with at ``icat_url``; the gateway logs in again when IDS refuses the session."""

    ids_reader_username: str | None = None
    """The reader account's user name at ``ids_reader_authenticator``."""

    ids_reader_password: str | None = field(default=None, repr=False)
    """The reader account's password (never logged, never shown)."""

    download_link_ttl: int = 3600
    """Seconds a link of the gateway's own store stays valid (signed; an altered or expired
    link is refused)."""

    download_max_bytes: int = 10 * 1024**3
    """Largest download: the zip's bytes from the gateway's own store, the catalogue's file
    sizes added up for IDS (``DOWNLOAD_TOO_LARGE``: larger data go through Globus)."""

    download_max_files: int = 10000
    """Most files one download may hold (``DOWNLOAD_TOO_LARGE``)."""

    download_max_preparing: int = 5
    """Downloads a caller may have in preparation at once (prepared in the last
    ``download_link_ttl`` seconds, and not yet fetched from the store or prepared by the data
    service; anonymous callers count by client address) (``TOO_MANY_DOWNLOADS``)."""

    reviewer_link_default_days: int = 90
    """Days a reviewer link lasts when its maker gives no expiry."""

    reviewer_link_max_days: int = 365
    """Most days a reviewer link may last (a longer expiry is BAD_USER_INPUT)."""

    globus_collection: str | None = None
    """The Globus collection (endpoint) id holding the facility's data: datasets then carry
    a Globus web-app link to their folder (``Dataset.globusUrl``)."""

    globus_location_prefix: str = ""
    """The start of dataset locations that the collection's paths replace (``/data``)."""

    globus_path_prefix: str = "/"
    """What the collection's paths start with instead (``/``): location ``/data/visitor/x``
    with prefixes ``/data`` and ``/esrf/`` is collection path ``/esrf/visitor/x``."""

    # Notifications -----------------------------------------------------------------------
    notifications: bool = True
    """Run the delivery worker in each process (off on a read-only gateway): it turns the
    event log's new events into e-mails and webhook calls. Several replicas may run it:
    each delivery is claimed by one."""

    facility_name: str | None = None
    """The facility's name in e-mails (``European Synchrotron Radiation Facility``);
    ``facility`` when unset."""

    smtp_host: str | None = None
    """The SMTP server e-mails are sent through; no e-mails when unset."""

    smtp_port: int = 587
    """Its port (587: submission with STARTTLS)."""

    smtp_starttls: bool = True
    """Upgrade the connection with STARTTLS before logging in (refused if the server does
    not offer it)."""

    smtp_ca_file: str | None = None
    """A PEM file of the certificate authorities the SMTP server's certificate is checked
    against (the system's when unset)."""

    smtp_username: str | None = None
    """The SMTP login, if the server wants one."""

    smtp_password: str | None = field(default=None, repr=False)
    """Its password (never logged, never shown)."""

    smtp_timeout: float = 10.0
    """Seconds to wait for the SMTP server before the delivery is retried later."""

    mail_from: str = "icat-gateway@localhost"
    """The sender of the e-mails (``From``)."""

    webhooks: str | None = None
    """Webhook subscriptions, as JSON: a list of ``{"id": "archive", "url":
    "https://...", "types": ["doi.publish", "access.*"], "secret": "..."}``. Each event of
    a listed type (``*`` for all; ``access.*`` for a family) is POSTed to the URL as a
    CloudEvents 1.0 JSON document, signed with HMAC-SHA256 of the body under the
    subscription's secret (header ``X-Gateway-Signature: sha256=<hex>``)."""

    delivery_poll_interval: float = 2.0
    """Seconds between the delivery worker's looks at the outbox."""

    delivery_backoff: float = 30.0
    """Seconds before the first retry of a failed delivery; doubled at each further try
    (at most an hour)."""

    delivery_max_attempts: int = 12
    """Tries of a delivery before it is given up (``failed`` in the delivery log)."""

    delivery_lease: float = 60.0
    """Seconds a replica holds a delivery it is sending before another may take it over
    (a replica that died while sending)."""

    release_reminder_days: int = 28
    """How long before a session's release date its team is reminded by e-mail
    (``icat-gateway notify reminders``, from cron)."""

    def __post_init__(self) -> None:
        if self.publishers not in {p.value for p in Publishers}:
            raise SettingsError(
                "ICAT_GATEWAY_PUBLISHERS must be one of: " + ", ".join(p.value for p in Publishers)
            )
        if self.authorization not in AUTHORIZATION_MODES:
            raise SettingsError(
                "ICAT_GATEWAY_AUTHORIZATION must be one of: " + ", ".join(AUTHORIZATION_MODES)
            )
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
        if self.persisted_queries not in PERSISTED_QUERY_MODES:
            raise SettingsError(
                f"ICAT_GATEWAY_PERSISTED_QUERIES is {self.persisted_queries!r}: "
                f"use one of {', '.join(PERSISTED_QUERY_MODES)}"
            )
        if self.persisted_queries == "registered" and not self.redis_url:
            raise SettingsError(
                "ICAT_GATEWAY_PERSISTED_QUERIES=registered needs ICAT_GATEWAY_REDIS_URL: "
                "registered operations are shared by every replica through Redis"
            )
        if self.icat_names not in ("auto", "upper", "lower"):
            raise SettingsError(
                f"ICAT_GATEWAY_ICAT_NAMES is {self.icat_names!r}: use auto, upper or lower"
            )
        if self.log_format not in ("json", "text"):
            raise SettingsError(f"ICAT_GATEWAY_LOG_FORMAT is {self.log_format!r}: use json or text")
        if self.gateway_schema is not None and self.dialect == "sqlite":
            raise SettingsError(
                "ICAT_GATEWAY_GATEWAY_SCHEMA is for PostgreSQL and MariaDB: on SQLite the "
                "gateway's tables live in the catalogue's file; unset it"
            )
        self._check_doi_settings()
        self._check_download_settings()
        self._check_notification_settings()
        if not 1 <= self.reviewer_link_default_days <= self.reviewer_link_max_days:
            raise SettingsError(
                "ICAT_GATEWAY_REVIEWER_LINK_DEFAULT_DAYS must be at least 1 and at most "
                "ICAT_GATEWAY_REVIEWER_LINK_MAX_DAYS"
            )
        # ICAT roles are free text: compare them case-insensitively.
        normalised = frozenset(role.strip().lower() for role in self.main_proposer_roles)
        object.__setattr__(self, "main_proposer_roles", normalised)
        contacts = frozenset(role.strip().lower() for role in self.local_contact_roles)
        kinds = frozenset(kind.strip().lower() for kind in self.proprietary_types)
        object.__setattr__(self, "proprietary_types", kinds)
        if self.embargo_days < 0:
            raise SettingsError("ICAT_GATEWAY_EMBARGO_DAYS must not be negative")
        object.__setattr__(self, "local_contact_roles", contacts)
        if not self.collaborator_role.strip():
            raise SettingsError("ICAT_GATEWAY_COLLABORATOR_ROLE must not be blank")

    def _check_notification_settings(self) -> None:
        from gateway.notify.subscriptions import SubscriptionError, parse_subscriptions

        try:
            parse_subscriptions(self.webhooks)
        except SubscriptionError as error:
            raise SettingsError(f"ICAT_GATEWAY_WEBHOOKS: {error}") from None
        if self.delivery_poll_interval <= 0 or self.delivery_backoff < 0:
            raise SettingsError(
                "ICAT_GATEWAY_DELIVERY_POLL_INTERVAL must be positive and "
                "ICAT_GATEWAY_DELIVERY_BACKOFF not negative"
            )
        if self.delivery_max_attempts < 1:
            raise SettingsError("ICAT_GATEWAY_DELIVERY_MAX_ATTEMPTS must be at least 1")

    @property
    def facility_words(self) -> str:
        """The facility's name as the e-mails say it."""
        return self.facility_name or self.facility

    def _check_download_settings(self) -> None:
        if self.downloads not in {"off", "store", "ids"}:
            raise SettingsError(
                f"ICAT_GATEWAY_DOWNLOADS is {self.downloads!r}: use off, store or ids"
            )
        if self.downloads == "store" and not self.data_root:
            raise SettingsError("ICAT_GATEWAY_DOWNLOADS=store needs ICAT_GATEWAY_DATA_ROOT")
        login = (
            self.ids_reader_authenticator,
            self.ids_reader_username,
            self.ids_reader_password,
            self.icat_url,
        )
        if self.downloads == "ids" and not (
            self.ids_url and (self.ids_reader_session or all(login))
        ):
            raise SettingsError(
                "ICAT_GATEWAY_DOWNLOADS=ids needs ICAT_GATEWAY_IDS_URL, and either "
                "ICAT_GATEWAY_IDS_READER_SESSION or ICAT_GATEWAY_IDS_READER_AUTHENTICATOR, "
                "_USERNAME and _PASSWORD with ICAT_GATEWAY_ICAT_URL"
            )

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
        if self.public_url is not None and not _HTTP_URL.fullmatch(self.public_url):
            raise SettingsError(
                f"ICAT_GATEWAY_PUBLIC_URL is {self.public_url!r}: an http(s) URL without a "
                "query, e.g. https://data.facility.eu"
            )
        if self.doi_licence is not None and not _SPDX.fullmatch(self.doi_licence):
            raise SettingsError(
                f"ICAT_GATEWAY_DOI_LICENCE is {self.doi_licence!r}: an SPDX licence id, "
                "e.g. CC-BY-4.0"
            )
        if self.doi_registrar != "datacite":
            return
        missing = [
            PREFIX + name.upper()
            for name in ("datacite_repository_id", "datacite_password")
            if not getattr(self, name)
        ]
        if not self.doi_landing_url and not self.public_url:
            missing.append(PREFIX + "DOI_LANDING_URL (or " + PREFIX + "PUBLIC_URL)")
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
    def introspection_enabled(self) -> bool:
        return not self.production if self.introspection is None else self.introspection

    @property
    def federation_sdl_enabled(self) -> bool:
        if self.federation_sdl is None:
            return self.introspection_enabled
        return self.federation_sdl

    @property
    def field_suggestions_enabled(self) -> bool:
        if self.field_suggestions is None:
            return not self.production
        return self.field_suggestions

    @property
    def publish_rules(self) -> PublishRules:
        """Who may publish a DOI, as the policy needs it."""
        return PublishRules(self.access_rules, Publishers(self.publishers))

    @property
    def access_rules(self) -> AccessRules:
        """Who manages a session's access, as the policy needs it."""
        return AccessRules(
            main_proposer_roles=self.main_proposer_roles,
            collaborator_role=self.collaborator_role,
            local_contact_roles=self.local_contact_roles,
            local_contacts_grant=self.local_contacts_grant,
        )

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
