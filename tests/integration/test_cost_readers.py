"""Every billing-export reader against the emulated clouds: sample exports of each kind are put
where the provider puts them (S3, Azure Blob, GCS), read back through the readers, mapped to
FOCUS, and their control totals checked against the generator's exact totals."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.engine.cost_ingest import ingest
from multicloud.engine.dataset import slug
from multicloud.engine.tabular import local_copy
from multicloud.config import CostSource
from multicloud.core.costs import focus, reconcile
from multicloud.testing import cost_samples as samples
from multicloud.core.costs.mapping import MappingError
from multicloud.core.costs.sources import snake_case
from multicloud.core.errors import NotFound
from tests.support import unique_name, upload

CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}


@pytest.fixture(scope="module")
def buckets(local_profile):
    names = {}
    for scheme, cloud in CLOUD.items():
        names[scheme] = unique_name("bill")
        create_bucket(local_profile.connection_for(cloud), names[scheme])
    return names


def run(source: CostSource, tmp_path: Path, profile):
    """One source ingested and staged into a local dataset; its reconciliation and the staged rows."""
    (tmp_path / "dataset").mkdir(exist_ok=True)
    dataset = open_store(f"file://{tmp_path / 'dataset'}")
    result = ingest(source, f"file://{tmp_path / 'dataset'}", "run-1", profile)
    table = reconcile.reconcile(result.control, result.quarantined, result.stored, result.unreadable)
    rows = []
    for staged in result.staged:
        with local_copy(dataset, staged.key) as path:
            rows.append(pq.read_table(path))
    return result, table, pa.concat_tables(rows) if rows else None


def quarantine_entries(result, tmp_path: Path) -> list[dict]:
    key = result.quarantine_url.split("/dataset/", 1)[1]
    with open_store(f"file://{tmp_path / 'dataset'}").open(key) as f:
        return [json.loads(line) for line in f.read().decode().splitlines()]


CASES = [
    ("aws-cur", "s3", "aws-cur", {}),
    ("aws-cur-parquet", "s3", "aws-cur", {}),
    ("aws-cur2", "s3", "aws-cur", {}),
    ("aws-focus", "s3", "aws-focus", {}),
    ("azure-ea", "az", "azure-cost-details", {}),
    ("azure-mca", "az", "azure-cost-details", {}),
    ("azure-focus", "az", "azure-focus", {}),
    ("gcp-standard", "gs", "gcp-billing-export", {"fmt": "parquet"}),
    ("gcp-detailed", "gs", "gcp-billing-export", {"fmt": "jsonl"}),
    ("gcp-standard", "gs", "gcp-billing-export", {"fmt": "csv"}),
    ("gcp-focus", "gs", "gcp-focus", {}),
]


@pytest.mark.parametrize("kind,scheme,source_kind,options", CASES,
                         ids=[f"{c[0]}-{c[3].get('fmt', '')}".rstrip("-") for c in CASES])
def test_reader_maps_every_row_and_reconciles_to_the_generator(kind, scheme, source_kind, options, buckets,
                                                               local_profile, tmp_path):
    local = tmp_path / "export"
    export = samples.write_export(kind, 3_000, local, seed=5, chunk_rows=1_000, **options)
    prefix = unique_name("x")
    base = f"{scheme}://{buckets[scheme]}/{prefix}"
    upload(local, base, local_profile)
    if source_kind == "azure-cost-details":
        source = CostSource(name="t", kind=source_kind, url=f"{base}/actual", amortized_url=f"{base}/amortized")
    else:
        source = CostSource(name="t", kind=source_kind, url=base)
    result, table, rows = run(source, tmp_path, local_profile)
    assert result.rows_quarantined == 0
    assert result.control.amounts == export.billed
    assert set(table["status"]) == {"ok"}, table.to_string()
    assert focus.validate(rows.select([c.name for c in focus.COLUMNS])) == []
    effective = {}
    for row in rows.group_by(["ProviderName", "BillingAccountId", "BillingCurrency"]).aggregate(
            [("EffectiveCost", "sum")]).to_pylist():
        effective[(row["ProviderName"], row["BillingAccountId"], "2026-10", row["BillingCurrency"])] = row["EffectiveCost_sum"]
    assert effective == export.amortized  # EffectiveCost as costs.md defines it, to the last digit
    assert result.effective.amounts == export.amortized and result.stored.amounts == export.billed
    provider = slug(rows.column("ProviderName")[0].as_py())
    assert [(s.key, s.rows) for s in result.staged] == [
        (f"provider={provider}/billing_period=2026-10/run-1-t.parquet", rows.num_rows)]  # staged, not published
    if source_kind == "azure-cost-details":
        assert result.rows_written + result.rows_superseded == result.rows_read


def test_a_restated_cur_is_read_from_the_newest_manifest_only(buckets, local_profile, tmp_path):
    local = tmp_path / "export"
    samples.write_export("aws-cur", 2_000, local, seed=1)
    restated = samples.write_export("aws-cur", 2_000, local, seed=1, restated=True)
    base = f"s3://{buckets['s3']}/{unique_name('r')}"
    upload(local, base, local_profile)
    result, table, rows = run(CostSource(name="t", kind="aws-cur", url=base), tmp_path, local_profile)
    assert len(result.files) == 1 and "/b" in result.files[0]  # the new assembly, not the old one
    assert result.control.amounts == restated.billed
    assert rows.num_rows == 2_000


def test_a_re_exported_azure_month_is_read_from_its_newest_run(buckets, local_profile, tmp_path):
    base = f"az://{buckets['az']}/{unique_name('r')}"
    first, second = tmp_path / "first", tmp_path / "second"
    samples.write_export("azure-mca", 1_000, first, seed=2, run="run-1")
    upload(first, base, local_profile)
    time.sleep(1.1)  # a later run: Blob times have one-second resolution
    newer = samples.write_export("azure-mca", 1_000, second, seed=2, restated=True, run="run-2")
    upload(second, base, local_profile)
    source = CostSource(name="t", kind="azure-cost-details", url=f"{base}/actual", amortized_url=f"{base}/amortized")
    result, table, _ = run(source, tmp_path, local_profile)
    assert all("/run-2/" in f for f in result.files)
    assert result.control.amounts == newer.billed and set(table["status"]) == {"ok"}


def test_bad_rows_are_quarantined_and_make_their_totals_unproven(buckets, local_profile, tmp_path):
    local = tmp_path / "export"
    export = samples.write_export("aws-cur", 2_000, local, seed=3, bad_rows=True)
    base = f"s3://{buckets['s3']}/{unique_name('q')}"
    upload(local, base, local_profile)
    result, table, rows = run(CostSource(name="t", kind="aws-cur", url=base), tmp_path, local_profile)
    assert result.rows_quarantined == 3 and rows.num_rows == 2_000 - 3
    assert result.quarantine_url == f"file://{tmp_path / 'dataset'}/quarantine/run-1/t.jsonl"
    found = quarantine_entries(result, tmp_path)
    assert sorted((q["file"], q["line"]) for q in found) == sorted((key, line) for key, line, _, _ in export.bad_rows)
    for key, line, column, value in export.bad_rows:
        reason = next(q["reason"] for q in found if q["line"] == line)
        assert reason.startswith(snake_case(column)) and repr(value) in reason
    assert "unproven" in set(table["status"])  # the unreadable cost and currency are unknown money


def test_a_file_without_a_required_column_is_refused_naming_both(buckets, local_profile, tmp_path):
    store = open_store(f"gs://{buckets['gs']}/{unique_name('m')}", profile=local_profile)
    body = b"billing_account_id,cost,currency\nA,1.0,USD\n"
    store.write("billing-export/2026-10/part-0.csv", io.BytesIO(body), size=len(body))
    source = CostSource(name="t", kind="gcp-billing-export", url=store.url)
    with pytest.raises(MappingError) as err:
        run(source, tmp_path, local_profile)
    assert "billing-export/2026-10/part-0.csv" in str(err.value) and "'service.description'" in str(err.value)


def test_a_cur_folder_without_a_manifest_is_not_found(buckets, local_profile, tmp_path):
    url = f"s3://{buckets['s3']}/{unique_name('e')}"
    with pytest.raises(NotFound):
        run(CostSource(name="t", kind="aws-cur", url=url), tmp_path, local_profile)


@pytest.mark.parametrize("credits", ["[{broken", '[{"amount": "-0.1"}]', "[1, 2]"])
def test_credits_that_are_not_json_are_quarantined_not_dropped(credits, buckets, local_profile, tmp_path):
    local = tmp_path / "export"
    samples.write_export("gcp-standard", 500, local, seed=6, fmt="csv")
    path = next(local.rglob("*.csv"))
    lines = path.read_text().splitlines()
    header, row = next(csv.reader([lines[0]])), next(csv.reader([lines[5]]))
    row[header.index("credits")] = credits
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    lines[5] = out.getvalue()
    path.write_text("\n".join(lines) + "\n")
    base = f"gs://{buckets['gs']}/{unique_name('c')}"
    upload(local, base, local_profile)
    result, table, rows = run(CostSource(name="t", kind="gcp-billing-export", url=base), tmp_path, local_profile)
    assert result.rows_quarantined == 1 and rows.num_rows == 499
    [entry] = quarantine_entries(result, tmp_path)
    assert entry["line"] == 6 and "credits: not a JSON list of credits records" in entry["reason"]
    assert "unproven" in set(table["status"])  # the row's credits, so its billed cost, are unknown


def test_an_azure_run_still_uploading_is_not_read(buckets, local_profile, tmp_path):
    base = f"az://{buckets['az']}/{unique_name('u')}"
    done, partial = tmp_path / "done", tmp_path / "partial"
    first = samples.write_export("azure-mca", 800, done, seed=8, run="run-1")
    upload(done, base, local_profile)
    samples.write_export("azure-mca", 800, partial, seed=8, restated=True, run="run-2")
    for manifest in partial.rglob("manifest.json"):
        manifest.unlink()  # run-2's files are there, its manifests not yet
    time.sleep(1.1)
    upload(partial, base, local_profile)
    source = CostSource(name="t", kind="azure-cost-details", url=f"{base}/actual", amortized_url=f"{base}/amortized")
    result, table, _ = run(source, tmp_path, local_profile)
    assert all("/run-1/" in f for f in result.files) and result.control.amounts == first.billed


def test_line_numbers_stay_true_past_a_blank_line(buckets, local_profile, tmp_path):
    local = tmp_path / "export"
    samples.write_export("aws-cur", 200, local, seed=12, compress=False)
    path = next(local.rglob("*.csv"))
    lines = path.read_text().splitlines()
    lines.insert(3, "")  # line 4 is blank
    header = next(csv.reader([lines[0]]))
    bad = next(csv.reader([lines[9]]))
    bad[header.index("lineItem/UnblendedCost")] = "n/a"
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(bad)
    lines[9] = out.getvalue()  # line 10
    path.write_text("\n".join(lines) + "\n")
    base = f"s3://{buckets['s3']}/{unique_name('b')}"
    upload(local, base, local_profile)
    result, _, rows = run(CostSource(name="t", kind="aws-cur", url=base), tmp_path, local_profile)
    found = {entry["line"]: entry["reason"] for entry in quarantine_entries(result, tmp_path)}
    assert sorted(found) == [4, 10] and "'n/a'" in found[10]
    assert rows.num_rows == 200 - 1 and 11 in rows.column("x_SourceLine").to_pylist()  # the blank line held no row


def test_json_lines_whose_first_block_has_no_credits(buckets, local_profile, tmp_path, monkeypatch):
    from multicloud.engine import tabular

    local = tmp_path / "export"
    export = samples.write_export("gcp-standard", 2_000, local, seed=13, fmt="jsonl")
    path = next(local.rglob("*.jsonl"))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    without = sum(1 for r in rows[:1_000] if r["credits"])
    for r in rows[:1_000]:  # no credits, labels or project labels anywhere in the first blocks
        r["credits"], r["labels"], r["project"]["labels"] = [], [], []
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(tabular, "BLOCK_BYTES", 64 << 10)
    base = f"gs://{buckets['gs']}/{unique_name('j')}"
    upload(local, base, local_profile)
    result, table, out = run(CostSource(name="t", kind="gcp-billing-export", url=base), tmp_path, local_profile)
    assert without > 0 and out.num_rows == 2_000 and result.rows_quarantined == 0
    assert set(table["status"]) == {"ok"} and sum(result.control.amounts.values()) != sum(export.billed.values())
