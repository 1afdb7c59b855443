"""The rightsizing target of a resize finding: the cheapest type (on-demand price, same cloud and
region) of the same architecture, of the same family unless the rule allows any (`target_families`),
whose projected CPU and memory stay at or under 100 - the rule's headroom. The projection scales the
rule's own observed value (its evidence for cpu_utilization and memory_utilization) by the vCPUs (MiB)
of the current type over the target's. Memory not observed: no target, never a downsize on CPU alone.
A finding left without a target says why in `target_note`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Iterable

from multicloud.core.rightsizing.evaluate import FINDING
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.prices import Shape, ShapePrice

CPU, MEMORY = "cpu_utilization", "memory_utilization"
MEMORY_UNKNOWN = "memory unknown"


@dataclass(frozen=True)
class _Need:
    """What a target must hold: observed CPU and memory % on the current shape, their limits."""

    current: Shape
    price: Decimal
    cpu: float
    memory: float
    cpu_limit: float
    memory_limit: float

    def projected(self, target: Shape) -> tuple[Fraction, Fraction]:
        return (Fraction(self.cpu) * self.current.vcpus / target.vcpus,
                Fraction(self.memory) * self.current.memory_mib / target.memory_mib)


def choose_targets(findings: Iterable[Finding], rules: Iterable, prices: Iterable[ShapePrice]) -> list[Finding]:
    """`findings` with `target_type`/`target_note` filled for those whose rule action is resize; the
    others unchanged. `rules` are shaped like config.rightsizing.Rule; `prices` give each priced type's
    shape (vCPUs, MiB, architecture, family) and on-demand price per cloud and region."""
    by_rule = {r.name: r for r in rules}
    index: dict[tuple[str, str], list[ShapePrice]] = {}
    for p in prices:
        if p.on_demand_hourly is not None and p.shape.vcpus > 0 and p.shape.memory_mib > 0:
            index.setdefault((p.shape.cloud, p.region.lower()), []).append(p)
    return [_target(f, by_rule.get(f.outcome.rule), index) if f.outcome.action == "resize" else f for f in findings]


def _target(finding: Finding, rule, index: dict) -> Finding:
    if rule is None:
        return replace(finding, target_note=f"rule {finding.outcome.rule!r} was not given: no target chosen")
    res = finding.resource
    cpu, memory = _observed(finding, CPU), _observed(finding, MEMORY)
    problem = ""
    if memory is None:
        problem = f"{MEMORY_UNKNOWN}: {res.type or 'the VM'} is never downsized on CPU alone"
    elif cpu is None:
        problem = "cpu unknown: the rule observed no CPU utilisation"
    elif finding.outcome.status != FINDING:
        problem = f"rule did not fire ({finding.outcome.status}): no target"
    if problem:
        return replace(finding, target_note=problem)
    offers = index.get((res.cloud, res.region.lower()), [])
    current = next((p for p in offers if p.shape.type == res.type), None)
    if current is None:
        return replace(finding, target_note=f"no on-demand price for {res.type} in {res.region}: "
                                            "a cheaper type cannot be told")
    headroom = rule.headroom_percent
    need = _Need(_current_shape(res, current.shape), current.on_demand_hourly, cpu, memory,
                 100 - headroom.get(CPU, 0), 100 - headroom.get(MEMORY, 0))
    return _cheapest(finding, need, offers, getattr(rule, "target_families", "same"))


def _observed(finding: Finding, metric: str) -> float | None:
    """The highest observed value of the rule's conditions on `metric` (the strictest to project)."""
    values = [e.observed for e in finding.outcome.evidence
              if e.metric == metric and isinstance(e.observed, (int, float)) and not isinstance(e.observed, bool)]
    return max(values) if values else None


def _current_shape(res, priced: Shape) -> Shape:
    """The VM's own vCPUs, memory and architecture where the inventory knew them, else the catalog's."""
    return replace(priced, vcpus=res.vcpus or priced.vcpus, memory_mib=res.memory_mib or priced.memory_mib,
                   architecture=res.architecture or priced.architecture)


def _cheapest(finding: Finding, need: _Need, offers: list[ShapePrice], families: str) -> Finding:
    cur = need.current
    scope = [p for p in offers if p.shape.type != cur.type and p.shape.architecture == cur.architecture
             and (families == "any" or p.shape.family == cur.family)]
    cheaper = [p for p in scope if p.on_demand_hourly < need.price]
    fits, too_busy, too_full = [], 0, 0
    for p in cheaper:
        cpu, memory = need.projected(p.shape)
        too_busy += cpu > need.cpu_limit
        too_full += memory > need.memory_limit
        if cpu <= need.cpu_limit and memory <= need.memory_limit:
            fits.append((p, cpu, memory))
    where = f"{cur.architecture or 'unknown architecture'}, " + (
        "any family" if families == "any" else f"family {cur.family or '?'}")
    if not fits:
        return replace(finding, target_note=_no_fit(where, cur, need, len(cheaper), too_busy, too_full))
    best, cpu, memory = min(fits, key=lambda f: (f[0].on_demand_hourly, -f[0].shape.vcpus, -f[0].shape.memory_mib,
                                                  f[0].shape.type))
    return replace(finding, target_type=best.shape.type, target_note=(
        f"cheapest type ({where}) keeping CPU ≤ {need.cpu_limit:g} % and memory ≤ {need.memory_limit:g} %: "
        f"{best.shape.type} ({best.shape.vcpus} vCPU, {best.shape.memory_mib} MiB) at {best.on_demand_hourly} "
        f"{best.currency}/h instead of {cur.type} at {need.price}; projected CPU {float(cpu):.4g} %, "
        f"memory {float(memory):.4g} %"))


def _no_fit(where: str, cur: Shape, need: _Need, cheaper: int, too_busy: int, too_full: int) -> str:
    if not cheaper:
        return f"no type ({where}) is priced below {cur.type} ({need.price}/h) in the region: no cheaper target"
    return (f"none of the {cheaper} cheaper type(s) ({where}) keeps CPU ≤ {need.cpu_limit:g} % and memory ≤ "
            f"{need.memory_limit:g} % (observed {need.cpu:g} % CPU, {need.memory:g} % memory on {cur.type}): "
            f"{too_busy} would exceed the CPU limit, {too_full} the memory limit")
