"""Ingesting billing exports: read a source with its cloud's reader, map every chunk to FOCUS,
spool the rows by partition, keep the quarantine and the control totals. What the costs flow's
tasks and the benchmark both run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from multicloud.clouds import open_store
from multicloud.engine.dataset import Spool, spooled_partitions
from multicloud.engine.tabular import RawChunk
from multicloud.engine.transfer import prefetch
from multicloud.config import CostSource, Profile
from multicloud.core.costs import aggregate, focus, reconcile
from multicloud.core.costs.mapping import CONTROL_KEYS, normalize_chunk
from multicloud.core.costs.sources import SOURCES

SPEC_OF_KIND = {
    "aws-cur": "aws-cur", "aws-focus": "aws-focus", "azure-cost-details": "azure-cost-details",
    "azure-focus": "azure-focus", "gcp-billing-export": "gcp-billing-export", "gcp-focus": "gcp-focus",
}


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
    """What one source gave: counts, control totals (all rows, and the quarantined among them),
    and the quarantine file on local disk."""

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
    quarantine_file: str | None = None
    violations: dict[str, int] = field(default_factory=dict)


def ingest(source: CostSource, spool_dir: Path, producer: str, profile: Profile | None = None,
           chunks: Iterator[RawChunk] | None = None, progress=None) -> IngestResult:
    """Reads, maps and spools one source. Raises MappingError (InvalidInput) naming the file and
    column when a file lacks a required column; unparseable rows are quarantined, not raised."""
    spec = SOURCES[SPEC_OF_KIND[source.kind]]
    result = IngestResult(source.name, source.kind)
    spool = Spool(spool_dir, producer)
    quarantine_path = spool_dir / "quarantine" / f"{source.name}.jsonl"
    quarantine_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(quarantine_path, "w", encoding="utf-8") as quarantine:
            # Reading (download, decompress, parse) runs one chunk ahead of mapping and writing.
            for chunk in prefetch(chunks if chunks is not None else read_source(source, profile), depth=2):
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
    finally:
        spool.close()
    if result.rows_quarantined:
        result.quarantine_file = str(quarantine_path)
    else:
        quarantine_path.unlink()
    return result


def _add_control(result: IngestResult, control: pa.Table) -> None:
    targets = {"source": result.control, "quarantined": result.quarantined, "unreadable": result.unreadable}
    for row in control.to_pylist():
        key = (row["ProviderName"], row["BillingAccountId"], reconcile.period_label(row["BillingPeriodStart"]),
               row["BillingCurrency"])
        targets[row["part"]].add(key, row["amount_sum"] or Decimal(0), row["amount_count_all"])


def stored_totals(spool_dir: Path) -> reconcile.Totals:
    """Σ BilledCost per reconciliation key over the spooled Parquet files: the bytes the dataset
    will hold (uploads are checked by SHA-256)."""
    totals = reconcile.Totals.empty()
    columns = list(CONTROL_KEYS) + ["BilledCost"]
    for paths in spooled_partitions(spool_dir).values():
        for path in paths:
            for batch in pq.ParquetFile(path).iter_batches(columns=columns, batch_size=1_000_000):
                grouped = pa.Table.from_batches([batch]).group_by(list(CONTROL_KEYS)).aggregate(
                    [("BilledCost", "sum"), ("BilledCost", "count")])
                totals.add_grouped(grouped, "BilledCost_sum", "BilledCost_count")
    return totals


def merge_totals(parts: list[reconcile.Totals]) -> reconcile.Totals:
    merged = reconcile.Totals.empty()
    for part in parts:
        for key, amount in part.amounts.items():
            merged.add(key, amount, part.rows.get(key, 0))
    return merged


def tag_views(spool_dir: Path, keys: list[str]) -> dict[str, pd.DataFrame]:
    """Cost by each tag key (billing period × currency × provider × tag value) over the spooled
    rows, reading only the columns it needs."""
    partials: dict[str, list] = {k: [] for k in keys}
    columns = ["BillingPeriodStart", "BillingCurrency", "ProviderName", "Tags"] + aggregate.MEASURES
    for paths in spooled_partitions(spool_dir).values():
        for path in paths:
            for batch in pq.ParquetFile(path).iter_batches(columns=columns, batch_size=500_000):
                table = pa.Table.from_batches([batch])
                for key in keys:
                    partials[key].append(aggregate.tag_partial(table, key))
    return {k: aggregate.combine(v, aggregate.TAG_KEYS) for k, v in partials.items()}
