"""Reading Azure Cost Management exports from Blob storage: cost details (actual and amortized,
EA and MCA column sets) and FocusCost. An export folder holds one folder per billing period
(`YYYYMMDD-YYYYMMDD`), and each run of the export adds a run folder (or file) inside it; only the
newest run of a period counts, so a re-exported month replaces the earlier export."""

from __future__ import annotations

import re
from typing import Iterator

import pyarrow as pa

from multicloud.clouds.tabular import RawChunk, data_keys, read_data_files
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.objects import ObjectStore

_PERIOD = re.compile(r"(^|/)(\d{4})(\d{2})\d{2}-\d{8}/")


def latest_run_files(store: ObjectStore, periods: list[str] | None = None) -> list[str]:
    """Data files of the newest run of each billing period folder (newest by last-modified time
    of the run's files; a run is a sub-folder of the period, or a single file in it)."""
    runs: dict[str, dict[str, list]] = {}
    candidates = set(data_keys(store))
    for meta in store.list(""):
        if meta.key not in candidates:
            continue
        match = _PERIOD.search(meta.key)
        if not match:
            raise InvalidInput("export file outside a YYYYMMDD-YYYYMMDD period folder", target=meta.key)
        period = f"{match.group(2)}-{match.group(3)}"
        if periods and period not in periods:
            continue
        rest = meta.key[match.end():]
        run = rest.split("/", 1)[0] if "/" in rest else rest
        runs.setdefault(meta.key[:match.end()], {}).setdefault(run, []).append(meta)
    chosen = []
    for folder, by_run in sorted(runs.items()):
        # Newest run by its files' time; runs written within the same second by name.
        _, newest = max(by_run.items(), key=lambda item: (max(m.last_modified for m in item[1]), item[0]))
        chosen.extend(sorted(m.key for m in newest))
    return chosen


def read_cost_details(actual: ObjectStore, amortized: ObjectStore, periods: list[str] | None = None) -> Iterator[RawChunk]:
    """Rows of the actual-cost and the amortized-cost export (newest run per period), column
    names lower-cased (EA writes PascalCase, MCA camelCase) and a `_dataset` column saying
    which export each row came from. Raises NotFound when either export has no file."""
    for store, dataset in ((actual, "actual"), (amortized, "amortized")):
        keys = latest_run_files(store, periods)
        if not keys:
            raise NotFound(f"no {dataset}-cost export files", target=getattr(store, "url", ""))

        def tag(table: pa.Table, dataset=dataset) -> pa.Table:
            return table.append_column("_dataset", pa.repeat(pa.scalar(dataset), table.num_rows))

        yield from read_data_files(store, "azure-cost-details", rename=str.lower, keys=keys, adapt=tag)


def read_focus_export(store: ObjectStore, periods: list[str] | None = None) -> Iterator[RawChunk]:
    """Rows of the FocusCost export (newest run per period)."""
    keys = latest_run_files(store, periods)
    yield from read_data_files(store, "azure-focus", keys=keys)
