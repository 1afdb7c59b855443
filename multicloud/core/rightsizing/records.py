"""What every cloud's rightsizing readers return: the resources an inventory found and the metric
series read for them, each with the API requests they took and the time spent waiting on throttling."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from multicloud.core.rightsizing.evaluate import Resource, Series


@dataclass
class Inventory:
    """What was found, how many API requests (pages) each operation took, and the seconds waited
    before retrying throttled requests (the service's Retry-After, or the backoff without one)."""

    resources: list[Resource] = field(default_factory=list)
    requests: Counter = field(default_factory=Counter)
    throttle_waits: list[float] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    @property
    def waited_seconds(self) -> float:
        return sum(self.throttle_waits)


@dataclass
class MetricsResult:
    """The series read per resource id, the requests made (in total and per resource: every request
    that carried one of its queries or answers), the (kind, metric) pairs the cloud has no metric for,
    the seconds waited before retrying throttled requests, and per resource why a series the rules
    need could not be made (e.g. memory in percent needs the size's memory, which is not known)."""

    series: dict[str, list[Series]] = field(default_factory=dict)
    requests: int = 0
    requests_by_resource: Counter = field(default_factory=Counter)
    unsupported: set[tuple[str, str]] = field(default_factory=set)
    throttle_waits: list[float] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def waited_seconds(self) -> float:
        return sum(self.throttle_waits)
