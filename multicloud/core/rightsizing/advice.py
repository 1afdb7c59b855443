"""The clouds' own rightsizing advice (Compute Optimizer, Azure Advisor, GCP Recommender) as one
cloud-neutral record, and the comparison of our findings with it: whether the cloud agrees, why not,
and what the cloud recommends that we did not, with our own verdict on that resource."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Iterable

from multicloud.core.rightsizing.evaluate import Outcome
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.vocabulary import ACTIONS, FINDINGS

AGREES, DIFFERS, NO_ADVICE = "agrees", "differs", "no advice"
NOT_JUDGED = "not judged"


@dataclass(frozen=True)
class Advice:
    """One recommendation of a cloud's advisor on one resource, in our vocabulary: `finding` idle,
    oversized or waste; `action` as the rules say it; `target_type` for a resize; the cloud's own
    monthly savings estimate (None when it gave none); `source` the advisor and its recommender or
    check; `detail` what the cloud said, in its words."""

    cloud: str
    resource_id: str
    finding: str
    action: str
    target_type: str = ""
    monthly_savings: Decimal | None = None
    currency: str = "USD"
    source: str = ""
    detail: str = ""

    def __post_init__(self):
        if self.finding not in FINDINGS:
            raise ValueError(f"advice on {self.resource_id}: finding {self.finding!r} is not one of "
                             f"{', '.join(FINDINGS)}")
        if self.action not in ACTIONS:
            raise ValueError(f"advice on {self.resource_id}: action {self.action!r} is not one of {', '.join(ACTIONS)}")


@dataclass
class AdviceResult:
    """What one cloud's advice reader returns: the advice, the API requests per operation, the seconds
    waited before retrying throttled requests, how many recommendations were left out and why (not a
    saving, a resource kind we do not judge), and the per-resource errors the advisor reported."""

    cloud: str
    advice: list[Advice] = field(default_factory=list)
    requests: Counter = field(default_factory=Counter)
    throttle_waits: list[float] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def waited_seconds(self) -> float:
        return sum(self.throttle_waits)


@dataclass(frozen=True)
class CloudOnly:
    """A recommendation of the cloud that no finding of ours made, with our verdict on that resource:
    `status` is our outcome's (clear, insufficient_data, skipped, excluded), `finding` when we found
    another kind, or "not judged"; `reason` says why, with the observed values."""

    advice: Advice
    status: str
    rules: str
    reason: str


def compare_advice(findings: list[Finding], advice: list[Advice], *, outcomes: Iterable[Outcome] = (),
                   read: Iterable[str] | None = None) -> tuple[list[Finding], list[CloudOnly]]:
    """Every finding with `advice` (agrees, differs, no advice) and `advice_note` (why) filled, in the
    order given, and the cloud's recommendations that no finding made, with our verdict taken from
    `outcomes` (every outcome of the run) and from findings whose rule did not fire. `read` names the
    clouds whose advice was read (default: those that gave some), so "none given" and "not read" differ.
    A finding whose outcome did not fire is returned as it is."""
    by_resource = _grouped(advice, lambda a: _key(a.cloud, a.resource_id))
    clouds = set(read) if read is not None else {a.cloud for a in advice}
    compared = [_compare(f, by_resource.get(_key(f.resource.cloud, f.resource.id), []), clouds)
                if f.outcome.fired else f for f in findings]
    judged = _grouped(dict.fromkeys([*outcomes, *(f.outcome for f in findings)]),
                      lambda o: _key(o.cloud, o.resource))
    rows = (_cloud_only(a, judged.get(_key(a.cloud, a.resource_id), [])) for a in advice)
    return compared, [row for row in rows if row is not None]


def _grouped(items: Iterable, key) -> dict[tuple[str, str], list]:
    out: dict[tuple[str, str], list] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def _key(cloud: str, resource_id: str) -> tuple[str, str]:
    # ARM ids are case-insensitive, and Advisor writes resource groups in other cases than Compute does
    return cloud, resource_id.lower() if cloud == "azure" else resource_id


def _compare(finding: Finding, advice: list[Advice], clouds: set[str]) -> Finding:
    cloud, kind = finding.resource.cloud, finding.outcome.finding
    same = [a for a in advice if a.finding == kind]
    if same:
        return replace(finding, advice=AGREES, advice_note=_agreement(finding, same[0]))
    if advice:
        said = "; ".join(_said(a) for a in advice)
        return replace(finding, advice=DIFFERS, advice_note=f"{said}; we found it {kind} under "
                                                            f"{finding.outcome.rule}: {finding.outcome.reason}")
    note = f"no advice from {cloud} for this resource" if cloud in clouds else f"advice from {cloud} was not read"
    return replace(finding, advice=NO_ADVICE, advice_note=note)


def _agreement(finding: Finding, advice: Advice) -> str:
    kind = finding.outcome.finding
    if finding.outcome.action != "resize" and advice.action != "resize":
        note = f"{advice.source} also finds it {kind} ({advice.action})"
    elif not advice.target_type:
        note = f"{advice.source} also finds it {kind}, without a target type"
    elif advice.target_type == finding.target_type:
        note = f"{advice.source} also resizes it to {advice.target_type}"
    elif finding.target_type:
        note = (f"{advice.source} also finds it {kind}, but resizes it to {advice.target_type}, "
                f"we to {finding.target_type}")
    else:
        note = (f"{advice.source} also finds it {kind} and resizes it to {advice.target_type}; we have no target: "
                f"{finding.target_note or 'none chosen'}")
    return note + _savings(finding, advice)


def _savings(finding: Finding, advice: Advice) -> str:
    theirs = _money(advice.monthly_savings, advice.currency)
    ours = _money(finding.monthly_effective_savings if finding.monthly_effective_savings is not None
                  else finding.monthly_list_savings, finding.currency)
    if not theirs:
        return ""
    return f"; it estimates {theirs}/month" + (f", we {ours}/month" if ours else "")


def _money(value: Decimal | None, currency: str) -> str:
    return "" if value is None else f"{value.quantize(Decimal('0.01'))} {currency}"


def _said(advice: Advice) -> str:
    target = f" to {advice.target_type}" if advice.target_type else ""
    saving = _money(advice.monthly_savings, advice.currency)
    return f"{advice.source} says {advice.finding}: {advice.action}{target}" + (f" (saves {saving}/month)" if saving
                                                                                else "")


def _cloud_only(advice: Advice, outcomes: list[Outcome]) -> CloudOnly | None:
    if any(o.fired and o.finding == advice.finding for o in outcomes):
        return None
    same = [o for o in outcomes if o.finding == advice.finding]
    if same:
        return CloudOnly(advice, ", ".join(sorted({o.status for o in same})), ", ".join(o.rule for o in same),
                         "; ".join(f"{o.rule}: {o.reason}" for o in same))
    fired = [o for o in outcomes if o.fired]
    if fired:
        return CloudOnly(advice, "finding", ", ".join(o.rule for o in fired),
                         "; ".join(f"we found it {o.finding} under {o.rule}: {o.reason}" for o in fired))
    return CloudOnly(advice, NOT_JUDGED, "", _unjudged(advice, outcomes))


def _unjudged(advice: Advice, outcomes: list[Outcome]) -> str:
    if outcomes:
        return f"no rule of ours judges a {outcomes[0].kind} as {advice.finding}"
    return "we did not judge this resource (not in our inventory, or no rule for its kind)"


def agreement_rows(findings: Iterable[Finding], cloud_only: Iterable[CloudOnly]) -> list[dict]:
    """The agreement table, one row per compared finding (ours) and per cloud-only recommendation
    (theirs): cloud, resource, kind, rule, our and the cloud's target, the verdict and why."""
    rows = [{"side": "ours", "cloud": f.resource.cloud, "resource": f.resource.id, "finding": f.outcome.finding,
             "rule": f.outcome.rule, "our_target": f.target_type, "cloud_target": "", "advice": f.advice,
             "why": f.advice_note} for f in findings if f.outcome.fired]
    rows += [{"side": "cloud only", "cloud": o.advice.cloud, "resource": o.advice.resource_id,
              "finding": o.advice.finding, "rule": o.rules, "our_target": "", "cloud_target": o.advice.target_type,
              "advice": f"we: {o.status}", "why": o.reason} for o in cloud_only]
    return rows
