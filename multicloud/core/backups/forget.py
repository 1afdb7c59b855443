"""Which snapshots of a plan `forget` removes: the plan's snapshots (tag `plan=<name>`) through
restic's policy (`apply_policy`), and the retention table that shows the reason for each."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Mapping

from multicloud.core.backups.retention import RetentionDecision, RetentionRules, apply_policy


def plan_tag(plan_name: str) -> str:
    """The tag every snapshot of a plan carries."""
    return f"plan={plan_name}"


def of_plan(snapshots: Iterable[Mapping], plan_name: str) -> list[Mapping]:
    """The snapshots a plan wrote; a repository may hold others, which its forget never touches."""
    tag = plan_tag(plan_name)
    return [s for s in snapshots if tag in (s.get("tags") or ())]


def forget_decision(snapshots: Iterable[Mapping], plan_name: str, policy: RetentionRules,
                    now: datetime) -> RetentionDecision:
    """Keep and remove, with restic's reasons, for the plan's snapshots grouped by host and paths."""
    return apply_policy(of_plan(snapshots, plan_name), policy, now)


def retention_rows(decision: RetentionDecision) -> list[dict]:
    """The retention table: every snapshot of every group, kept with restic's reasons or removed."""
    rows = []
    for g in decision.groups:
        for k in g.keep:
            rows.append(_row(g, k.snapshot, "keep", ", ".join(k.matches)))
        for s in g.remove:
            rows.append(_row(g, s, "remove", "no keep rule matched"))
    return rows


def _row(group, snap: Mapping, action: str, reasons: str) -> dict:
    return {"snapshot": str(snap.get("id", ""))[:8], "time": snap.get("time"), "host": group.hostname,
            "paths": ", ".join(group.paths), "action": action, "reasons": reasons}
