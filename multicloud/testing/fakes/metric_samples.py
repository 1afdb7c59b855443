"""What the local metric servers share: raw samples grouped into the periods a query asks for."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterator


def periods(samples: list[tuple[datetime, float]], start: datetime, end: datetime,
            step: timedelta) -> Iterator[tuple[datetime, list[float]]]:
    """(period start, the values of the sorted `samples` inside it) for each period from `start` to `end`."""
    i, t = 0, start
    while t < end:
        values = []
        while i < len(samples) and samples[i][0] < t + step:
            if samples[i][0] >= t:
                values.append(samples[i][1])
            i += 1
        yield t, values
        t += step
