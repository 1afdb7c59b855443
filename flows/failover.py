"""Failover runbook: preflight, approval, primary read-only, final sync, DNS switch, validate,
report. Every step is journaled durably under the failover id; a re-run with the same id resumes
after the last completed step; a failure before the DNS switch returns the primary to
read-write; one failover runs at a time; practice mode makes no mutating call."""

from __future__ import annotations

import time

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Callable, Literal

from prefect import flow, get_run_logger
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from pydantic import Field

from multicloud.clouds import open_store
from multicloud.config import FailoverPlan, Profile, load_plans, load_profile
from multicloud.core import failover as fo
from multicloud.core.metrics import failover_metrics
from multicloud.engine.journal import Journal
from tasks.metrics import publish_metrics
from tasks.failover import (
    Lease, SlotTaken, final_sync, make_read_only, preflight, publish_refusal, publish_report, restore_read_write,
    single_flight, switch_dns, validate,
)


class Approval(RunInput):
    approve: bool = Field(default=False, description="Approve this failover.")
    approver: str = Field(default="", description="Who decides.")
    comment: str = Field(default="", description="Why.")


class Stopped(RuntimeError):
    """The runbook stopped safely (preflight, denial, timeout, cancellation, a lost lease, refusal)."""


@flow(name="failover")
def failover(
    plan: Annotated[str, Field(description="Name of the failover plan in `plans_file`.")],
    failover_id: Annotated[str | None, Field(description="Id of this failover; re-use it to resume.")] = None,
    direction: Annotated[Literal["failover", "failback"], Field(
        description="failover: primary -> secondary; failback: secondary -> primary.")] = "failover",
    practice: Annotated[bool, Field(description="Run every read and check, journal it, change nothing.")] = False,
    approval: Annotated[Literal["plan", "manual", "auto"], Field(
        description="plan: the plan's setting; manual: pause for approval; auto: no pause.")] = "plan",
    plans_file: Annotated[str, Field(description="YAML file of failover plans.")] = "deployments/failover/plans.yaml",
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty.")] = None,
    triggered_at: Annotated[datetime | None, Field(description="When the trigger fired (for the RTO).")] = None,
    take_over_stale_lease: Annotated[bool, Field(
        description="Resuming after a crashed run of this same failover id: release the single-flight slot "
        "that run still holds. Only when that run is known to be dead.")] = False,
    lease_renewal_seconds: Annotated[float, Field(gt=0, le=30, description=(
        "How often the single-flight lease (60 s) is renewed. A lease lost (renewals failing past its "
        "expiry, or the server no longer knowing it) stops the run before its next mutating step."))] = 20,
) -> dict:
    """Hold the single-flight slot, then do what the journal's next action says until it says done."""
    chosen = load_plans(plans_file).plan(plan, plans_file)
    connections = load_profile(profile)
    journal = Journal(open_store(chosen.journal, connections), failover_id or str(uuid.uuid4()))
    run = Runbook(chosen, connections, journal, direction, practice, fo.approval_mode(approval, chosen.approval),
                  triggered_at or datetime.now(timezone.utc))
    stale = run.state().lease_id if take_over_stale_lease else None
    try:
        with single_flight(fo.SINGLE_FLIGHT_LIMIT, stale_lease=stale, renew_every=lease_renewal_seconds,
                           logger=get_run_logger(), on_lost=run.lease_lost) as lease:
            run.record(fo.SINGLE_FLIGHT, "acquired", {"lease_id": lease.id, "flow_run_id": flow_run.id,
                                                      "triggered_at": run.triggered_at.isoformat()})
            return follow_runbook(run, lease)
    except SlotTaken:
        reason = fo.refused_message(direction, plan, journal.failover_id)
        publish_refusal(plan, reason)
        raise Stopped(reason) from None


@dataclass
class Runbook:
    """One run of the runbook: the plan, the connections and the journal, resolved once."""

    plan: FailoverPlan
    profile: Profile
    journal: Journal
    direction: str
    practice: bool
    mode: fo.Mode
    triggered_at: datetime
    error: Exception | None = None  # a step's exception, raised again once the run has stopped safely
    summary: dict = field(default_factory=dict)

    @property
    def src(self) -> str:
        return self.plan.primary if self.direction == "failover" else self.plan.secondary

    @property
    def dst(self) -> str:
        return self.plan.secondary if self.direction == "failover" else self.plan.primary

    @property
    def failover_id(self) -> str:
        return self.journal.failover_id

    def state(self) -> fo.JournalState:
        return fo.replay(self.journal.entries())

    def record(self, step: str, outcome: str, observed: dict | None = None) -> fo.JournalEntry:
        return self.journal.append(step, outcome, datetime.now(timezone.utc), observed, self.practice)

    def lease_lost(self, lease: Lease) -> None:
        self.record(fo.SINGLE_FLIGHT, "lost", {"reason": lease.lost, "failed_renewals": lease.failed_renewals})


def _alert_resolved(failover_id: str, attempts: int = 3) -> bool:
    """A `resolved` alert sets this variable; it cancels the failover before the DNS switch. When
    the Prefect API cannot answer, the runbook goes on (a warning says so): an unreadable cancel
    flag must not skip a compensation or strand the primary read-only."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.variables import Variable

    for attempt in range(1, attempts + 1):
        try:
            return Variable.get(f"failover-cancel-{failover_id}".lower(), default=None) is not None
        except (httpx.HTTPError, PrefectHTTPStatusError) as exc:
            get_run_logger().warning("cancel flag unreadable (attempt %d of %d): %s", attempt, attempts, exc)
            time.sleep(attempt)
    return False


def follow_runbook(run: Runbook, lease: Lease) -> dict:
    """Act on the journal's next action until it says done."""
    logger = get_run_logger()
    while (action := fo.next_action(run.state(), run.mode, fo.stop_request(
            _alert_resolved(run.failover_id), lease.lost))).kind != "done":
        logger.info("%s %s: %s", action.kind, action.step.name, action.why)
        ACTIONS[action.kind](run, action)
    return {**run.summary, "failed_lease_renewals": lease.failed_renewals}


def ask_approval(run: Runbook) -> dict:
    findings = run.state().completed[fo.PREFLIGHT].observed
    description = fo.approval_description(run.plan.name, run.failover_id, run.direction, run.practice, findings,
                                          fo.runbook(run.mode))
    answer = pause_flow_run(wait_for_input=Approval.with_initial_data(description=description),
                            timeout=run.plan.approval_timeout_seconds, poll_interval=2)
    return answer.model_dump()


STEP_TASKS: dict[str, Callable[[Runbook], dict]] = {
    fo.PREFLIGHT: lambda run: preflight(run.plan, run.src, run.dst, run.profile),
    fo.APPROVAL: ask_approval,
    fo.READ_ONLY: lambda run: make_read_only(run.plan, run.src, run.profile, run.practice),
    fo.FINAL_SYNC: lambda run: final_sync(run.plan, run.src, run.dst, run.profile, run.practice),
    fo.DNS_SWITCH: lambda run: switch_dns(run.plan, run.src, run.profile, run.practice),
    fo.VALIDATE: lambda run: validate(run.plan, run.src, run.profile, run.practice),
}


def run_step(run: Runbook, action: fo.Action) -> None:
    step = action.step
    run.record(step.name, "started")
    try:
        observed = STEP_TASKS[step.name](run)
    except FlowPauseTimeout:
        run.record(step.name, "failed", {"reason": fo.approval_timeout_reason(run.plan.approval_timeout_seconds)})
        return
    except Exception as exc:  # journaled and compensated first; the stop action raises it again
        run.error = exc
        run.record(step.name, "failed", {"error": fo.error_text(exc)})
        return
    why_not = step.verdict(observed)
    if why_not:
        run.record(step.name, "failed", {**observed, "reason": why_not})
    else:
        run.record(step.name, "completed", observed)


def compensate(run: Runbook, action: fo.Action) -> None:
    run.record(fo.COMPENSATE, "started")
    try:
        observed = restore_read_write(run.plan, run.src, run.profile)
    except Exception as exc:  # whatever the cause the site stays read-only: journal it, say it loudly; the run fails
        run.record(fo.COMPENSATE, "failed", {"error": fo.error_text(exc)})
        get_run_logger().critical("compensation failed: %s is still read-only: %s", run.src, exc)
        return
    run.record(fo.COMPENSATE, "completed", observed)


def report(run: Runbook, action: fo.Action) -> None:
    run.summary = publish_report(run.plan, run.failover_id, run.direction, run.practice, run.mode,
                                 run.journal.entries(), run.triggered_at)
    run.record(fo.REPORT, "completed", {k: run.summary[k] for k in ("rto_seconds", "rpo_seconds")})
    publish_metrics([failover_metrics(run.summary, datetime.now(timezone.utc))], run.profile)


def stop(run: Runbook, action: fo.Action) -> None:
    summary = publish_report(run.plan, run.failover_id, run.direction, run.practice, run.mode,
                             run.journal.entries(), run.triggered_at)
    publish_metrics([failover_metrics(summary, datetime.now(timezone.utc))], run.profile)
    raise run.error or Stopped(fo.stopped_message(run.direction, run.plan.name, action))


ACTIONS: dict[str, Callable[[Runbook, fo.Action], None]] = {
    "run": run_step,
    "skip": lambda run, action: run.record(action.step.name, "skipped", {"reason": action.why}),
    "cancel": lambda run, action: run.record(action.step.name, "failed", {"reason": action.why}),
    "compensate": compensate,
    "report": report,
    "stop": stop,
}


if __name__ == "__main__":
    import sys

    print(failover(plan=sys.argv[1] if len(sys.argv) > 1 else "demo-primary-to-secondary", practice=True))
