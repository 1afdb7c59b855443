"""The failover's decisions as values: next_action over the step table (driven here the way the
flow drives it, by journaling each action's outcome), preflight, healthy sites, final-sync rounds
and RPO, validation, the lease verdict, the approval text and the report numbers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from multicloud.core import failover as fo

T0 = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)


class Log:
    """A journal in memory, appended to as the flow would."""

    def __init__(self, entries=()):
        self.entries = list(entries)

    def add(self, step, outcome, observed=None, practice=False):
        seq = len(self.entries) + 1
        self.entries.append(fo.JournalEntry(seq, step, outcome, T0 + timedelta(seconds=seq), observed or {},
                                            practice))

    def state(self):
        return fo.replay(self.entries)


def drive(log: Log, mode="auto", cancel_at=None, cancel=None, fail_at=None, verdicts=None, limit=40):
    """Follow next_action to the end; returns the actions taken as (kind, step). `fail_at`: the step
    whose task raises; `verdicts`: observations per step; `cancel` starts applying at `cancel_at`."""
    taken = []
    log.add(fo.SINGLE_FLIGHT, "acquired", {"lease_id": f"lease-{len(log.entries)}"})
    for _ in range(limit):
        cancelling = cancel if cancel_at is None or cancel_at in {s for _, s in taken} else None
        action = fo.next_action(log.state(), mode, cancelling)
        taken.append((action.kind, action.step.name if action.step else None))
        if action.kind in ("done", "stop"):
            return taken, action
        name = action.step.name
        if action.kind == "skip":
            log.add(name, "skipped", {"reason": action.why})
        elif action.kind == "cancel":
            log.add(name, "failed", {"reason": action.why})
        elif action.kind == "compensate":
            log.add(name, "started")
            log.add(name, "completed")
        elif action.kind == "report":
            log.add(name, "completed")
        else:
            log.add(name, "started")
            observed = (verdicts or {}).get(name, {"ok": True, "approve": True})
            why_not = action.step.verdict(observed)
            if name == fail_at:
                log.add(name, "failed", {"error": "Transient: HTTP 500 from admin endpoint"})
            else:
                log.add(name, "failed" if why_not else "completed", {**observed, "reason": why_not})
    raise AssertionError(f"no end after {limit} actions: {taken}")


RUNBOOK_AUTO = ["preflight", "primary-read-only", "final-sync", "dns-switch", "validate"]


def test_a_clean_run_runs_every_step_in_order_then_reports():
    taken, last = drive(Log())
    assert taken == [("run", s) for s in RUNBOOK_AUTO] + [("report", "report"), ("done", None)]
    assert last.why == "every step is completed and reported"


def test_manual_mode_adds_the_approval_after_the_preflight():
    taken, _ = drive(Log(), mode="manual")
    assert [s for k, s in taken if k == "run"][:2] == ["preflight", "approval"]


def test_a_failed_step_after_read_only_is_compensated_then_stops_with_its_error():
    taken, last = drive(Log(), fail_at="final-sync")
    assert taken[-3:] == [("run", "final-sync"), ("compensate", fo.COMPENSATE), ("stop", "final-sync")]
    assert last.why == "Transient: HTTP 500 from admin endpoint"


def test_a_failure_before_read_only_needs_no_compensation():
    taken, last = drive(Log(), fail_at="primary-read-only")
    assert taken[-1] == ("stop", "primary-read-only") and ("compensate", fo.COMPENSATE) not in taken


def test_a_failure_after_the_dns_switch_is_not_rolled_back():
    taken, _ = drive(Log(), fail_at="validate")
    assert ("compensate", fo.COMPENSATE) not in taken and taken[-1] == ("stop", "validate")


def test_preflight_problems_and_denial_stop_with_the_reason():
    _, last = drive(Log(), verdicts={"preflight": {"ok": False, "problems": ["x answered 503", "lag"]}})
    assert last.kind == "stop" and last.why == "preflight failed: x answered 503; lag"
    _, last = drive(Log(), mode="manual", verdicts={"approval": {"approve": False, "approver": "lead",
                                                                 "comment": "false alarm"}})
    assert last.step.name == "approval" and last.why == "denied by lead: false alarm"


def test_a_stop_request_halts_before_the_next_mutating_step_only():
    log = Log()
    taken, last = drive(log, cancel=fo.ALERT_RESOLVED)
    assert taken == [("run", "preflight"), ("cancel", "primary-read-only"), ("stop", "primary-read-only")]
    assert last.why == fo.ALERT_RESOLVED
    # Resolved during the final sync: stopped before the DNS switch, the read-only undone.
    taken, last = drive(Log(), cancel_at="final-sync", cancel="the single-flight lease was lost: gone")
    assert taken[-3:] == [("cancel", "dns-switch"), ("compensate", fo.COMPENSATE), ("stop", "dns-switch")]
    assert "lease was lost" in last.why
    # After the switch, nothing left is mutating: the run finishes.
    taken, last = drive(Log(), cancel_at="dns-switch", cancel=fo.ALERT_RESOLVED)
    assert last.kind == "done"


def test_a_rerun_skips_what_completed_and_retries_what_failed():
    log = Log()
    drive(log, fail_at="final-sync")  # read-only compensated: it runs again
    taken, _ = drive(log)
    assert taken == [("skip", "preflight")] + [("run", s) for s in RUNBOOK_AUTO[1:]] + [("report", "report"),
                                                                                         ("done", None)]
    skip = next(e for e in log.entries if e.outcome == "skipped")
    assert skip.observed["reason"].startswith("completed in an earlier run of this failover (journal entry 3)")


def test_a_rerun_after_a_crash_does_not_repeat_the_completed_read_only():
    log = Log([fo.JournalEntry(1, fo.SINGLE_FLIGHT, "acquired", T0, {"lease_id": "l1"}),
               fo.JournalEntry(2, "preflight", "completed", T0),
               fo.JournalEntry(3, "primary-read-only", "started", T0),
               fo.JournalEntry(4, "primary-read-only", "completed", T0),
               fo.JournalEntry(5, "final-sync", "started", T0)])  # killed here
    assert log.state().lease_id == "l1"
    taken, _ = drive(log)
    assert taken[:3] == [("skip", "preflight"), ("skip", "primary-read-only"), ("run", "final-sync")]


def test_a_finished_failover_is_reported_again_and_changes_nothing():
    log = Log()
    drive(log)
    assert log.state().finished
    taken, _ = drive(log)
    assert taken == [("skip", s) for s in RUNBOOK_AUTO] + [("report", "report"), ("done", None)]


def test_practice_read_only_is_never_compensated():
    log = Log([fo.JournalEntry(1, "primary-read-only", "completed", T0, {}, True),
               fo.JournalEntry(2, "final-sync", "failed", T0, {"error": "x"}, True)])
    assert fo.next_action(log.state(), "auto").kind == "stop"


def test_stop_request_joins_the_reasons():
    assert fo.stop_request(False, None) is None
    assert fo.stop_request(True, None) == fo.ALERT_RESOLVED
    assert fo.stop_request(True, "lease lost") == f"{fo.ALERT_RESOLVED}; lease lost"


def test_lease_verdict():
    later = T0 + timedelta(seconds=30)
    assert fo.lease_verdict(T0, later, 60, 503, 1) is None  # one miss: the lease outlives it
    assert fo.lease_verdict(T0, later, 60, None, 2) is None
    assert "past its 60 s lease" in fo.lease_verdict(T0, T0 + timedelta(seconds=61), 60, None, 3)
    unknown = fo.lease_verdict(T0, later, 60, 410, 1)
    assert "no longer knows it (renewal answered 410" in unknown and "1 failed renewal" in unknown


def probe(url, ok=True, status=200):
    return {"url": url, "ok": ok, "status": status if ok else None, "error": None if ok else "ConnectionRefused"}


def test_preflight_problems():
    lags = {"orders": {"pending": 3, "lag_seconds": 1000.0}, "logs": {"pending": 0, "lag_seconds": 0.0}}
    problems = fo.preflight_problems([probe("http://b/health"), probe("http://b/ready", ok=False)], lags,
                                     {"a": 100, "b": 0}, "a", "b", 900, "app.example.")
    assert problems == ["http://b/ready answered ConnectionRefused",
                        "dataset orders: lag 1000 s over the RPO budget 900 s"]
    assert fo.preflight_problems([probe("http://b/health")], {}, {"a": 100}, "a", "b", 900, "app.example.") == [
        "DNS app.example. has no weighted record for 'a' or 'b'"]
    assert fo.preflight_problems([probe("http://b/health")], lags, {"a": 1, "b": 0}, "a", "b", 1000, "r") == []


def test_healthy_sites_and_the_dns_target():
    probes = {"b": [probe("u")], "c": [probe("u"), probe("v", ok=False)], "d": [], "a": [probe("u")]}
    assert fo.healthy_sites(probes, "a") == ["b"]
    assert fo.dns_target({"a": 60, "b": 40}, "a", ["b"]) == {"a": 0, "b": 100}
    assert fo.dns_target({"a": 0, "b": 100}, "a", ["b"]) is None  # already switched: nothing to move


def test_final_sync_rounds_and_rpo():
    assert fo.sync_next(1, 5, practice=False, max_rounds=5) == "again"
    assert fo.sync_next(2, 0, practice=False, max_rounds=5) == "settled"
    assert fo.sync_next(5, 1, practice=False, max_rounds=5) == "verify"
    assert fo.sync_next(1, 5, practice=True, max_rounds=5) == "settled"  # one dry pass is the answer
    oldest, now = T0, T0 + timedelta(seconds=90)
    assert fo.final_sync_rpo(oldest, 0, None, practice=False, now=now) == 0.0
    assert fo.final_sync_rpo(oldest, 2, T0 + timedelta(seconds=30), practice=False, now=now) == 60.0
    assert fo.final_sync_rpo(oldest, 5, oldest, practice=True, now=now) == 90.0
    assert fo.final_sync_problem("orders", [("k1", "denied"), ("k2", "denied")], 0, 1, False) == (
        "dataset orders: 2 object(s) failed, e.g. k1: denied")
    assert fo.final_sync_problem("orders", [("k1", "denied")], 0, 1, False, failed_count=1500) == (
        "dataset orders: 1500 object(s) failed, e.g. k1: denied")
    assert fo.final_sync_problem("orders", [], 3, 5, False) == "dataset orders: 3 object(s) still differ after 5 rounds"
    assert fo.final_sync_problem("orders", [], 3, 1, True) is None


def test_serving_sites_and_validation():
    values = {"a": ["a.internal"], "b": ["b.internal"]}
    by_value = {"a.internal": "a", "b.internal": "b"}
    assert fo.serving_sites({"a": 0, "b": 100}, values, by_value, "a", False) == fo.Serving(["b"], ["b"], None)
    assert fo.serving_sites({"a": 10, "b": 90}, values, by_value, "a", False).problem == "a still has weight 10"
    assert fo.serving_sites({"a": 100, "b": 0}, values, by_value, "a", True).sites == ["a"]  # nothing else serves
    assert fo.validation_problem({"b": [probe("u")]}) is None
    assert "no site behind them" in fo.validation_problem({})
    assert "'ok': False" in fo.validation_problem({"b": [probe("u", ok=False)]})


def test_the_approval_text_shows_findings_and_why_each_step_runs():
    findings = {"target_probes": [probe("http://<redacted>@b/health?<redacted>")],
                "lag": {"orders": {"pending": 2, "lag_seconds": 12.0}}, "weights": {"a": 100, "b": 0}}
    text = fo.approval_description("p", "id-1", "failover", False, findings, fo.runbook("manual"))
    assert "- target probes: 1 of 1 healthy" in text and "http://<redacted>@b/health?<redacted>: 200" in text
    assert "orders: 12 s (2 pending)" in text
    for step in fo.runbook("manual")[2:]:
        assert step.why in text
    assert "1. **primary-read-only** (changes things)" in text and "preflight**" not in text


def test_report_numbers_from_the_journal():
    log = Log()
    drive(log)
    trigger = T0 - timedelta(seconds=5)
    numbers = fo.report_numbers(log.entries, trigger)
    validated = next(e for e in log.entries if e.step == "validate" and e.outcome == "completed")
    assert numbers.started == trigger and numbers.completed
    assert numbers.rto_seconds == (validated.at - trigger).total_seconds()
    late = fo.report_numbers(log.entries, T0 + timedelta(hours=1))  # a resumed run: the journal is earlier
    assert late.started == log.entries[0].at
    journaled = Log([fo.JournalEntry(0, fo.SINGLE_FLIGHT, "acquired", T0, {"triggered_at": trigger.isoformat()})])
    journaled.entries += log.entries
    assert fo.report_numbers(journaled.entries, T0 + timedelta(hours=1)).started == trigger  # the first run's trigger
    assert fo.report_numbers(log.entries[:3], trigger).rto_seconds is None


@pytest.mark.parametrize("requested,plan,expected", [("plan", "manual", "manual"), ("auto", "manual", "auto"),
                                                     ("manual", "auto", "manual")])
def test_approval_mode(requested, plan, expected):
    assert fo.approval_mode(requested, plan) == expected
