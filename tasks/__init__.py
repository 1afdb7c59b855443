"""Prefect tasks by domain: thin I/O adapters. Importing them turns on trace export when
OTEL_EXPORTER_OTLP_ENDPOINT is set (multicloud.engine.tracing), so every flow run, in any worker,
exports its spans."""

from multicloud.engine.tracing import configure_tracing

configure_tracing()
