"""The schema object: root types, federation, and the extensions every request runs through."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import strawberry
from graphql import GraphQLError, parse
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionContext

from gateway.catalogue.database import is_database_unavailable, is_statement_timeout
from gateway.errors import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE, GatewayError
from gateway.schema.dataset import Datafile, Dataset
from gateway.schema.entities import resolve_entities
from gateway.schema.execution import FastLeafExecutionContext
from gateway.schema.facility import Facility, Instrument
from gateway.schema.info import Info
from gateway.schema.investigation import Investigation
from gateway.schema.keys import ENTITY_KEYS, FEDERATION_VERSION, PERSON
from gateway.schema.mutation import Mutation
from gateway.schema.namespace import (
    NamespacedNames,
    namespaced_root,
    person_root_field,
    person_type,
)
from gateway.schema.people import User
from gateway.schema.publication import DataPublication
from gateway.schema.query import Query
from gateway.schema.sample import Sample, Technique
from gateway.schema.scalars import SCALARS
from gateway.schema.sources import IndexedSource

logger = logging.getLogger("gateway.errors")


PREPARED_DOCUMENT = "gateway.prepared_document"
"""Key of ``RequestContext.extra`` under which the request gate leaves the document it
parsed and validated (``gateway.gate``): strawberry neither parses nor validates again."""


class PreparedDocument(SchemaExtension):
    """Use the request gate's document: parsed once, validated once, with its limits."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context.context
        document = getattr(context, "extra", {}).get(PREPARED_DOCUMENT)
        if document is None and self.execution_context.query:
            # Not through the gate (a test, a schema call of the gateway's own): parsed
            # here onto a source that locates errors quickly; a document that does not
            # parse is left to strawberry, which reports the error its way.
            try:
                document = parse(
                    IndexedSource(self.execution_context.query),
                    **self.execution_context.parse_options,
                )
            except GraphQLError:
                document = None
        if document is not None:
            self.execution_context.graphql_document = document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context.context
        if PREPARED_DOCUMENT in getattr(context, "extra", {}):
            self.execution_context.pre_execution_errors = []  # the gate validated it
        yield


def _code_of(error: GraphQLError) -> str | None:
    extensions = error.extensions or {}
    code = extensions.get("code")
    return str(code) if code is not None else None


class CodedErrors(MaskErrors):
    """Every error carries a stable `extensions.code`; unexpected ones are masked.

    Errors raised as ``GatewayError`` keep their message and code; parse and validation
    errors get theirs in ``GatewaySchema.process_errors``. Anything else is a bug: its
    message could leak internals, so the client sees "Unexpected error." with
    INTERNAL_SERVER_ERROR and the log gets the traceback.
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._unexpected)

    @staticmethod
    def _unexpected(error: GraphQLError) -> bool:
        original = error.original_error
        return original is not None and not isinstance(original, GatewayError | GraphQLError)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if error.original_error is not None and is_statement_timeout(error.original_error):
            return GraphQLError(
                message="The statement ran longer than the request's time budget.",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "QUERY_TIMEOUT"},
            )
        if error.original_error is not None and is_database_unavailable(error.original_error):
            return GraphQLError(
                message=DATABASE_UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": DATABASE_UNAVAILABLE},
            )
        extensions: dict[str, Any] = {"code": "INTERNAL_SERVER_ERROR"}
        request_id = getattr(self.execution_context.context, "request_id", None)
        if request_id is not None:
            extensions["requestId"] = request_id
        return GraphQLError(
            message=self.error_message, nodes=error.nodes, path=error.path, extensions=extensions
        )


class GatewaySchema(strawberry.federation.Schema):
    """Logs what clients cannot fix; client errors are answered, not logged as failures.
    Federation's ``_entities`` is answered by ``gateway.schema.entities``: checked,
    batched per entity type, under the caller's visibility."""

    entity_types: Mapping[str, str] = {}
    """The schema's entity type names -> the gateway's (they differ under a namespace)."""
    person_type: type | None = None

    async def entities_resolver(  # type: ignore[override]
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        return await resolve_entities(  # type: ignore[return-value]
            info, representations, self.entity_types, self.person_type
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, GatewayError | GraphQLError):
                if is_statement_timeout(original):
                    logger.warning("statement timed out at %s", error.path)
                    continue
                if is_database_unavailable(original):
                    logger.warning("database unavailable at %s: %r", error.path, original)
                    continue
                context = execution_context.context if execution_context else None
                logger.error(
                    "unexpected error at %s (request %s)",
                    error.path,
                    getattr(context, "request_id", None),
                    exc_info=original,
                )
            elif _code_of(error) is None:
                # Parse and validation errors carry no original exception and no code.
                parse = error.message.startswith("Syntax Error")
                code = "GRAPHQL_PARSE_FAILED" if parse else "GRAPHQL_VALIDATION_FAILED"
                error.extensions = {**(error.extensions or {}), "code": code}


def create_schema(*, namespace: str | None = None, tracing: bool = False) -> GatewaySchema:
    """The gateway's schema: an Apollo Federation subgraph (version ``FEDERATION_VERSION``),
    under a facility's ``namespace`` if given (``gateway.schema.namespace``).

    Requests over HTTP are parsed, validated and limited by the request gate
    (``gateway.gate``) and reach the schema with their document; in-process callers
    (tests, the CLI) are parsed and validated the standard way, without limits.
    """
    extensions: list[Any] = [PreparedDocument, CodedErrors]
    if tracing:
        # A span per operation and per resolver (the process's tracer provider:
        # gateway.ops.tracing); not installed when tracing is off, so it costs nothing.
        from strawberry.extensions.tracing import OpenTelemetryExtension

        extensions.append(OpenTelemetryExtension)
    query: type = Query
    mutation: type = Mutation
    names = NameConverter()
    person: type | None = None
    if namespace is not None:
        person = person_type(namespace)
        query = namespaced_root(Query, namespace, person_root_field(person))
        mutation = namespaced_root(Mutation, namespace)
        names = NamespacedNames(namespace)
    schema = GatewaySchema(
        query=query,
        mutation=mutation,
        types=[
            Investigation,
            Dataset,
            Datafile,
            Facility,
            Instrument,
            User,
            DataPublication,
            Sample,
            Technique,
            *([person] if person is not None else []),
        ],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=dict(SCALARS), name_converter=names),
        execution_context_class=FastLeafExecutionContext,
        federation_version=FEDERATION_VERSION,
    )
    entity_types = {names.from_type(_definition(t)): t for t in ENTITY_KEYS}
    if person is not None:
        entity_types[PERSON] = PERSON
    schema.entity_types = entity_types
    schema.person_type = person
    return schema


_ENTITY_CLASSES: dict[str, type] = {
    "Investigation": Investigation,
    "Dataset": Dataset,
    "Datafile": Datafile,
    "Facility": Facility,
    "Instrument": Instrument,
    "User": User,
    "DataPublication": DataPublication,
    "Technique": Technique,
}


def _definition(type_name: str) -> Any:
    return _ENTITY_CLASSES[type_name].__strawberry_definition__  # type: ignore[attr-defined]
