"""Cloud Monitoring metrics for idle and rightsizing detection: the shared metric vocabulary translated to
Compute Engine and Ops Agent metric types, read with the REST `projects.timeSeries.list` (one query per
metric type, aligner and period for the whole project, following nextPageToken), counting the requests
per resource: every page that carried one of its series. Only raw aligned points (mean, max, min, sum)
are read; percentiles are computed by us (multicloud.core.rightsizing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from multicloud.clouds.gcp.inventory import GLOBAL
from multicloud.clouds.gcp.rest import GoogleApi, GoogleRetry, google_api
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing import MetricsResult, Resource, Series, window

DEFAULT_ENDPOINT = "https://monitoring.googleapis.com"
PAGE_SIZE = 1000
ALIGNERS = {"average": "ALIGN_MEAN", "max": "ALIGN_MAX", "min": "ALIGN_MIN", "sum": "ALIGN_SUM"}


@dataclass(frozen=True)
class GoogleMetric:
    """A metric type for a vocabulary metric: an extra filter on its labels, and the factor that turns
    its values into the vocabulary's unit (CPU utilization is a 0-1 fraction, the vocabulary's percent)."""

    type: str
    labels: str = ""
    scale: float = 1.0


# (resource kind, vocabulary metric) -> metric type. Memory exists only where the Ops Agent runs; a VM
# without it has no series, which stays missing.
GCP_METRICS: dict[tuple[str, str], GoogleMetric] = {
    ("vm", "cpu_utilization"): GoogleMetric("compute.googleapis.com/instance/cpu/utilization", scale=100.0),
    ("vm", "memory_utilization"): GoogleMetric("agent.googleapis.com/memory/percent_used",
                                               'metric.labels.state = "used"'),
    ("vm", "network_in_bytes"): GoogleMetric("compute.googleapis.com/instance/network/received_bytes_count"),
    ("vm", "network_out_bytes"): GoogleMetric("compute.googleapis.com/instance/network/sent_bytes_count"),
    ("vm", "disk_read_bytes"): GoogleMetric("compute.googleapis.com/instance/disk/read_bytes_count"),
    ("vm", "disk_write_bytes"): GoogleMetric("compute.googleapis.com/instance/disk/write_bytes_count"),
    ("vm", "disk_read_ops"): GoogleMetric("compute.googleapis.com/instance/disk/read_ops_count"),
    ("vm", "disk_write_ops"): GoogleMetric("compute.googleapis.com/instance/disk/write_ops_count"),
}


def read_metrics(conn: Connection, resources: Iterable[Resource], needs: dict[tuple[str, str, int], int],
                 now: datetime, *, project: str | None = None, endpoint: str | None = None,
                 retry: GoogleRetry = GoogleRetry(), page_size: int = PAGE_SIZE) -> MetricsResult:
    """The series `needs` asks for ((metric, period statistic, period seconds) -> days, as
    `required_series` gives) for each resource whose kind has that metric on Google Cloud, each window
    ending at `now` floored to its period. A resource without points gets an empty series. Raises
    InvalidInput for a missing project, else the taxonomy error of the first request that fails after
    the retry policy's retries."""
    project = project or conn.account
    if not project:
        raise InvalidInput("a Cloud Monitoring reader needs a project id (the connection's account)", target=conn.name)
    result = MetricsResult()
    api = google_api(conn, endpoint or DEFAULT_ENDPOINT, "Cloud Monitoring", retry, result.throttle_waits)
    resources = list(resources)
    for (metric, stat, period), days in sorted(needs.items()):
        result.unsupported |= {(r.kind, metric) for r in resources if (r.kind, metric) not in GCP_METRICS}
        wanted = [r for r in resources if (r.kind, metric) in GCP_METRICS]
        if wanted:
            found = _query(api, project, GCP_METRICS[("vm", metric)], stat, period, window(now, period, days),
                           {r.id for r in wanted}, page_size, result)
            for res in wanted:
                result.series.setdefault(res.id, []).append(
                    Series(metric, stat, period, tuple(sorted(found.get(res.id, ())))))
    return result


def _query(api: GoogleApi, project: str, metric: GoogleMetric, stat: str, period: int,
           span: tuple[datetime, datetime], ids: set[str], page_size: int,
           result: MetricsResult) -> dict[str, list[tuple[datetime, float]]]:
    """resource id -> (period start, value) points of one aligned query, for the resources in `ids`."""
    start, end = span
    flt = f'metric.type = "{metric.type}" AND resource.type = "gce_instance"'
    params = {"filter": f"{flt} AND {metric.labels}" if metric.labels else flt,
              "interval.startTime": _rfc3339(start), "interval.endTime": _rfc3339(end),
              "aggregation.alignmentPeriod": f"{period}s", "aggregation.perSeriesAligner": ALIGNERS[stat],
              "view": "FULL", "pageSize": page_size}
    found: dict[str, list[tuple[datetime, float]]] = {}
    step = timedelta(seconds=period)
    for page in api.pages(f"/v3/projects/{project}/timeSeries", params, lambda: _count(result)):
        carried = set()
        for series in page.get("timeSeries", []):
            labels = series.get("resource", {}).get("labels", {})
            rid = (f"{GLOBAL}projects/{labels.get('project_id', project)}/zones/{labels.get('zone', '')}"
                   f"/instances/{labels.get('instance_id', '')}")
            if rid not in ids:
                continue
            carried.add(rid)
            # an aligned point's interval ends at its period's end; Series points start their period
            found.setdefault(rid, []).extend(
                (_parse(p["interval"]["endTime"]) - step, _number(p["value"]) * metric.scale)
                for p in series.get("points", []) if _parse(p["interval"]["endTime"]) - step >= start)
        result.requests_by_resource.update(carried)
    return found


def _count(result: MetricsResult) -> None:
    result.requests += 1


def _number(value: dict) -> float:
    for key in ("doubleValue", "int64Value"):  # int64 comes as a JSON string
        if key in value:
            return float(value[key])
    raise InvalidInput(f"a time series point has no numeric value: {value}", target="timeSeries")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
