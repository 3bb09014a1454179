"""The schema object: root types, federation, and the extensions every request runs through."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

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
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR"},
        )


class GatewaySchema(strawberry.federation.Schema):
    """Logs what clients cannot fix; client errors are answered, not logged as failures."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, GatewayError | GraphQLError):
                logger.error("unexpected error at %s", error.path, exc_info=original)
            elif _code_of(error) is None:
                # Parse and validation errors carry no original exception and no code.
                parse = error.message.startswith("Syntax Error")
                code = "GRAPHQL_PARSE_FAILED" if parse else "GRAPHQL_VALIDATION_FAILED"
                error.extensions = {**(error.extensions or {}), "code": code}


def create_schema(*, max_depth: int = 12) -> GatewaySchema:
    """The gateway's schema (Apollo Federation 2 subgraph)."""
    # The depth rule is built once: the validation cache is keyed by the rule classes, and
    # a QueryDepthLimiter made per request brings a new class each time (a miss, always).
    depth_rules = QueryDepthLimiter(max_depth=max_depth).validation_rules
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(depth_rules),
        lambda: ValidationCache(maxsize=512),
        CodedErrors,
    ]
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
