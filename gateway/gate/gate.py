"""The gate: the ASGI endpoint at /graphql that every GraphQL request crosses once."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    ValidationRule,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import VariableValues, get_variable_values
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gateway.auth.principal import ANONYMOUS
from gateway.catalogue.database import is_database_unavailable
from gateway.catalogue.icat_rules.ruleset import RuleBook
from gateway.catalogue.names import ensure_spelled
from gateway.catalogue.visibility import Access
from gateway.compiled.operations import Operations
from gateway.errors import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE, RETRY_AFTER_SECONDS
from gateway.gate.budget import StatementGuard
from gateway.gate.documents import AST_BYTES_PER_CHARACTER, Documents, Entry, digest
from gateway.gate.hooks import GateRequest, Hooks, Observation, Path, Refusal
from gateway.gate.http import (
    GRAPHQL_RESPONSE,
    JSON,
    BodyTooLarge,
    accepts_html,
    charset_is_utf8,
    declared_length,
    encode,
    error_entry,
    header,
    media_type,
    negotiate,
    read_body,
    send_json,
)
from gateway.gate.limits import (
    TOO_MANY_TOKENS,
    LimitExceeded,
    Limits,
    check_static,
    check_tokens,
    cost_of,
)
from gateway.gate.strings import check_strings
from gateway.graphiql.page import GraphiQLPage
from gateway.resolvers.context import RequestContext
from gateway.schema.build import PREPARED_DOCUMENT
from gateway.schema.investigation_search import TEXT_INDEX
from gateway.schema.sources import IndexedSource
from gateway.settings import Settings

logger = logging.getLogger("gateway.gate")

_T = TypeVar("_T")

SCHEMA_RULES = (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule)
"""What makes a document valid for this schema (GraphQL's rules and strawberry's own);
settings add refusals of introspection and of ``_service``."""

BAD_REQUEST = "BAD_REQUEST"
BAD_USER_INPUT = "BAD_USER_INPUT"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
READ_ONLY = "READ_ONLY"
"""A mutation sent to a gateway configured read-only (``ICAT_GATEWAY_READ_ONLY``)."""
BATCHING_NOT_SUPPORTED = "BATCHING_NOT_SUPPORTED"
QUERY_TIMEOUT = "QUERY_TIMEOUT"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
INTERNAL = "INTERNAL_SERVER_ERROR"

MESSAGE_LIMIT = 300
"""Characters of an error message sent or logged: a message may quote its input."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
_PARAMETERS = frozenset({"query", "operationName", "variables", "extensions"})


class _Answered(Exception):
    """The response is already sent (the GraphiQL page)."""


class _ClientGone(Exception):
    """The client disconnected while its request ran."""


def cut(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """A message cut to ``limit`` characters (an error may quote a megabyte of input)."""
    if len(message) <= limit:
        return message
    return message[: limit - 1] + "…"


@dataclass
class _Response:
    status: int
    payload: dict[str, Any] | None = None
    raw_data: str | None = None
    """JSON text of ``data`` rendered by an operation plan."""
    headers: dict[str, str] = field(default_factory=dict)
    path: Path = "refused"
    codes: tuple[str, ...] = ()


class Gate:
    """The ASGI app at ``/graphql``; see :mod:`gateway.gate` for what it does in order."""

    def __init__(
        self,
        schema: Any,
        settings: Settings,
        engine: AsyncEngine,
        read_engine: AsyncEngine,
        page: GraphiQLPage,
        access: Callable[[Scope], Access],
        hooks: Hooks | None = None,
        dois: Any = None,
        downloads: Any = None,
        rule_book: RuleBook | None = None,
    ) -> None:
        self.schema = schema
        self.rule_book = rule_book
        """The catalogue's compiled rules (``icat-rules`` authorization), checked for
        changes before a request's access is taken."""
        self.dois = dois
        self.downloads = downloads
        """The download use cases (``RequestContext.downloads``)."""
        """The DOI use cases the mutations run (``RequestContext.dois``)."""
        self.graphql_schema: GraphQLSchema = schema._schema
        self.settings = settings
        self.engine = engine
        self.read_engine = read_engine
        self.page = page
        self.access = access
        self.hooks = hooks or Hooks()
        self.limits = Limits.of(settings)
        self.documents = Documents(settings.parse_cache_bytes)
        self.operations = (
            Operations(schema, settings, engine.dialect)
            if Operations.applies(settings, engine)
            else None
        )
        self.guard = StatementGuard(settings.request_timeout)
        self._spelled = False
        self.guard.attach(read_engine)
        if engine is not read_engine:
            self.guard.attach(engine)
        rules = list(SCHEMA_RULES)
        if not settings.introspection_enabled:
            rules.append(NoSchemaIntrospectionCustomRule)
        if not settings.federation_sdl_enabled:
            rules.append(NoServiceSdlRule)
        self.rules = tuple(rules)

    # ----------------------------------------------------------------------------------
    # ASGI
    # ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no websockets: there are no subscriptions
        started = time.perf_counter()
        request = GateRequest(
            request_id=_request_id(scope),
            scope=scope,
            method=scope["method"],
            principal=scope.get("principal", ANONYMOUS),
            client=scope["client"][0] if scope.get("client") else None,
        )
        scope["gateway.request_id"] = request.request_id
        media = negotiate(header(scope, b"accept"))
        disconnected = False
        try:
            response = await self._answer(request, media, receive, send)
        except _Answered:
            return
        except _ClientGone:
            disconnected = True
            path: Path = "refused" if request.cost is None else "standard"
            response = _Response(499, path=path, codes=("CLIENT_CLOSED_REQUEST",))
        except Exception:  # a bug (in the gate or a check): masked, logged with the id
            logger.exception("unexpected error in request %s", request.request_id)
            error = error_entry(INTERNAL, "Unexpected error.", requestId=request.request_id)
            response = _Response(500, {"errors": [error]}, codes=(INTERNAL,))
        if not disconnected:
            await self._send(send, request, response, media or JSON)
        self._observe(request, response, started, disconnected)

    async def _answer(
        self, request: GateRequest, media: str | None, receive: Receive, send: Send
    ) -> _Response:
        try:
            return await self._run(request, media, receive, send)
        except Refusal as refusal:
            return self._refused(refusal, media)

    def _refused(self, refusal: Refusal, media: str | None) -> _Response:
        status = refusal.status or self.settings.validation_failure_status
        if media != GRAPHQL_RESPONSE and not refusal.always:
            status = 200  # the legacy media type: every well-formed request gets 200
        if isinstance(refusal, _Invalid):
            entries = refusal.errors
        else:
            entries = [error_entry(refusal.code, cut(refusal.message), **refusal.details)]
        return _Response(
            status, {"errors": entries}, headers=refusal.headers, codes=(refusal.code,)
        )

    async def _run(
        self, request: GateRequest, media: str | None, receive: Receive, send: Send
    ) -> _Response:
        scope = request.scope
        wants_page = request.method == "GET" and accepts_html(scope)
        if wants_page and self.settings.graphiql and not scope.get("query_string"):
            page = self.page.render(Request(scope))
            await page(scope, receive, send)
            raise _Answered
        if media is None:
            raise _http(
                406,
                NOT_ACCEPTABLE,
                "Accept names no media type this endpoint serves "
                f"(it serves {GRAPHQL_RESPONSE} and {JSON}).",
            )
        if request.method == "GET":
            parameters = self._from_url(scope)
        elif request.method == "POST":
            parameters = await self._from_body(request, receive)
        else:
            raise _http(
                405,
                METHOD_NOT_ALLOWED,
                "GraphQL is served by GET and POST.",
                headers={"Allow": "GET, POST"},
            )
        started = time.monotonic()  # the body is read: the request's budget begins
        self._take(request, parameters)
        for check in self.hooks.received:
            await check(request)
        if request.query is None:
            raise _http(400, BAD_REQUEST, "The request has no query.")
        entry = self._parse(request.query)
        request.document = entry.document
        operation = _operation(entry.document, request.operation_name)
        request.operation_type = operation.operation.value
        if request.operation_name is None and operation.name is not None:
            request.operation_name = operation.name.value  # for observers: the one there is
        if request.method == "GET" and operation.operation != OperationType.QUERY:
            raise _http(
                405,
                METHOD_NOT_ALLOWED,
                "Only queries may be sent with GET; send mutations with POST.",
                headers={"Allow": "POST"},
            )
        if operation.operation == OperationType.MUTATION and self.settings.read_only:
            raise Refusal(
                READ_ONLY,
                "This gateway is read-only (ICAT_GATEWAY_READ_ONLY): it runs no mutation.",
                status=403,
            )
        self._check(entry, operation)
        coerced = self._coerce(operation, request.variables)
        check_strings(entry.document, {**(request.variables or {}), **coerced.coerced})
        request.cost = self._cost(entry, operation, coerced)
        for check in self.hooks.validated:
            await check(request)
        return await self._guarded(
            self._execute(request, entry, operation, coerced), receive, started
        )

    async def run_for_page(
        self,
        scope: Scope,
        receive: Receive,
        query: str,
        variables: dict[str, Any],
        operation_name: str,
        context: RequestContext,
    ) -> Any:
        """Run a query the gateway sends on a caller's behalf to build a page (a DOI's
        landing page): through the same checks as a request to /graphql (the ``received``
        checks: rate limits; the limits and the cost; the ``validated`` checks: the cost
        budget), within the same time budget, seen by the same observers. Answers
        strawberry's ExecutionResult; raises :class:`Refusal` as the gate would refuse."""
        started = time.perf_counter()
        request = GateRequest(
            request_id=str(scope.get("gateway.request_id") or _request_id(scope)),
            scope=scope,
            method="GET",
            principal=scope.get("principal", ANONYMOUS),
            client=scope["client"][0] if scope.get("client") else None,
            query=query,
            operation_name=operation_name,
            variables=variables,
        )
        scope["gateway.request_id"] = request.request_id
        response = _Response(200, path="standard")
        try:
            for check in self.hooks.received:
                await check(request)
            budget = time.monotonic()
            entry = self._parse(query)
            request.document = entry.document
            operation = _operation(entry.document, operation_name)
            request.operation_type = operation.operation.value
            self._check(entry, operation)
            request.cost = self._cost(entry, operation, self._coerce(operation, variables))
            for check in self.hooks.validated:
                await check(request)
            context.extra[PREPARED_DOCUMENT] = entry.document
            result = await self._guarded(
                self.schema.execute(
                    query,
                    variable_values=variables,
                    context_value=context,
                    operation_name=operation_name,
                ),
                receive,
                budget,
            )
            response.codes = tuple(
                str((e.extensions or {}).get("code", INTERNAL)) for e in result.errors or ()
            )
            return result
        except Refusal as refusal:
            response = _Response(refusal.status or 400, codes=(refusal.code,))
            raise
        except _ClientGone:
            response = _Response(499, path="standard", codes=("CLIENT_CLOSED_REQUEST",))
            raise Refusal("CLIENT_CLOSED_REQUEST", "The client left.", status=499) from None
        finally:
            self._observe(request, response, started, response.status == 499)

    # ----------------------------------------------------------------------------------
    # Reading the request
    # ----------------------------------------------------------------------------------

    def _from_url(self, scope: Scope) -> dict[str, Any]:
        raw = bytes(scope.get("query_string", b""))
        if len(raw) > self.settings.max_body_bytes:
            raise _http(
                413,
                REQUEST_TOO_LARGE,
                f"The request's URL is too long; at most {self.settings.max_body_bytes} bytes.",
            )
        parameters: dict[str, Any] = {}
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="replace")
        for name, value in pairs:
            if name in ("variables", "extensions") and value:
                parameters[name] = self._json(value.encode())
            elif name in _PARAMETERS:
                parameters[name] = value if value or name == "query" else None
        return parameters

    async def _from_body(self, request: GateRequest, receive: Receive) -> Any:
        content_type = header(request.scope, b"content-type")
        if media_type(content_type) != JSON or not charset_is_utf8(content_type):
            raise _http(
                415, UNSUPPORTED_MEDIA_TYPE, "Send GraphQL requests as application/json (UTF-8)."
            )
        limit = self.settings.max_body_bytes
        try:
            async with asyncio.timeout(self.settings.body_timeout):
                body, connected = await read_body(receive, limit, declared_length(request.scope))
        except BodyTooLarge:
            raise _http(
                413, REQUEST_TOO_LARGE, f"The request body is larger than {limit} bytes."
            ) from None
        except TimeoutError:
            raise _http(
                408,
                REQUEST_TIMEOUT,
                f"The request body did not arrive within {self.settings.body_timeout:g} s.",
                headers={"Connection": "close"},
            ) from None
        if not connected:
            raise _ClientGone
        request.body_bytes = len(body)
        if not body.strip():
            raise _http(400, BAD_REQUEST, "The request has no body.")
        return self._json(body)

    def _json(self, raw: bytes) -> Any:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            if "depth limit" in str(error).lower():
                raise _http(400, BAD_USER_INPUT, "The request's JSON nests too deeply.") from None
            raise _http(400, BAD_REQUEST, "The request body is not valid JSON.") from None

    def _take(self, request: GateRequest, parameters: Any) -> None:
        if isinstance(parameters, list):
            raise _http(
                400,
                BATCHING_NOT_SUPPORTED,
                "Batched requests (a JSON array) are not supported: send one "
                "operation per request.",
            )
        if not isinstance(parameters, dict):
            raise _http(400, BAD_REQUEST, "The request body must be a JSON object.")
        query = parameters.get("query")
        name = parameters.get("operationName")
        variables = parameters.get("variables")
        extensions = parameters.get("extensions")
        if query is not None and not isinstance(query, str):
            raise _http(400, BAD_REQUEST, "query must be a string.")
        if name is not None and not isinstance(name, str):
            raise _http(400, BAD_REQUEST, "operationName must be a string.")
        if variables is not None and not isinstance(variables, dict):
            raise _http(400, BAD_REQUEST, "variables must be an object.")
        if extensions is not None and not isinstance(extensions, dict):
            raise _http(400, BAD_REQUEST, "extensions must be an object.")
        if variables and _nesting(variables) > self.settings.max_variable_depth:
            raise _http(
                400,
                BAD_USER_INPUT,
                f"The variables nest deeper than {self.settings.max_variable_depth} levels.",
            )
        request.query = query
        request.operation_name = name
        request.variables = variables
        request.extensions = extensions

    # ----------------------------------------------------------------------------------
    # Parsing, validation, limits
    # ----------------------------------------------------------------------------------

    def _parse(self, query: str) -> Entry:
        key = digest(query)
        entry = self.documents.get(key)
        if entry is not None:
            return entry
        check_tokens(
            query,
            self.settings.max_query_tokens,
            # selection sets, and input objects and lists inside them
            max(self.limits.max_depth, self.limits.max_introspection_depth)
            + self.settings.max_variable_depth,
        )
        try:
            document = parse(
                IndexedSource(query), no_location=False, max_tokens=self.settings.max_query_tokens
            )
        except GraphQLError as error:
            if "tokens" in error.message and "Parsing aborted" in error.message:
                raise LimitExceeded(
                    TOO_MANY_TOKENS,
                    f"The document has more than {self.settings.max_query_tokens} tokens.",
                    self.settings.max_query_tokens,
                ) from None
            raise Refusal(PARSE_FAILED, self._message(error.message), status=400) from None
        entry = Entry(document, len(query) * AST_BYTES_PER_CHARACTER)
        self.documents.put(key, entry)
        return entry

    def _check(self, entry: Entry, operation: OperationDefinitionNode) -> None:
        """The static limits, then validation; both kept with the document."""
        key = operation.name.value if operation.name else None
        refusal = entry.facts.get(("limits", key), _UNSET)
        if refusal is _UNSET:
            try:
                check_static(self.limits, entry.document, operation)
                refusal = None
            except LimitExceeded as exceeded:
                refusal = exceeded
            entry.facts[("limits", key)] = refusal
        if refusal is not None:
            raise refusal.with_traceback(None)  # a kept exception: no growing traceback
        if entry.errors is None:
            entry.errors = validate(self.graphql_schema, entry.document, self.rules)
        if entry.errors:
            raise _Invalid(
                VALIDATION_FAILED, [self._formatted(e, VALIDATION_FAILED) for e in entry.errors]
            )

    def _cost(
        self, entry: Entry, operation: OperationDefinitionNode, coerced: VariableValues
    ) -> int:
        """The operation's cost (or its refusal); kept with the document when no variable
        can change it."""
        if operation.variable_definitions:
            return cost_of(self.limits, self.graphql_schema, entry.document, operation, coerced)
        key = ("cost", operation.name.value if operation.name else None)
        known = entry.facts.get(key)
        if known is None:
            try:
                known = cost_of(
                    self.limits, self.graphql_schema, entry.document, operation, coerced
                )
            except LimitExceeded as exceeded:
                known = exceeded
            entry.facts[key] = known
        if isinstance(known, LimitExceeded):
            raise known.with_traceback(None)
        return int(known)

    def _coerce(
        self, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
    ) -> VariableValues:
        definitions = operation.variable_definitions
        if not definitions:
            return VariableValues({}, {})
        coerced = get_variable_values(
            self.graphql_schema, definitions, dict(variables or {}), max_errors=10
        )
        if isinstance(coerced, list):
            raise _Invalid(BAD_USER_INPUT, [self._formatted(e, BAD_USER_INPUT) for e in coerced])
        return coerced

    def _formatted(self, error: GraphQLError, code: str) -> dict[str, Any]:
        formatted: dict[str, Any] = dict(error.formatted)
        formatted["message"] = self._message(error.message)
        formatted["extensions"] = {**(error.extensions or {}), "code": code}
        return formatted

    def _message(self, message: str) -> str:
        if not self.settings.field_suggestions_enabled:
            message = _SUGGESTION.sub("", message)
        return cut(message)

    # ----------------------------------------------------------------------------------
    # Execution
    # ----------------------------------------------------------------------------------

    async def _guarded(self, work: Awaitable[_T], receive: Receive, started: float) -> _T:
        """Run within what is left of the request's time budget (the gate's own checks,
        since ``started``, spent the rest of it); cancel its statements if the budget runs
        out or the client leaves."""
        left = self.settings.request_timeout - (time.monotonic() - started)
        with self.guard.tracking() as statements:
            task = asyncio.ensure_future(work)
            watcher = asyncio.ensure_future(_disconnected(receive))
            try:
                done, _ = await asyncio.wait(
                    {task, watcher},
                    timeout=max(left, 0.0),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                watcher.cancel()
            if task in done:
                try:
                    return task.result()
                except Exception as error:
                    if is_database_unavailable(error):
                        logger.warning("database unavailable: %r", error)
                        raise _unavailable() from None
                    raise
            task.cancel()
            statements.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if watcher in done and not watcher.cancelled():
                raise _ClientGone
            raise Refusal(
                QUERY_TIMEOUT,
                f"The request ran longer than its {self.settings.request_timeout:g} s "
                "budget; its statements were cancelled.",
                status=503,
            )

    async def _execute(
        self,
        request: GateRequest,
        entry: Entry,
        operation: OperationDefinitionNode,
        coerced: VariableValues,
    ) -> _Response:
        assert request.query is not None
        if not self._spelled:  # ICAT's names, before anything is compiled ahead of a run
            for engine in (self.engine, self.read_engine):
                await ensure_spelled(engine)
            self._spelled = True
        if self.rule_book is not None:
            await self.rule_book.refresh(self.read_engine)
        access = self.access(request.scope)
        arguments = (request.query, request.operation_name, request.variables)
        outcome = None
        if self.operations is not None and operation.operation == OperationType.QUERY:
            outcome = await self.operations.answer(
                self.read_engine,
                *arguments,
                access,
                document=entry.document,
                coerced=coerced.coerced,
            )
            if outcome.text is not None:
                return _Response(200, raw_data=outcome.text, path="planned")
        context = RequestContext(
            engine=self.read_engine,
            write_engine=self.engine,
            settings=self.settings,
            access=access,
            request=Request(request.scope),
            json_fragments=True,
            request_id=request.request_id,
            dois=self.dois,
            downloads=self.downloads,
        )
        context.extra[PREPARED_DOCUMENT] = entry.document
        result = await self.schema.execute(
            request.query,
            variable_values=request.variables,
            context_value=context,
            operation_name=request.operation_name,
        )
        if outcome is not None and outcome.learn and not result.errors and result.data:
            assert self.operations is not None
            self.operations.learn(
                *arguments,
                access,
                document=entry.document,
                text_index=context.extra.get(TEXT_INDEX),
            )
        payload: dict[str, Any] = {}
        codes: list[str] = []
        if result.errors:
            errors = []
            for error in result.errors:
                formatted = error.formatted
                formatted["message"] = self._message(str(formatted.get("message", "")))
                errors.append(formatted)
                codes.append(str((error.extensions or {}).get("code", INTERNAL)))
            payload["errors"] = errors
        payload["data"] = result.data
        if DATABASE_UNAVAILABLE in codes:
            # The database failed, not the request: 503, so that clients and load
            # balancers retry (with the partial data and the errors, as they came).
            return _Response(
                503,
                payload,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                path="standard",
                codes=tuple(codes),
            )
        # Execution began: the response has ``data`` (null, maybe), which is a 200.
        return _Response(200, payload, path="standard", codes=tuple(codes))

    # ----------------------------------------------------------------------------------
    # Answering
    # ----------------------------------------------------------------------------------

    async def _send(
        self, send: Send, request: GateRequest, response: _Response, media: str
    ) -> None:
        if response.raw_data is not None:
            body = b'{"data":' + response.raw_data.encode() + b"}"
        else:
            body = encode(response.payload)
        status = response.status
        headers = {"X-Request-ID": request.request_id, **response.headers}
        await send_json(
            send,
            status,
            body,
            media,
            headers,
            extra=((b"cache-control", b"no-store"),) if status >= 400 else (),
        )
        response.status = status

    def _observe(
        self, request: GateRequest, response: _Response, started: float, disconnected: bool
    ) -> None:
        observation = Observation(
            request_id=request.request_id,
            path=response.path,
            status=response.status,
            duration=time.perf_counter() - started,
            operation_name=request.operation_name,
            operation_type=request.operation_type,
            error_codes=response.codes,
            cost=request.cost,
            request=request,
            disconnected=disconnected,
        )
        for observer in self.hooks.observers:
            try:
                observer(observation)
            except Exception:  # an observer must never fail a request
                logger.exception("observer %r failed", observer)


_UNSET = object()


class NoServiceSdlRule(ValidationRule):
    """Refuse federation's ``_service`` where the SDL is not served (``federation_sdl``):
    it is the whole schema, as introspection is, and strawberry answers it whatever the
    introspection setting."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.context.get_parent_type()
        if node.name.value == "_service" and parent is self.context.schema.query_type:
            self.report_error(
                GraphQLError(
                    "The subgraph's SDL (_service) is not served here, as introspection "
                    "is not: compose from schema.graphql, or set ICAT_GATEWAY_FEDERATION_SDL.",
                    node,
                )
            )


class _Invalid(Refusal):
    """A validation or variable-coercion failure: one entry per error."""

    def __init__(self, code: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(code, str(errors[0]["message"]) if errors else code, status=0)
        self.errors = errors


def _http(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Refusal:
    """A refusal about the HTTP request itself: this status whatever the media type."""
    return Refusal(code, message, status=status, headers=headers, always=True)


def _unavailable() -> Refusal:
    return Refusal(
        DATABASE_UNAVAILABLE,
        DATABASE_UNAVAILABLE_MESSAGE,
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        always=True,
    )


def _request_id(scope: Scope) -> str:
    given = header(scope, b"x-request-id")
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == name]
        if not operations:
            raise Refusal(BAD_REQUEST, "No operation of that name in the document.", status=400)
    if len(operations) != 1:
        raise Refusal(
            BAD_REQUEST,
            "The document has several operations: name one with operationName."
            if operations
            else "The document has no operation.",
            status=400,
        )
    return operations[0]


def _nesting(value: Any) -> int:
    """How deep a JSON value nests (iteratively: the value may nest thousands deep)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        current, level = pending.pop()
        if isinstance(current, dict):
            deepest = max(deepest, level)
            pending.extend((v, level + 1) for v in current.values())
        elif isinstance(current, list):
            deepest = max(deepest, level)
            pending.extend((v, level + 1) for v in current)
    return deepest


async def _disconnected(receive: Receive) -> None:
    """Return when the client disconnects (the body is read: nothing else may come)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
