"""OpenTelemetry traces, exported by OTLP over HTTP when ``ICAT_GATEWAY_OTLP_ENDPOINT`` is
set, off otherwise (nothing is installed then, and nothing costs anything).

One trace a request, with a span for each part:

- the HTTP request (``opentelemetry-instrumentation-asgi``; a ``traceparent`` header from
  a router or a portal continues its trace);
- ``graphql.gate``: parsing, validation, limits and cost, until the request is let
  through or refused (from the gate's ``received`` to its ``validated`` hook);
- ``graphql.operation``: the execution, with ``graphql.answered_by`` (``planned``: one
  statement of an operation plan; ``standard``: strawberry's resolvers, each with a span
  of its own from strawberry's ``OpenTelemetryExtension``);
- every SQL statement through SQLAlchemy (``opentelemetry-instrumentation-sqlalchemy``).

The trace id goes on every log line written while the request runs
(:class:`gateway.ops.request_log.RequestIdFilter`). The provider is the process's global
one, as OpenTelemetry's instrumentations expect: each worker exports its own spans.
"""

from __future__ import annotations

import time

from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.gate.hooks import GateRequest, Hooks, Observation
from gateway.settings import Settings

__all__ = ["OpenTelemetryMiddleware", "Tracing", "current_trace_id"]

_GATE_SPAN = "gateway.tracing.gate"
_OPERATION_START = "gateway.tracing.operation_start"


class Tracing:
    """The process's tracer provider, the engines it instruments and the gate's spans."""

    def __init__(self, settings: Settings) -> None:
        assert settings.otlp_endpoint
        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.otel_service_name})
        )
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        trace.set_tracer_provider(self.provider)
        self.tracer = self.provider.get_tracer("gateway")

    @staticmethod
    def create(settings: Settings) -> Tracing | None:
        return Tracing(settings) if settings.otlp_endpoint else None

    def instrument(self, *engines: AsyncEngine) -> None:
        """A span for every statement these engines run (in one call: the instrumentor is
        one per process and ignores a second ``instrument``)."""
        SQLAlchemyInstrumentor().instrument(
            engines=[engine.sync_engine for engine in engines],
            tracer_provider=self.provider,
            enable_commenter=False,
        )

    def plug_in(self, hooks: Hooks) -> None:
        """The gate's and the operation's spans, first among the gate's hooks."""
        hooks.received.insert(0, self._gate_starts)
        hooks.validated.insert(0, self._gate_passes)
        hooks.observers.insert(0, self._answered)

    async def _gate_starts(self, request: GateRequest) -> None:
        request.scope[_GATE_SPAN] = self.tracer.start_span("graphql.gate")

    async def _gate_passes(self, request: GateRequest) -> None:
        span = request.scope.pop(_GATE_SPAN, None)
        if span is not None:
            span.set_attribute("graphql.operation.type", request.operation_type or "")
            span.set_attribute("graphql.operation.name", request.operation_name or "")
            if request.cost is not None:
                span.set_attribute("graphql.cost", request.cost)
            span.end()
        request.scope[_OPERATION_START] = time.time_ns()

    def _answered(self, observation: Observation) -> None:
        scope = observation.request.scope
        span = scope.pop(_GATE_SPAN, None)
        if span is not None:  # refused before it was let through
            span.set_attribute("graphql.refused", ",".join(observation.error_codes))
            span.end()
        started = scope.pop(_OPERATION_START, None)
        if started is None:
            return
        operation = self.tracer.start_span(
            f"graphql.operation {observation.operation_name or ''}".rstrip(),
            start_time=started,
            attributes={
                "graphql.operation.type": observation.operation_type or "",
                "graphql.operation.name": observation.operation_name or "",
                "graphql.answered_by": observation.path,
                "graphql.error_codes": ",".join(observation.error_codes),
            },
        )
        operation.end()

    def shutdown(self) -> None:
        """Send what is buffered, then stop (a worker stopping)."""
        self.provider.shutdown()


def current_trace_id() -> str | None:
    """The running span's trace id (32 hex digits), for log lines; None outside a trace."""
    span_context = trace.get_current_span(context.get_current()).get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
