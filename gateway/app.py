"""The ASGI application: GraphQL at /graphql (GraphiQL in development), /healthz, and in
embedded demo mode the development OIDC issuer at /dev/oidc."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from gateway.auth.backend import AuthenticationMiddleware, RequestAuthenticator
from gateway.auth.demo_issuer import ISSUER, DemoIssuer, new_signing_key
from gateway.auth.icat_session import ICATSessionVerifier
from gateway.auth.oidc import OIDCConfig, OIDCVerifier
from gateway.auth.policy import Caller
from gateway.auth.principal import ANONYMOUS, Principal
from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.secrets import stored_secret
from gateway.catalogue.visibility import Access
from gateway.compiled.operations import Operations
from gateway.doi.configured import configured_registrar, landing_url
from gateway.graphiql.assets import STATIC_DIR, installed
from gateway.graphiql.page import GraphiQLPage, ImmutableFiles
from gateway.resolvers.context import RequestContext
from gateway.schema.build import create_schema as create_graphql_schema
from gateway.settings import Settings
from gateway.usecases.doi_metadata import publication_attributes
from gateway.usecases.doi_saga import DoiSagas
from gateway.usecases.dois import DoiPolicy, DoiUseCases

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
    return Caller(user_name=principal.user_name, is_staff=staff)


def now_utc() -> datetime:
    """The request's instant. ICAT stores naive timestamps in the facility's time; the
    gateway treats them as UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class GraphQLEndpoint(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with the gateway's context and a faster JSON encoder."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        read_engine: AsyncEngine | None = None,
        page: GraphiQLPage | None = None,
        dois: DoiUseCases | None = None,
    ) -> None:
        super().__init__(
            create_graphql_schema(
                max_depth=settings.max_query_depth, namespace=settings.federation_namespace
            ),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self.page = page or GraphiQLPage(installed(), missing_from=str(STATIC_DIR))
        self.engine = engine
        # Reads need no transaction: in autocommit, a query is one round trip instead of
        # three (BEGIN, the query, the ROLLBACK when the connection goes back to the pool).
        self.read_engine = read_engine or engine.execution_options(isolation_level="AUTOCOMMIT")
        self.settings = settings
        self.dois = dois
        self.operations = (
            Operations(self.schema, settings, engine.dialect)
            if Operations.applies(settings, engine)
            else None
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """The package's own GraphiQL page (strawberry's loads it from a CDN)."""
        return self.page.render(request)

    def access(self, scope: Scope) -> Access:
        """Who asks (put in the scope by the authentication middleware), and when. The
        caller's roles are looked up inside the statements that need them."""
        principal: Principal = scope.get("principal", ANONYMOUS)
        return Access(caller=caller_of(principal, self.settings), now=now_utc())

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        return RequestContext(
            engine=self.read_engine,
            write_engine=self.engine,
            settings=self.settings,
            access=self.access(request.scope),
            request=request,
            response=response,
            json_fragments=True,
            dois=self.dois,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A JSON POST of a query with an operation plan is answered here, before
        strawberry reads the request: its JSON is the statement's, as it came."""
        if self.operations is not None and scope["type"] == "http" and _posts_json(scope):
            body = await _read_body(receive)
            if await self._answer_planned(scope, body, send):
                return
            receive = _replay(body, receive)
        await super().__call__(scope, receive, send)

    async def _answer_planned(self, scope: Scope, body: bytes, send: Send) -> bool:
        assert self.operations is not None
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(request, dict) or not request.keys() <= _PLANNED_KEYS:
            return False
        query, name = request.get("query"), request.get("operationName")
        variables = request.get("variables")
        if not isinstance(query, str) or not isinstance(name, str | None):
            return False
        if not isinstance(variables, dict | None):
            return False
        access = self.access(scope)
        outcome = await self.operations.answer(self.read_engine, query, name, variables, access)
        if outcome.text is None:
            scope[_OUTCOME] = outcome  # the standard path need not ask again
            return False
        answer = b'{"data":' + outcome.text.encode() + b"}"
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        return True

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """A query with an operation plan is answered by its one statement
        (``gateway.compiled.operations``); any other runs the standard way, and a query
        that ran cleanly gets a plan for the next time."""
        operations = self.operations
        if operations is None or request_data.query is None:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        arguments = (request_data.query, request_data.operation_name, request_data.variables)
        # A JSON POST was tried on its way in (see __call__).
        outcome = request.scope.get(_OUTCOME)
        if outcome is None:
            outcome = await operations.answer(context.engine, *arguments, context.access)
        if outcome.text is not None:
            return ExecutionResult(data=orjson.Fragment(outcome.text), errors=None)  # type: ignore[arg-type]
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if outcome.learn and not result.errors and result.data is not None:
            operations.learn(*arguments, context.access)
        return result

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)


_OUTCOME = "gateway.operation_plan"
_PLANNED_KEYS = frozenset({"query", "variables", "operationName"})


def _posts_json(scope: Scope) -> bool:
    if scope["method"] != "POST":
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == b"application/json")
    return False


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # a disconnect: what was read is all there is
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives the body already read, then the connection's own."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> Starlette:
    """The gateway application; pass an engine to share one (tests, benchmarks)."""
    settings = settings or Settings.from_env()
    owns_engine = engine is None
    read_engine = None
    if engine is None:
        # Two pools: reads in autocommit on connections that stay so (switching a pooled
        # connection's isolation level on every checkout costs more than the query), and
        # a small one for the mutations' transactions.
        read_engine = create_engine(
            settings, isolation_level="AUTOCOMMIT", pool_reset_on_return=None
        )
        engine = create_engine(settings, **_write_pool(settings))
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
    dois = doi_use_cases(settings, engine)
    graphql = GraphQLEndpoint(engine, settings, read_engine, page, dois)

    async def healthz(_: Request) -> Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:  # a health check reports, it does not raise
            return JSONResponse(
                {"status": "unavailable", "database": type(error).__name__}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(started: Starlette) -> AsyncIterator[None]:
        await create_schema(engine, embedded=settings.embedded)
        if issuer is not None:
            # One key for every worker: the first to start makes it, the others read it.
            issuer.use_key(await stored_secret(engine, DEMO_SIGNING_KEY, new_signing_key))
        # DOIs a crash or an outage left midway are driven on in the background; sagas
        # another replica drives now are left to it (their leases).
        reconciling = asyncio.create_task(_reconcile_at_start(dois.sagas))
        reconciling.add_done_callback(lambda _: started.state.doi_reconciled.set())
        try:
            yield
        finally:
            reconciling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reconciling
            await http.aclose()
            if issuer_http is not None:
                await issuer_http.aclose()
            if owns_engine:
                await engine.dispose()
            if read_engine is not None:
                await read_engine.dispose()

    async def welcome(_: Request) -> Response:
        if settings.graphiql:
            return RedirectResponse("/graphql", status_code=307)
        return PlainTextResponse("icat-gateway: POST GraphQL queries to /graphql\n")

    routes: list[BaseRoute] = [
        Route("/", welcome, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if settings.graphiql and bundle is not None:
        routes.append(Mount(f"/static/{bundle.tag}", ImmutableFiles(directory=bundle.directory)))
    if issuer is not None:
        routes.extend(issuer.routes())
    app = Starlette(debug=settings.debug, routes=routes, lifespan=lifespan)
    app.add_middleware(
        AuthenticationMiddleware, authenticator=RequestAuthenticator(oidc, icat, demo=demo)
    )
    app.state.engine = engine
    app.state.graphql = graphql
    app.state.settings = settings
    app.state.demo_issuer = issuer
    app.state.doi_reconciled = threading.Event()
    """Set once the start-up reconciliation of DOIs has ended (tests wait for it)."""
    return app


def doi_use_cases(settings: Settings, engine: AsyncEngine) -> DoiUseCases:
    """The DOI mutations over the configured registrar (DataCite, or the local one)."""
    registrar = configured_registrar(settings, engine)
    sagas = DoiSagas(
        engine=engine,
        registrar=registrar,
        metadata=publication_attributes,
        landing_url=lambda doi: landing_url(settings, doi),
        clock=now_utc,
    )
    return DoiUseCases(sagas, DoiPolicy(settings.facility, settings.main_proposer_roles))


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
        return {}  # no pool: a connection per checkout
    return {
        "pool_size": max(2, settings.database_pool_size // 4),
        "max_overflow": settings.database_max_overflow,
    }
