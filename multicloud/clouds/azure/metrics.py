"""Azure Monitor metrics for idle and rightsizing detection: the shared metric vocabulary translated to
Azure metric names, read with azure-mgmt-monitor `metrics.list` (one ARM GET per resource and period,
up to 20 metric names and every needed aggregation at once), counting the requests per resource.
Azure Monitor has no percentile aggregation: only raw period statistics are read, and percentiles are
computed by us (multicloud.core.rightsizing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Mapping

from multicloud.clouds.azure.management import ArmRetry, arm
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing import MetricsResult, Resource, Series, window

MAX_METRICS_PER_CALL = 20
# Every platform metric used here has a one-minute time grain: Maximum over an interval is the largest
# one-minute value, Total the sum of them.
GRAIN_SECONDS = 60
INTERVALS = {60: "PT1M", 300: "PT5M", 900: "PT15M", 1800: "PT30M", 3600: "PT1H", 21600: "PT6H",
             43200: "PT12H", 86400: "P1D"}
AGGREGATIONS = {"average": "Average", "max": "Maximum", "min": "Minimum", "sum": "Total"}


@dataclass(frozen=True)
class AzureMetric:
    """An Azure metric for a vocabulary metric, and how its values become the vocabulary's unit:
    `direct`, `used_memory_percent` (from Available Memory Bytes and the size's memory: the period's
    max use is 100 % less the min available) or `bandwidth_percent` (one-minute bytes out against the
    size's expected bandwidth)."""

    name: str
    how: str = "direct"


# (resource kind, vocabulary metric) -> Azure metric. Memory is a host metric ("Available Memory Bytes");
# a VM that does not report it has periods without values, which stay missing.
AZURE_METRICS: dict[tuple[str, str], AzureMetric] = {
    ("vm", "cpu_utilization"): AzureMetric("Percentage CPU"),
    ("vm", "memory_utilization"): AzureMetric("Available Memory Bytes", how="used_memory_percent"),
    ("vm", "network_in_bytes"): AzureMetric("Network In Total"),
    ("vm", "network_out_bytes"): AzureMetric("Network Out Total"),
    ("vm", "network_out_utilization"): AzureMetric("Network Out Total", "bandwidth_percent"),
    ("vm", "disk_read_bytes"): AzureMetric("Disk Read Bytes"),
    ("vm", "disk_write_bytes"): AzureMetric("Disk Write Bytes"),
    ("database", "cpu_utilization"): AzureMetric("cpu_percent"),
    ("database", "database_connections"): AzureMetric("connection_successful"),
}
_FLIPPED = {"max": "min", "min": "max"}  # used = total - available: the extremes swap


@dataclass(frozen=True)
class _Need:
    metric: str
    statistic: str
    period: int
    days: int
    azure: AzureMetric

    @property
    def aggregation(self) -> str:
        if self.azure.how == "used_memory_percent":
            return AGGREGATIONS[_FLIPPED.get(self.statistic, self.statistic)]
        return AGGREGATIONS[self.statistic]


def read_metrics(conn: Connection, subscription_id: str, resources: Iterable[Resource],
                 needs: dict[tuple[str, str, int], int], now: datetime, *, base_url: str | None = None,
                 bandwidth_mbps: Mapping[str, float] | None = None,
                 retry: ArmRetry = ArmRetry()) -> MetricsResult:
    """The series `needs` asks for ((metric, period statistic, period seconds) -> days, as
    `required_series` gives) for each resource whose kind has that metric on Azure, each window ending
    at `now` floored to its period. `bandwidth_mbps` maps a VM size to its expected network bandwidth
    (Azure publishes it per size, not through an API), needed for network_out_utilization. Raises
    InvalidInput for a period Azure Monitor does not offer, else the taxonomy error of the first
    request that fails after the retry policy's retries."""
    from azure.mgmt.monitor import MonitorManagementClient

    result = MetricsResult()
    api = arm(conn, subscription_id, base_url, retry, result.throttle_waits)
    with api.client(MonitorManagementClient) as monitor:
        for res in resources:
            by_period = _plan(res, needs, result)
            for period, wanted in sorted(by_period.items()):
                start, end = window(now, period, max(n.days for n in wanted))
                for i in range(0, len(wanted), MAX_METRICS_PER_CALL):
                    _fetch(api, monitor, res, wanted[i:i + MAX_METRICS_PER_CALL], start, end, result,
                           bandwidth_mbps or {})
    return result


def _plan(res: Resource, needs: dict[tuple[str, str, int], int], result: MetricsResult) -> dict[int, list[_Need]]:
    by_period: dict[int, list[_Need]] = {}
    for (metric, stat, period), days in sorted(needs.items()):
        found = AZURE_METRICS.get((res.kind, metric))
        if found is None or (found.how != "direct" and stat == "sum"):  # a sum of percentages means nothing
            result.unsupported.add((res.kind, metric))
            continue
        if period not in INTERVALS and period > 86400:  # a window-long period: Azure Monitor has none
            result.unsupported.add((res.kind, metric))
            continue
        if period not in INTERVALS:
            raise InvalidInput(f"Azure Monitor has no {period}-second interval: use one of "
                               f"{', '.join(INTERVALS.values())}", target=f"{metric} every {period} s")
        by_period.setdefault(period, []).append(_Need(metric, stat, period, days, found))
    return by_period


def _fetch(api, monitor, res: Resource, wanted: list[_Need], start: datetime, end: datetime,
           result: MetricsResult, bandwidth: Mapping[str, float]) -> None:
    names = ",".join(sorted({n.azure.name for n in wanted}))
    aggregations = ",".join(sorted({n.aggregation for n in wanted}))
    result.requests += 1
    result.requests_by_resource[res.id] += 1
    answer = api.call(lambda **kw: monitor.metrics.list(
        res.id, timespan=f"{_iso(start)}/{_iso(end)}", interval=INTERVALS[wanted[0].period], metricnames=names,
        aggregation=aggregations, **kw), f"azure:metrics {res.id}")
    data = {m.name.value: [p for ts in m.timeseries or () for p in ts.data or ()] for m in answer.value or ()}
    for need in wanted:
        convert, problem = _converter(need, res, bandwidth)
        if problem:
            result.notes.setdefault(res.id, []).append(problem)
            continue
        points = _points(data.get(need.azure.name, ()), need.aggregation.lower(), end - timedelta(days=need.days))
        result.series.setdefault(res.id, []).append(
            Series(need.metric, need.statistic, need.period, tuple((t, convert(v)) for t, v in points)))


def _points(data, aggregation: str, since: datetime) -> list[tuple[datetime, float]]:
    """(period start, value) of the periods since `since` that have a value: Azure Monitor answers a
    period without data with its timeStamp only, and that period stays missing."""
    points = ((_utc(p.time_stamp), getattr(p, aggregation)) for p in data)
    return sorted((t, v) for t, v in points if v is not None and t >= since)


def _converter(need: _Need, res: Resource, bandwidth: Mapping[str, float]) -> tuple[Callable[[float], float], str]:
    if need.azure.how == "used_memory_percent":
        if not res.memory_mib:
            return float, f"{need.metric} needs the memory of size {res.type or '?'}, which is not known"
        total = res.memory_mib * 2**20
        return (lambda v: 100 * (total - v) / total), ""
    if need.azure.how == "bandwidth_percent":
        mbps = bandwidth.get(res.type)
        if not mbps:
            return float, f"{need.metric} needs the expected bandwidth of size {res.type or '?'}, which is not given"
        per_grain = mbps * 1e6 / 8 * GRAIN_SECONDS
        return (lambda v: 100 * v / per_grain), ""
    return float, ""


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
