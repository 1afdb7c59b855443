"""The sample exports are deterministic and keep the providers' own invariants."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from multicloud.testing import cost_samples as samples


def test_same_seed_same_rows_and_totals(tmp_path):
    a = samples.write_export("aws-cur", 2_000, tmp_path / "a", seed=3)
    b = samples.write_export("aws-cur", 2_000, tmp_path / "b", seed=3)
    assert a.billed == b.billed and a.rows == b.rows == 2_000
    data_a = next((tmp_path / "a").rglob("*.csv.gz")).read_bytes()
    data_b = next((tmp_path / "b").rglob("*.csv.gz")).read_bytes()
    import gzip
    assert gzip.decompress(data_a) == gzip.decompress(data_b)


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


def test_azure_actual_and_amortized_months_total_the_same():
    actual = amortized = Decimal(0)
    for a, m in samples.azure_tables(4_000, seed=2):
        actual += sum(Decimal(v) for v in a.column("CostInBillingCurrency").to_pylist())
        amortized += sum(Decimal(v) for v in m.column("CostInBillingCurrency").to_pylist())
    # Commitments are 95% used and bought without upfront payment: the month's totals agree.
    assert actual == amortized


def test_a_month_in_progress_ends_on_the_day_given(tmp_path):
    tables = list(samples.aws_cur_tables(3_000, period="2026-11", through="2026-11-15"))
    starts = pc.max(pa.concat_arrays([t.column("lineItem/UsageStartDate").combine_chunks() for t in tables])).as_py()
    assert starts < "2026-11-15"
