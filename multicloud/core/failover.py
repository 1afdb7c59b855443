"""Failover runbooks as values: the step list, the DNS weight shift, what a journal says has
happened, and the report. Pure: the flow passes in times and observations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Literal, Mapping

from multicloud.core.errors import InvalidInput

Outcome = Literal["started", "completed", "failed", "acquired"]

PREFLIGHT, APPROVAL, READ_ONLY, FINAL_SYNC, DNS_SWITCH, VALIDATE, REPORT = (
    "preflight", "approval", "primary-read-only", "final-sync", "dns-switch", "validate", "report")
COMPENSATE = "compensate-read-write"
SINGLE_FLIGHT = "single-flight"
SINGLE_FLIGHT_LIMIT = "failover-single-flight"  # the global concurrency limit, created by deployments.bootstrap


@dataclass(frozen=True)
class Step:
    name: str
    mutating: bool
    why: str


def runbook(approval: Literal["manual", "auto"]) -> list[Step]:
    """The steps in order; approval appears only in manual mode."""
    steps = [
        Step(PREFLIGHT, False, "target healthy and replication lag within the RPO budget, before touching anything"),
        Step(APPROVAL, False, "an engineer approves with the preflight findings in front of them"),
        Step(READ_ONLY, True, "stop writes at the failing site so the final sync is complete"),
        Step(FINAL_SYNC, True, "copy what is left until nothing is; records the achieved RPO"),
        Step(DNS_SWITCH, True, "move the failing site's traffic weight to the healthy sites"),
        Step(VALIDATE, False, "probe the service through the new records"),
        Step(REPORT, False, "RTO, RPO and per-step durations"),
    ]
    return [s for s in steps if approval == "manual" or s.name != APPROVAL]


def shift_weights(weights: Mapping[str, int], failed: str, healthy: Iterable[str]) -> dict[str, int]:
    """Spread the failed site's weight over the healthy sites, in proportion to their weights
    (equally when they all have none). Total weight is kept. Raises InvalidInput when no healthy
    site has a record."""
    out = dict(weights)
    if failed not in out:
        raise InvalidInput("the failing site has no weighted record", target=failed)
    healthy = [s for s in healthy if s in out and s != failed]
    if not healthy:
        raise InvalidInput("no healthy site has a weighted record to take the traffic", target=failed)
    moving, out[failed] = out[failed], 0
    base = sum(out[s] for s in healthy)
    shares = {s: (moving * out[s] // base if base else moving // len(healthy)) for s in healthy}
    # The integer remainder goes to the first healthy sites, so no weight is lost.
    for s in healthy[: moving - sum(shares.values())]:
        shares[s] += 1
    for s in healthy:
        out[s] += shares[s]
    return out


@dataclass(frozen=True)
class JournalEntry:
    """One durable line of the journal: a step's phase and what it observed."""

    seq: int
    step: str
    outcome: Outcome
    at: datetime
    observed: Mapping = field(default_factory=dict)
    practice: bool = False


@dataclass
class JournalState:
    """What the journal says has happened so far."""

    completed: dict[str, JournalEntry]
    failed: dict[str, JournalEntry]
    started_at: datetime | None
    read_only_in_force: bool
    finished: bool
    last_seq: int


def replay(entries: Iterable[JournalEntry]) -> JournalState:
    """Fold journal entries (in seq order) into the state a resumed run starts from."""
    completed: dict[str, JournalEntry] = {}
    failed: dict[str, JournalEntry] = {}
    started_at = None
    read_only = False
    finished = False
    last = 0
    for e in sorted(entries, key=lambda e: e.seq):
        last = e.seq
        started_at = started_at or e.at
        if e.outcome == "completed":
            completed[e.step] = e
            failed.pop(e.step, None)
            if e.step == READ_ONLY and not e.practice:
                read_only = True
            if e.step == COMPENSATE:
                read_only = False
                completed.pop(READ_ONLY, None)
            if e.step == REPORT:
                finished = True
        elif e.outcome == "failed":
            failed[e.step] = e
    return JournalState(completed, failed, started_at, read_only, finished, last)


def needs_compensation(state: JournalState) -> bool:
    """After a failure: return the primary to read-write if it was made read-only and the DNS
    switch has not completed. After the switch nothing rolls back automatically."""
    return state.read_only_in_force and DNS_SWITCH not in state.completed


def step_rows(entries: Iterable[JournalEntry]) -> list[dict]:
    """Per step: outcome, start, end and duration, from the journal."""
    rows: dict[str, dict] = {}
    for e in sorted(entries, key=lambda e: e.seq):
        if e.step == SINGLE_FLIGHT:
            continue
        row = rows.setdefault(e.step, {"step": e.step, "outcome": e.outcome, "started": e.at, "ended": None,
                                       "seconds": None})
        if e.outcome == "started":
            row["started"] = e.at
        else:
            row["outcome"] = e.outcome
            row["ended"] = e.at
            row["seconds"] = round((e.at - row["started"]).total_seconds(), 2)
    return [{**r, "started": r["started"].isoformat(), "ended": r["ended"].isoformat() if r["ended"] else None}
            for r in rows.values()]


def timeline_markdown(plan: str, failover_id: str, direction: str, practice: bool, entries: list[JournalEntry],
                      triggered_at: datetime, rto_seconds: float | None, rpo_seconds: float | None,
                      rto_budget: float, rpo_budget: float) -> str:
    """The markdown timeline of one failover."""
    head = f"# {'Practice ' if practice else ''}{direction.capitalize()} `{plan}`"
    lines = [head, "", f"Failover id: `{failover_id}`", ""]
    rto = "not reached" if rto_seconds is None else f"{rto_seconds:.1f} s (budget {rto_budget:.0f} s)"
    rpo = "unknown" if rpo_seconds is None else f"{rpo_seconds:.1f} s (budget {rpo_budget:.0f} s)"
    lines += [f"- **RTO** (trigger to validated): {rto}", f"- **RPO** (data not yet replicated when writes "
              f"stopped): {rpo}", "", "| time (UTC) | step | outcome | detail |", "|---|---|---|---|"]
    lines.append(f"| {triggered_at:%H:%M:%S} | trigger | - | |")
    for e in sorted(entries, key=lambda e: e.seq):
        detail = ", ".join(f"{k}={v}" for k, v in list(e.observed.items())[:4])
        lines.append(f"| {e.at:%H:%M:%S.%f}"[:-3] + f" | {e.step} | {e.outcome} | {detail[:160]} |")
    return "\n".join(lines) + "\n"
