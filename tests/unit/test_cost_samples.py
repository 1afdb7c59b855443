"""The sample exports are deterministic, keep the providers' own invariants, carry exact totals,
and are laid out as the providers lay them out."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from multicloud.testing import cost_samples as samples
from multicloud.testing.cost_samples import aws, azure, common, gcp


def tree_digest(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", samples.KINDS)
def test_same_arguments_same_bytes_and_every_file_listed(kind, tmp_path):
    options = dict(seed=3, chunk_rows=400, restated=True, prefix="exports/")
    a = samples.write_export(kind, 1_000, tmp_path / "a", **options)
    b = samples.write_export(kind, 1_000, tmp_path / "b", **options)
    assert a == b and a.rows >= 1_000
    files = tree_digest(tmp_path / "a")
    assert files == tree_digest(tmp_path / "b")
    # Every file written is a key of the export (no spool or stray folder left behind), and the reverse.
    assert sorted(files) == sorted(a.keys)


def test_another_seed_other_bytes(tmp_path):
    samples.write_export("aws-cur", 1_000, tmp_path / "a", seed=1)
    samples.write_export("aws-cur", 1_000, tmp_path / "b", seed=2)
    data = [gzip.decompress(next((tmp_path / d).rglob("*.csv.gz")).read_bytes()) for d in "ab"]
    assert data[0] != data[1]


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="'aws-cur3'"):
        samples.write_export("aws-cur3", 10, "/nonexistent")


def test_cur_negations_cancel_covered_usage_and_columns_are_the_documented_ones():
    tables = list(samples.aws_cur_tables(5_000, seed=1))
    assert tables[0].column_names == list(samples.AWS_CUR_CSV_COLUMNS)
    kinds = pc.value_counts(pa.concat_arrays([t.column("lineItem/LineItemType").combine_chunks() for t in tables]))
    counts = {v["values"].as_py(): v["counts"].as_py() for v in kinds}
    assert counts["SavingsPlanCoveredUsage"] == counts["SavingsPlanNegation"] > 0
    covered = negated = Decimal(0)
    for t in tables:
        for kind, cost in zip(t.column("lineItem/LineItemType").to_pylist(), t.column("lineItem/UnblendedCost").to_pylist()):
            if kind == "SavingsPlanCoveredUsage":
                covered += Decimal(cost)
            elif kind == "SavingsPlanNegation":
                negated += Decimal(cost)
    assert covered == -negated


def test_cur_totals_are_the_sum_of_the_written_costs():
    billed: dict = {}
    for table in samples.aws_cur_tables(4_000, seed=6, chunk_rows=1_500):
        for payer, cost in zip(table.column("bill/PayerAccountId").to_pylist(),
                               table.column("lineItem/UnblendedCost").to_pylist()):
            billed[payer] = billed.get(payer, Decimal(0)) + Decimal(cost)
        for (provider, account, currency), (units, _) in common.table_units(table).items():
            billed[account] -= Decimal(units) / samples.SCALE
    assert set(billed) == {p for p, _ in samples.AWS_PAYERS} and set(billed.values()) == {Decimal(0)}


def test_azure_actual_and_amortized_months_total_the_same():
    actual = amortized = Decimal(0)
    for a, m in samples.azure_tables(4_000, seed=2):
        actual += sum(Decimal(v) for v in a.column("CostInBillingCurrency").to_pylist())
        amortized += sum(Decimal(v) for v in m.column("CostInBillingCurrency").to_pylist())
    # Commitments are 95% used and bought without upfront payment: the month's totals agree.
    assert actual == amortized


def test_azure_column_sets_are_the_documented_ones():
    (ea, _), *_ = samples.azure_tables(50, seed=1)
    (mca, _), *_ = samples.azure_tables(50, seed=1, mca=True)
    assert ea.column_names == list(samples.AZURE_EA_COLUMNS)
    assert mca.column_names == list(samples.AZURE_MCA_COLUMNS)
    assert json.loads(next(t for t in mca.column("tags").to_pylist() if t)).keys() <= {"team", "env"}


def test_gcp_billed_totals_include_the_credits():
    table = next(samples.gcp_tables(2_000, seed=4))
    units = common.table_units(table)
    for account, currency in samples.GCP_ACCOUNTS:
        rows = table.filter(pc.equal(table.column("billing_account_id"), account))
        credits = sum(c["amount"] for row in rows.column("credits").to_pylist() for c in row)
        billed, _ = units[("Google Cloud", account, currency)]
        assert credits < 0
        assert pc.sum(rows.column("cost")).as_py() + credits == pytest.approx(billed / samples.SCALE, abs=1e-6)


def test_gcp_csv_extract_flattens_records_and_prints_times_as_bigquery_does():
    extract = gcp.csv_extract(next(samples.gcp_tables(20, seed=1)))
    assert {"service.description", "project.labels", "usage.amount"} <= set(extract.column_names)
    assert extract.column("usage_start_time")[0].as_py().endswith(" UTC")
    assert isinstance(json.loads(extract.column("credits")[0].as_py()), list)


def test_a_month_in_progress_ends_on_the_day_given():
    tables = list(samples.aws_cur_tables(3_000, period="2026-11", through="2026-11-15"))
    starts = pc.max(pa.concat_arrays([t.column("lineItem/UsageStartDate").combine_chunks() for t in tables])).as_py()
    assert starts < "2026-11-15"


@pytest.mark.parametrize("kind", ["aws-cur", "azure-ea", "azure-mca"])
def test_bad_rows_are_where_the_export_says(kind, tmp_path):
    export = samples.write_export(kind, 500, tmp_path, bad_rows=True, compress=False)
    assert [v for _, _, _, v in export.bad_rows] and len(export.bad_rows) == len(samples.BAD_VALUES)
    for key, line, column, value in export.bad_rows:
        rows = list(csv.reader(io.StringIO((tmp_path / key).read_text())))
        assert rows[line - 1][rows[0].index(column)] == value


def test_spoil_names_only_the_values_asked_for():
    table = pa.table({"cost": ["1", "2", "3"], "day": ["a", "b", "c"], "cur": ["USD"] * 3})
    cells = {"cost": ("cost", "x"), "date": ("day", "y"), "currency": ("cur", "z")}
    spoiled, where = common.spoil(table, cells, ("date",))
    assert where == [(3, "day", "y")] and spoiled.column("day").to_pylist() == ["a", "y", "c"]
    assert spoiled.column("cost").to_pylist() == ["1", "2", "3"]


def test_manifests_name_the_files():
    legacy = json.loads(aws.cur_manifest("r", "2026-12", "a1", ["r/x.csv.gz"], "text/csv", cur2=False))
    assert legacy["reportKeys"] == ["r/x.csv.gz"] and legacy["compression"] == "GZIP"
    assert legacy["billingPeriod"] == {"start": "20261201T000000.000Z", "end": "20270101T000000.000Z"}
    assert len(legacy["columns"]) == len(samples.AWS_CUR_CSV_COLUMNS)
    cur2 = json.loads(aws.cur_manifest("r", "2026-12", "", ["r/x.parquet"], "Parquet", cur2=True))
    assert cur2["dataFiles"] == ["s3://billing-exports/r/x.parquet"] and "columns" not in cur2
    run = json.loads(azure.run_manifest("a/part_0_0001.csv", 12))
    assert run["blobs"] == [{"blobName": "a/part_0_0001.csv", "byteCount": 12}]


def test_mixed_spends_the_whole_budget():
    parts = samples.mixed(1_001)
    assert sum(n for _, n in parts) == 1_001 and {k for k, _ in parts} <= set(samples.KINDS)
