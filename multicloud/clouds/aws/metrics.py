"""CloudWatch metrics for idle and rightsizing detection: the shared metric vocabulary translated to
AWS namespaces and metric names, read with GetMetricData in batches the real limits allow (500 queries
per request, 1,440 points per series per request, NextToken pages), counting the requests per resource.
Only raw period statistics are asked for; percentiles are computed by us (multicloud.core.rightsizing)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from botocore.exceptions import BotoCoreError, ClientError

from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.core.rightsizing import MetricsResult, Resource, Series, window

MAX_QUERIES_PER_CALL = 500
MAX_POINTS_PER_SERIES = 1440

# (resource kind, vocabulary metric) -> (namespace, metric name, dimension holding the resource id).
# Memory needs the CloudWatch agent (its default namespace and name); without it there is no series.
AWS_METRICS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("vm", "cpu_utilization"): ("AWS/EC2", "CPUUtilization", "InstanceId"),
    ("vm", "network_in_bytes"): ("AWS/EC2", "NetworkIn", "InstanceId"),
    ("vm", "network_out_bytes"): ("AWS/EC2", "NetworkOut", "InstanceId"),
    ("vm", "disk_read_ops"): ("AWS/EC2", "DiskReadOps", "InstanceId"),
    ("vm", "disk_write_ops"): ("AWS/EC2", "DiskWriteOps", "InstanceId"),
    ("vm", "disk_read_bytes"): ("AWS/EC2", "DiskReadBytes", "InstanceId"),
    ("vm", "disk_write_bytes"): ("AWS/EC2", "DiskWriteBytes", "InstanceId"),
    ("vm", "memory_utilization"): ("CWAgent", "mem_used_percent", "InstanceId"),
    ("disk", "disk_read_ops"): ("AWS/EBS", "VolumeReadOps", "VolumeId"),
    ("disk", "disk_write_ops"): ("AWS/EBS", "VolumeWriteOps", "VolumeId"),
    ("disk", "disk_read_bytes"): ("AWS/EBS", "VolumeReadBytes", "VolumeId"),
    ("disk", "disk_write_bytes"): ("AWS/EBS", "VolumeWriteBytes", "VolumeId"),
    ("database", "cpu_utilization"): ("AWS/RDS", "CPUUtilization", "DBInstanceIdentifier"),
    ("database", "database_connections"): ("AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier"),
}
AWS_STATISTICS = {"average": "Average", "max": "Maximum", "min": "Minimum", "sum": "Sum"}


@dataclass(frozen=True)
class _Query:
    n: int
    resource: str
    metric: str
    statistic: str
    period: int
    days: int
    spec: dict


def read_metrics(conn: Connection, resources: Iterable[Resource], needs: dict[tuple[str, str, int], int],
                 now: datetime) -> MetricsResult:
    """The series `needs` asks for ((metric, period statistic, period seconds) -> days, as
    `required_series` gives), for each resource whose kind has that metric on AWS. Each window ends at
    `now` floored to its period. Raises the taxonomy error of the first request that fails."""
    result = MetricsResult()
    queries = plan_queries(resources, needs, result.unsupported)
    cw = client(conn, "cloudwatch")
    groups: dict[tuple[int, int], list[_Query]] = defaultdict(list)
    for q in queries:
        groups[(q.period, q.days)].append(q)
    points: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    for (period, days), group in sorted(groups.items()):
        for start, end in time_chunks(now, period, days):
            for i in range(0, len(group), MAX_QUERIES_PER_CALL):
                _fetch(cw, group[i:i + MAX_QUERIES_PER_CALL], start, end, points, result)
    for q in queries:
        result.series.setdefault(q.resource, []).append(
            Series(q.metric, q.statistic, q.period, tuple(sorted(points.get(q.n, ())))))
    return result


def plan_queries(resources: Iterable[Resource], needs: dict[tuple[str, str, int], int],
                 unsupported: set[tuple[str, str]]) -> list[_Query]:
    """One query per resource and needed series that AWS has; the rest is added to `unsupported`."""
    out = []
    for res in resources:
        for (metric, stat, period), days in sorted(needs.items()):
            found = AWS_METRICS.get((res.kind, metric))
            if found is None:
                unsupported.add((res.kind, metric))
                continue
            namespace, name, dimension = found
            spec = {"Metric": {"Namespace": namespace, "MetricName": name,
                               "Dimensions": [{"Name": dimension, "Value": res.id}]},
                    "Period": period, "Stat": AWS_STATISTICS[stat]}
            out.append(_Query(len(out), res.id, metric, stat, period, days, spec))
    return out


def time_chunks(now: datetime, period: int, days: int) -> list[tuple[datetime, datetime]]:
    """[start, end) spans of at most 1,440 periods covering `days` up to `now` floored to the period
    (to the hour for a window-long period)."""
    start, end = window(now, period, days)
    step = timedelta(seconds=period * MAX_POINTS_PER_SERIES)
    spans = []
    while start < end:
        spans.append((start, min(start + step, end)))
        start += step
    return spans


def _fetch(cw, batch: list[_Query], start: datetime, end: datetime, points: dict[int, list],
           result: MetricsResult) -> None:
    ids = {f"q{q.n}": q.n for q in batch}
    request = {"MetricDataQueries": [{"Id": f"q{q.n}", "MetricStat": q.spec, "ReturnData": True} for q in batch],
               "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}
    owners = {q.resource for q in batch}
    while True:
        result.requests += 1
        result.requests_by_resource.update(owners)
        try:
            answer = cw.get_metric_data(**request)
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, target="cloudwatch:get_metric_data", service="CloudWatch") from exc
        for item in answer.get("MetricDataResults", []):
            points[ids[item["Id"]]].extend(zip((_utc(t) for t in item.get("Timestamps", [])), item.get("Values", [])))
        token = answer.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
