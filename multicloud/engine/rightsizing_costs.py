"""What rightsizing reads of the FOCUS dataset: each resource's trailing usage cost (for the
savings of its findings) and the on-demand spend series per provider, service and region (for
commitment recommendations). Only the partitions that overlap the window are read, and of them
only the columns needed."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from multicloud.core.objects import ObjectStore
from multicloud.core.rightsizing.commitments import UsageSeries
from multicloud.core.rightsizing.statistics import window
from multicloud.core.rightsizing.savings import ResourceCost, cost_key
from multicloud.engine.dataset import partitions, read_partition

_COMMON = ["ChargeCategory", "ChargePeriodStart", "BillingCurrency", "EffectiveCost", "PricingCategory",
           "CommitmentDiscountId"]
COST_COLUMNS = _COMMON + ["ResourceId", "ListCost"]
USAGE_COLUMNS = _COMMON + ["ChargePeriodEnd", "ServiceName", "RegionId"]
HOUR, DAY = 3600, 86400
_MICROS = 1_000_000
_UTC = timezone.utc


def _month_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = int(period[:4]), int(period[5:7])
    return datetime(year, month, 1, tzinfo=_UTC), datetime(year + month // 12, month % 12 + 1, 1, tzinfo=_UTC)


def _usage_rows(store: ObjectStore, now: datetime, days: int, columns: list[str]) -> Iterator[tuple[str, pa.Table]]:
    """(provider, table) of the usage rows charged in the `days` before `now` floored to the hour,
    partition by partition (a billing period's partition holds that month's charges)."""
    start, now = window(now, HOUR, days)
    for provider, period in sorted(partitions(store)):
        first, end = _month_bounds(period)
        if end <= start or first >= now:
            continue
        for table in read_partition(store, provider, period, columns):
            charged = table.column("ChargePeriodStart")
            keep = pc.and_(pc.and_(pc.greater_equal(charged, pa.scalar(start, charged.type)),
                                   pc.less(charged, pa.scalar(now, charged.type))),
                           pc.equal(table.column("ChargeCategory"), "Usage"))
            rows = table.filter(keep)
            if rows.num_rows:
                yield provider, rows


def _committed(table: pa.Table) -> pa.ChunkedArray:
    """Rows a commitment covered: a CommitmentDiscountId, or PricingCategory Committed."""
    return pc.fill_null(pc.or_(pc.is_valid(table.column("CommitmentDiscountId")),
                               pc.equal(table.column("PricingCategory"), "Committed")), False)


def resource_costs(store: ObjectStore, now: datetime, days: int = 30) -> dict[tuple[str, str], ResourceCost]:
    """Per (provider, normalised ResourceId: `savings.cost_key`), the trailing `days` of usage
    EffectiveCost and ListCost, covered by commitments or not. Providers are the dataset's
    partition names (aws, azure, gcp), which inventories call their cloud."""
    sums: dict[tuple, list] = {}
    for provider, rows in _usage_rows(store, now, days, COST_COLUMNS):
        ids = rows.column("ResourceId")
        rows = rows.filter(pc.and_(pc.is_valid(ids), pc.not_equal(ids, "")))
        grouped = pa.table({"id": rows.column("ResourceId"), "currency": rows.column("BillingCurrency"),
                            "committed": _committed(rows), "effective": rows.column("EffectiveCost"),
                            "list": rows.column("ListCost")}).group_by(["id", "currency", "committed"]).aggregate(
            [("effective", "sum"), ("list", "sum"), ("effective", "count")])
        for row in grouped.to_pylist():
            key = (*cost_key(provider, row["id"]), row["currency"], row["committed"])
            total = sums.setdefault(key, [Decimal(0), Decimal(0), 0])
            total[0] += row["effective_sum"] or 0
            total[1] += row["list_sum"] or 0
            total[2] += row["effective_count"]
    return _resource_records(sums, days)


def _resource_records(sums: dict[tuple, list], days: int) -> dict[tuple[str, str], ResourceCost]:
    found: dict[tuple[str, str], dict] = {}
    currencies: dict[tuple[str, str], set] = {}
    for (provider, rid, currency, committed), (effective, listed, rows) in sorted(sums.items()):
        item = found.setdefault((provider, rid), {"rows": 0, "on_demand_effective": Decimal(0),
                                                  "committed_effective": Decimal(0), "on_demand_list": Decimal(0),
                                                  "committed_list": Decimal(0)})
        part = "committed" if committed else "on_demand"
        item[f"{part}_effective"] += effective
        item[f"{part}_list"] += listed
        item["rows"] += rows
        currencies.setdefault((provider, rid), set()).add(currency)
    return {key: ResourceCost(*key, min(currencies[key]), days, currencies=tuple(sorted(currencies[key])), **item)
            for key, item in found.items()}


def on_demand_usage(store: ObjectStore, now: datetime, days: int = 30) -> list[UsageSeries]:
    """Per (provider, service, region, currency), the on-demand usage EffectiveCost (spot and
    commitment-covered rows left out) of the trailing `days`, one point per hour from the
    provider's first charged hour in the window to its last, hours without usage as 0. A series
    with rows charged by the day (Azure's cost details) is daily instead, and says so; rows
    spanning more than a day cannot be placed in time and are left out, counted."""
    buckets: dict[tuple, dict] = {}
    spans: dict[str, list[int]] = {}
    for provider, rows in _usage_rows(store, now, days, USAGE_COLUMNS):
        for row in _hourly_groups(rows).to_pylist():
            key = (provider, row["service"] or "", row["region"] or "", row["currency"])
            item = buckets.setdefault(key, {"hours": {}, "committed": Decimal(0), "daily_rows": 0, "long_rows": 0})
            _add(item, row)
            span = spans.setdefault(provider, [row["hour"], row["hour"]])
            span[0], span[1] = min(span[0], row["hour"]), max(span[1], row["hour"])
    return [_series(key, item, spans[key[0]]) for key, item in sorted(buckets.items())]


def _hourly_groups(rows: pa.Table) -> pa.Table:
    start = rows.column("ChargePeriodStart")
    seconds = pc.divide(pc.cast(pc.subtract(rows.column("ChargePeriodEnd"), start), pa.int64()), _MICROS)
    hour = pc.divide(pc.cast(pc.floor_temporal(start, unit="hour"), pa.int64()), _MICROS)
    spot = pc.fill_null(pc.equal(rows.column("PricingCategory"), "Dynamic"), False)
    table = pa.table({"service": rows.column("ServiceName"), "region": rows.column("RegionId"),
                      "currency": rows.column("BillingCurrency"), "hour": hour, "committed": _committed(rows),
                      "spot": spot, "daily": pc.greater(seconds, HOUR), "long": pc.greater(seconds, DAY),
                      "cost": rows.column("EffectiveCost")})
    return table.group_by(["service", "region", "currency", "hour", "committed", "spot", "daily", "long"]).aggregate(
        [("cost", "sum"), ("cost", "count")])


def _add(item: dict, row: dict) -> None:
    cost = row["cost_sum"] or Decimal(0)
    if row["long"]:
        item["long_rows"] += row["cost_count"]
    elif row["committed"]:
        item["committed"] += cost
    elif not row["spot"]:
        item["hours"][row["hour"]] = item["hours"].get(row["hour"], Decimal(0)) + cost
        item["daily_rows"] += row["cost_count"] if row["daily"] else 0


def _series(key: tuple, item: dict, span: list[int]) -> UsageSeries:
    provider, service, region, currency = key
    step = DAY if item["daily_rows"] else HOUR
    first, last = span[0] // step * step, span[1] // step * step
    points = [Decimal(0)] * ((last - first) // step + 1)
    for hour, cost in item["hours"].items():
        points[(hour // step * step - first) // step] += cost
    if item["daily_rows"]:
        note = (f"{item['daily_rows']} row(s) are charged by the day (ChargePeriodEnd - ChargePeriodStart over "
                "an hour): the export is daily, so candidates are daily spend / 24")
    else:
        note = "every row is charged by the hour"
    if item["long_rows"]:
        note += f"; {item['long_rows']} row(s) spanning more than a day were left out"
    return UsageSeries(provider, service, region, currency, "daily" if item["daily_rows"] else "hourly", note,
                       datetime.fromtimestamp(first, _UTC), step // HOUR, tuple(points), item["committed"],
                       item["long_rows"])
