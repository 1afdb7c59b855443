"""The metrics store: each pipeline unit's last run, one JSON document per unit in an object store
(`MULTICLOUD_METRICS_URL`), written by the flows' publishing task from any worker, and read back by
the exporter as one Prometheus text exposition."""

from __future__ import annotations

import io
import json
import os
from typing import Iterable, Iterator

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from multicloud.core.errors import NotFound
from multicloud.core.metrics import FAMILIES, MetricsReport, Sample, StoredMetrics, families_of, fold, store_key
from multicloud.core.objects import ObjectStore

METRICS_URL_ENV = "MULTICLOUD_METRICS_URL"


def metrics_url() -> str | None:
    """The metrics store's URL, or None when this deployment publishes no metrics."""
    return os.environ.get(METRICS_URL_ENV) or None


def read_document(store: ObjectStore, key: str) -> StoredMetrics | None:
    try:
        with store.open(key) as f:
            return StoredMetrics.from_json(json.loads(f.read()))
    except NotFound:
        return None


def publish(store: ObjectStore, report: MetricsReport) -> StoredMetrics:
    """Fold the run's report into its unit's stored document and write it back; returns it."""
    key = store_key(report.pipeline, report.unit)
    document = fold(read_document(store, key), report)
    body = json.dumps(document.to_json(), indent=1).encode()
    store.write(key, io.BytesIO(body), size=len(body), content_type="application/json")
    return document


def documents(store: ObjectStore) -> Iterator[StoredMetrics]:
    """Every unit's document (a bucket not yet created holds none)."""
    try:
        keys = [m.key for m in store.list() if m.key.endswith(".json")]
    except NotFound:
        return
    for key in keys:
        doc = read_document(store, key)
        if doc is not None:  # removed between the listing and the read
            yield doc


class _Collector:
    """prometheus_client collector over fixed samples (escaping and the text format are its own)."""

    def __init__(self, samples: Iterable[Sample]):
        self.samples = list(samples)

    def collect(self) -> Iterator[Metric]:
        for name, found in families_of([StoredMetrics("", "", "", "", tuple(self.samples))]).items():
            family = FAMILIES[name]
            names = sorted({k for s in found for k, _ in s.labels})
            metric = (CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily)(
                name, family.help, labels=names)
            for s in found:
                values = dict(s.labels)
                metric.add_metric([values.get(n, "") for n in names], s.value)
            yield metric


def exposition(samples: Iterable[Sample]) -> bytes:
    """The samples as Prometheus text exposition format 0.0.4."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(samples))
    return generate_latest(registry)
