"""Which rightsizing findings may be acted on, and why or why not: approval, the keep tag, whether the
action is one we automate, practice mode, and (just before acting) whether the resource is still as
the scan saw it. Pure: the clock comes in as `now`, the cloud's answer as a `Resource`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from multicloud.core.rightsizing.evaluate import FINDING, Resource, is_kept
from multicloud.core.rightsizing.findings import Finding

# Action -> the resource kind it is automated for. "delete" of a disk is done as snapshot_and_delete, so
# nothing is deleted without a copy; resize and review need a person, and so does deleting a snapshot
# or a database (no copy can be kept of what that removes).
AUTOMATED = {"stop": "vm", "snapshot_and_delete": "disk", "release": "ip"}
SAFER_FORM = {("delete", "disk"): "snapshot_and_delete"}

ACT, PRACTICE = "act", "practice"
NOT_APPROVED, KEPT, NOT_AUTOMATED, NOT_A_FINDING, DUPLICATE, NO_APPROVER = (
    "not_approved", "kept", "not_automated", "not_a_finding", "duplicate", "no_approver")
# What execution records per action.
DONE, WOULD_DO, SKIPPED, FAILED = "done", "would_do", "skipped", "failed"


@dataclass(frozen=True)
class PlannedAction:
    """One finding's fate: `do` is what will be done (empty: nothing), `decision` the kind of answer
    (act, practice, not_approved, kept, ...) and `why` says it in words."""

    finding_id: str
    cloud: str
    resource: Resource
    rule: str
    action: str
    do: str
    decision: str
    why: str
    approver: str
    planned_at: datetime
    practice: bool
    savings: Decimal | None = None
    currency: str = "USD"

    @property
    def will_change(self) -> bool:
        return self.decision == ACT

    @property
    def will_run(self) -> bool:
        """Acted on, or in practice mode walked through (re-read, judged) without any change."""
        return self.decision in (ACT, PRACTICE)


def finding_id(finding: Finding) -> str:
    """A short id stable across runs for the same rule on the same resource (ids in the form)."""
    key = f"{finding.resource.cloud}|{finding.resource.id}|{finding.outcome.rule}"
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def automated_form(action: str, kind: str) -> str:
    """The action we would run for `action` on a resource of `kind`, or "" when none is automated."""
    action = SAFER_FORM.get((action, kind), action)
    return action if AUTOMATED.get(action) == kind else ""


def actionable(findings: Iterable[Finding]) -> list[Finding]:
    """The fired findings worth showing in the approval form: automatable, not kept, one per resource
    (the first rule to ask for it), in the order given."""
    seen, out = set(), []
    for f in findings:
        key = (f.resource.cloud, f.resource.id)
        if f.outcome.status == FINDING and automated_form(f.outcome.action, f.resource.kind) and \
                not is_kept(f.resource) and key not in seen:
            seen.add(key)
            out.append(f)
    return out


def plan_actions(findings: Iterable[Finding], approved_ids: Iterable[str], practice: bool, now: datetime,
                 approver: str = "") -> list[PlannedAction]:
    """Per finding, what will be done and why (or why not). Raises ValueError naming an approved id
    that matches no finding, so a mistyped approval never passes for "nothing approved"."""
    findings, approved = list(findings), frozenset(approved_ids)
    unknown = sorted(approved - {finding_id(f) for f in findings})
    if unknown:
        raise ValueError(f"approved finding id(s) {', '.join(unknown)} match no finding of this run")
    taken: dict[tuple[str, str], str] = {}
    out = []
    for f in findings:
        fid, res = finding_id(f), f.resource
        decision, why = _decide(f, fid in approved, approver, practice, taken.get((res.cloud, res.id)))
        do = automated_form(f.outcome.action, res.kind) if decision in (ACT, PRACTICE) else ""
        if do:
            taken[(res.cloud, res.id)] = f.outcome.rule
        out.append(PlannedAction(fid, res.cloud, res, f.outcome.rule, f.outcome.action, do, decision, why,
                                 approver, now, practice, f.savings, f.currency))
    return out


def _decide(f: Finding, approved: bool, approver: str, practice: bool, taken_by: str | None) -> tuple[str, str]:
    res, action = f.resource, f.outcome.action
    if f.outcome.status != FINDING:
        return NOT_A_FINDING, f"rule {f.outcome.rule} did not fire ({f.outcome.status})"
    if is_kept(res):
        return KEPT, "tagged multicloud:keep=true: never acted on"
    form = automated_form(action, res.kind)
    if not form:
        return NOT_AUTOMATED, f"{action} of a {res.kind} is not automated: it needs a person's judgement"
    if not approved:
        return NOT_APPROVED, "not approved in the form"
    if taken_by is not None:
        return DUPLICATE, f"already planned under rule {taken_by}"
    if not approver.strip():
        return NO_APPROVER, "approved without an approver's name: nothing is done anonymously"
    how = f"{form} (asked: {action})" if form != action else form
    if practice:
        return PRACTICE, f"practice mode: would {how}, approved by {approver}; nothing is changed"
    return ACT, f"{how}, approved by {approver}"


def recheck(planned: PlannedAction, current: Resource | None) -> str:
    """Why the action must not run now that the resource was read again ("" when it may): gone, kept
    since, or no longer in the state the finding was about."""
    if current is None:
        return f"{planned.resource.id} no longer exists"
    if is_kept(current):
        return "tagged multicloud:keep=true since the scan"
    if planned.do == "stop" and current.state != "running":
        return f"state is now {current.state or 'unknown'!r} (the scan saw {planned.resource.state!r})"
    if planned.do == "snapshot_and_delete" and current.attached is not False:
        return f"attached to {current.attached_to or 'an instance'} since the scan" if current.attached else \
            "attachment cannot be read: not deleted"
    if planned.do == "release" and current.associated is not False:
        return f"associated with {current.attached_to or 'a resource'} since the scan" if current.associated else \
            "association cannot be read: not released"
    return ""


def snapshot_name(planned: PlannedAction) -> str:
    """A name for the copy made before a delete, valid on every cloud (lowercase, digits, dashes) and
    the same on a retry of the same plan."""
    return f"mc-before-delete-{planned.finding_id}-{planned.planned_at:%Y%m%d%H%M%S}"


def form_rows(findings: Iterable[Finding]) -> list[dict]:
    """One row per finding the form offers: the id to approve, resource, rule, savings and action."""
    return [{"id": finding_id(f), "cloud": f.resource.cloud, "resource": f.resource.id, "kind": f.resource.kind,
             "rule": f.outcome.rule, "monthly_savings": f"{f.savings:.2f} {f.currency}",
             "action": automated_form(f.outcome.action, f.resource.kind)} for f in findings]


def form_markdown(rows: list[dict], practice: bool) -> str:
    """The approval form's description: the findings table and what approving means."""
    lines = ["# Rightsizing actions: approve", "",
             f"Tick the findings to act on and name yourself. Practice mode is {'on' if practice else 'off'} by "
             "default: with it on, every approved action is checked against the resource as it is now and "
             "journaled, and nothing is changed. A disk is snapshotted before it is deleted.", "",
             "| id | cloud | resource | rule | monthly savings | action |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['id']} | {r['cloud']} | `{r['resource']}` | {r['rule']} | {r['monthly_savings']} | {r['action']} |"
              for r in rows]
    if not rows:
        lines.append("| - | - | no finding can be acted on | - | - | - |")
    return "\n".join(lines) + "\n"


def result_rows(planned: list[PlannedAction], results: dict[str, dict]) -> list[dict]:
    """The report's table: per finding, the decision, what happened and the snapshot made."""
    rows = []
    for p in planned:
        r = results.get(p.finding_id, {})
        rows.append({"id": p.finding_id, "cloud": p.cloud, "resource": p.resource.id, "rule": p.rule,
                     "action": p.do or p.action, "decision": p.decision, "outcome": r.get("outcome", "not run"),
                     "why": r.get("why") or p.why, "snapshot": r.get("snapshot_id", ""), "approver": p.approver})
    return rows


def report_markdown(rows: list[dict], practice: bool) -> str:
    """What was done, or in practice mode what would have been done."""
    title = "Rightsizing actions (practice: nothing was changed)" if practice else "Rightsizing actions"
    lines = [f"# {title}", "", "| resource | rule | action | outcome | why | snapshot |", "|---|---|---|---|---|---|"]
    lines += [f"| `{r['resource']}` | {r['rule']} | {r['action']} | {r['outcome']} | {r['why']} | {r['snapshot']} |"
              for r in rows]
    return "\n".join(lines) + "\n"
