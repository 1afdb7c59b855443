"""A local OTLP/HTTP trace receiver: decodes the protobuf `ExportTraceServiceRequest` bodies that
OpenTelemetry exporters POST to /v1/traces and keeps every span, for tests to check the tree."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse,
)

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, read_request, send_json


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as exported: ids in hex, attributes as Python values, status code (0 unset, 1 ok, 2 error)."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict
    status: int
    service: str


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


class OtlpReceiver(LocalServer):
    """`with OtlpReceiver() as r:` serves on a free port; `r.url` is the exporter's endpoint."""

    name = "otlp-receiver"

    def __init__(self):
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()

    def _handler(self):
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self):
                path, _, raw, _ = read_request(self)
                if path != "/v1/traces":
                    return send_json(self, 404, b"{}")
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                request = ExportTraceServiceRequest()
                request.ParseFromString(raw)
                receiver._keep(request)
                send_json(self, 200, ExportTraceServiceResponse().SerializeToString(),
                          content_type="application/x-protobuf")

        return Handler

    def _keep(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(ReceivedSpan(span.name, span.trace_id.hex(), span.span_id.hex(),
                                              span.parent_span_id.hex(), {a.key: _value(a.value) for a in span.attributes},
                                              span.status.code, str(resource.get("service.name", ""))))
        with self._lock:
            self.spans += found
            self.requests += 1

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)
