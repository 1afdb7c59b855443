"""The FOCUS dataset: Parquet files partitioned by provider and billing period in any ObjectStore.

    <root>/provider=aws/billing_period=2026-10/<run>-<source>.parquet   (one source's rows)
    <root>/provider=aws/billing_period=2026-10/<run>-daily.parquet      (daily sums, for reports)
    <root>/provider=aws/billing_period=2026-10/_current.json            (which files are the partition)

A partition is exactly the files its `_current.json` names. Each ingest task stages its rows
there under its run's name (`stage`: uploaded, named by no pointer); publishing writes the
daily sums and then replaces that one small object, which every store replaces atomically: a
reader sees the old partition or the new one, never both, so a restated month never doubles.
The replaced run's files are removed afterwards, and a run that does not publish removes what
it staged (`discard`). Plain Parquet readers that list the folder would also see those files
until then: read through `read_partition`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import queue
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from multicloud.engine.tabular import local_copy
from multicloud.core.costs import aggregate
from multicloud.core.costs.mapping import OUTPUT_SCHEMA
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.objects import ObjectStore

POINTER = "_current.json"
PROVIDER_SLUG = {"AWS": "aws", "Microsoft": "azure", "Google Cloud": "gcp"}
_PERIOD = re.compile(r"^\d{4}-\d{2}$")


def partition_prefix(provider: str, period: str) -> str:
    if not _PERIOD.match(period):
        raise InvalidInput("billing period must be YYYY-MM", target=period)
    return f"provider={provider}/billing_period={period}/"


def slug(provider_name: str) -> str:
    return PROVIDER_SLUG.get(provider_name, re.sub(r"[^a-z0-9]+", "-", provider_name.lower()).strip("-"))


# Statistics only where readers filter; computing them for every column costs a fifth of a write.
_STATISTICS = ["BillingPeriodStart", "ChargePeriodStart", "BillingAccountId", "SubAccountId", "ServiceName",
               "RegionId", "ProviderName"]


@dataclass
class Spool:
    """One task's FOCUS rows on its own local disk, one Parquet writer per (provider, period),
    with daily sums and billing accounts kept beside them; `stage` uploads them. Writing runs on
    its own thread, one chunk behind the caller, so mapping and encoding overlap."""

    directory: Path
    producer: str = "0"
    writers: dict = field(default_factory=dict)
    daily: dict = field(default_factory=dict)
    accounts: dict = field(default_factory=dict)
    _queue: queue.Queue | None = None
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        if self._thread is None:
            self._queue = queue.Queue(2)
            self._thread = threading.Thread(target=self._drain, name=f"spool-{self.producer}", daemon=True)
            self._thread.start()
        self._raise()
        self._queue.put(table)

    def _drain(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write_now(table)
                except BaseException as exc:  # surfaces in the caller's next write or close
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _write_now(self, table: pa.Table) -> None:
        periods = pc.strftime(table.column("BillingPeriodStart"), format="%Y-%m")
        providers = table.column("ProviderName")
        keys = pa.table({"p": providers, "m": periods}).group_by(["p", "m"]).aggregate([]).to_pylist()
        for key in keys:
            part = table if len(keys) == 1 else table.filter(
                pc.and_(pc.equal(providers, key["p"]), pc.equal(periods, key["m"])))
            where = (slug(key["p"]), key["m"])
            self._writer(*where).write_table(part)
            self.accounts.setdefault(where, set()).update(pc.unique(part.column("BillingAccountId")).to_pylist())
            partials = self.daily.setdefault(where, [])
            partials.append(aggregate.daily_partial(part))
            if len(partials) >= 32:  # keep the daily sums small whatever the number of rows
                self.daily[where] = [aggregate.combine_table(partials, aggregate.DAILY_KEYS)]

    def path(self, provider: str, period: str) -> Path:
        return self.directory / partition_prefix(provider, period) / f"part-{self.producer}.parquet"

    def _writer(self, provider: str, period: str) -> pq.ParquetWriter:
        key = (provider, period)
        if key not in self.writers:
            path = self.path(provider, period)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writers[key] = pq.ParquetWriter(path, OUTPUT_SCHEMA, compression="zstd", write_statistics=_STATISTICS)
        return self.writers[key]

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()
        self._raise()

    def partitions(self) -> list[tuple[str, str]]:
        """(provider, period) of every partition written, in order."""
        return sorted(self.daily)

    def daily_sums(self, provider: str, period: str) -> pa.Table:
        return aggregate.combine_table(self.daily.get((provider, period), []), aggregate.DAILY_KEYS)

    def billing_accounts(self, provider: str, period: str) -> list[str]:
        return sorted(a for a in self.accounts.get((provider, period), ()) if a is not None)


@dataclass
class Staged:
    """One source's rows of one partition, uploaded to the dataset but named by no pointer yet:
    invisible to `read_partition` until `publish` swaps the partition's pointer."""

    source: str
    provider: str
    period: str
    key: str
    rows: int
    accounts: list[str]
    daily: pa.Table


def staged_key(run: str, source: str, provider: str, period: str) -> str:
    """Where a run stages one source's rows of a partition: in the partition's folder, under a
    name no pointer holds yet; a retried ingest writes the same key again."""
    return f"{partition_prefix(provider, period)}{run}-{source}.parquet"


def stage(store: ObjectStore, spool: Spool, run: str, source: str) -> list[Staged]:
    """Uploads every partition of a closed spool (checked by SHA-256), not yet referenced. On a
    failure midway the files already uploaded are removed again."""
    staged: list[Staged] = []
    try:
        for provider, period in spool.partitions():
            path = spool.path(provider, period)
            key = staged_key(run, source, provider, period)
            _upload(store, path, key)
            staged.append(Staged(source, provider, period, key, pq.ParquetFile(path).metadata.num_rows,
                                 spool.billing_accounts(provider, period), spool.daily_sums(provider, period)))
    except BaseException:
        store.delete([s.key for s in staged] + [staged_key(run, source, *p) for p in spool.partitions()])
        raise
    return staged


def by_partition(staged: list[Staged]) -> dict[tuple[str, str], list[Staged]]:
    found: dict[tuple[str, str], list[Staged]] = {}
    for item in sorted(staged, key=lambda s: (s.provider, s.period, s.source)):
        found.setdefault((item.provider, item.period), []).append(item)
    return found


def staged_sources(staged: list[Staged]) -> dict[tuple[str, str], dict[str, list[str]]]:
    """(provider, period) → source → the billing accounts it staged there."""
    return {where: {s.source: s.accounts for s in items} for where, items in by_partition(staged).items()}


def stored_sources(store: ObjectStore, where: list[tuple[str, str]]) -> dict[tuple[str, str], dict | None]:
    """(provider, period) → source → billing accounts, as each stored pointer records them
    (None: the partition does not exist yet)."""
    return {(provider, period): (current(store, provider, period) or {}).get("sources") for provider, period in where}


def discard(store: ObjectStore, staged: list[Staged]) -> int:
    """Removes what a run staged and will not publish."""
    return store.delete([s.key for s in staged])


@dataclass
class Published:
    provider: str
    period: str
    run: str
    files: list[str]
    rows: int
    replaced_run: str | None


def publish(store: ObjectStore, staged: list[Staged], run: str) -> list[Published]:
    """For each partition the run staged: writes its daily sums, swaps its pointer to the staged
    files (one small object, replaced atomically on every store) and removes the files of the
    run it replaced. The caller has decided the run may publish (`core.costs.decisions`)."""
    done = []
    for (provider, period), items in by_partition(staged).items():
        prefix = partition_prefix(provider, period)
        daily_key = f"{prefix}{run}-daily.parquet"
        with tempfile.NamedTemporaryFile(suffix=".parquet") as tmp:
            pq.write_table(aggregate.combine_table([s.daily for s in items], aggregate.DAILY_KEYS), tmp.name)
            _upload(store, Path(tmp.name), daily_key)
        pointer = {"run": run, "files": [s.key for s in items], "daily": daily_key, "rows": sum(s.rows for s in items),
                   "schema": "FOCUS 1.2", "sources": {s.source: s.accounts for s in items}}
        previous = _swap_pointer(store, prefix, pointer)
        done.append(Published(provider, period, run, pointer["files"], pointer["rows"],
                              previous.get("run") if previous else None))
    return done


def _swap_pointer(store: ObjectStore, prefix: str, pointer: dict) -> dict | None:
    """Replaces the partition's pointer, then deletes the files only the replaced one named."""
    previous = _read_pointer(store, prefix)
    body = json.dumps(pointer, indent=1).encode()
    store.write(prefix + POINTER, io.BytesIO(body), size=len(body), content_type="application/json")
    if previous and previous.get("run") != pointer["run"]:
        store.delete([k for k in previous.get("files", []) + [previous.get("daily")] if k and k not in pointer["files"]])
    return previous


def _upload(store: ObjectStore, path: Path, key: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    with open(path, "rb") as f:
        store.write(key, f, size=os.path.getsize(path), content_type="application/vnd.apache.parquet",
                    expected_sha256=digest.hexdigest())


def current(store: ObjectStore, provider: str, period: str) -> dict | None:
    """The partition's pointer, or None when the partition does not exist."""
    return _read_pointer(store, partition_prefix(provider, period))


def _read_pointer(store: ObjectStore, prefix: str) -> dict | None:
    try:
        with store.open(prefix + POINTER) as f:
            return json.loads(f.read())
    except NotFound:
        return None


def partitions(store: ObjectStore) -> list[tuple[str, str]]:
    """(provider, period) of every published partition."""
    found = []
    for meta in store.list("provider="):
        match = re.match(r"^provider=([^/]+)/billing_period=(\d{4}-\d{2})/" + re.escape(POINTER) + "$", meta.key)
        if match:
            found.append((match.group(1), match.group(2)))
    return found


def read_partition(store: ObjectStore, provider: str, period: str, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """The partition's rows, file by file. Raises NotFound when it was never published."""
    pointer = current(store, provider, period)
    if pointer is None:
        raise NotFound("no such partition", target=partition_prefix(provider, period))
    for key in pointer["files"]:
        with local_copy(store, key) as path:
            for batch in pq.ParquetFile(path).iter_batches(columns=columns, batch_size=250_000):
                yield pa.Table.from_batches([batch])


def read_daily(store: ObjectStore, provider: str, period: str) -> pa.Table | None:
    pointer = current(store, provider, period)
    if pointer is None or not pointer.get("daily"):
        return None

    with local_copy(store, pointer["daily"]) as path:
        return pq.read_table(path)


def daily_history(store: ObjectStore, periods: list[str]) -> pd.DataFrame:
    """The stored daily sums of every published partition of `periods` (YYYY-MM), combined."""
    partials = []
    for provider, period in partitions(store):
        if period in periods:
            table = read_daily(store, provider, period)
            if table is not None and table.num_rows:
                partials.append(table)
    return aggregate.combine(partials, aggregate.DAILY_KEYS)


def explain_anomalies(store: ObjectStore, anomalies: pd.DataFrame, limit: int = 10) -> dict[int, pd.DataFrame]:
    """For each anomaly (by position), the `limit` stored rows behind it, largest first; each
    partition is read once however many anomalies fall in it. An anomaly whose partition is not
    there (an earlier month since removed) gets no entry."""
    wanted: dict[tuple[str, str], list[tuple[int, dict]]] = {}
    for index, anomaly in enumerate(anomalies.to_dict("records")):
        wanted.setdefault((slug(anomaly["ProviderName"]), f"{anomaly['day']:%Y-%m}"), []).append((index, anomaly))
    found: dict[int, list[pa.Table]] = {}
    for (provider, period), items in wanted.items():
        if current(store, provider, period) is None:
            continue
        for table in read_partition(store, provider, period):
            for index, anomaly in items:
                found.setdefault(index, []).append(aggregate.explaining_rows(table, anomaly, limit))
    return {index: pa.concat_tables(parts).sort_by([("EffectiveCost", "descending")]).slice(0, limit).to_pandas()
            for index, parts in found.items()}
