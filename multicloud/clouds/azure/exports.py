"""Reading Azure Cost Management exports from Blob storage: cost details (actual and amortized,
EA and MCA column sets) and FocusCost. An export folder holds one folder per billing period
(`YYYYMMDD-YYYYMMDD`), and each run of the export adds a run folder (or file) inside it; only the
newest run of a period counts, so a re-exported month replaces the earlier export."""

from __future__ import annotations

import json
import re
from typing import Iterator

import pyarrow as pa

from multicloud.engine.tabular import RawChunk, data_keys, read_data_files
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.objects import ObjectStore

_PERIOD = re.compile(r"(^|/)(\d{4})(\d{2})\d{2}-\d{8}/")


def latest_run_files(store: ObjectStore, periods: list[str] | None = None) -> list[str]:
    """Data files of the newest complete run of each billing period folder. A run is a
    sub-folder of the period (or, in older exports, a single file in it). Exports that write a
    `manifest.json` per run mark the run complete with it: then only runs whose manifest is there
    and whose listed blobs all exist count, so a run still uploading is never read. Without
    manifests, the newest run by its files' last-modified time (then by name) counts."""
    runs: dict[str, dict[str, list]] = {}
    manifests: dict[tuple[str, str], str] = {}
    listed = list(store.list(""))
    keys = {m.key for m in listed}
    candidates = set(data_keys(store))
    for meta in listed:
        match = _PERIOD.search(meta.key)
        if not match:
            if meta.key in candidates:
                raise InvalidInput("export file outside a YYYYMMDD-YYYYMMDD period folder", target=meta.key)
            continue
        period = f"{match.group(2)}-{match.group(3)}"
        if periods and period not in periods:
            continue
        folder, rest = meta.key[:match.end()], meta.key[match.end():]
        run = rest.split("/", 1)[0] if "/" in rest else rest
        if rest.endswith("/manifest.json") and rest.count("/") == 1:
            manifests[(folder, run)] = meta.key
        elif meta.key in candidates:
            runs.setdefault(folder, {}).setdefault(run, []).append(meta)
    chosen = []
    for folder, by_run in sorted(runs.items()):
        complete = {run: metas for run, metas in by_run.items()
                    if (folder, run) in manifests and _manifest_complete(store, manifests[(folder, run)], keys)}
        if any((folder, run) in manifests for run in by_run):
            by_run = complete
        if not by_run:
            raise NotFound("no complete export run (manifest.json with every listed blob present)", target=folder)
        _, newest = max(by_run.items(), key=lambda item: (max(m.last_modified for m in item[1]), item[0]))
        chosen.extend(sorted(m.key for m in newest))
    return chosen


def _manifest_complete(store: ObjectStore, key: str, listed: set[str]) -> bool:
    """Every blob the run's manifest names is in the store (names may carry the container's
    path; they are matched by their ending)."""
    with store.open(key) as f:
        try:
            manifest = json.loads(f.read())
        except ValueError:
            return False
    names = [b.get("blobName", "") for b in manifest.get("blobs", [])]
    return bool(names) and all(any(name == k or name.endswith("/" + k) or k.endswith(name) for k in listed)
                               for name in names)


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
