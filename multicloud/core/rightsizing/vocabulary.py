"""The one rule vocabulary of idle and rightsizing detection, shared by every cloud: metric names,
statistics, operators, resource kinds, resource attributes and missing-data policies. Each cloud
translates these metric names to its own in its own folder."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from fractions import Fraction

# Metric name -> unit. Series of these names come from the clouds, except the derived ones below.
METRICS: dict[str, str] = {
    "cpu_utilization": "percent",
    "cpu_vcpus_used": "vCPU",
    "memory_utilization": "percent",
    "network_in_bytes": "bytes",
    "network_out_bytes": "bytes",
    "network_io_bytes": "bytes",
    "network_in_bytes_per_second": "bytes/s",
    "network_out_bytes_per_second": "bytes/s",
    "network_out_utilization": "percent",
    "disk_read_ops": "count",
    "disk_write_ops": "count",
    "disk_read_bytes": "bytes",
    "disk_write_bytes": "bytes",
    "database_connections": "count",
}

# Derived metric -> (how, base metric(s), period statistic of the base series, the only period statistic
# the derived metric has; "" = the same as asked). A rule on a derived metric needs only its base series.
DERIVED: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "network_io_bytes": ("sum_of", ("network_in_bytes", "network_out_bytes"), "sum", "sum"),
    "network_in_bytes_per_second": ("per_second", ("network_in_bytes",), "sum", "average"),
    "network_out_bytes_per_second": ("per_second", ("network_out_bytes",), "sum", "average"),
    "cpu_vcpus_used": ("times_vcpus", ("cpu_utilization",), "", ""),
}

KINDS = ("vm", "disk", "ip", "snapshot", "database")
FINDINGS = ("idle", "oversized", "waste")
ACTIONS = ("stop", "resize", "delete", "snapshot_and_delete", "release", "review")
MISSING_DATA = ("skip", "zero", "unknown")
PERIOD_STATISTICS = ("average", "max", "min", "sum")

OPERATORS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
             "eq": operator.eq, "ne": operator.ne}
OPERATOR_SYMBOLS = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥", "eq": "=", "ne": "≠"}

# Resource attribute -> the Python types its value may have (None: not known for this resource).
ATTRIBUTES: dict[str, tuple[type, ...]] = {
    "state": (str,),
    "attached": (bool,),
    "associated": (bool,),
    "source_exists": (bool,),
    "attached_disks": (int,),
    "age_days": (int, float),
    "stopped_days": (int, float),
}

KEEP_TAGS = ("multicloud:keep", "multicloud-keep")  # GCP label keys may not contain ':'


@dataclass(frozen=True)
class Statistic:
    """A statistic over a window's points: average, max, min, sum, or a percentile `pN` (0 < N ≤ 100)."""

    name: str
    percentile: Fraction | None = None

    def __str__(self) -> str:
        return self.name


def parse_statistic(text: str) -> Statistic:
    """`average`, `max`, `min`, `sum` or `p95`, `p99.5`, `p100`; ValueError naming the text otherwise."""
    value = str(text).strip().lower()
    if value in PERIOD_STATISTICS:
        return Statistic(value)
    if value.startswith("p"):
        try:
            pct = Fraction(value[1:])
        except (ValueError, ZeroDivisionError):
            pct = None
        if pct is not None and 0 < pct <= 100:
            return Statistic(value, pct)
    raise ValueError(f"unknown statistic {text!r}: use one of {', '.join(PERIOD_STATISTICS)} "
                     "or a percentile pN with 0 < N ≤ 100 (p95, p99.5)")


def base_series(metric: str, period_statistic: str) -> list[tuple[str, str]]:
    """The (metric, period statistic) series a cloud must supply for `metric` (itself unless derived)."""
    if metric not in DERIVED:
        return [(metric, period_statistic)]
    _, bases, base_stat, _ = DERIVED[metric]
    return [(base, base_stat or period_statistic) for base in bases]
