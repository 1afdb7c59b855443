"""Writes sample billing exports under a directory in each provider's layout (CUR reports with
their manifests, Azure export runs with manifest.json, Google Cloud billing-export extracts,
native FOCUS files) and reports what it wrote with the exact totals to expect. The only module
of the package that touches the file system."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from multicloud.testing.cost_samples import aws, azure, gcp
from multicloud.testing.cost_samples.common import CHUNK_ROWS, SCALE, period_bounds, spoil, table_units
from multicloud.testing.cost_samples.focus import focus_tables


@dataclass
class SampleExport:
    """What `write_export` wrote: keys (relative to the directory), rows, and the expected
    totals per (ProviderName, billing account, period, currency): `billed` as the source bills it,
    `amortized` as FOCUS EffectiveCost. `bad_rows` lists injected bad rows as (key, line, column,
    value) with line counting the CSV header as 1."""

    kind: str
    keys: list[str] = field(default_factory=list)
    rows: int = 0
    billed: dict = field(default_factory=dict)
    amortized: dict = field(default_factory=dict)
    bad_rows: list = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    """The arguments of one `write_export` call."""

    kind: str
    rows: int
    root: Path
    prefix: str
    period: str
    seed: int
    restated: bool
    bad_rows: bool | tuple[str, ...]
    fmt: str
    run: str
    chunk_rows: int
    compress: bool
    through: str | None
    spike: tuple[str, float] | None

    @property
    def folder(self) -> str:
        """The period as AWS and Azure name its folder: 20261001-20261101."""
        start, end = period_bounds(self.period)
        return f"{start:%Y%m%d}-{end:%Y%m%d}"

    def cur_tables(self) -> Iterator[pa.Table]:
        return aws.aws_cur_tables(self.rows, self.period, self.seed, self.restated, self.chunk_rows, self.through,
                                  self.spike)


def write_export(kind: str, rows: int, directory: Path | str, prefix: str = "", period: str = "2026-10",
                 seed: int = 0, restated: bool = False, bad_rows: bool | tuple[str, ...] = False, fmt: str = "parquet",
                 run: str = "run-1", chunk_rows: int = CHUNK_ROWS, compress: bool = True, through: str | None = None,
                 spike: tuple[str, float] | None = None) -> SampleExport:
    """Write one export of `kind` (see KINDS) under `directory`/`prefix` in the provider's layout.
    `restated` writes the month as the provider would after a restatement (a new assembly or run
    folder, or appended corrections); `bad_rows` spoils a number, a date and a currency in CSV
    kinds (True), or those of BAD_VALUES named; `fmt` is parquet, jsonl or csv for gcp-standard/gcp-detailed;
    `compress=False` writes the CUR as plain CSV (AWS offers both); `through` (YYYY-MM-DD) ends usage
    that day, as in a month still in progress; `spike` (day, factor) makes one day of AWS EC2 cost
    `factor` times as much."""
    if kind not in KINDS:
        raise ValueError(f"unknown sample kind {kind!r}; expected one of {KINDS}")
    job = _Job(kind, rows, Path(directory), prefix, period, seed, restated, bad_rows, fmt, run, chunk_rows, compress,
               through, spike)
    export = SampleExport(kind)
    _WRITERS[kind](job, export)
    return export


def mixed(rows: int) -> list[tuple[str, int]]:
    """A row budget split across the three providers' main exports (the benchmark's mix)."""
    return [("aws-cur", rows * 4 // 10), ("azure-ea", rows * 3 // 10), ("gcp-standard", rows - rows * 7 // 10)]


# --------------------------------------------------------------------------------------------
# One writer per layout

def _write_cur_csv(job: _Job, export: SampleExport) -> None:
    report = "cur-hourly"
    assembly = f"{'b' if job.restated else 'a'}{job.seed:07d}-0000-4000-8000-{job.period.replace('-', '')}00000000"
    key = f"{job.prefix}{report}/{job.folder}/{assembly}/{report}-1.csv{'.gz' if job.compress else ''}"
    tables = _totalled(job.cur_tables(), export, job.period)
    if job.bad_rows:
        tables = _spoil_first(tables, aws.BAD_CELLS, job.bad_rows, key, export)
    export.rows = _write_csv(job.root / key, tables, gz=job.compress)
    export.keys.append(key)
    _write_text(job.root, f"{job.prefix}{report}/{job.folder}/{report}-Manifest.json",
                aws.cur_manifest(report, job.period, assembly, export.keys, "text/csv", cur2=False), export)


def _write_cur_parquet(job: _Job, export: SampleExport) -> None:
    """Legacy CUR in Parquet (year=/month= partitions), or CUR 2.0 (BILLING_PERIOD= partitions)."""
    cur2 = job.kind == "aws-cur2"
    report = "cur2" if cur2 else "cur-parquet"
    if cur2:
        key = f"{job.prefix}{report}/data/BILLING_PERIOD={job.period}/{report}-00001.snappy.parquet"
        manifest = f"{job.prefix}{report}/metadata/BILLING_PERIOD={job.period}/{report}-Manifest.json"
    else:
        partition = f"year={job.period[:4]}/month={int(job.period[5:])}"
        key = f"{job.prefix}{report}/{report}/{partition}/{report}-00001.snappy.parquet"
        manifest = f"{job.prefix}{report}/{job.folder}/{report}-Manifest.json"
    typed = aws.cur2 if cur2 else aws.snake_typed
    export.rows = _write_parquet(job.root / key, (typed(t) for t in _totalled(job.cur_tables(), export, job.period)))
    export.keys.append(key)
    _write_text(job.root, manifest, aws.cur_manifest(report, job.period, "", export.keys, "Parquet", cur2), export)


def _write_azure(job: _Job, export: SampleExport) -> None:
    """An export run of each dataset (actual, amortized), each run folder ending with its manifest."""
    mca = job.kind == "azure-mca"
    keys = {d: f"{job.prefix}{d}/costs-{d}/{job.folder}/{job.run}/part_0_0001.csv" for d in ("actual", "amortized")}
    pairs = azure.azure_tables(job.rows, job.period, job.seed, job.restated, mca, job.chunk_rows, job.through)
    # Two files from one stream: spool the amortized side to disk chunk by chunk.
    spool = (job.root / keys["amortized"]).with_suffix(".parts")
    spool.mkdir(parents=True, exist_ok=True)

    def actual_side():
        for i, (actual, amortized) in enumerate(pairs):
            _add_totals(export, actual, job.period, effective=False)
            _add_totals(export, amortized, job.period, billed=False)
            pq.write_table(amortized.replace_schema_metadata(None), spool / f"{i:06d}.parquet")
            yield actual

    actual = actual_side()
    if job.bad_rows:
        actual = _spoil_first(actual, azure.bad_cells(mca), job.bad_rows, keys["actual"], export)
    export.rows = _write_csv(job.root / keys["actual"], actual)
    parts = sorted(spool.glob("*.parquet"))
    export.rows += _write_csv(job.root / keys["amortized"], (pq.read_table(p) for p in parts))
    for part in parts:
        part.unlink()
    spool.rmdir()
    export.keys += [keys["actual"], keys["amortized"]]
    for key in keys.values():  # the run's manifest, written last, as Azure does
        size = (job.root / key).stat().st_size
        _write_text(job.root, key.rsplit("/", 1)[0] + "/manifest.json", azure.run_manifest(key, size), export)


def _write_gcp(job: _Job, export: SampleExport) -> None:
    """A billing-export extract of the month (corrections after a restatement) in `job.fmt`."""
    detailed = job.kind == "gcp-detailed"
    name = "corrections" if job.restated else "part"
    key = f"{job.prefix}billing-export/{job.period}/{name}-000000000000.{job.fmt}"
    path = job.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = _totalled(gcp.gcp_tables(job.rows, job.period, job.seed, job.restated, detailed, job.chunk_rows,
                                      job.through), export, job.period)
    if job.fmt == "parquet":
        export.rows = _write_parquet(path, tables)
    elif job.fmt == "jsonl":
        export.rows = _write_lines(path, (line for table in tables for line in gcp.jsonl_lines(table)))
    else:
        export.rows = _write_csv(path, (gcp.csv_extract(table) for table in tables))
    export.keys.append(key)


_FOCUS_PROVIDERS = {"aws-focus": "AWS", "azure-focus": "Microsoft", "gcp-focus": "Google Cloud"}


def _write_focus(job: _Job, export: SampleExport) -> None:
    """A native FOCUS export: CSV in an export run folder on Azure, Parquet by billing period elsewhere."""
    tables = _totalled(focus_tables(_FOCUS_PROVIDERS[job.kind], job.rows, job.period, job.seed, job.restated,
                                    job.chunk_rows), export, job.period)
    if job.kind == "azure-focus":
        key = f"{job.prefix}focus/{job.folder}/{job.run}/part_0_0001.csv"
        export.rows = _write_csv(job.root / key, tables)
    else:
        key = f"{job.prefix}focus/data/BILLING_PERIOD={job.period}/focus-00001.snappy.parquet"
        export.rows = _write_parquet(job.root / key, tables)
    export.keys.append(key)


_WRITERS: dict[str, Callable[[_Job, SampleExport], None]] = {
    "aws-cur": _write_cur_csv, "aws-cur-parquet": _write_cur_parquet, "aws-cur2": _write_cur_parquet,
    "aws-focus": _write_focus, "azure-ea": _write_azure, "azure-mca": _write_azure, "azure-focus": _write_focus,
    "gcp-standard": _write_gcp, "gcp-detailed": _write_gcp, "gcp-focus": _write_focus,
}
KINDS = tuple(_WRITERS)


# --------------------------------------------------------------------------------------------
# Totals and bad rows on the way out

def _add_totals(export: SampleExport, table: pa.Table, period: str, billed: bool = True, effective: bool = True) -> None:
    for (provider, account, currency), (billed_units, effective_units) in table_units(table).items():
        key = (provider, account, period, currency)
        if billed:
            export.billed[key] = export.billed.get(key, Decimal(0)) + Decimal(billed_units) / SCALE
        if effective:
            export.amortized[key] = export.amortized.get(key, Decimal(0)) + Decimal(effective_units) / SCALE


def _totalled(tables: Iterable[pa.Table], export: SampleExport, period: str) -> Iterator[pa.Table]:
    """The tables, their totals added to `export` as they pass."""
    for table in tables:
        _add_totals(export, table, period)
        yield table


def _spoil_first(tables: Iterable[pa.Table], cells: dict, which, key: str, export: SampleExport) -> Iterator[pa.Table]:
    """The tables, the first with bad values in it, recorded in `export.bad_rows`."""
    for i, table in enumerate(tables):
        if i == 0:
            table, spoiled = spoil(table, cells, which)
            export.bad_rows += [(key, line, column, value) for line, column, value in spoiled]
        yield table


# --------------------------------------------------------------------------------------------
# Files

def _write_csv(path: Path, tables: Iterable[pa.Table], gz: bool = False) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with open(path, "wb") as raw:
        # mtime=0: the same arguments give the same bytes.
        out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) if gz else raw
        writer = None
        for table in tables:
            table = table.replace_schema_metadata(None)
            if writer is None:
                writer = pacsv.CSVWriter(out, table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is not None:
            writer.close()
        if gz:
            out.close()
    return rows


def _write_parquet(path: Path, tables: Iterable[pa.Table]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, writer = 0, None
    try:
        for table in tables:
            table = table.replace_schema_metadata(None)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def _write_lines(path: Path, lines: Iterable[str]) -> int:
    rows = 0
    with open(path, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(line)
            rows += 1
    return rows


def _write_text(root: Path, key: str, text: str, export: SampleExport) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    export.keys.append(key)
