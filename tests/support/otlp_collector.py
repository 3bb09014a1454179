"""A loopback OpenTelemetry collector: OTLP over HTTP (``POST /v1/traces``, protobuf), as
the OpenTelemetry Collector's ``otlphttp`` receiver speaks it. It keeps every span it is
sent."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.loopback import LoopbackServer, Reply, Request


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, object]


class OTLPCollector(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self._spans: list[ReceivedSpan] = []
        self._spans_lock = threading.Lock()

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != "/v1/traces":
            return Reply(404, {"error": "not found"})
        if request.headers.get("content-type") != "application/x-protobuf":
            return Reply(415, {"error": "protobuf only"})
        export = ExportTraceServiceRequest()
        export.ParseFromString(request.body)
        received: list[ReceivedSpan] = []
        for resource_spans in export.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes={
                                a.key: getattr(a.value, a.value.WhichOneof("value") or "", None)
                                for a in span.attributes
                            },
                        )
                    )
        with self._spans_lock:
            self._spans.extend(received)
        return Reply(
            200,
            ExportTraceServiceResponse().SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        )

    def spans(self) -> list[ReceivedSpan]:
        with self._spans_lock:
            return list(self._spans)
