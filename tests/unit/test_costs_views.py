"""Cost views (daily, tags, month to date, movers, anomalies) and the FOCUS checks: pure."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pyarrow as pa

from multicloud.core.costs import aggregate, focus

UTC = timezone.utc


def rows(entries: list[tuple[date, str, str, str]], **extra) -> pa.Table:
    """FOCUS-like rows: (day, provider, service, cost)."""
    n = len(entries)
    return pa.table({
        "ChargePeriodStart": pa.array([datetime(d.year, d.month, d.day, 5, tzinfo=UTC) for d, *_ in entries],
                                      focus.TIMESTAMP),
        "BillingPeriodStart": pa.array([datetime(d.year, d.month, 1, tzinfo=UTC) for d, *_ in entries], focus.TIMESTAMP),
        "ProviderName": [p for _, p, _, _ in entries], "ServiceName": [s for _, _, s, _ in entries],
        "SubAccountId": ["acct"] * n, "RegionId": ["r1"] * n, "BillingCurrency": ["USD"] * n,
        "BilledCost": pa.array([Decimal(c) for *_, c in entries], focus.DECIMAL),
        "EffectiveCost": pa.array([Decimal(c) for *_, c in entries], focus.DECIMAL),
        "Tags": extra.get("tags", ["{}"] * n),
        "ResourceId": [f"res-{i}" for i in range(n)], "SkuId": ["sku"] * n, "ChargeDescription": ["d"] * n,
        "x_SourceFile": ["f.csv"] * n, "x_SourceLine": pa.array(range(2, n + 2), pa.int64()),
    })


def daily_of(table: pa.Table) -> pd.DataFrame:
    return aggregate.combine([aggregate.daily_partial(table)], aggregate.DAILY_KEYS)


def test_daily_sums_are_exact_across_partials():
    day = date(2026, 10, 3)
    a = rows([(day, "AWS", "EC2", "0.1")] * 3)
    b = rows([(day, "AWS", "EC2", "0.2"), (day, "Microsoft", "VM", "1")])
    daily = aggregate.combine([aggregate.daily_partial(a), aggregate.daily_partial(b)], aggregate.DAILY_KEYS)
    got = {(r.ProviderName, r.ServiceName): r.BilledCost for r in daily.itertuples()}
    assert got == {("AWS", "EC2"): Decimal("0.5"), ("Microsoft", "VM"): Decimal("1")}


def test_cost_by_tag_reads_the_json_tags_and_keeps_untagged_apart():
    day = date(2026, 10, 3)
    table = rows([(day, "AWS", "EC2", "1"), (day, "AWS", "EC2", "2"), (day, "AWS", "EC2", "4")],
                 tags=['{"env":"prod","team":"data"}', '{"team":"web \\"x\\""}', "{}"])
    frame = aggregate.combine([aggregate.tag_partial(table, "team")], ["billing_period", "ProviderName", "tag_value"])
    got = {(r.tag_value if isinstance(r.tag_value, str) else None): r.BilledCost for r in frame.itertuples()}
    assert got == {None: Decimal("4"), "data": Decimal("1"), 'web "x"': Decimal("2")}


def test_views_never_add_up_two_currencies():
    day = date(2026, 11, 2)
    usd = rows([(day, "Microsoft", "VM", "10")])
    eur = rows([(day, "Microsoft", "VM", "7")])
    eur = eur.set_column(eur.column_names.index("BillingCurrency"), "BillingCurrency", pa.array(["EUR"]))
    daily = aggregate.combine([aggregate.daily_partial(usd), aggregate.daily_partial(eur)], aggregate.DAILY_KEYS)
    assert sorted(zip(daily["BillingCurrency"], daily["BilledCost"])) == [("EUR", Decimal("7")), ("USD", Decimal("10"))]
    mtd = aggregate.month_to_date(daily, day)
    totals = {r.currency: r.month_to_date for r in mtd[mtd["group"] == "All"].itertuples()}
    assert totals == {"EUR": 7.0, "USD": 10.0}


def test_month_to_date_and_forecast():
    start = date(2026, 11, 1)
    table = rows([(start + timedelta(days=i), "AWS", "EC2", "10") for i in range(14)] +
                 [(date(2026, 10, 31), "AWS", "EC2", "99")])
    mtd = aggregate.month_to_date(daily_of(table), date(2026, 11, 14))
    total = mtd[mtd["group"] == "All"].iloc[0]
    assert total["month_to_date"] == 140.0 and total["daily_run_rate"] == 10.0
    assert total["forecast"] == 300.0  # 140 so far + 16 days left at 10 a day


def test_top_movers_day_over_day():
    d1, d2 = date(2026, 11, 1), date(2026, 11, 2)
    table = rows([(d1, "AWS", "EC2", "10"), (d2, "AWS", "EC2", "30"), (d1, "AWS", "S3", "5"), (d2, "AWS", "S3", "4"),
                  (d2, "Google Cloud", "BigQuery", "7")])
    movers = aggregate.top_movers(daily_of(table), d2, n=2)
    assert list(movers["ServiceName"]) == ["EC2", "BigQuery"]
    assert list(movers["change"]) == [20.0, 7.0]


def test_an_anomaly_is_a_day_above_factor_times_its_trailing_mean_with_its_rows():
    start = date(2026, 11, 1)
    entries = [(start + timedelta(days=i), "AWS", "EC2", "10") for i in range(10)]
    entries += [(date(2026, 11, 11), "AWS", "EC2", "50"), (date(2026, 11, 11), "AWS", "EC2", "15")]
    entries += [(start + timedelta(days=i), "AWS", "S3", "0.01") for i in range(10)] + [(date(2026, 11, 11), "AWS", "S3", "0.5")]
    table = rows(entries)
    found = aggregate.anomalies(daily_of(table), factor=2.0, trailing_days=7, min_cost=1.0)
    assert len(found) == 1  # S3 went up 50x, but to fifty cents: below min_cost
    hit = found.iloc[0]
    assert (hit["day"], hit["ServiceName"], hit["cost"], hit["trailing_mean"], hit["ratio"]) == \
        (date(2026, 11, 11), "EC2", 65.0, 10.0, 6.5)
    explained = aggregate.explaining_rows(table, hit.to_dict())
    assert [str(v) for v in explained.column("EffectiveCost").to_pylist()] == ["50.000000000000000000", "15.000000000000000000"]
    assert explained.column("x_SourceLine").to_pylist() == [12, 13]


def test_no_anomaly_without_enough_history():
    table = rows([(date(2026, 11, 1), "AWS", "EC2", "1"), (date(2026, 11, 2), "AWS", "EC2", "100")])
    assert aggregate.anomalies(daily_of(table), min_history=3).empty
