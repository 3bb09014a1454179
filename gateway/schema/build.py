"""The schema object: root types, federation, and the extensions every request runs through."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from gateway.catalogue.database import is_statement_timeout
from gateway.errors import GatewayError
from gateway.schema.dataset import Datafile, Dataset
from gateway.schema.execution import FastLeafExecutionContext
from gateway.schema.facility import Facility, Instrument
from gateway.schema.investigation import Investigation
from gateway.schema.mutation import Mutation
from gateway.schema.people import User
from gateway.schema.publication import DataPublication
from gateway.schema.query import Query
from gateway.schema.sample import Sample, Technique
from gateway.schema.scalars import SCALARS

logger = logging.getLogger("gateway.errors")


PREPARED_DOCUMENT = "gateway.prepared_document"
"""Key of ``RequestContext.extra`` under which the request gate leaves the document it
parsed and validated (``gateway.gate``): strawberry neither parses nor validates again."""


class PreparedDocument(SchemaExtension):
    """Use the request gate's document: parsed once, validated once, with its limits."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context.context
        document = getattr(context, "extra", {}).get(PREPARED_DOCUMENT)
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
        extensions: dict[str, Any] = {"code": "INTERNAL_SERVER_ERROR"}
        request_id = getattr(self.execution_context.context, "request_id", None)
        if request_id is not None:
            extensions["requestId"] = request_id
        return GraphQLError(
            message=self.error_message, nodes=error.nodes, path=error.path, extensions=extensions
        )


class GatewaySchema(strawberry.federation.Schema):
    """Logs what clients cannot fix; client errors are answered, not logged as failures."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, GatewayError | GraphQLError):
                if is_statement_timeout(original):
                    logger.warning("statement timed out at %s", error.path)
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


def create_schema() -> GatewaySchema:
    """The gateway's schema (Apollo Federation 2 subgraph).

    Requests over HTTP are parsed, validated and limited by the request gate
    (``gateway.gate``) and reach the schema with their document; in-process callers
    (tests, the CLI) are parsed and validated the standard way, without limits.
    """
    extensions: list[Any] = [PreparedDocument, CodedErrors]
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
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
        ],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=dict(SCALARS)),
        execution_context_class=FastLeafExecutionContext,
    )
