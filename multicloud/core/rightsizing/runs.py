"""What one rightsizing run decides and reports, pure: which resources a run judges (its tags), the
findings and the outcomes that could not be judged, their rows, the totals by cloud and kind, the
summary a person reads, and which VM's utilisation to chart against its thresholds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from multicloud.core.rightsizing.arbitrage import Comparison
from multicloud.core.rightsizing.commitments import METHOD, CommitmentPlan, commitment_rows
from multicloud.core.rightsizing.evaluate import (
    EXCLUDED, FINDING, INSUFFICIENT, SKIPPED, Evidence, Outcome, Resource, Series, evaluate,
)
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.records import Inventory, MetricsResult
from multicloud.core.rightsizing.vocabulary import DERIVED, OPERATOR_SYMBOLS

NOT_COMPUTED = "not computed"
TOP = 10
FINDING_COLUMNS = ("resource", "cloud", "region", "kind", "type", "finding", "rule", "source", "observed",
                   "monthly_effective_savings", "monthly_list_savings", "currency", "savings_note", "action",
                   "target_type", "target_note", "advice", "advice_note")
OUTCOME_COLUMNS = ("resource", "cloud", "kind", "rule", "status", "reason", "source")


class RightsizingIncomplete(Exception):
    """A run that could not read every target: the findings of the others were still reported."""


@dataclass
class Scan:
    """What one target (a cloud, an AWS region) gave: the resources judged (those carrying the run's
    tags), how many were left out, and the inventory and metrics as read."""

    target: str
    cloud: str
    inventory: Inventory
    left_out: int = 0
    metrics: MetricsResult = field(default_factory=MetricsResult)


@dataclass(frozen=True)
class Judgement:
    """Every outcome of a run; the findings (fired outcomes, sorted by savings), and the outcomes
    that could not be judged (insufficient data, skipped), which are reported, never dropped."""

    outcomes: tuple[Outcome, ...]
    findings: tuple[Finding, ...]

    @property
    def not_judged(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in (INSUFFICIENT, SKIPPED)]

    @property
    def statuses(self) -> Counter:
        return Counter(o.status for o in self.outcomes)

    def with_findings(self, findings: Iterable[Finding]) -> "Judgement":
        """The same judgement with findings filled by a later stage (targets, savings, advice), re-sorted."""
        return replace(self, findings=tuple(sorted_findings(findings)))


def selected(resources: Iterable[Resource], tags: Mapping[str, str]) -> tuple[list[Resource], int]:
    """The resources carrying every tag of `tags` (all when empty), and how many were left out."""
    kept, left = [], 0
    for res in resources:
        if all(res.tags.get(k) == v for k, v in tags.items()):
            kept.append(res)
        else:
            left += 1
    return kept, left


def judge(rules: Sequence, scans: Sequence[Scan], now: datetime) -> Judgement:
    """Every rule on every scanned resource of its kind, with the series read for it."""
    resources = [r for s in scans for r in s.inventory.resources]
    series: dict[str, list[Series]] = {}
    for s in scans:
        for rid, found in s.metrics.series.items():
            series.setdefault(rid, []).extend(found)
    outcomes = evaluate(rules, resources, series, now)
    by_id = {r.id: r for r in resources}
    findings = [Finding(outcome=o, resource=by_id[o.resource]) for o in outcomes if o.status == FINDING]
    return Judgement(tuple(outcomes), tuple(sorted_findings(findings)))


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Largest monthly savings first; ties by cloud, resource and rule, so the order is stable."""
    return sorted(findings, key=lambda f: (-f.savings, f.resource.cloud, f.resource.id, f.outcome.rule))


# ---- rows -------------------------------------------------------------------------------------------

def observed(outcome: Outcome) -> str:
    """The observed values that made the rule fire, each with its condition; for days-matching
    rules also each condition's range over the matching days."""
    parts = [f"{e.condition}: {_value(e.observed)}" for e in outcome.evidence]
    matched = [d for d in outcome.days if d.matched]
    if matched:
        for i, first in enumerate(matched[0].evidence):
            values = [d.evidence[i].observed for d in matched if isinstance(d.evidence[i].observed, (int, float))]
            if values:
                parts.append(f"{first.condition} on the matching days: {_value(min(values))}–{_value(max(values))}")
    return "; ".join(parts)


def finding_record(f: Finding) -> dict:
    """One finding as a typed record (money as Decimal or None) for Parquet and CSV."""
    o, r = f.outcome, f.resource
    return {"resource": r.id, "cloud": r.cloud, "region": r.region, "kind": r.kind, "type": r.type,
            "finding": o.finding, "rule": o.rule, "source": o.source, "observed": observed(o),
            "monthly_effective_savings": f.monthly_effective_savings, "monthly_list_savings": f.monthly_list_savings,
            "currency": f.currency, "savings_note": f.savings_note or _missing_money(f), "action": o.action,
            "target_type": f.target_type, "target_note": f.target_note or _missing_target(f),
            "advice": f.advice, "advice_note": f.advice_note or ("" if f.advice else NOT_COMPUTED)}


def finding_row(f: Finding) -> dict:
    """One finding as the findings table artifact shows it: money at cents, an empty figure said."""
    rec = finding_record(f)
    for key in ("monthly_effective_savings", "monthly_list_savings"):
        rec[key] = _money(rec[key])
    return rec


def outcome_record(o: Outcome) -> dict:
    """An outcome that could not be judged, with why."""
    return {"resource": o.resource, "cloud": o.cloud, "kind": o.kind, "rule": o.rule, "status": o.status,
            "reason": o.reason, "source": o.source}


def _missing_money(f: Finding) -> str:
    if f.monthly_effective_savings is None and f.monthly_list_savings is None:
        return f"savings {NOT_COMPUTED} in this run"
    return ""


def _missing_target(f: Finding) -> str:
    if f.target_type or f.outcome.action != "resize":
        return ""
    return f"target type {NOT_COMPUTED} in this run"


def _money(value: Decimal | None) -> str:
    return NOT_COMPUTED if value is None else f"{value.quantize(Decimal('0.01'))}"


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "unknown" if value is None else str(value)


# ---- totals and summary -----------------------------------------------------------------------------

def totals(findings: Iterable[Finding]) -> list[dict]:
    """Per cloud and finding kind: how many findings, and the monthly savings summed per currency
    (None where no finding of the group has a figure; `without` counts those that lack one)."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.resource.cloud, f.outcome.finding, f.currency), []).append(f)
    out = []
    for (cloud, kind, currency), group in sorted(groups.items()):
        out.append({"cloud": cloud, "kind": kind, "currency": currency, "findings": len(group),
                    "effective": _sum(f.monthly_effective_savings for f in group),
                    "list": _sum(f.monthly_list_savings for f in group),
                    "without": sum(f.monthly_effective_savings is None and f.monthly_list_savings is None
                                   for f in group)})
    return out


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


@dataclass(frozen=True)
class Section:
    """A summary section another stage computes (commitments, arbitrage): its markdown, or None when
    the stage did not run, with why."""

    markdown: str | None = None
    why: str = "no stage of this run computes it yet"


def commitments_section(plan: CommitmentPlan | None, limit: int = 10) -> Section:
    """The summary's commitments section: the best recommendations, and what no program covers."""
    if plan is None:
        return Section(why="no FOCUS dataset in the scope, so no on-demand spend to size commitments from")
    rows = [{k: r[k] for k in ("provider", "service", "region", "granularity", "term_years", "hourly_commitment",
                               "coverage", "utilisation", "break_even_months", "net_monthly_savings")}
            for r in commitment_rows(plan)[:limit]]
    lines = [f"Method: {METHOD}.", ""] + (_table(rows) if rows else ["No on-demand spend to commit to."])
    if plan.not_eligible:
        lines += ["", f"{len(plan.not_eligible)} series no commitment program covers (see the "
                      "rightsizing-commitments table)."]
    return Section("\n".join(lines))


def arbitrage_section(comparisons: Sequence[Comparison] | None) -> Section:
    """The summary's arbitrage section: per shape in use, the cheapest placement on demand and on spot."""
    if comparisons is None:
        return Section(why="the markets were not read")
    if not comparisons:
        return Section(why="no VM shape in use")

    def where(p) -> str:
        if p is None:
            return "no price"
        od, spot = ("-" if v is None else str(v) for v in (p.on_demand_hourly, p.spot_hourly))
        return f"{p.shape.cloud} {p.shape.type} in {p.region}: {od} on demand, {spot} spot {p.currency}/h"

    rows = [{"shape in use": f"{c.shape.cloud} {c.shape.type} ({c.shape.vcpus} vCPU, {c.shape.memory_mib / 1024:g} GiB)",
             "VMs": c.count, "cheapest on demand": where(c.cheapest_on_demand),
             "cheapest on spot": where(c.cheapest_spot)} for c in comparisons]
    return Section("\n".join(_table(rows) + ["", "Every placement with its price dates: the rightsizing-arbitrage "
                                                 "table."]))


@dataclass(frozen=True)
class RunSummary:
    """What a run returns: its label, counts, the files written and the targets it could not read."""

    run: str
    findings: int
    statuses: dict[str, int]
    savings: list[dict]
    files: dict[str, str]
    failures: list[str]

    def raise_if_incomplete(self) -> None:
        if self.failures:
            raise RightsizingIncomplete("run incomplete (what was not read is missing from its findings): "
                                        + "; ".join(self.failures))


def scan_rows(scans: Sequence[Scan]) -> list[dict]:
    """Per target: resources judged and left out, API requests, requests per resource, throttling."""
    rows = []
    for s in scans:
        judged = len(s.inventory.resources)
        per = s.metrics.requests_by_resource
        waits = s.inventory.throttle_waits + s.metrics.throttle_waits
        rows.append({"target": s.target, "resources judged": judged, "left out by tags": s.left_out,
                     "inventory requests": sum(s.inventory.requests.values()),
                     "metric requests": s.metrics.requests,
                     "metric requests per resource (max)": max(per.values(), default=0),
                     "throttled waits": len(waits), "seconds waited": round(sum(waits), 3)})
    return rows


def summary_markdown(run: str, now: datetime, judgement: Judgement, scans: Sequence[Scan], rules: int,
                     files: Mapping[str, str], failures: Sequence[str], commitments: Section = Section(),
                     arbitrage: Section = Section()) -> str:
    """The run's summary artifact: counts, totals by cloud and kind, top 10, API requests and
    throttling, not-judged outcomes, commitments and arbitrage (or why not computed), and files."""
    st = judgement.statuses
    lines = [f"# Rightsizing run {run}", "",
             f"Judged as of {now:%Y-%m-%d %H:%M} UTC: {sum(len(s.inventory.resources) for s in scans)} resources "
             f"in {len(scans)} target(s) ({sum(s.left_out for s in scans)} left out by the run's tags), {rules} rules. "
             f"**{len(judgement.findings)} findings**, {st[INSUFFICIENT]} insufficient data, {st[SKIPPED]} skipped, "
             f"{st[EXCLUDED]} excluded (multicloud:keep=true), {st['clear']} clear.", ""]
    if failures:
        lines += ["**Not read** (what it would have given is missing from this run):", ""]
        lines += [f"- {f}" for f in failures] + [""]
    lines += _totals_section(judgement.findings) + _top_section(judgement.findings)
    lines += ["## API requests and throttling", "", *_table(scan_rows(scans)), ""]
    lines += _not_judged_section(judgement.not_judged)
    for title, section in (("Commitments", commitments), ("Cross-cloud arbitrage", arbitrage)):
        lines += [f"## {title}", "", section.markdown or f"{NOT_COMPUTED.capitalize()}: {section.why}.", ""]
    lines += ["## Files", ""] + [f"- [{name}]({url})" for name, url in files.items()]
    return "\n".join(lines) + "\n"


def _totals_section(findings: Sequence[Finding]) -> list[str]:
    rows = [{"cloud": t["cloud"], "kind": t["kind"], "findings": t["findings"],
             "monthly savings, effective": _money_cell(t["effective"], t["currency"]),
             "monthly savings, list": _money_cell(t["list"], t["currency"]),
             "without a figure": t["without"]} for t in totals(findings)]
    return ["## Totals by cloud and kind", "", *(_table(rows) if rows else ["No findings."]), ""]


def _top_section(findings: Sequence[Finding]) -> list[str]:
    rows = [{"#": n, "resource": f.resource.id, "cloud": f.resource.cloud, "rule": f.outcome.rule,
             "action": f.outcome.action, "effective": _money_cell(f.monthly_effective_savings, f.currency),
             "list": _money_cell(f.monthly_list_savings, f.currency), "target": f.target_type or "-"}
            for n, f in enumerate(findings[:TOP], start=1)]
    return [f"## Top {TOP} by monthly savings", "", *(_table(rows) if rows else ["No findings."]), ""]


def _not_judged_section(outcomes: Sequence[Outcome], limit: int = 20) -> list[str]:
    if not outcomes:
        return []
    rows = [{"resource": o.resource, "rule": o.rule, "status": o.status, "reason": o.reason}
            for o in outcomes[:limit]]
    shown = f"the first {limit} of {len(outcomes)}" if len(outcomes) > limit else f"all {len(outcomes)}"
    return [f"## Not judged: insufficient data or skipped ({shown}; all in the CSV)", "", *_table(rows), ""]


def _money_cell(value: Decimal | None, currency: str) -> str:
    return NOT_COMPUTED if value is None else f"{value.quantize(Decimal('0.01'))} {currency}"


def _table(rows: Sequence[dict]) -> list[str]:
    if not rows:
        return []
    cols = list(rows[0])
    cell = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] + \
        ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]


# ---- the utilisation chart ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Threshold:
    """A metric condition of a finding's rule, drawn over the series it was judged on."""

    metric: str
    series_statistic: str
    period_seconds: int
    label: str
    threshold: float
    observed: float | None


def chart_choice(judgement: Judgement, rules: Sequence) -> tuple[Finding, list[Threshold]] | None:
    """The VM finding to chart (the first, by savings, whose rule judged metrics read directly from
    the cloud) and its rule's thresholds; None when no VM finding has one."""
    by_name = {r.name: r for r in rules}
    for f in judgement.findings:
        rule = by_name.get(f.outcome.rule)
        if f.resource.kind != "vm" or rule is None:
            continue
        lines = _thresholds(rule, f.outcome.evidence)
        if lines:
            return f, lines
    return None


def _thresholds(rule, evidence: Sequence[Evidence]) -> list[Threshold]:
    seen = {(e.metric, e.statistic): e.observed for e in evidence if e.metric}
    out = []
    for cond in rule.when:
        if cond.metric and cond.metric not in DERIVED:
            value = seen.get((cond.metric, cond.statistic))
            out.append(Threshold(cond.metric, cond.period_statistic, rule.period_minutes * 60,
                                 f"{cond.statistic} {OPERATOR_SYMBOLS[cond.op]} {cond.threshold:g}", cond.threshold,
                                 value if isinstance(value, (int, float)) else None))
    return out
