"""Failover runbook: preflight, approval, primary read-only, final sync, DNS switch, validate,
report. Every step is journaled durably under the failover id; a re-run with the same id resumes
after the last completed step; a failure before the DNS switch returns the primary to
read-write; one failover runs at a time; practice mode makes no mutating call."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from multicloud.clouds import open_store
from multicloud.engine.journal import Journal
from multicloud.config import FailoverPlan, load_plans, load_profile
from multicloud.core import failover as fo
from tasks.failover import (
    SlotTaken, final_sync, make_read_only, preflight, restore_read_write, single_flight, switch_dns, validate,
)



class Approval(RunInput):
    approve: bool = Field(default=False, description="Approve this failover.")
    approver: str = Field(default="", description="Who decides.")
    comment: str = Field(default="", description="Why.")


class Stopped(RuntimeError):
    """The runbook stopped safely before acting (preflight, denial, timeout, cancellation, refusal)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _cancel_requested(failover_id: str) -> bool:
    """A `resolved` alert sets this variable; it cancels the failover before the DNS switch."""
    from prefect.variables import Variable

    return Variable.get(f"failover-cancel-{failover_id}".lower(), default=None) is not None


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
) -> dict:
    chosen = load_plans(plans_file).plan(plan, plans_file)
    failover_id = failover_id or str(uuid.uuid4())
    triggered_at = triggered_at or _now()
    journal = Journal(open_store(chosen.journal, load_profile(profile)), failover_id)
    held = [e for e in journal.entries() if e.step == fo.SINGLE_FLIGHT]
    stale = held[-1].observed.get("lease_id") if held and take_over_stale_lease else None
    try:
        with single_flight(fo.SINGLE_FLIGHT_LIMIT, stale_lease=stale) as lease:
            journal.append(fo.SINGLE_FLIGHT, "acquired", _now(), {"lease_id": lease}, practice)
            return run_failover(chosen, failover_id, direction, practice, approval, profile, triggered_at, journal)
    except SlotTaken:
        reason = (f"refused: another failover holds the single-flight limit {fo.SINGLE_FLIGHT_LIMIT!r}; "
                  f"{direction} of {plan} (id {failover_id}) was not started")
        create_markdown_artifact(key="failover-refused", markdown=f"# Failover refused\n\n{reason}\n",
                                 description=reason)
        raise Stopped(reason) from None


def run_failover(plan: FailoverPlan, failover_id: str, direction: str, practice: bool, approval: str,
                 profile: str | None, triggered_at: datetime, journal: Journal) -> dict:
    logger = get_run_logger()
    src, dst = (plan.primary, plan.secondary) if direction == "failover" else (plan.secondary, plan.primary)
    mode = plan.approval if approval == "plan" else approval
    state = fo.replay(journal.entries())
    if state.finished:
        logger.info("failover %s already finished; reporting it again", failover_id)
        return report(plan, failover_id, direction, practice, triggered_at, journal)
    findings: dict = state.completed[fo.PREFLIGHT].observed if fo.PREFLIGHT in state.completed else {}

    def record(step: str, outcome: str, observed: dict | None = None):
        return journal.append(step, outcome, _now(), observed, practice)

    def stop_safely(step: str, why: str):
        record(step, "failed", {"reason": why})
        compensate()
        report(plan, failover_id, direction, practice, triggered_at, journal)
        raise Stopped(f"{direction} {plan.name} stopped at {step}: {why}")

    def compensate():
        if practice or not fo.needs_compensation(fo.replay(journal.entries())):
            return
        record(fo.COMPENSATE, "started")
        try:
            observed = restore_read_write(plan, src, profile)
        except Exception as exc:
            record(fo.COMPENSATE, "failed", {"error": f"{type(exc).__name__}: {exc}"})
            logger.critical("compensation failed: %s is still read-only: %s", src, exc)
            return
        record(fo.COMPENSATE, "completed", observed)

    for step in fo.runbook(mode):
        if step.name in state.completed:
            logger.info("step %s already completed in this failover's journal; not repeated", step.name)
            continue
        if step.name == fo.REPORT:
            break
        if step.mutating and _cancel_requested(failover_id):  # every mutating step is before the switch
            stop_safely(step.name, "the alert resolved before the DNS switch")
        record(step.name, "started")
        try:
            if step.name == fo.PREFLIGHT:
                findings = preflight(plan, src, dst, profile)
                if not findings["ok"]:
                    record(step.name, "failed", findings)
                    report(plan, failover_id, direction, practice, triggered_at, journal)
                    raise Stopped(f"preflight failed: {'; '.join(findings['problems'])}")
                observed = findings
            elif step.name == fo.APPROVAL:
                observed = ask_approval(plan, failover_id, direction, practice, findings)
                if not observed["approve"]:
                    stop_safely(step.name, f"denied by {observed.get('approver') or 'an operator'}: "
                                           f"{observed.get('comment', '')}")
            elif step.name == fo.READ_ONLY:
                observed = make_read_only(plan, src, profile, practice)
            elif step.name == fo.FINAL_SYNC:
                observed = final_sync(plan, src, dst, profile, practice)
            elif step.name == fo.DNS_SWITCH:
                observed = switch_dns(plan, src, profile, practice)
            else:
                observed = validate(plan, src, profile, practice)
        except (Stopped, FlowPauseTimeout) as exc:
            if isinstance(exc, FlowPauseTimeout):
                stop_safely(step.name, f"no decision within {plan.approval_timeout_seconds} s")
            raise
        except Exception as exc:
            record(step.name, "failed", {"error": f"{type(exc).__name__}: {exc}"})
            compensate()
            report(plan, failover_id, direction, practice, triggered_at, journal)
            raise
        record(step.name, "completed", observed)
    return report(plan, failover_id, direction, practice, triggered_at, journal)


def ask_approval(plan: FailoverPlan, failover_id: str, direction: str, practice: bool, findings: dict) -> dict:
    lags = ", ".join(f"{k}: {v['lag_seconds']:.0f} s ({v['pending']} pending)" for k, v in findings.get("lag", {}).items())
    description = (f"**{'Practice ' if practice else ''}{direction} of `{plan.name}`** (id `{failover_id}`)\n\n"
                   f"- target probes: {sum(p['ok'] for p in findings.get('target_probes', []))} of "
                   f"{len(findings.get('target_probes', []))} healthy\n- replication lag: {lags or 'no data sets'}\n"
                   f"- DNS weights now: {findings.get('weights')}\n\nApprove to make the primary read-only, sync "
                   "and switch DNS.")
    answer = pause_flow_run(wait_for_input=Approval.with_initial_data(description=description),
                            timeout=plan.approval_timeout_seconds, poll_interval=2)
    return answer.model_dump() if hasattr(answer, "model_dump") else dict(answer)


def report(plan: FailoverPlan, failover_id: str, direction: str, practice: bool, triggered_at: datetime,
           journal: Journal) -> dict:
    entries = journal.entries()
    state = fo.replay(entries)
    started = min([triggered_at] + [e.at for e in entries])
    validated = state.completed.get(fo.VALIDATE)
    rto = (validated.at - started).total_seconds() if validated else None
    sync = state.completed.get(fo.FINAL_SYNC)
    rpo = sync.observed.get("rpo_seconds") if sync else None
    rows = fo.step_rows(entries)
    slug = plan.name
    create_table_artifact(key=f"failover-{slug}-steps", table=rows,
                          description=f"{direction} {plan.name} ({failover_id}): per-step outcome and duration")
    create_markdown_artifact(
        key=f"failover-{slug}-timeline",
        markdown=fo.timeline_markdown(plan.name, failover_id, direction, practice, entries, started, rto, rpo,
                                      plan.rto_seconds, plan.rpo_seconds),
        description=f"{direction} {plan.name}: RTO {rto if rto is None else round(rto, 1)} s")
    if validated and fo.REPORT not in state.completed:
        journal.append(fo.REPORT, "completed", _now(), {"rto_seconds": rto, "rpo_seconds": rpo}, practice)
    return {"failover_id": failover_id, "plan": plan.name, "direction": direction, "practice": practice,
            "rto_seconds": rto, "rpo_seconds": rpo, "steps": rows, "completed": bool(validated)}
