"""Reading AWS cost exports from a bucket: the legacy Cost and Usage Report (gzip'd CSV or
Parquet, found through its manifests), CUR 2.0 (Data Exports, Parquet) and the FOCUS 1.2 export.
Legacy CSV column names are turned into the snake_case names AWS uses in Parquet, so one mapping
table serves every variant."""

from __future__ import annotations

import json
import re
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from multicloud.engine.tabular import RawChunk, read_data_files, read_table_chunks, to_frame
from multicloud.core.costs.sources import snake_case
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.objects import ObjectStore

_LEGACY_MANIFEST = re.compile(r"(^|/)(\d{8})-(\d{8})/[^/]+-Manifest\.json$")
_CUR2_MANIFEST = re.compile(r"(^|/)metadata/BILLING_PERIOD=(\d{4}-\d{2})/[^/]+-Manifest\.json$")


def find_report_files(store: ObjectStore, periods: list[str] | None = None) -> list[tuple[str, str]]:
    """(billing period YYYY-MM, key) of every data file the current manifests name, oldest period
    first. Only the manifest at the top of a period (the current assembly) counts: AWS keeps older
    assemblies beside it. Raises NotFound when there is no manifest, InvalidInput when a manifest
    names a file that is not there."""
    keys = [m.key for m in store.list("")]
    listed = set(keys)
    found = []
    for key in keys:
        legacy, cur2 = _LEGACY_MANIFEST.search(key), _CUR2_MANIFEST.search(key)
        if not (legacy or cur2):
            continue
        period = f"{legacy.group(2)[:4]}-{legacy.group(2)[4:6]}" if legacy else cur2.group(2)
        if periods and period not in periods:
            continue
        with store.open(key) as f:
            try:
                manifest = json.loads(f.read())
            except ValueError as exc:
                raise InvalidInput(f"manifest is not JSON: {exc}", target=key) from exc
        named = manifest.get("reportKeys") or manifest.get("dataFiles") or []
        for ref in named:
            found.append((period, _resolve(ref, listed, key)))
    if not found:
        raise NotFound("no Cost and Usage Report manifest (<period>/<report>-Manifest.json or "
                       "metadata/BILLING_PERIOD=<period>/<export>-Manifest.json) under the source", target=getattr(store, "url", ""))
    return sorted(set(found))


def _resolve(ref: str, listed: set[str], manifest: str) -> str:
    path = re.sub(r"^s3://[^/]+/", "", ref)
    if path in listed:
        return path
    parts = path.split("/")
    for i in range(1, len(parts)):
        candidate = "/".join(parts[i:])
        if candidate in listed:
            return candidate
    raise InvalidInput(f"manifest names {ref!r}, which is not in the bucket", target=manifest)


def read_cur(store: ObjectStore, periods: list[str] | None = None) -> Iterator[RawChunk]:
    """Every current CUR file's rows (legacy or 2.0), with snake_case column names."""
    for _, key in find_report_files(store, periods):
        for table, first in read_table_chunks(store, key, rename=snake_case):
            yield RawChunk(to_frame(_cur2_columns(table)), key, first, "aws-cur")


def _cur2_columns(table: pa.Table) -> pa.Table:
    """CUR 2.0 keeps most product attributes in a `product` map: lift the ones the mapping reads."""
    if "product" in table.column_names and pa.types.is_map(table.column("product").type):
        product = table.column("product")
        for attr, column in (("product_name", "product_product_name"), ("region", "product_region"),
                             ("region_code", "product_region_code"), ("sku", "product_sku")):
            if column not in table.column_names:
                values = pc.map_lookup(product, pa.scalar(attr), "first")
                table = table.append_column(column, values)
    return table


def read_focus_export(store: ObjectStore) -> Iterator[RawChunk]:
    """Rows of every data file of the FOCUS 1.2 export (FOCUS column names as they are)."""
    yield from read_data_files(store, "aws-focus")
