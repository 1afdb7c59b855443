"""OpenTelemetry traces of every flow and task run, exported over OTLP/HTTP when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set. Prefect 3.9 already opens a span
per flow and task run on the global tracer; this module installs the exporting provider, adds
the cloud, operation, rule/plan/target and outcome attributes, and instruments botocore and
requests so SDK calls are child spans. Unset: nothing is imported and nothing is done."""

from __future__ import annotations

import os
import threading
from typing import Mapping

from multicloud.core import tracing as attrs

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
SERVICE_NAME = "multicloud-ops"
_STATE: dict[str, object] = {}
_LOCK = threading.Lock()


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def configure_tracing(environ: Mapping[str, str] = os.environ) -> bool:
    """Install the OTLP/HTTP exporting tracer provider once per process (the exporter reads its
    endpoint, headers and timeout from the standard OTEL_* variables). True when tracing is on."""
    if not enabled(environ):
        return False
    with _LOCK:
        if "provider" not in _STATE:
            _STATE["provider"] = _install(environ)
    return True


def _install(environ: Mapping[str, str]):
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(RunAttributes(BatchSpanProcessor(OTLPSpanExporter())))
    trace.set_tracer_provider(provider)
    _instrument_sdks()
    return provider


def _instrument_sdks() -> None:
    """botocore (every boto3 call) and requests (Azure's and Google's transports) as child spans."""
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    BotocoreInstrumentor().instrument()
    RequestsInstrumentor().instrument()


def record_outcome(outcome: str) -> None:
    """Say what the current run achieved (e.g. "copied 3"), on its span; nothing when tracing is off."""
    if "provider" in _STATE:
        from opentelemetry import trace

        trace.get_current_span().set_attribute(attrs.OUTCOME, outcome)


def flush(timeout_millis: int = 10_000) -> bool:
    """Export what is buffered now (a short-lived process exports at exit on its own)."""
    provider = _STATE.get("provider")
    return provider.force_flush(timeout_millis) if provider is not None else True


def _cloud_of_scheme() -> dict[str, str]:
    from multicloud.clouds import registry

    return {b.scheme: b.cloud for b in registry.backends() if b.cloud}


def _task_context():
    """(task name, task parameters, flow name, flow parameters) of the task run whose span is
    starting; a flow run's span starts before its context exists, so its first task speaks for it."""
    from prefect.context import FlowRunContext, TaskRunContext

    task_run, flow_run = TaskRunContext.get(), FlowRunContext.get()
    flow = flow_run.flow if flow_run is not None else None
    return (task_run.task.name if task_run else None, (task_run.parameters or {}) if task_run else {},
            flow.name if flow else None, (flow_run.parameters or {}) if flow_run else {})


class RunAttributes:
    """Wraps the exporting processor. On each Prefect run span: the attributes of
    `multicloud.core.tracing.run_attributes`; a flow span takes the cloud, rule and plan of its
    tasks when its own parameters name none; the outcome is added as the ended span is handed on
    (an ended span takes no attribute). It fills in the SDK's SpanProcessor interface without
    subclassing it, so importing this module loads no SDK."""

    def __init__(self, exporting):
        self._exporting = exporting
        self._flows: dict[int, object] = {}
        self._lock = threading.Lock()

    def on_start(self, span, parent_context=None) -> None:
        self._annotate(span)
        self._exporting.on_start(span, parent_context=parent_context)

    def _annotate(self, span) -> None:
        kind = (span.attributes or {}).get("prefect.run.type")
        if kind == "flow":
            with self._lock:
                self._flows[span.context.span_id] = span
            return
        task, parameters, flow, flow_parameters = _task_context() if kind == "task" else (None, {}, None, {})
        if task is None:
            return
        schemes = _cloud_of_scheme()
        found = attrs.run_attributes(task, parameters, schemes)
        span.set_attributes(found)
        with self._lock:
            parent = self._flows.get(span.parent.span_id) if span.parent else None
        if parent is not None:
            self._annotate_flow(parent, found, flow, flow_parameters, schemes)

    @staticmethod
    def _annotate_flow(span, task_found: dict, flow: str | None, parameters: dict, schemes: dict) -> None:
        """The flow's own attributes at its first task, then what it takes from each task."""
        if flow and (span.attributes or {}).get(attrs.OPERATION) is None:
            span.set_attributes(attrs.run_attributes(flow, parameters, schemes))
        span.set_attributes(attrs.inherited(span.attributes or {}, task_found))

    def _on_ending(self, span) -> None:
        pass

    def on_end(self, span) -> None:
        with self._lock:
            self._flows.pop(span.context.span_id, None)
        self._exporting.on_end(_with_outcome(span) if (span.attributes or {}).get("prefect.run.type") else span)

    def shutdown(self) -> None:
        self._exporting.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporting.force_flush(timeout_millis)


def _with_outcome(span):
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import StatusCode

    outcome = attrs.outcome(span.status.status_code != StatusCode.ERROR, span.attributes.get(attrs.OUTCOME))
    return ReadableSpan(name=span.name, context=span.context, parent=span.parent, resource=span.resource,
                        attributes={**span.attributes, attrs.OUTCOME: outcome}, events=span.events, links=span.links,
                        kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
                        instrumentation_scope=span.instrumentation_scope)
