"""The FOCUS dataset: Parquet files partitioned by provider and billing period in any ObjectStore.

    <root>/provider=aws/billing_period=2026-10/<run>-<n>.parquet
    <root>/provider=aws/billing_period=2026-10/<run>-daily.parquet   (daily sums, for reports)
    <root>/provider=aws/billing_period=2026-10/_current.json         (which files are the partition)

A partition is exactly the files its `_current.json` names. Ingesting a period again writes new
files and then replaces that one small object, which every store replaces atomically: a reader
sees the old partition or the new one, never both, so a restated month never doubles. Files no
pointer names are removed afterwards. Plain Parquet readers that list the folder would also see
files of a replaced run until that clean-up ends: read through `read_partition`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import queue
import shutil
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
    """A run's FOCUS rows on local disk, one Parquet writer per (provider, period) and producer,
    with daily sums beside them. Nothing reaches the dataset until `publish`. Writing runs on its
    own thread, one chunk behind the caller, so mapping and encoding overlap."""

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

    def _writer(self, provider: str, period: str) -> pq.ParquetWriter:
        key = (provider, period)
        if key not in self.writers:
            folder = self.directory / partition_prefix(provider, period)
            folder.mkdir(parents=True, exist_ok=True)
            self.writers[key] = pq.ParquetWriter(folder / f"part-{self.producer}.parquet", OUTPUT_SCHEMA,
                                                 compression="zstd", write_statistics=_STATISTICS)
        return self.writers[key]

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()
        for (provider, period), partials in self.daily.items():
            folder = self.directory / partition_prefix(provider, period)
            pq.write_table(aggregate.combine_table(partials, aggregate.DAILY_KEYS), folder / f"daily-{self.producer}.parquet")
            accounts = sorted(a for a in self.accounts.get((provider, period), ()) if a is not None)
            (folder / f"accounts-{self.producer}.json").write_text(json.dumps(accounts))
        self.daily.clear()
        self._raise()

    def discard(self) -> None:
        """Remove what this producer spooled (a retried ingest starts over)."""
        for pattern in (f"part-{self.producer}.parquet", f"daily-{self.producer}.parquet",
                        f"accounts-{self.producer}.json"):
            for path in self.directory.glob(f"provider=*/billing_period=*/{pattern}"):
                path.unlink()


def spooled_sources(directory: Path, provider: str, period: str) -> dict[str, list[str]]:
    """Producer (source name) → the billing accounts it spooled for one partition."""
    folder = directory / partition_prefix(provider, period)
    return {path.name[len("accounts-"):-len(".json")]: json.loads(path.read_text())
            for path in sorted(folder.glob("accounts-*.json"))}


def check_ownership(store: ObjectStore, directory: Path) -> None:
    """Refuses, before anything is uploaded, a run that would double rows or delete another
    source's: two sources billing the same account in one partition, or a partition that now
    holds rows of a source this run did not produce for it. Raises InvalidInput naming them."""
    problems = []
    for provider, period in spooled_partitions(directory):
        sources = spooled_sources(directory, provider, period)
        seen: dict[str, str] = {}
        for name, accounts in sources.items():
            for account in accounts:
                if account in seen:
                    problems.append(f"{provider}/{period}: sources {seen[account]!r} and {name!r} both bill account "
                                    f"{account!r} (its rows would count twice)")
                seen.setdefault(account, name)
        previous = current(store, provider, period)
        missing = sorted(set((previous or {}).get("sources", {})) - set(sources))
        if missing:
            problems.append(f"{provider}/{period}: the stored partition also holds rows of source(s) {missing}, which "
                            "this run did not read for that period; replacing it would delete them (ingest them in "
                            "the same run, or remove the partition first)")
    if problems:
        raise InvalidInput("; ".join(problems), target=getattr(store, "url", "dataset"))


def spooled_partitions(directory: Path) -> dict[tuple[str, str], list[Path]]:
    """(provider, period) → the spooled Parquet files of every producer."""
    found: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(directory.glob("provider=*/billing_period=*/part-*.parquet")):
        provider = path.parent.parent.name.split("=", 1)[1]
        period = path.parent.name.split("=", 1)[1]
        found.setdefault((provider, period), []).append(path)
    return found


def spooled_daily(directory: Path, provider: str, period: str) -> pa.Table:
    files = sorted((directory / partition_prefix(provider, period)).glob("daily-*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else None


@dataclass
class Published:
    provider: str
    period: str
    run: str
    files: list[str]
    rows: int
    replaced_run: str | None


def publish(store: ObjectStore, directory: Path, run: str) -> list[Published]:
    """Uploads every spooled partition, checked by SHA-256, then swaps each partition's pointer
    and removes the files of the run it replaced. Raises InvalidInput (nothing uploaded) when
    sources overlap or a stored partition holds a source this run lacks (`check_ownership`)."""
    check_ownership(store, directory)
    done = []
    for (provider, period), paths in spooled_partitions(directory).items():
        prefix = partition_prefix(provider, period)
        files, rows = [], 0
        for n, path in enumerate(paths):
            key = f"{prefix}{run}-{n:03d}.parquet"
            _upload(store, path, key)
            files.append(key)
            rows += pq.ParquetFile(path).metadata.num_rows
        daily = spooled_daily(directory, provider, period)
        daily_key = f"{prefix}{run}-daily.parquet"
        with tempfile.NamedTemporaryFile(suffix=".parquet") as tmp:
            pq.write_table(aggregate.combine_table([daily] if daily is not None else [], aggregate.DAILY_KEYS), tmp.name)
            _upload(store, Path(tmp.name), daily_key)
        previous = current(store, provider, period)
        pointer = {"run": run, "files": files, "daily": daily_key, "rows": rows, "schema": "FOCUS 1.2",
                   "sources": spooled_sources(directory, provider, period)}
        body = json.dumps(pointer, indent=1).encode()
        store.write(prefix + POINTER, io.BytesIO(body), size=len(body), content_type="application/json")
        if previous and previous.get("run") != run:
            stale = [k for k in previous.get("files", []) + [previous.get("daily")] if k and k not in files]
            store.delete(stale)
        done.append(Published(provider, period, run, files, rows, previous.get("run") if previous else None))
    return done


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
    try:
        with store.open(partition_prefix(provider, period) + POINTER) as f:
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


def new_spool_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="focus-spool-"))


def remove_spool(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
