"""Failover runbooks as values: the step table, what to do next and why, the preflight, final-sync,
DNS, validation and lease decisions, what a journal says has happened, and the report. Pure: the
flow passes in times and observations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Literal, Mapping, Sequence

from multicloud.core.errors import InvalidInput
from multicloud.core.replication import lag_seconds

Outcome = Literal["started", "completed", "failed", "acquired", "skipped", "lost"]
Mode = Literal["manual", "auto"]

PREFLIGHT, APPROVAL, READ_ONLY, FINAL_SYNC, DNS_SWITCH, VALIDATE, REPORT = (
    "preflight", "approval", "primary-read-only", "final-sync", "dns-switch", "validate", "report")
COMPENSATE = "compensate-read-write"
SINGLE_FLIGHT = "single-flight"
SINGLE_FLIGHT_LIMIT = "failover-single-flight"  # the global concurrency limit, created by deployments.bootstrap
ALERT_RESOLVED = "the alert resolved before the DNS switch"


def _accepted(observed: Mapping) -> str | None:
    return None


def _preflight_verdict(observed: Mapping) -> str | None:
    problems = observed.get("problems") or []
    return f"preflight failed: {'; '.join(problems)}" if problems else None


def _approval_verdict(observed: Mapping) -> str | None:
    if observed.get("approve"):
        return None
    return f"denied by {observed.get('approver') or 'an operator'}: {observed.get('comment', '')}"


@dataclass(frozen=True)
class Step:
    """One step of the runbook. `verdict` reads what the step's task observed and says why the run
    must stop there (None: go on); `manual_only` steps run only when approval is manual."""

    name: str
    mutating: bool
    why: str
    manual_only: bool = False
    verdict: Callable[[Mapping], str | None] = _accepted


STEPS: tuple[Step, ...] = (
    Step(PREFLIGHT, False, "target healthy and replication lag within the RPO budget, before touching anything",
         verdict=_preflight_verdict),
    Step(APPROVAL, False, "an engineer approves with the preflight findings in front of them", manual_only=True,
         verdict=_approval_verdict),
    Step(READ_ONLY, True, "stop writes at the failing site so the final sync is complete"),
    Step(FINAL_SYNC, True, "copy what is left until nothing is; records the achieved RPO"),
    Step(DNS_SWITCH, True, "move the failing site's traffic weight to the healthy sites"),
    Step(VALIDATE, False, "probe the service through the new records"),
    Step(REPORT, False, "RTO, RPO and per-step durations"),
)
COMPENSATE_STEP = Step(COMPENSATE, True, "the failing site was made read-only and the DNS switch has not "
                                         "completed: let it take writes again")


def runbook(mode: Mode) -> list[Step]:
    """The steps in order; approval appears only in manual mode."""
    return [s for s in STEPS if mode == "manual" or not s.manual_only]


def approval_mode(requested: Literal["plan", "manual", "auto"], plan_setting: Mode) -> Mode:
    return plan_setting if requested == "plan" else requested


# ---- what the journal says ---------------------------------------------------------------------

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
    """What the journal says has happened. An attempt (one run of the flow) starts where the
    single-flight slot was acquired: a failure stops only the attempt it happened in, and a re-run
    with the same failover id retries from the first step not completed."""

    completed: dict[str, JournalEntry] = field(default_factory=dict)
    read_only_in_force: bool = False
    finished: bool = False
    lease_id: str | None = None  # the single-flight lease of the latest attempt
    failure: JournalEntry | None = None  # the step that failed in this attempt
    compensation_tried: bool = False  # in this attempt
    handled: set[str] = field(default_factory=set)  # steps completed or skipped in this attempt


def _fold_completed(state: JournalState, e: JournalEntry) -> None:
    state.completed[e.step] = e
    state.handled.add(e.step)
    if e.step == READ_ONLY and not e.practice:
        state.read_only_in_force = True
    elif e.step == COMPENSATE:
        state.read_only_in_force = False
        state.completed.pop(READ_ONLY, None)
    elif e.step == REPORT:
        state.finished = True


def _fold(state: JournalState, e: JournalEntry) -> None:
    if e.step == SINGLE_FLIGHT:
        if e.outcome == "acquired":
            state.lease_id = e.observed.get("lease_id")
            state.failure, state.compensation_tried, state.handled = None, False, set()
    elif e.step == COMPENSATE:
        state.compensation_tried = True
        if e.outcome == "completed":
            _fold_completed(state, e)
    elif e.outcome == "completed":
        _fold_completed(state, e)
    elif e.outcome == "skipped":
        state.handled.add(e.step)
    elif e.outcome == "failed":
        state.failure = e


def replay(entries: Iterable[JournalEntry]) -> JournalState:
    """Fold journal entries (in seq order) into the state the runbook goes on from."""
    state = JournalState()
    for e in sorted(entries, key=lambda e: e.seq):
        _fold(state, e)
    return state


def needs_compensation(state: JournalState) -> bool:
    """After a failure: return the primary to read-write if it was made read-only and the DNS
    switch has not completed. After the switch nothing rolls back automatically."""
    return state.read_only_in_force and DNS_SWITCH not in state.completed


# ---- what to do next ---------------------------------------------------------------------------

ActionKind = Literal["run", "skip", "cancel", "compensate", "stop", "report", "done"]


@dataclass(frozen=True)
class Action:
    """What the runbook does next and why. run: the step's task; skip: journal that a step completed
    in an earlier run is not repeated; cancel: journal the step as failed with `why` (a stop was
    requested before a mutating step); compensate: return the failing site to read-write; stop:
    report and end the run as failed; report: the report step; done: return the summary."""

    kind: ActionKind
    step: Step | None
    why: str


def failure_reason(entry: JournalEntry) -> str:
    return str(entry.observed.get("reason") or entry.observed.get("error") or "failed")


def next_action(state: JournalState, mode: Mode, cancel: str | None = None) -> Action:
    """The next thing to do, from the journal. `cancel`: why the run must stop before its next
    mutating step (the alert resolved, the single-flight lease was lost), None to go on."""
    if state.failure is not None:
        if needs_compensation(state) and not state.compensation_tried:
            return Action("compensate", COMPENSATE_STEP, COMPENSATE_STEP.why)
        return Action("stop", _step(state.failure.step), failure_reason(state.failure))
    for step in runbook(mode):
        if step.name in state.handled:
            continue
        if step.name == REPORT:
            return Action("report", step, step.why)
        if step.name in state.completed:
            return Action("skip", step, f"completed in an earlier run of this failover (journal entry "
                                        f"{state.completed[step.name].seq}); not repeated")
        if step.mutating and cancel:
            return Action("cancel", step, cancel)
        return Action("run", step, step.why)
    return Action("done", None, "every step is completed and reported")


def _step(name: str) -> Step:
    return next((s for s in STEPS if s.name == name), COMPENSATE_STEP)


def stop_request(alert_resolved: bool, lease_lost: str | None) -> str | None:
    """Why the runbook must stop before its next mutating step, or None."""
    reasons = [r for r in (ALERT_RESOLVED if alert_resolved else None, lease_lost) if r]
    return "; ".join(reasons) or None


def stopped_message(direction: str, plan: str, action: Action) -> str:
    return f"{direction} {plan} stopped at {action.step.name if action.step else 'start'}: {action.why}"


def refused_message(direction: str, plan: str, failover_id: str) -> str:
    return (f"refused: another failover holds the single-flight limit {SINGLE_FLIGHT_LIMIT!r}; "
            f"{direction} of {plan} (id {failover_id}) was not started")


def approval_timeout_reason(seconds: float) -> str:
    return f"no decision within {seconds} s"


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def lease_verdict(renewed_at: datetime, now: datetime, lease_seconds: float, status: int | None,
                  failed_renewals: int) -> str | None:
    """After a failed renewal of the single-flight lease: why it counts as lost, or None while it
    still holds. `status`: the server's HTTP answer to the renewal (None: no answer)."""
    if status in (404, 410):
        return (f"the single-flight lease was lost: the server no longer knows it (renewal answered {status}; "
                f"{failed_renewals} failed renewal(s)); another run may hold the slot")
    unrenewed = (now - renewed_at).total_seconds()
    if unrenewed >= lease_seconds:
        return (f"the single-flight lease was lost: {failed_renewals} renewal(s) failed over {unrenewed:.0f} s, "
                f"past its {lease_seconds:.0f} s lease")
    return None


# ---- the steps' decisions ----------------------------------------------------------------------

def preflight_problems(probes: Sequence[Mapping], lags: Mapping[str, Mapping], weights: Mapping[str, int],
                       from_site: str, to_site: str, rpo_seconds: float, dns_record: str) -> list[str]:
    """Why the failover must not start: unhealthy target probes, data sets lagging past the RPO
    budget, sites without a weighted record. Empty when it may."""
    problems = [f"{p['url']} answered {p['status'] or p['error']}" for p in probes if not p["ok"]]
    problems += [f"dataset {name}: lag {v['lag_seconds']:.0f} s over the RPO budget {rpo_seconds:.0f} s"
                 for name, v in lags.items() if v["lag_seconds"] > rpo_seconds]
    if from_site not in weights or to_site not in weights:
        problems.append(f"DNS {dns_record} has no weighted record for {from_site!r} or {to_site!r}")
    return problems


def healthy_sites(probes_by_site: Mapping[str, Sequence[Mapping]], failing: str) -> list[str]:
    """Sites other than `failing` whose every probe answered 2xx, in the given order."""
    return [site for site, probes in probes_by_site.items()
            if site != failing and probes and all(p["ok"] for p in probes)]


def dns_target(before: Mapping[str, int], from_site: str, healthy: Iterable[str]) -> dict[str, int] | None:
    """The weights after the switch, or None when `from_site` already has none (nothing to move)."""
    if before.get(from_site, 0) == 0:
        return None
    return shift_weights(before, from_site, healthy)


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
class Serving:
    """Where the records send traffic after the switch: the record ids with weight, the sites behind
    them to probe, and why validation fails before probing (None: probe)."""

    records: list[str]
    sites: list[str]
    problem: str | None


def serving_sites(weights: Mapping[str, int], values: Mapping[str, Sequence[str]], site_by_value: Mapping[str, str],
                  from_site: str, practice: bool) -> Serving:
    """In practice the switch did not happen: validate the sites it would have sent traffic to."""
    records = [rid for rid, w in weights.items() if w > 0]
    if practice:
        records = [r for r in records if r != from_site] or records
    elif from_site in records:
        return Serving(records, [], f"{from_site} still has weight {weights[from_site]}")
    return Serving(records, _sites_behind(records, values, site_by_value), None)


def _sites_behind(records: Iterable[str], values: Mapping[str, Sequence[str]],
                  site_by_value: Mapping[str, str]) -> list[str]:
    behind = {site_by_value.get(v) for rid in records for v in values.get(rid, [])}
    return sorted(behind - {None})


def validation_problem(probes_by_site: Mapping[str, Sequence[Mapping]]) -> str | None:
    bad = [p for probes in probes_by_site.values() for p in probes if not p["ok"]]
    if not probes_by_site or bad:
        return f"service not healthy through the new records: {bad or 'no site behind them'}"
    return None


SyncNext = Literal["again", "verify", "settled"]


def sync_next(rounds: int, pending: int, practice: bool, max_rounds: int) -> SyncNext:
    """After a final-sync pass: another pass, one dry pass to count what is left (rounds used up),
    or settled (the pass found nothing, or practice, whose one dry pass is the answer)."""
    if practice or pending == 0:
        return "settled"
    return "verify" if rounds >= max_rounds else "again"


def final_sync_rpo(first_oldest: datetime | None, left: int, left_oldest: datetime | None, practice: bool,
                   now: datetime) -> float:
    """The achieved RPO of one data set: the age of the oldest change still missing on the target
    (0 when none is). In practice nothing was copied: the lag the sync would have closed."""
    if practice:
        return lag_seconds(first_oldest, now)
    return lag_seconds(left_oldest, now) if left else 0.0


def final_sync_problem(dataset: str, failed: Sequence[tuple[str, str]], left: int, rounds: int,
                       practice: bool, failed_count: int | None = None) -> str | None:
    """Why the final sync of `dataset` failed: objects that failed to copy (`failed`: the first
    (key, error) pairs kept; `failed_count`: how many failed in all, when more than were kept), or
    objects still differing after the rounds (not in practice, which copies nothing)."""
    if failed:
        key, error = failed[0]
        count = max(failed_count or 0, len(failed))
        return f"dataset {dataset}: {count} object(s) failed, e.g. {key}: {error}"
    if left and not practice:
        return f"dataset {dataset}: {left} object(s) still differ after {rounds} rounds"
    return None


# ---- approval and report -----------------------------------------------------------------------

def approval_description(plan: str, failover_id: str, direction: str, practice: bool, findings: Mapping,
                         steps: Sequence[Step]) -> str:
    """The approval form's text: the preflight findings and what approving sets going, step by step."""
    probes = findings.get("target_probes", [])
    lags = ", ".join(f"{name}: {v['lag_seconds']:.0f} s ({v['pending']} pending)"
                     for name, v in findings.get("lag", {}).items())
    lines = [f"**{'Practice ' if practice else ''}{direction} of `{plan}`** (id `{failover_id}`)", "",
             f"- target probes: {sum(p['ok'] for p in probes)} of {len(probes)} healthy"]
    lines += [f"  - {p['url']}: {p['status'] or p['error']}" for p in probes]
    lines += [f"- replication lag: {lags or 'no data sets'}", f"- DNS weights now: {findings.get('weights')}", "",
              "Approving runs:"]
    lines += [f"1. **{s.name}**{' (changes things)' if s.mutating else ''}: {s.why}" for s in steps
              if s.name not in (PREFLIGHT, APPROVAL)]
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportNumbers:
    started: datetime  # the trigger, or the first journal entry when that is earlier
    rto_seconds: float | None  # started to validate completed
    rpo_seconds: float | None  # the final sync's achieved RPO
    completed: bool


def report_numbers(entries: Sequence[JournalEntry], triggered_at: datetime) -> ReportNumbers:
    """The RTO clock starts at the earliest trigger: this run's, one journaled by an earlier run of
    the same failover (`triggered_at` of its single-flight entry), or the first entry."""
    state = replay(entries)
    journaled = [datetime.fromisoformat(e.observed["triggered_at"]) for e in entries
                 if e.step == SINGLE_FLIGHT and e.observed.get("triggered_at")]
    started = min([triggered_at, *journaled] + [e.at for e in entries])
    validated = state.completed.get(VALIDATE)
    sync = state.completed.get(FINAL_SYNC)
    return ReportNumbers(started, (validated.at - started).total_seconds() if validated else None,
                         sync.observed.get("rpo_seconds") if sync else None, validated is not None)


def step_rows(entries: Iterable[JournalEntry]) -> list[dict]:
    """Per step: outcome, start, end and duration, from the journal (skips and the lease left out)."""
    rows: dict[str, dict] = {}
    for e in sorted(entries, key=lambda e: e.seq):
        if e.step == SINGLE_FLIGHT or e.outcome == "skipped":
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
                      numbers: ReportNumbers, rto_budget: float, rpo_budget: float, steps: Sequence[Step]) -> str:
    """The markdown timeline of one failover: the numbers, each of the runbook's `steps` with why it
    is there and how it went (the report itself and a compensation only when one ran), every entry."""
    head = f"# {'Practice ' if practice else ''}{direction.capitalize()} `{plan}`"
    rto = "not reached" if numbers.rto_seconds is None else f"{numbers.rto_seconds:.1f} s (budget {rto_budget:.0f} s)"
    rpo = "unknown" if numbers.rpo_seconds is None else f"{numbers.rpo_seconds:.1f} s (budget {rpo_budget:.0f} s)"
    lines = [head, "", f"Failover id: `{failover_id}`", "", f"- **RTO** (trigger to validated): {rto}",
             f"- **RPO** (data not yet replicated when writes stopped): {rpo}", "",
             "| step | why | outcome | seconds |", "|---|---|---|---|"]
    rows = {r["step"]: r for r in step_rows(entries)}
    shown = [s for s in steps if s.name != REPORT] + ([COMPENSATE_STEP] if COMPENSATE in rows else [])
    for step in shown:
        row = rows.get(step.name, {"outcome": "not run", "seconds": None})
        seconds = "" if row["seconds"] is None else row["seconds"]
        lines.append(f"| {step.name} | {step.why} | {row['outcome']} | {seconds} |")
    lines += ["", "| time (UTC) | step | outcome | detail |", "|---|---|---|---|",
              f"| {numbers.started:%H:%M:%S} | trigger | - | |"]
    for e in sorted(entries, key=lambda e: e.seq):
        detail = ", ".join(f"{k}={v}" for k, v in list(e.observed.items())[:4])
        lines.append(f"| {e.at:%H:%M:%S.%f}"[:-3] + f" | {e.step} | {e.outcome} | {detail[:160]} |")
    return "\n".join(lines) + "\n"
