"""Ingesting billing exports: read a source with its cloud's reader, map every chunk to FOCUS,
stage the rows in the dataset by partition, upload the quarantine, keep the control totals.
What the costs flow's tasks and the benchmark both run."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from multicloud.clouds import open_store
from multicloud.engine import dataset as ds
from multicloud.engine.tabular import RawChunk
from multicloud.engine.transfer import prefetch
from multicloud.config import CostSource, Profile
from multicloud.core.costs import aggregate, focus, reconcile
from multicloud.core.costs.mapping import CONTROL_KEYS, normalize_chunk
from multicloud.core.costs.sources import SOURCES

def read_source(source: CostSource, profile: Profile | None = None) -> Iterator[RawChunk]:
    """The raw chunks of one configured export, through its cloud's reader."""
    store = open_store(source.url, profile, source.connection)
    if source.kind == "aws-cur":
        from multicloud.clouds.aws.cur import read_cur
        return read_cur(store, source.periods or None)
    if source.kind == "aws-focus":
        from multicloud.clouds.aws.cur import read_focus_export
        return read_focus_export(store)
    if source.kind == "azure-cost-details":
        from multicloud.clouds.azure.exports import read_cost_details
        amortized = open_store(source.amortized_url, profile, source.connection)
        return read_cost_details(store, amortized, source.periods or None)
    if source.kind == "azure-focus":
        from multicloud.clouds.azure.exports import read_focus_export
        return read_focus_export(store, source.periods or None)
    if source.kind == "gcp-billing-export":
        from multicloud.clouds.gcp.billing_export import read_billing_export
        return read_billing_export(store)
    from multicloud.clouds.gcp.billing_export import read_focus_export
    return read_focus_export(store)


@dataclass
class IngestResult:
    """What one source gave, small enough to hand to the other tasks: counts, control totals
    (all rows, the quarantined and unreadable among them), the exact totals of the staged rows
    (Σ BilledCost and Σ EffectiveCost per reconciliation key), the staged partitions with their
    daily sums, cost by each tag key, and the quarantine file's URL."""

    source: str
    kind: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_written: int = 0
    rows_superseded: int = 0
    rows_quarantined: int = 0
    control: reconcile.Totals = field(default_factory=reconcile.Totals.empty)
    quarantined: reconcile.Totals = field(default_factory=reconcile.Totals.empty)
    unreadable: reconcile.Totals = field(default_factory=reconcile.Totals.empty)
    stored: reconcile.Totals = field(default_factory=reconcile.Totals.empty)
    effective: reconcile.Totals = field(default_factory=reconcile.Totals.empty)
    staged: list[ds.Staged] = field(default_factory=list)
    tags: dict[str, pa.Table] = field(default_factory=dict)
    quarantine_url: str | None = None
    violations: dict[str, int] = field(default_factory=dict)


def ingest(source: CostSource, dataset_url: str, run: str, profile: Profile | None = None, *,
           tag_keys: list[str] | tuple[str, ...] = (), chunks: Iterator[RawChunk] | None = None,
           progress=None) -> IngestResult:
    """Reads and maps one source into a spool on this task's own disk, then stages it in the
    dataset (`dataset.stage`: uploaded, not yet published) and uploads its quarantine file to
    `<dataset>/quarantine/<run>/<source>.jsonl`. Raises MappingError (InvalidInput) naming the
    file and column when a file lacks a required column; unparseable rows are quarantined."""
    result = IngestResult(source.name, source.kind)
    store = open_store(dataset_url, profile)
    with tempfile.TemporaryDirectory(prefix="focus-spool-") as tmp:
        spool = ds.Spool(Path(tmp), source.name)
        quarantine_path = Path(tmp) / "quarantine.jsonl"
        try:
            _read(source, chunks if chunks is not None else read_source(source, profile), spool, quarantine_path,
                  result, progress)
        finally:
            spool.close()
        for provider, period in spool.partitions():
            _read_back(spool.path(provider, period), result, tag_keys)
        if result.rows_quarantined:
            key = f"quarantine/{run}/{source.name}.jsonl"
            with open(quarantine_path, "rb") as f:
                store.write(key, f, size=quarantine_path.stat().st_size, content_type="application/x-ndjson")
            result.quarantine_url = dataset_url.rstrip("/") + "/" + key
        result.staged = ds.stage(store, spool, run, source.name)
    return result


def _read(source: CostSource, chunks: Iterator[RawChunk], spool: ds.Spool, quarantine_path: Path,
          result: IngestResult, progress) -> None:
    spec = SOURCES[source.kind]
    with open(quarantine_path, "w", encoding="utf-8") as quarantine:
        # Reading (download, decompress, parse) runs one chunk ahead of mapping and writing.
        for chunk in prefetch(chunks, depth=2):
            if not result.files or result.files[-1] != chunk.file:
                result.files.append(chunk.file)
            mapped = normalize_chunk(spec, chunk.table(), chunk.file, chunk.first_line)
            spool.write(mapped.focus)
            for violation in focus.validate(mapped.focus):
                rule = f"{violation.column}: {violation.rule}"
                result.violations[rule] = result.violations.get(rule, 0) + violation.rows
            result.rows_read += mapped.read
            result.rows_written += mapped.focus.num_rows
            result.rows_superseded += mapped.superseded
            result.rows_quarantined += len(mapped.quarantine)
            for row in mapped.quarantine:
                quarantine.write(json.dumps({"source": source.name, **row}, ensure_ascii=False) + "\n")
            _add_control(result, mapped.control)
            if progress:
                progress(result)


def _add_control(result: IngestResult, control: pa.Table) -> None:
    targets = {"source": result.control, "quarantined": result.quarantined, "unreadable": result.unreadable}
    for row in control.to_pylist():
        key = (row["ProviderName"], row["BillingAccountId"], reconcile.period_label(row["BillingPeriodStart"]),
               row["BillingCurrency"])
        targets[row["part"]].add(key, row["amount_sum"] or Decimal(0), row["amount_count_all"])


_READ_BACK = list(dict.fromkeys([*CONTROL_KEYS, "BillingPeriodStart", "Tags", *aggregate.MEASURES]))


def _read_back(path: Path, result: IngestResult, tag_keys) -> None:
    """Σ BilledCost and Σ EffectiveCost per reconciliation key, and cost by each tag key, over
    the spooled Parquet file: the bytes the dataset will hold (uploads are checked by SHA-256)."""
    partials: dict[str, list[pa.Table]] = {k: [result.tags[k]] if k in result.tags else [] for k in tag_keys}
    for batch in pq.ParquetFile(path).iter_batches(columns=_READ_BACK, batch_size=500_000):
        table = pa.Table.from_batches([batch])
        grouped = table.group_by(list(CONTROL_KEYS)).aggregate(
            [("BilledCost", "sum"), ("BilledCost", "count"), ("EffectiveCost", "sum")])
        result.stored.add_grouped(grouped, "BilledCost_sum", "BilledCost_count")
        result.effective.add_grouped(grouped, "EffectiveCost_sum", "BilledCost_count")
        for key in tag_keys:
            partials[key].append(aggregate.tag_partial(table, key))
    for key, parts in partials.items():
        result.tags[key] = aggregate.combine_table(parts, aggregate.TAG_KEYS)


def merge_totals(parts: list[reconcile.Totals]) -> reconcile.Totals:
    merged = reconcile.Totals.empty()
    for part in parts:
        for key, amount in part.amounts.items():
            merged.add(key, amount, part.rows.get(key, 0))
    return merged


def reconcile_results(results: list[IngestResult]):
    """The reconciliation table of a run (`core.costs.reconcile.reconcile`) from its ingest results."""
    return reconcile.reconcile(merge_totals([r.control for r in results]), merge_totals([r.quarantined for r in results]),
                               merge_totals([r.stored for r in results]), merge_totals([r.unreadable for r in results]))


def staged(results: list[IngestResult]) -> list[ds.Staged]:
    return [s for r in results for s in r.staged]


def tag_views(results: list[IngestResult], keys: list[str]) -> dict[str, pd.DataFrame]:
    """Cost by each tag key (billing period × currency × provider × tag value) over the run's rows."""
    return {k: aggregate.combine([r.tags[k] for r in results if k in r.tags], aggregate.TAG_KEYS) for k in keys}


def run_summary(run: str, results: list[IngestResult], published: list[ds.Published], reconciliation,
                provider_totals) -> dict:
    """What the flow returns: counts a person (or a test) can check against the artifacts."""
    statuses = {} if provider_totals is None else {
        f"{r.provider}/{r.billing_account}/{r.billing_period}": r.status for r in provider_totals.itertuples()}
    return {"run": run, "rows": sum(r.rows_written for r in results),
            "quarantined": sum(r.rows_quarantined for r in results),
            "partitions": [f"{p.provider}/{p.period}" for p in published], "reconciled": len(reconciliation),
            "provider_totals": statuses}
