"""Cost views over FOCUS rows: daily cost by provider, service, sub-account and region, cost by a
tag key, month to date with a forecast to month end, top movers day over day, and anomalies with
the rows that explain them. Pure: tables in, tables out; `as_of` is passed in."""

from __future__ import annotations

import calendar
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from multicloud.core.costs import focus

# Money of different currencies is never added up: every view keeps BillingCurrency.
DAILY_KEYS = ["day", "BillingCurrency", "ProviderName", "ServiceName", "SubAccountId", "RegionId"]
TAG_KEYS = ["billing_period", "BillingCurrency", "ProviderName", "tag_value"]
MEASURES = ["BilledCost", "EffectiveCost"]
_CENT = Decimal("0.01")


def daily_partial(table: pa.Table) -> pa.Table:
    """Daily sums of one chunk (combine partials with `combine`)."""
    day = pc.cast(pc.floor_temporal(table.column("ChargePeriodStart"), unit="day"), pa.date32())
    keyed = pa.table({"day": day, **{k: table.column(k) for k in DAILY_KEYS[1:]},
                      **{m: table.column(m) for m in MEASURES}})
    return keyed.group_by(DAILY_KEYS, use_threads=False).aggregate([(m, "sum") for m in MEASURES]).rename_columns(
        DAILY_KEYS + MEASURES)


def tag_value(tags, key: str):
    """The value of tag `key` in FOCUS Tags (compact JSON objects), null where absent."""
    name = json.dumps(key)[1:-1]  # as the key is written inside the JSON text
    pattern = r'"' + re.escape(name) + r'":"(?P<value>(?:[^"\\]|\\.)*)"'
    values = pc.struct_field(pc.extract_regex(tags, pattern), [0])
    if pc.any(pc.match_substring(values, "\\")).as_py():  # JSON escapes: decode the few that have them
        from multicloud.core.costs.mapping import map_distinct
        values = map_distinct(values, lambda v: json.loads(f'"{v}"') if v is not None else None)
    return values


def tag_partial(table: pa.Table, key: str) -> pa.Table:
    """Sums by (billing period, provider, value of tag `key`) for one chunk; untagged as null."""
    period = pc.strftime(table.column("BillingPeriodStart"), format="%Y-%m")
    keyed = pa.table({"billing_period": period, "BillingCurrency": table.column("BillingCurrency"),
                      "ProviderName": table.column("ProviderName"), "tag_value": tag_value(table.column("Tags"), key),
                      **{m: table.column(m) for m in MEASURES}})
    return keyed.group_by(TAG_KEYS, use_threads=False).aggregate([(m, "sum") for m in MEASURES]).rename_columns(
        TAG_KEYS + MEASURES)


def combine_table(partials: list[pa.Table], keys: list[str]) -> pa.Table:
    """Partials summed into one table (money decimal128(38, 18), keys as strings or days)."""
    def canonical(table: pa.Table) -> pa.Table:
        fields = [pa.field(k, pa.date32() if k == "day" else pa.string()) for k in keys]
        fields += [pa.field(m, focus.DECIMAL) for m in MEASURES]
        return table.select(keys + MEASURES).cast(pa.schema(fields), safe=False)

    table = pa.concat_tables([canonical(p) for p in partials]) if partials else pa.table({})
    if not partials:
        return canonical(pa.table({**{k: pa.array([], pa.string()) for k in keys},
                                   **{m: pa.array([], focus.DECIMAL) for m in MEASURES}}))
    total = table.group_by(keys, use_threads=False).aggregate([(m, "sum") for m in MEASURES]).rename_columns(keys + MEASURES)
    return canonical(total).sort_by([(k, "ascending") for k in keys])


def combine(partials: list[pa.Table], keys: list[str]) -> pd.DataFrame:
    """Partials summed into one frame, money as exact decimals."""
    if not partials:
        return pd.DataFrame(columns=keys + MEASURES)
    return combine_table(partials, keys).to_pandas()


def month_to_date(daily: pd.DataFrame, as_of: date, measure: str = "EffectiveCost",
                  trailing_days: int = 7, by: str | None = "ProviderName") -> pd.DataFrame:
    """Cost of the month of `as_of` up to and including `as_of`, and a forecast to month end:
    month to date plus the mean of the last `trailing_days` days times the days left; per
    currency ("All") and per currency and `by`. Sums are exact, shown to the cent."""
    if daily.empty:
        return pd.DataFrame(columns=["currency", "group", "month", "month_to_date", "daily_run_rate", "forecast"])
    frame = daily.copy()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    start = as_of.replace(day=1)
    days_in_month = calendar.monthrange(as_of.year, as_of.month)[1]
    left = days_in_month - as_of.day
    window_start = as_of - timedelta(days=trailing_days - 1)
    rows = []
    for currency, money in frame.groupby("BillingCurrency"):
        groups = [("All", money)] + ([(g, f) for g, f in money.groupby(by)] if by else [])
        for name, part in groups:
            values = part[measure].map(Decimal)  # exact sums, shown at cents
            mtd = sum(values[(part["day"] >= start) & (part["day"] <= as_of)], Decimal(0))
            recent = sum(values[(part["day"] >= window_start) & (part["day"] <= as_of)], Decimal(0)) / trailing_days
            rows.append({"currency": currency, "group": name, "month": f"{as_of:%Y-%m}",
                         "month_to_date": mtd.quantize(_CENT), "daily_run_rate": recent.quantize(_CENT),
                         "forecast": (mtd + recent * left).quantize(_CENT)})
    return pd.DataFrame(rows)


def top_movers(daily: pd.DataFrame, day: date, n: int = 10, measure: str = "EffectiveCost",
               keys: tuple[str, ...] = ("BillingCurrency", "ProviderName", "ServiceName")) -> pd.DataFrame:
    """The `n` (currency, provider, service) whose cost changed most from the day before `day`."""
    frame = daily.copy()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame[measure] = frame[measure].astype(float)
    today = frame[frame["day"] == day].groupby(list(keys))[measure].sum()
    before = frame[frame["day"] == day - timedelta(days=1)].groupby(list(keys))[measure].sum()
    moves = pd.DataFrame({"previous": before, "current": today}).fillna(0.0)
    moves["change"] = moves["current"] - moves["previous"]
    moves["change_pct"] = (moves["change"] / moves["previous"].where(moves["previous"] != 0)) * 100
    moves = moves.reindex(moves["change"].abs().sort_values(ascending=False).index).head(n)
    return moves.reset_index().round({"previous": 2, "current": 2, "change": 2, "change_pct": 1})


def anomalies(daily: pd.DataFrame, factor: float = 2.0, trailing_days: int = 7, min_history: int = 3,
              min_cost: float = 1.0, measure: str = "EffectiveCost",
              keys: tuple[str, ...] = ("BillingCurrency", "ProviderName", "ServiceName", "SubAccountId")
              ) -> pd.DataFrame:
    """Days whose cost is more than `factor` × the mean of the `trailing_days` days before it,
    per (provider, service, sub-account), with at least `min_history` earlier days with a cost,
    and an excess over that mean of at least `min_cost` (so a cent becoming three cents is not
    an alert). Largest excess first."""
    columns = ["day", *keys, "cost", "trailing_mean", "excess", "ratio"]
    if daily.empty:
        return pd.DataFrame(columns=columns)
    frame = daily.copy()
    frame["day"] = pd.to_datetime(frame["day"])
    frame[measure] = frame[measure].astype(float)
    series = frame.groupby([*keys, "day"], dropna=False)[measure].sum().reset_index()
    found = []
    for group, part in series.groupby(list(keys), dropna=False):
        part = part.set_index("day")[measure].asfreq("D", fill_value=0.0)
        earlier = part.shift(1)
        history = earlier.rolling(trailing_days, min_periods=1).mean()
        days_with_cost = (earlier > 0).astype(float).rolling(trailing_days, min_periods=1).sum()
        hits = part[(days_with_cost >= min_history) & (history > 0) & (part > factor * history)
                    & (part - history >= min_cost)]
        for day, cost in hits.items():
            mean = history[day]
            found.append({"day": day.date(), **dict(zip(keys, group)), "cost": round(cost, 2),
                          "trailing_mean": round(mean, 2), "excess": round(cost - mean, 2),
                          "ratio": round(cost / mean, 2)})
    return pd.DataFrame(found, columns=columns).sort_values(["excess"], ascending=False).reset_index(drop=True)


def explaining_rows(table: pa.Table, anomaly: dict, limit: int = 10, measure: str = "EffectiveCost",
                    keys: tuple[str, ...] = ("BillingCurrency", "ProviderName", "ServiceName", "SubAccountId")
                    ) -> pa.Table:
    """The rows of `table` behind one anomaly (its day and keys), largest cost first."""
    day = pc.cast(pc.floor_temporal(table.column("ChargePeriodStart"), unit="day"), pa.date32())
    mask = pc.equal(day, pa.scalar(anomaly["day"], pa.date32()))
    for key in keys:
        value = anomaly[key]
        mask = pc.and_(mask, pc.is_null(table.column(key)) if value is None or value != value
                       else pc.equal(table.column(key), value))
    rows = table.filter(mask).select(["ChargePeriodStart", *keys, "ResourceId", "SkuId", "ChargeDescription",
                                      "BilledCost", "EffectiveCost", "x_SourceFile", "x_SourceLine"])
    if rows.num_rows > limit:
        rows = rows.take(pc.select_k_unstable(rows, limit, [(measure, "descending")]))
    return rows.sort_by([(measure, "descending")])
