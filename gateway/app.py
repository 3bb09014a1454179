"""The ASGI application: GraphQL at /graphql behind the request gate (``gateway.gate``;
GraphiQL in development), /healthz, /readyz and /metrics (``gateway.ops``), and in
embedded demo mode the development OIDC issuer at /dev/oidc."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.auth.backend import AuthenticationMiddleware, RequestAuthenticator
from gateway.auth.demo_issuer import ISSUER, DemoIssuer, new_signing_key
from gateway.auth.icat_session import ICATSessionVerifier
from gateway.auth.oidc import OIDCConfig, OIDCVerifier
from gateway.auth.policy import Caller
from gateway.auth.principal import ANONYMOUS, Principal
from gateway.auth.reviewer_link import ReviewerLinkVerifier
from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.icat_rules.ruleset import IcatRules, RuleBook, RuleSet
from gateway.catalogue.names import ensure_spelled
from gateway.catalogue.reviewer_links import use_link
from gateway.catalogue.search_documents import index_note
from gateway.catalogue.secrets import stored_secret
from gateway.catalogue.visibility import Access
from gateway.doi.configured import configured_registrar, default_licence, landing_url
from gateway.download_links import download_route
from gateway.downloads.ids import HttpDataService
from gateway.downloads.reader import ConfiguredSession, ICATLogin, ReaderSession
from gateway.downloads.store import DataStore
from gateway.gate import Gate, Hooks, Refusal
from gateway.graphiql.assets import STATIC_DIR, installed
from gateway.graphiql.page import GraphiQLPage, ImmutableFiles
from gateway.landing.pages import LandingPages, PageRefused
from gateway.notify.mail import SmtpMailer
from gateway.notify.messages import Letterhead
from gateway.notify.subscriptions import parse_subscriptions
from gateway.notify.webhooks import WebhookSender
from gateway.notify.worker import DeliveryWorker, WorkerConfig
from gateway.ops.gate_hooks import plug_in
from gateway.ops.health import health_routes
from gateway.ops.request_log import RequestLogMiddleware
from gateway.ops.services import OpsServices
from gateway.ops.tracing import OpenTelemetryMiddleware, Tracing
from gateway.resolvers.context import RequestContext
from gateway.schema.build import create_schema as create_graphql_schema
from gateway.settings import Settings
from gateway.usecases.doi_metadata import publication_attributes
from gateway.usecases.doi_saga import DoiSagas
from gateway.usecases.dois import DoiPolicy, DoiUseCases
from gateway.usecases.downloads import Downloads
from gateway.usecases.session_dois import SessionRegistration

log = logging.getLogger(__name__)

# httpx logs request URLs at INFO, and an ICAT session id is part of the URL.
logging.getLogger("httpx").setLevel(logging.WARNING)

DEMO_SIGNING_KEY = "demo-issuer-signing-key"
"""The name of the development issuer's key in the gateway's GATEWAY_SECRET table."""


def caller_of(principal: Principal, settings: Settings) -> Caller:
    """The policy's view of the principal: staff by configured user name or group."""
    staff = principal.user_name is not None and (
        principal.user_name in settings.staff_users
        or bool(principal.groups & settings.staff_groups)
    )
    return Caller(
        user_name=principal.user_name, is_staff=staff, reviewer_link=principal.reviewer_link
    )


def now_utc() -> datetime:
    """The request's instant. ICAT stores naive timestamps in the facility's time; the
    gateway treats them as UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def access_of(scope: Scope, settings: Settings, rule_book: RuleBook | None = None) -> Access:
    """Who asks (put in the scope by the authentication middleware), and when. The
    caller's roles are looked up inside the statements that need them. Under ICAT's rules
    (``rule_book``), the rules compiled last (none yet: every read denied)."""
    principal: Principal = scope.get("principal", ANONYMOUS)
    caller = caller_of(principal, settings)
    return Access(caller=caller, now=now_utc(), rules=rules_of(caller, settings, rule_book))


def rules_of(caller: Caller, settings: Settings, rule_book: RuleBook | None) -> IcatRules | None:
    """The catalogue's rules as they apply to this caller; None: the built-in policy."""
    if rule_book is None:
        return None
    ruleset = rule_book.ruleset or RuleSet({}, frozenset())
    return IcatRules(
        ruleset,
        root=caller.user_name is not None and caller.user_name in settings.icat_root_users,
        public_landing=settings.icat_rules_public_landing,
    )


def rule_book_of(settings: Settings) -> RuleBook | None:
    """Where the catalogue's compiled rules are kept, under ``icat-rules`` authorization."""
    if settings.authorization != "icat-rules":
        return None
    return RuleBook(settings.icat_rules_refresh)


def create_app(
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    hooks: Hooks | None = None,
) -> Starlette:
    """The gateway application; pass an engine to share one (tests, benchmarks), and
    hooks to plug checks and observers into the request gate."""
    settings = settings or Settings.from_env()
    owns_engine = engine is None
    read_engine = None
    if engine is None:
        # Two pools: reads in autocommit on connections that stay so (switching a pooled
        # connection's isolation level on every checkout costs more than the query), and
        # a small one for the mutations' transactions. Every statement is bounded by the
        # request's time budget on the server too.
        timeout = settings.request_timeout
        read_engine = create_engine(
            settings,
            statement_timeout=timeout,
            isolation_level="AUTOCOMMIT",
            pool_reset_on_return=None,
            # Closing a connection rolls back its "transaction": in autocommit a ROLLBACK
            # sent to the server all the same on MariaDB (one round trip per statement),
            # a thread hop on SQLite. Nothing to roll back in autocommit: not sent.
            skip_autocommit_rollback=True,
        )
        engine = create_engine(settings, statement_timeout=timeout, **_write_pool(settings))
    http = httpx.AsyncClient(timeout=5.0)
    oidc = (
        OIDCVerifier(
            OIDCConfig(
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience,
                username_claim=settings.oidc_username_claim,
                user_prefix=settings.oidc_user_prefix,
                groups_claim=settings.oidc_groups_claim,
            ),
            http,
        )
        if settings.oidc_issuer
        else None
    )
    icat = ICATSessionVerifier(settings.icat_url, http) if settings.icat_url else None
    issuer = DemoIssuer(demo_users()) if settings.demo_login_enabled else None
    # The development issuer's tokens go through the production verifier, which reads the
    # issuer's discovery document and keys over HTTP, answered in-process.
    issuer_http = issuer.client() if issuer is not None else None
    demo = OIDCVerifier(issuer.config, issuer_http) if issuer and issuer_http else None
    bundle = installed()
    page = GraphiQLPage(
        bundle,
        missing_from=str(STATIC_DIR),
        demo_users=issuer.users if issuer else None,
        issuer=ISSUER if issuer else None,
        token_path="/dev/oidc/token" if issuer else None,
    )
    # Reads need no transaction: in autocommit, a query is one round trip instead of
    # three (BEGIN, the query, the ROLLBACK when the connection goes back to the pool).
    reads = read_engine or engine.execution_options(isolation_level="AUTOCOMMIT")
    # Rate limits, persisted queries, the access log and the metrics of every request.
    ops = OpsServices.create(settings)
    hooks = hooks or Hooks()
    plug_in(hooks, ops)
    # Traces by OTLP when an endpoint is configured (gateway.ops.tracing), off otherwise.
    tracing = Tracing.create(settings)
    if tracing is not None:
        tracing.instrument(*{id(e): e for e in (engine, read_engine or engine)}.values())
        tracing.plug_in(hooks)
    dois = doi_use_cases(settings, engine)
    downloads = download_use_cases(settings, engine, http)
    rule_book = rule_book_of(settings)
    gate = Gate(
        create_graphql_schema(namespace=settings.federation_namespace, tracing=tracing is not None),
        settings,
        engine,
        reads,
        page,
        access=lambda scope: access_of(scope, settings, rule_book),
        hooks=hooks,
        dois=dois,
        downloads=downloads,
        rule_book=rule_book,
    )

    worker = delivery_worker(settings, engine, http)

    async def run_for_page(
        scope: Scope,
        receive: Receive,
        query: str,
        variables: dict[str, Any],
        name: str,
        context: RequestContext,
    ) -> Any:
        # A landing page's query crosses the gate as a /graphql request does.
        try:
            return await gate.run_for_page(scope, receive, query, variables, name, context)
        except Refusal as refusal:
            raise PageRefused(
                refusal.status or 400, refusal.code, refusal.message, refusal.headers
            ) from None

    landing_pages = LandingPages(
        run_for_page,
        settings,
        reads,
        engine,
        access=lambda scope: access_of(scope, settings, rule_book),
        dois=dois,
    )

    @contextlib.asynccontextmanager
    async def lifespan(started: Starlette) -> AsyncIterator[None]:
        await create_schema(engine, embedded=settings.embedded, writes=not settings.read_only)
        await ensure_spelled(reads)  # ICAT's names known before any statement is compiled
        if rule_book is not None:
            # Compiled once at start-up, where untranslatable rules are reported.
            await rule_book.refresh(reads, force=True)
        if settings.embedded:
            await _build_search_documents(engine)
        if issuer is not None:
            # One key for every worker: the first to start makes it, the others read it.
            issuer.use_key(await stored_secret(engine, DEMO_SIGNING_KEY, new_signing_key))
        # DOIs a crash or an outage left midway are driven on in the background; sagas
        # another replica drives now are left to it (their leases). A read-only gateway
        # drives none: that writes ICAT's tables.
        reconciling = asyncio.create_task(
            _reconcile_at_start(dois.sagas) if not settings.read_only else asyncio.sleep(0)
        )
        reconciling.add_done_callback(lambda _: started.state.doi_reconciled.set())
        delivering = asyncio.create_task(
            worker.run() if worker is not None else asyncio.sleep(0), name="delivery worker"
        )
        try:
            yield
        finally:
            for task in (reconciling, delivering):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await http.aclose()
            await ops.aclose()
            if issuer_http is not None:
                await issuer_http.aclose()
            if owns_engine:
                await engine.dispose()
            if read_engine is not None:
                await read_engine.dispose()
            if tracing is not None:
                tracing.shutdown()

    async def welcome(_: Request) -> Response:
        if settings.graphiql:
            return RedirectResponse("/graphql", status_code=307)
        return PlainTextResponse("icat-gateway: POST GraphQL queries to /graphql\n")

    routes: list[BaseRoute] = [
        Route("/", welcome, methods=["GET"]),
        # Every method reaches the gate, which answers 405 with Allow in JSON itself.
        Route("/graphql", gate),
        # DOI landing pages (and the DOI's metadata by content negotiation), every spelling
        # of a DOI after /doi/.
        Route("/doi/{doi:path}", landing_pages.answer, methods=["GET", "HEAD"]),
        # Readiness checks the pools requests use: reads first, then mutations'.
        *health_routes(
            [("read", reads), ("write", engine)],
            ops.redis,
            settings.readiness_timeout,
            ops.metrics,
            notes=lambda: index_note(reads, settings.readiness_timeout),
        ),
    ]
    if downloads is not None and downloads.store is not None:
        routes.append(download_route(downloads, reads, now_utc))
    if settings.graphiql and bundle is not None:
        routes.append(Mount(f"/static/{bundle.tag}", ImmutableFiles(directory=bundle.directory)))
    if issuer is not None:
        routes.extend(issuer.routes())
    app = Starlette(debug=settings.debug, routes=routes, lifespan=lifespan)
    # Reviewer links are the gateway's own: their tokens are checked against its tables
    # (on the writer: each use is counted). Under ICAT's rules none opens anything (the
    # rules decide every read), so a token is refused as any unknown one.
    reviewer = (
        None
        if settings.authorization == "icat-rules"
        else ReviewerLinkVerifier(lambda digest: use_link(engine, digest, now_utc()))
    )
    app.add_middleware(
        AuthenticationMiddleware,
        authenticator=RequestAuthenticator(oidc, icat, demo=demo, reviewer=reviewer),
    )
    # The client's address as the configured proxies forwarded it (rate limits, logs);
    # nobody else's X-Forwarded-For is believed.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=sorted(settings.trusted_proxies))
    if settings.cors_origins:
        # A preflight is answered before authentication.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sorted(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-ICAT-Session", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    if ops.metrics is not None:
        ops.metrics.pools = [("read", reads), ("write", engine)]
    # A request id for everything below, the access log line and the metrics.
    app.add_middleware(RequestLogMiddleware, metrics=ops.metrics)
    if tracing is not None:
        # Outermost: the request's trace, whose id the log lines below carry.
        app.add_middleware(OpenTelemetryMiddleware, tracer_provider=tracing.provider)
    app.state.engine = engine
    app.state.read_engine = reads
    """The engine requests read through (/readyz must check it, not only the writer's)."""
    app.state.gate = gate
    app.state.settings = settings
    app.state.demo_issuer = issuer
    app.state.ops = ops
    app.state.delivery_worker = worker
    """The process's delivery worker (None when notifications are off): tests tick it."""
    app.state.doi_reconciled = threading.Event()
    """Set once the start-up reconciliation of DOIs has ended (tests wait for it)."""
    return app


def doi_use_cases(settings: Settings, engine: AsyncEngine) -> DoiUseCases:
    """The DOI mutations over the configured registrar (DataCite, or the local one)."""
    registrar = configured_registrar(settings, engine)
    # A publication adds a HasPart to its sessions' DOI records: those registered are
    # sent again once it is published.
    sessions = SessionRegistration(
        engine=engine,
        registrar=registrar,
        landing_url=lambda doi: landing_url(settings, doi),
        main_proposer_roles=settings.main_proposer_roles,
        facility=settings.facility,
        clock=now_utc,
        default_licence=default_licence(settings),
    )
    sagas = DoiSagas(
        engine=engine,
        registrar=registrar,
        metadata=partial(publication_attributes, default_licence=default_licence(settings)),
        landing_url=lambda doi: landing_url(settings, doi),
        clock=now_utc,
        sessions_changed=sessions.refresh,
    )
    return DoiUseCases(
        sagas,
        DoiPolicy(settings.facility, settings.main_proposer_roles, settings.publish_rules),
    )


def download_use_cases(
    settings: Settings, engine: AsyncEngine, http: httpx.AsyncClient
) -> Downloads | None:
    """The downloads over the configured backend; None when they are off."""
    if settings.downloads == "off":
        return None
    ids = store = None
    if settings.downloads == "ids":
        assert settings.ids_url is not None
        reader: ReaderSession
        if settings.ids_reader_session:
            reader = ConfiguredSession(settings.ids_reader_session)
        else:
            assert settings.icat_url and settings.ids_reader_authenticator
            assert settings.ids_reader_username and settings.ids_reader_password
            reader = ICATLogin(
                settings.icat_url,
                settings.ids_reader_authenticator,
                settings.ids_reader_username,
                settings.ids_reader_password,
                http,
            )
        ids = HttpDataService(settings.ids_url, reader, http)
    else:
        assert settings.data_root is not None
        store = DataStore(Path(settings.data_root))
    return Downloads(engine=engine, settings=settings, ids=ids, store=store)


def delivery_worker(
    settings: Settings, engine: AsyncEngine, http: httpx.AsyncClient
) -> DeliveryWorker | None:
    """The delivery worker of the event log's notifications; None when it is off (or the
    gateway only reads: it writes the deliveries' state)."""
    if not settings.notifications or settings.read_only:
        return None
    subscriptions = parse_subscriptions(settings.webhooks)
    config = WorkerConfig(
        poll_interval=settings.delivery_poll_interval,
        backoff=settings.delivery_backoff,
        max_attempts=settings.delivery_max_attempts,
        lease=timedelta(seconds=settings.delivery_lease),
        rules=settings.access_rules,
        letterhead=Letterhead(settings.facility_words, settings.mail_from, settings.public_url),
        source=settings.public_url or f"urn:icat-gateway:{settings.facility.lower()}",
    )
    return DeliveryWorker(
        engine,
        config,
        mailer=SmtpMailer(settings) if settings.smtp_host else None,
        webhooks=WebhookSender(http) if subscriptions else None,
        subscriptions=subscriptions,
        clock=now_utc,
    )


async def _reconcile_at_start(sagas: DoiSagas) -> None:
    try:
        counts = await sagas.reconcile()
    except Exception:  # start-up goes on; `icat-gateway doi reconcile` says more
        log.exception("DOI reconciliation at start-up failed")
        return
    if any(counts.values()):
        log.info("DOI reconciliation at start-up: %s", counts)


def demo_users() -> tuple[str, ...]:
    """The demo catalogue's fixed users, who can sign in through the development issuer."""
    from gateway.catalogue.demo import AUTHENTICATOR, FIXED_USERS

    logins = sorted(
        (login for login, _given, _family in FIXED_USERS),
        key=lambda login: _PICKER_ORDER.get(login, len(_PICKER_ORDER)),
    )
    return tuple(f"{AUTHENTICATOR}/{login}" for login in logins)


# The picker lists the principal investigator first: their sessions show every rule.
_PICKER_ORDER = {"pi1": 0, "member1": 1, "scientist1": 2, "staff1": 3, "outsider1": 4}


def _write_pool(settings: Settings) -> dict[str, int]:
    """Mutations are few: a quarter of the read pool (at least 2), same overflow."""
    if settings.dialect == "sqlite":
        # One writer at a time in SQLite (BEGIN IMMEDIATE); one pooled connection keeps
        # the worker's own writers queued in the pool rather than on the file's lock.
        return {"pool_size": 1, "max_overflow": settings.database_max_overflow}
    return {
        "pool_size": max(2, settings.database_pool_size // 4),
        "max_overflow": settings.database_max_overflow,
    }


async def _build_search_documents(engine: AsyncEngine) -> None:
    """Embedded mode: the search documents of a catalogue made before them (the demo and
    ingest build their own). Workers starting at once may race: one builds, the others
    log that they did not."""
    from gateway.catalogue.search_documents import refresh_if_never_built

    try:
        done = await refresh_if_never_built(engine)
    except DBAPIError as error:
        logging.getLogger(__name__).warning("search documents not built here: %s", error.orig)
        return
    if done is not None:
        logging.getLogger(__name__).info("search documents built: %d", done.documents)
