"""Sample Google Cloud billing export rows (standard and detailed), nested as BigQuery holds
them, with credits, taxes, adjustments and restatements appended as corrections; and the same
rows as BigQuery extracts them to CSV and newline-delimited JSON. Pure: tables and text, no files."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multicloud.testing.cost_samples.common import (
    CHUNK_ROWS, ENVS, TEAMS, chunk_sizes, cost_units, hours, money_float, month_seed, period_bounds, pick, ragged,
    timestamps, usage_end, vocabulary, with_units,
)

GCP_ACCOUNTS = [("01A2B3-C4D5E6-F7A8B9", "USD"), ("0ABCDE-123456-FEDCBA", "USD")]
GCP_PROJECTS = [("shop-prod", "Shop prod", "1000001"), ("shop-dev", "Shop dev", "1000002"),
                ("analytics", "Analytics", "1000003"), ("ml-train", "ML training", "1000004"),
                ("platform", "Platform", "1000005")]
# service id | description | sku id | sku description | unit | pricing unit
GCP_SERVICES = vocabulary("""
    6F81-5844-456A | Compute Engine | 2E27-4F75-95CD | N2 Instance Core running in Americas | seconds | hour
    6F81-5844-456A | Compute Engine | D973-5D65-BAB2 | Storage PD Capacity | byte-seconds | gibibyte month
    95FF-2EF5-5EA1 | Cloud Storage | E5F0-6A5D-7BAD | Standard Storage US Multi-region | byte-seconds | gibibyte month
    24E6-581D-38E5 | BigQuery | 3362-E469-6BEF | Analysis | bytes | tebibyte
    9662-B51E-5089 | Cloud SQL | D4A1-4B2A-6D2C | Cloud SQL for PostgreSQL: Zonal - vCPU | seconds | hour
    CCD8-9BF1-090E | Kubernetes Engine | B561-BFBD-1264 | Autopilot Pod mCPU Requests | seconds | hour
    152E-C115-5142 | Cloud Run | 8E6F-A4D0-4EF4 | CPU Allocation Time | seconds | vCPU-second
    E505-1604-58F8 | Networking | 9DE9-9092-B3BC | Network Inter Region Egress | bytes | gibibyte
    5490-F7B7-8DF6 | Cloud Logging | 143F-A1B0-E0BE | Log Storage cost | bytes | gibibyte
    A1E8-BE35-7EBC | Pub/Sub | 5B8A-6F4D-ABCD | Message Delivery Basic | bytes | tebibyte
    C7E2-9256-1C43 | Vertex AI | A8B1-C2D3-E4F5 | Gemini 1.5 Pro Input Characters | count | count
    29E7-DA93-CA13 | Cloud Functions | F8AE-1234-5678 | CPU Time | seconds | GHz-second
""")
GCP_REGIONS = [("us-central1", "us-central1-a", "US"), ("europe-west1", "europe-west1-b", "BE"),
               ("us-east1", "us-east1-c", "US"), ("asia-east1", "asia-east1-a", "TW")]

_PAIR = pa.struct([("key", pa.string()), ("value", pa.string())])
_CREDIT = pa.struct([("name", pa.string()), ("amount", pa.float64()), ("full_name", pa.string()),
                     ("id", pa.string()), ("type", pa.string())])
_CREDIT_NAMES = ("Sustained usage discount", "Committed use discount: CPU", "Free trial")
_CREDIT_TYPES = ("SUSTAINED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT", "PROMOTION")


def gcp_tables(rows: int, period: str = "2026-10", seed: int = 0, restated: bool = False, detailed: bool = False,
               chunk_rows: int = CHUNK_ROWS, through: str | None = None) -> Iterator[pa.Table]:
    """Billing export rows, nested as BigQuery holds them. A restatement appends corrections
    (rows with a later export_time), as Google does."""
    rng = np.random.default_rng([seed + 13, month_seed(period)])
    start, _ = period_bounds(period)
    end = usage_end(period, through)
    for n in chunk_sizes(rows, chunk_rows):
        yield _table(rng, n, period, start, end, detailed, corrections=False)
    if restated:
        yield _table(rng, max(rows // 50, 1), period, start, end, detailed, corrections=True)


def _table(rng, n, period, start, end, detailed, corrections) -> pa.Table:
    acct = rng.integers(0, len(GCP_ACCOUNTS), n)
    proj = rng.integers(0, len(GCP_PROJECTS), n)
    services = np.array(GCP_SERVICES, dtype=object)[rng.integers(0, len(GCP_SERVICES), n)]
    projects = np.array(GCP_PROJECTS, dtype=object)[proj]
    regions = np.array(GCP_REGIONS, dtype=object)[rng.integers(0, len(GCP_REGIONS), n)]
    cost_type = pick(rng, ["regular", "tax", "adjustment", "rounding_error"], n, p=[0.95, 0.03, 0.015, 0.005])
    cost = cost_units(rng, n)
    cost = np.where(cost_type == "adjustment", -cost // 4, cost)
    cost = np.where(cost_type == "rounding_error", cost // 10_000, cost)
    if corrections:
        cost = cost // 20
    # Google's months are Pacific time: usage of the invoice month runs 07:00/08:00 UTC to the next.
    usage_start = hours(rng, n, start, end, offset_hours=7)
    export_time = usage_start + np.timedelta64(30 if corrections else 6, "h")
    credits, credited = _credits(rng, cost, cost_type, services, projects, regions)
    labels = _labels(pick(rng, TEAMS, n), pick(rng, ENVS, n))
    amount = np.round(rng.gamma(2.0, 3.0, n), 6)
    fields = {
        "billing_account_id": pa.array(np.array([a for a, _ in GCP_ACCOUNTS], dtype=object)[acct]),
        "service": pa.StructArray.from_arrays([pa.array(services[:, 0]), pa.array(services[:, 1])], names=["id", "description"]),
        "sku": pa.StructArray.from_arrays([pa.array(services[:, 2]), pa.array(services[:, 3])], names=["id", "description"]),
        "usage_start_time": timestamps(usage_start), "usage_end_time": timestamps(usage_start + np.timedelta64(1, "h")),
        "project": _project(projects, proj), "labels": labels,
        "system_labels": pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], _PAIR)),
        "location": pa.StructArray.from_arrays([pa.array(regions[:, 0]), pa.array(regions[:, 2]), pa.array(regions[:, 0]),
                                                pa.array(regions[:, 1])], names=["location", "country", "region", "zone"]),
        "export_time": timestamps(export_time), "cost": money_float(cost),
        "currency": pa.array(np.array([c for _, c in GCP_ACCOUNTS], dtype=object)[acct]),
        "currency_conversion_rate": pa.array(np.ones(n)),
        "usage": pa.StructArray.from_arrays([pa.array(amount), pa.array(services[:, 4]), pa.array(amount / 3600),
                                             pa.array(services[:, 5])], names=["amount", "unit", "amount_in_pricing_units", "pricing_unit"]),
        "credits": credits,
        "invoice": pa.StructArray.from_arrays([pa.array(np.full(n, period.replace("-", ""), dtype=object))], names=["month"]),
        "cost_type": pa.array(cost_type), "cost_at_list": money_float(np.where(cost > 0, cost + cost // 5, cost)),
    }
    if detailed:
        fields["resource"] = _resource(rng, projects, regions)
    billed = cost + credited
    return with_units(pa.table(fields), "Google Cloud", [a for a, _ in GCP_ACCOUNTS], acct,
                      [c for _, c in GCP_ACCOUNTS], billed, billed)


def _credits(rng, cost, cost_type, services, projects, regions) -> tuple[pa.Array, np.ndarray]:
    """Credits: sustained use on some Compute rows, CUDs on others, promotions rarely. Returns
    the credits column and each row's credited units."""
    n = len(cost)
    regular = cost_type == "regular"
    sud = (rng.random(n) < 0.25) & (services[:, 1] == "Compute Engine") & regular
    cud = (rng.random(n) < 0.10) & regular & ~sud
    promo = (rng.random(n) < 0.02) & regular
    has = np.stack([sud, cud, promo], axis=1)
    amounts = np.stack([-(cost * 2 // 10), -(cost * 3 // 10), -(cost // 10)], axis=1)
    cud_ids = "projects/" + projects[:, 0] + "/regions/" + regions[:, 0] + "/commitments/cud-1"
    ids = np.stack([np.full(n, "", dtype=object), cud_ids, np.full(n, "promo-1", dtype=object)], axis=1)
    names = np.tile(np.array(_CREDIT_NAMES, dtype=object), (n, 1))
    types = np.tile(np.array(_CREDIT_TYPES, dtype=object), (n, 1))
    offsets, names, kept, ids, types = ragged(has, names, amounts, ids, types)
    column = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.StructArray.from_arrays(
        [pa.array(names, pa.string()), money_float(kept), pa.array(names, pa.string()),
         pa.array(ids, pa.string()), pa.array(types, pa.string())], fields=list(_CREDIT)))
    return column, np.where(has, amounts, 0).sum(axis=1)


def _labels(team: np.ndarray, env: np.ndarray) -> pa.Array:
    """The rows' team and env labels, those that are set."""
    values = np.stack([team, env], axis=1)
    keys = np.tile(np.array(["team", "env"], dtype=object), (len(team), 1))
    offsets, keys, values = ragged(values != "", keys, values)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.StructArray.from_arrays(
        [pa.array(keys, pa.string()), pa.array(values, pa.string())], names=["key", "value"]))


def _project(projects: np.ndarray, proj: np.ndarray) -> pa.StructArray:
    n = len(proj)
    owner = pa.StructArray.from_arrays([pa.array(np.full(n, "owner", dtype=object)),
                                        pa.array(np.where(proj % 2 == 0, "shop", "data"))], names=["key", "value"])
    labels = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), owner)
    return pa.StructArray.from_arrays([pa.array(projects[:, 0]), pa.array(projects[:, 2]), pa.array(projects[:, 1]),
                                       labels], names=["id", "number", "name", "labels"])


def _resource(rng, projects: np.ndarray, regions: np.ndarray) -> pa.StructArray:
    """The detailed export's resource: one of 200 VMs per project and zone."""
    vm = rng.integers(0, 200, len(projects))
    rid = np.array([f"//compute.googleapis.com/projects/{p}/zones/{z}/instances/vm-{x}" for p, z, x in
                    zip(projects[:, 0], regions[:, 1], vm)], dtype=object)
    return pa.StructArray.from_arrays([pa.array([r.rsplit("/", 1)[-1] for r in rid]), pa.array(rid)],
                                      names=["name", "global_name"])


# --------------------------------------------------------------------------------------------
# As BigQuery extracts them

def csv_extract(table: pa.Table) -> pa.Table:
    """A CSV extract: records flattened to dotted names, repeated fields as JSON text, times as
    BigQuery prints them."""
    flat = table.replace_schema_metadata(None)
    while any(pa.types.is_struct(f.type) for f in flat.schema):
        flat = flat.flatten()
    return pa.table({name: _as_csv_cell(flat.column(name)) for name in flat.column_names})


def _as_csv_cell(col: pa.ChunkedArray):
    if pa.types.is_list(col.type):
        return pa.array([json.dumps(v) for v in col.to_pylist()])
    if pa.types.is_timestamp(col.type):
        return pc.strftime(col, format="%Y-%m-%d %H:%M:%S UTC")
    return col


def jsonl_lines(table: pa.Table) -> Iterator[str]:
    """A newline-delimited JSON extract, one line (with its newline) per row."""
    for row in table.to_pylist():
        yield json.dumps(row, default=_json_time) + "\n"


def _json_time(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(type(value))
