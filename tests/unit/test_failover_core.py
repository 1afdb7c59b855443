"""Failover runbook logic: steps, the DNS weight shift, journal replay, compensation, reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from multicloud.core import failover as fo
from multicloud.core.errors import InvalidInput

T0 = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)


def test_runbook_order_and_approval_only_in_manual_mode():
    assert [s.name for s in fo.runbook("manual")] == [
        "preflight", "approval", "primary-read-only", "final-sync", "dns-switch", "validate", "report"]
    assert "approval" not in [s.name for s in fo.runbook("auto")]
    assert [s.name for s in fo.runbook("auto") if s.mutating] == ["primary-read-only", "final-sync", "dns-switch"]


def test_shift_weights_spreads_in_proportion_and_keeps_the_total():
    assert fo.shift_weights({"a": 50, "b": 50}, "a", ["b"]) == {"a": 0, "b": 100}
    assert fo.shift_weights({"a": 60, "b": 30, "c": 10}, "a", ["b", "c"]) == {"a": 0, "b": 75, "c": 25}
    assert fo.shift_weights({"a": 10, "b": 0, "c": 0}, "a", ["b", "c"]) == {"a": 0, "b": 5, "c": 5}
    with pytest.raises(InvalidInput, match="no healthy site"):
        fo.shift_weights({"a": 10, "b": 0}, "a", [])
    with pytest.raises(InvalidInput, match="no weighted record"):
        fo.shift_weights({"b": 10}, "a", ["b"])


@given(st.dictionaries(st.sampled_from("abcde"), st.integers(0, 255), min_size=2), st.data())
def test_shift_weights_properties(weights, data):
    failed = data.draw(st.sampled_from(sorted(weights)))
    healthy = data.draw(st.lists(st.sampled_from(sorted(set(weights) - {failed})), min_size=1, unique=True))
    out = fo.shift_weights(weights, failed, healthy)
    assert out[failed] == 0 and sum(out.values()) == sum(weights.values())
    assert all(out[s] >= weights[s] for s in healthy)
    assert all(out[s] == weights[s] for s in weights if s not in healthy and s != failed)


def entry(seq, step, outcome, **kw):
    return fo.JournalEntry(seq, step, outcome, T0 + timedelta(seconds=seq), kw.pop("observed", {}), **kw)


def test_replay_and_compensation_rules():
    log = [entry(1, "preflight", "started"), entry(2, "preflight", "completed"),
           entry(3, "primary-read-only", "started"), entry(4, "primary-read-only", "completed")]
    state = fo.replay(log)
    assert set(state.completed) == {"preflight", "primary-read-only"} and state.read_only_in_force
    assert fo.needs_compensation(state)
    switched = fo.replay(log + [entry(5, "dns-switch", "completed")])
    assert not fo.needs_compensation(switched)  # after the switch nothing rolls back
    undone = fo.replay(log + [entry(5, "final-sync", "failed"), entry(6, "compensate-read-write", "completed")])
    assert not undone.read_only_in_force and "primary-read-only" not in undone.completed
    practice = fo.replay([entry(1, "primary-read-only", "completed", practice=True)])
    assert not fo.needs_compensation(practice)
    assert fo.replay(log + [entry(9, "report", "completed")]).finished


def test_step_rows_durations_and_timeline():
    log = [entry(1, "single-flight", "acquired"), entry(2, "preflight", "started"),
           entry(5, "preflight", "completed", observed={"ok": True})]
    rows = fo.step_rows(log)
    assert [(r["step"], r["outcome"], r["seconds"]) for r in rows] == [("preflight", "completed", 3.0)]
    md = fo.timeline_markdown("p", "id-1", "failover", False, log, fo.ReportNumbers(T0, 12.5, 0.0, True), 60, 900,
                              fo.runbook("auto"))
    assert "12.5 s (budget 60 s)" in md and "| preflight | completed | ok=True |" in md
    # Each step's row carries why the step is there, and steps not reached say so.
    assert f"| preflight | {fo.STEPS[0].why} | completed | 3.0 |" in md
    assert f"| dns-switch | {fo.STEPS[4].why} | not run |  |" in md
    assert "| approval |" not in md and "| compensate-read-write |" not in md
