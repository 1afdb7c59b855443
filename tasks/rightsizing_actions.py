"""Prefect side of rightsizing actions: the approval form the flow pauses on (the findings, an approve
box per finding, the approver's name, practice mode on by default), the journal of the approval and
the plan, one task per action to walk through, and the report artifacts. Decisions are in
multicloud.core.rightsizing.actions; the cloud work in multicloud.engine.rightsizing_actions."""

from __future__ import annotations

from datetime import datetime, timezone

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field, create_model

from multicloud.clouds import open_store
from multicloud.config import Profile
from multicloud.config.rightsizing_actions import ActionTargets
from multicloud.core.rightsizing import actions as A
from multicloud.core.rightsizing.findings import Finding
from multicloud.engine.journal import Journal
from multicloud.engine.rightsizing_actions import cloud_actions, execute

APPROVAL, PLAN = "approval", "plan"


def approval_form(rows: list[dict], practice: bool) -> type[RunInput]:
    """The form: one approve box per finding (its field named after the finding id), who approves,
    why, and the practice-mode switch."""
    boxes = {f"approve_{r['id']}": (bool, Field(default=False, title=f"{r['action']} {r['resource']}",
                                                description=f"{r['rule']} on {r['cloud']} {r['kind']}, saves "
                                                f"{r['monthly_savings']} a month"))
             for r in rows}
    return create_model(
        "RightsizingApproval", __base__=RunInput,
        approver=(str, Field(default="", description="Who approves (required to act).")),
        comment=(str, Field(default="", description="Why.")),
        practice=(bool, Field(default=practice, description="Practice mode: check and journal, change nothing.")),
        **boxes)


def ask_approval(findings: list[Finding], practice: bool = True, timeout_seconds: int = 3600) -> dict:
    """Pause the flow run on the approval form (called by the flow, not a task); the answer as
    {approved_ids, approver, comment, practice}. Nothing to approve: no pause. Raises FlowPauseTimeout."""
    rows = A.form_rows(A.actionable(findings))
    if not rows:
        return {"approved_ids": [], "approver": "", "comment": "no finding can be acted on", "practice": practice}
    form = approval_form(rows, practice)
    answer = pause_flow_run(wait_for_input=form.with_initial_data(description=A.form_markdown(rows, practice)),
                            timeout=timeout_seconds, poll_interval=2)
    return {"approved_ids": [r["id"] for r in rows if getattr(answer, f"approve_{r['id']}")],
            "approver": answer.approver, "comment": answer.comment, "practice": answer.practice}


def open_journal(journal_url: str, run_id: str, profile: Profile) -> Journal:
    return Journal(open_store(journal_url, profile), f"rightsizing-actions/{run_id}")


@task(task_run_name="plan-actions", cache_policy=NO_CACHE)
def plan_and_journal(findings: list[Finding], answer: dict, journal_url: str, run_id: str,
                     profile: Profile) -> list[A.PlannedAction]:
    """Journal who approved what and when, then the plan: every finding's decision and why."""
    now = datetime.now(timezone.utc)
    journal = open_journal(journal_url, run_id, profile)
    journal.append(APPROVAL, "completed", now, answer, answer["practice"])
    planned = A.plan_actions(findings, answer["approved_ids"], answer["practice"], now, answer["approver"])
    journal.append(PLAN, "completed", now, {"actions": A.result_rows(planned, {})}, answer["practice"])
    return planned


@task(task_run_name="action-{planned.do}-{planned.finding_id}", cache_policy=NO_CACHE)
def carry_out(planned: A.PlannedAction, profile: Profile, targets: ActionTargets, journal_url: str,
              run_id: str) -> dict:
    """Re-read the resource, then act (or, in practice mode, say what would be done); every step journaled.
    Not retried: a repeat re-reads first, and a failure is journaled for a person to look at."""
    journal = open_journal(journal_url, run_id, profile)
    return {"finding_id": planned.finding_id,
            **execute(planned, cloud_actions(planned.cloud, profile, targets), journal)}


@task(task_run_name="report-actions", cache_policy=NO_CACHE)
def publish_actions(planned: list[A.PlannedAction], results: list[dict], practice: bool, run_id: str) -> dict:
    """The actions table and summary artifacts; returns the counts by outcome and the rows."""
    rows = A.result_rows(planned, {r["finding_id"]: r for r in results})
    create_table_artifact(key="rightsizing-actions", table=rows,
                          description=f"rightsizing actions {run_id}: per finding the decision and outcome")
    create_markdown_artifact(key="rightsizing-actions-summary", markdown=A.report_markdown(rows, practice),
                             description="what was done" if not practice else "what would have been done")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    return {"run_id": run_id, "practice": practice, "outcomes": counts, "rows": rows}
