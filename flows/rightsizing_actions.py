"""The actions step of the rightsizing runbook, called by the rightsizing flow once it has its
findings: pause for approval (practice mode on by default), journal the plan, carry out each approved
action as its own task, report. A timed-out approval does nothing and says so."""

from __future__ import annotations

from datetime import datetime, timezone

from prefect.exceptions import FlowPauseTimeout

from multicloud.config import Profile
from multicloud.config.rightsizing_actions import ActionTargets
from multicloud.core.rightsizing.findings import Finding
from tasks.rightsizing_actions import APPROVAL, ask_approval, carry_out, open_journal, plan_and_journal, \
    publish_actions


def act_on_findings(findings: list[Finding], profile: Profile, journal_url: str, run_id: str,
                    targets: ActionTargets = ActionTargets(), practice: bool = True,
                    approval_timeout_seconds: int = 3600) -> dict:
    """Run inside the rightsizing flow: it pauses that flow run for approval. Returns the report."""
    try:
        answer = ask_approval(findings, practice, approval_timeout_seconds)
    except FlowPauseTimeout:
        reason = f"no answer within {approval_timeout_seconds} s: nothing was done"
        open_journal(journal_url, run_id, profile).append(APPROVAL, "failed", datetime.now(timezone.utc),
                                                          {"reason": reason}, practice)
        answer = {"approved_ids": [], "approver": "", "comment": reason, "practice": practice}
    planned = plan_and_journal(findings, answer, journal_url, run_id, profile)
    futures = [carry_out.submit(p, profile, targets, journal_url, run_id) for p in planned if p.will_run]
    return publish_actions(planned, [f.result() for f in futures], answer["practice"], run_id)
