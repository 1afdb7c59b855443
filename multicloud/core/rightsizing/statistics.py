"""Statistics computed by us from a series' raw points (clouds' own percentiles are not trusted):
average, max, min, sum, and percentiles by the nearest-rank method; day buckets and data coverage."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Iterable, Sequence

from multicloud.core.rightsizing.vocabulary import Statistic

DAY = timedelta(days=1)
HOUR_SECONDS = 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def window(now: datetime, period_seconds: int, days: int) -> tuple[datetime, datetime]:
    """The [start, end) of `days` of metrics ending at `now` floored to the period, so every period
    asked for is complete. A period longer than a day is the whole window as one point (Cloud
    Custodian's default): its end is floored to the hour."""
    align = period_seconds if period_seconds <= DAY.total_seconds() else HOUR_SECONDS
    seconds = int((now.astimezone(timezone.utc) - _EPOCH).total_seconds())
    end = _EPOCH + timedelta(seconds=seconds // align * align)
    return end - timedelta(days=days), end


def percentile(values: Sequence[float], pct: Fraction) -> float:
    """Nearest rank (Hyndman & Fan type 1, numpy's `inverted_cdf`): the smallest point such that at
    least `pct` % of the points are ≤ it. So "P97 < t" holds exactly when at least 97 % of the points
    are below t, which is how the clouds word their idle rules ("< 0.03 vCPU for 97 % of runtime").
    The rank is computed in exact fractions: 97 % of 100 points is rank 97, not 98."""
    if not values:
        raise ValueError("percentile of no points")
    if not 0 < pct <= 100:
        raise ValueError(f"percentile {pct} is not in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(Fraction(pct) * len(ordered) / 100)
    return ordered[max(rank, 1) - 1]


def compute(values: Sequence[float], statistic: Statistic) -> float:
    """`statistic` of `values` (at least one point)."""
    if not values:
        raise ValueError("statistic of no points")
    if statistic.percentile is not None:
        return percentile(values, statistic.percentile)
    if statistic.name == "average":
        return math.fsum(values) / len(values)
    if statistic.name == "sum":
        return math.fsum(values)
    return max(values) if statistic.name == "max" else min(values)


def in_window(points: Iterable[tuple[datetime, float]], start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """The points with start ≤ timestamp < end, in time order."""
    return sorted((t, v) for t, v in points if start <= t < end)


def expected_points(start: datetime, end: datetime, period_seconds: int) -> int:
    """How many periods of `period_seconds` fit in [start, end)."""
    return max(int((end - start).total_seconds() // period_seconds), 0)


def coverage(observed: int, start: datetime, end: datetime, period_seconds: int) -> float:
    """The fraction of expected periods that have a point (0 when none is expected)."""
    expected = expected_points(start, end, period_seconds)
    return min(observed / expected, 1.0) if expected else 0.0


def day_buckets(start: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """`days` consecutive 24-hour [start, end) buckets from `start` (the window start, not UTC midnight,
    so a 14-day window always has 14 full days)."""
    return [(start + i * DAY, start + (i + 1) * DAY) for i in range(days)]


def zero_filled(points: list[tuple[datetime, float]], start: datetime, end: datetime,
                period_seconds: int) -> tuple[list[tuple[datetime, float]], int]:
    """The points with every missing period of [start, end) added as 0; and how many were added.
    Periods are aligned to `start`; a point counts for the period it falls in."""
    step = timedelta(seconds=period_seconds)
    have = {int((t - start) / step) for t, _ in points}
    missing = [(start + i * step, 0.0) for i in range(expected_points(start, end, period_seconds)) if i not in have]
    return sorted(points + missing), len(missing)
