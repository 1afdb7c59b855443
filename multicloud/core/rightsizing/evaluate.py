"""Rule evaluation: one rule on one resource with its metric series gives an outcome (finding, clear,
insufficient data, skipped, excluded) and why, with the observed values as evidence. Rules are any
objects shaped like `multicloud.config.rightsizing.Rule`; nothing here reads the clock or the cloud.

A condition that cannot be judged (no points, too little coverage, an unknown attribute) is unknown:
a rule with a false condition is clear, a rule whose other conditions hold is then reported under its
missing-data policy (`skip`: skipped, `unknown`: insufficient data), never silently dropped. Policy
`zero` counts every missing period as 0 instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from multicloud.core.rightsizing import statistics as S
from multicloud.core.rightsizing.vocabulary import (
    DERIVED, KEEP_TAGS, OPERATOR_SYMBOLS, OPERATORS, base_series, parse_statistic,
)

FINDING, CLEAR, INSUFFICIENT, SKIPPED, EXCLUDED = "finding", "clear", "insufficient_data", "skipped", "excluded"


@dataclass(frozen=True)
class Resource:
    """One resource of any cloud, as the inventory saw it. None means "not known"."""

    cloud: str
    id: str
    kind: str
    region: str = ""
    type: str = ""
    state: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    created: datetime | None = None
    architecture: str = ""
    vcpus: int | None = None
    memory_mib: int | None = None
    size_gb: float | None = None
    attached: bool | None = None
    associated: bool | None = None
    source_exists: bool | None = None
    attached_disks: int | None = None
    attached_to: str = ""
    stopped_since: datetime | None = None


@dataclass(frozen=True)
class Series:
    """Points of one metric, each the `statistic` (average, max, min, sum) of one period starting at
    its timestamp."""

    metric: str
    statistic: str
    period_seconds: int
    points: tuple[tuple[datetime, float], ...] = ()

    @property
    def key(self) -> tuple[str, str, int]:
        return self.metric, self.statistic, self.period_seconds


@dataclass(frozen=True)
class Evidence:
    """One condition as judged: the observed value, and whether it held (None: could not be judged)."""

    condition: str
    observed: float | str | bool | None
    held: bool | None
    points: int = 0
    coverage: float | None = None
    zero_filled: int = 0
    note: str = ""
    metric: str = ""
    statistic: str = ""


@dataclass(frozen=True)
class Day:
    """One day of a days-matching rule: its conditions' values and whether all held."""

    start: datetime
    evidence: tuple[Evidence, ...]
    matched: bool | None


@dataclass(frozen=True)
class Outcome:
    rule: str
    resource: str
    cloud: str
    kind: str
    status: str
    reason: str
    finding: str
    action: str
    source: str
    evidence: tuple[Evidence, ...] = ()
    days: tuple[Day, ...] = ()

    @property
    def fired(self) -> bool:
        return self.status == FINDING


def is_kept(resource: Resource) -> bool:
    """True when the resource carries `multicloud:keep=true` (or `multicloud-keep`, for GCP labels)."""
    return any(str(resource.tags.get(key, "")).strip().lower() == "true" for key in KEEP_TAGS)


def evaluate(rules: Iterable, resources: Iterable[Resource], series: Mapping[str, Iterable[Series]],
             now: datetime) -> list[Outcome]:
    """Every rule on every resource of its kind (and of its clouds, when the rule names them);
    `series` maps resource id to its series."""
    rules = list(rules)
    return [evaluate_rule(rule, res, series.get(res.id, ()), now)
            for res in resources for rule in rules if applies(rule, res)]


def applies(rule, resource: Resource) -> bool:
    """True when `rule` judges `resource`: its kind, and one of its clouds (a rule naming none judges all)."""
    return rule.kind == resource.kind and (not getattr(rule, "clouds", None) or resource.cloud in rule.clouds)


def evaluate_rule(rule, resource: Resource, series: Iterable[Series], now: datetime) -> Outcome:
    if rule.kind != resource.kind:
        raise ValueError(f"rule {rule.name} is for {rule.kind}, resource {resource.id} is a {resource.kind}")
    if is_kept(resource):
        return _outcome(rule, resource, EXCLUDED, "tagged multicloud:keep=true: excluded from every rule")
    index = {s.key: s for s in series}
    attrs = [_attribute(cond, resource, now) for cond in rule.when if cond.attribute]
    metrics = [cond for cond in rule.when if cond.metric]
    if rule.days_matching:
        return _days_matching(rule, resource, index, now, attrs, metrics)
    evidence = attrs + [_metric(rule, cond, resource, index, *_span(rule, cond, now)) for cond in metrics]
    held = _all(e.held for e in evidence)
    return _outcome(rule, resource, _status(rule, held), _reason(rule, held, evidence), evidence)


def required_series(rules: Iterable) -> dict[tuple[str, str, int], int]:
    """The series a cloud must fetch for `rules`: (metric, period statistic, period seconds) -> days of
    history needed. Derived metrics ask for their base series."""
    need: dict[tuple[str, str, int], int] = {}
    for rule in rules:
        for cond in rule.when:
            if cond.metric:
                for metric, stat in base_series(cond.metric, cond.period_statistic):
                    key = (metric, stat, rule.period_minutes * 60)
                    need[key] = max(need.get(key, 0), rule.window_days)
    return need


# ---- conditions ---------------------------------------------------------------------------------

def _attribute(cond, resource: Resource, now: datetime) -> Evidence:
    value = _attribute_value(cond.attribute, resource, now)
    label = f"{cond.attribute} {OPERATOR_SYMBOLS[cond.op]} {cond.value!r}"
    if value is None:
        return Evidence(label, None, None, note=f"{cond.attribute} is not known for this resource")
    return Evidence(label, value, bool(OPERATORS[cond.op](value, cond.value)))


def _attribute_value(name: str, resource: Resource, now: datetime):
    if name == "age_days":
        return None if resource.created is None else (now - resource.created) / S.DAY
    if name == "stopped_days":
        return None if resource.stopped_since is None else (now - resource.stopped_since) / S.DAY
    return getattr(resource, name)


def _label(rule, cond) -> str:
    window = f"the last {cond.last_days} days" if cond.last_days else f"{rule.window_days} days"
    if rule.days_matching:
        window = "the day"
    return (f"{cond.statistic} of {rule.period_minutes}-min {cond.period_statistic} {cond.metric} "
            f"{OPERATOR_SYMBOLS[cond.op]} {cond.threshold:g} over {window}")


def _metric(rule, cond, resource: Resource, index, start: datetime, end: datetime) -> Evidence:
    label = _label(rule, cond)
    tag = {"metric": cond.metric, "statistic": cond.statistic}
    period = rule.period_minutes * 60
    points, problem = _points(cond, resource, index, period)
    points = S.in_window(points, start, end)
    cover = S.coverage(len(points), start, end, period)
    filled = 0
    if problem:
        return Evidence(label, None, None, 0, cover, note=problem, **tag)
    if rule.missing_data == "zero":
        points, filled = S.zero_filled(points, start, end, period)
    elif not points:
        return Evidence(label, None, None, 0, cover, note="no data points", **tag)
    else:
        short = _short_coverage(rule, len(points), cover, period)
        if short:
            return Evidence(label, None, None, len(points), cover, note=short, **tag)
    observed = S.compute([v for _, v in points], parse_statistic(cond.statistic))
    return Evidence(label, observed, bool(OPERATORS[cond.op](observed, cond.threshold)), len(points), cover, filled,
                    **tag)


def _short_coverage(rule, observed: int, cover: float, period: int) -> str:
    if cover < rule.min_coverage_fraction:
        return f"coverage {cover:.1%} is below the rule's minimum {rule.min_coverage_fraction:.0%}"
    hours = observed * period / 3600
    if hours < rule.min_data_hours:
        return f"{hours:g} hours of data, below the rule's minimum {rule.min_data_hours:g} hours"
    return ""


def _points(cond, resource: Resource, index, period: int) -> tuple[list[tuple[datetime, float]], str]:
    """The condition's points, derived from base series where the metric is derived; (points, problem)."""
    if cond.metric not in DERIVED:
        found = index.get((cond.metric, cond.period_statistic, period))
        return (list(found.points), "") if found else ([], "")
    how, bases, base_stat, _ = DERIVED[cond.metric]
    base = [index.get((m, base_stat or cond.period_statistic, period)) for m in bases]
    if any(b is None for b in base):
        return [], ""
    return _derive(how, cond, base, resource, period)


def _derive(how: str, cond, base: list[Series], resource: Resource, period: int):
    if how == "sum_of":
        maps = [dict(b.points) for b in base]
        common = set.intersection(*(set(m) for m in maps))
        return [(t, sum(m[t] for m in maps)) for t in common], ""
    if how == "per_second":
        return [(t, v / period) for t, v in base[0].points], ""
    if resource.vcpus is None:
        return [], f"{cond.metric} needs the vCPU count of {resource.type or 'the type'}, which is not known"
    return [(t, v * resource.vcpus / 100) for t, v in base[0].points], ""


def _span(rule, cond, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) a condition judges: its last days of the window up to `now`; a window-long
    period's one point, as the readers align it."""
    if rule.period_minutes > 1440:
        return S.window(now, rule.period_minutes * 60, rule.window_days)
    return now - timedelta(days=cond.last_days or rule.window_days), now


# ---- combining ----------------------------------------------------------------------------------

def _all(values: Iterable[bool | None]) -> bool | None:
    """Three-valued AND: False beats unknown, unknown beats True."""
    values = list(values)
    if False in values:
        return False
    return None if None in values else True


def _days_matching(rule, resource, index, now, attrs, metrics) -> Outcome:
    start = now - timedelta(days=rule.window_days)
    days = []
    for day_start, day_end in S.day_buckets(start, rule.window_days):
        ev = tuple(_metric(rule, cond, resource, index, day_start, day_end) for cond in metrics)
        days.append(Day(day_start, ev, _all(e.held for e in ev)))
    matched = sum(d.matched is True for d in days)
    unknown = sum(d.matched is None for d in days)
    counted = _all([matched >= rule.days_matching or None, matched + unknown >= rule.days_matching])
    summary = Evidence(f"days on which every metric condition held ≥ {rule.days_matching} of {rule.window_days}",
                       matched, counted, note=f"{unknown} days without enough data{_gaps(days)}")
    evidence = attrs + [summary]
    held = _all(e.held for e in evidence)
    return _outcome(rule, resource, _status(rule, held), _reason(rule, held, evidence), evidence, days)


def _gaps(days: list[Day]) -> str:
    gaps = "; ".join(f"{d.start:%Y-%m-%d %H:%M}: " + ", ".join(f"{e.condition}: {e.note}" for e in d.evidence
                                                            if e.held is None) for d in days if d.matched is None)
    return f" ({gaps})" if gaps else ""


def _status(rule, held: bool | None) -> str:
    if held is None:
        return SKIPPED if rule.missing_data == "skip" else INSUFFICIENT
    return FINDING if held else CLEAR


def _reason(rule, held: bool | None, evidence: list[Evidence]) -> str:
    if held:
        return "every condition held: " + "; ".join(f"{e.condition} (observed {_fmt(e.observed)})" for e in evidence)
    if held is False:
        return "not met: " + "; ".join(f"{e.condition} (observed {_fmt(e.observed)})"
                                       for e in evidence if e.held is False)
    unknown = "; ".join(f"{e.condition}: {e.note}" for e in evidence if e.held is None)
    policy = "skipped under missing_data: skip" if rule.missing_data == "skip" else "insufficient data"
    return f"{policy}: {unknown}"


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)


def _outcome(rule, resource: Resource, status: str, reason: str, evidence=(), days=()) -> Outcome:
    return Outcome(rule.name, resource.id, resource.cloud, resource.kind, status, reason, rule.finding,
                   rule.action, str(rule.source), tuple(evidence), tuple(days))
