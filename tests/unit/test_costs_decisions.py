"""The costs run's decisions as values: publish or not and why, how the run ends and its error
text, the ownership of partitions, the anomaly window and the months the reports look back over."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pandas as pd
import pytest

from multicloud.core.costs import reconcile
from multicloud.core.costs.decisions import (
    ReconciliationFailed, anomaly_window, months_before, ownership_problems, publish_decision, run_label,
)
from multicloud.core.errors import InvalidInput

KEY = ("AWS", "111", "2026-10", "USD")


def table(source: str = "10", stored: str = "10", unreadable: int = 0) -> pd.DataFrame:
    src, got, bad = reconcile.Totals.empty(), reconcile.Totals.empty(), reconcile.Totals.empty()
    src.add(KEY, D(source), 3)
    got.add(KEY, D(stored), 3)
    if unreadable:
        bad.add(KEY, D(0), unreadable)
    return reconcile.reconcile(src, reconcile.Totals.empty(), got, bad)


def test_every_total_reconciled_publishes_and_ends_ok():
    decision = publish_decision(table(), 0, fail_on_quarantine=False)
    assert (decision.publish, decision.outcome, decision.failures, decision.error) == (True, "ok", (), None)
    assert decision.why == "published: every total reconciled"
    decision.raise_if_failed()  # nothing to raise


def test_a_mismatch_publishes_nothing_and_names_the_key_and_exact_difference():
    decision = publish_decision(table(stored="9.75"), 0, fail_on_quarantine=False)
    assert (decision.publish, decision.outcome, decision.failures) == (False, "fail", ("mismatch",))
    assert decision.error == "1 total(s) do not match their source: AWS/111/2026-10/USD (difference 0.25)"
    assert decision.why.startswith("not published: a total does not match its source")
    with pytest.raises(ReconciliationFailed, match=r"difference 0\.25"):
        decision.raise_if_failed()


def test_unproven_totals_publish_the_readable_rows_and_fail_pointing_at_the_quarantine():
    decision = publish_decision(table(unreadable=2), 2, fail_on_quarantine=False, quarantine_urls=["s3://d/q/a.jsonl"])
    assert (decision.publish, decision.outcome, decision.failures) == (True, "fail", ("unproven",))
    assert decision.error == ("totals cannot be proven: rows with unreadable money were quarantined for "
                              "AWS/111/2026-10/USD (2 row(s)); see s3://d/q/a.jsonl")
    assert isinstance(decision.exception(), ReconciliationFailed)


def test_quarantined_rows_refuse_publishing_only_with_fail_on_quarantine():
    assert publish_decision(table(), 4, fail_on_quarantine=False).publish
    decision = publish_decision(table(), 4, fail_on_quarantine=True, quarantine_urls=["s3://d/q/a.jsonl"])
    assert (decision.publish, decision.failures) == (False, ("quarantine",))
    failure = decision.exception()
    assert isinstance(failure, InvalidInput) and failure.target == "sources"
    assert str(failure) == "4 row(s) quarantined (fail_on_quarantine): s3://d/q/a.jsonl [sources]"


def test_ownership_problems_refuse_publishing_naming_the_dataset():
    decision = publish_decision(table(), 0, False, ownership=["aws/2026-10: sources 'a' and 'b' both bill account '1'"],
                                dataset="s3://d/focus/")
    assert (decision.publish, decision.failures) == (False, ("ownership",))
    assert decision.why == "not published: the run may not replace a stored partition"
    with pytest.raises(InvalidInput, match="both bill account '1'") as info:
        decision.raise_if_failed()
    assert info.value.target == "s3://d/focus/"


def test_every_failure_is_named_and_money_decides_the_error_type():
    decision = publish_decision(table(stored="9", unreadable=1), 1, True, ownership=["p"], quarantine_urls=["q"])
    assert decision.failures == ("mismatch", "quarantine", "ownership") and not decision.publish
    assert isinstance(decision.exception(), ReconciliationFailed)
    assert decision.error == ("1 total(s) do not match their source: AWS/111/2026-10/USD (difference 1); "
                              "1 row(s) quarantined (fail_on_quarantine): q; p")


def test_two_sources_billing_one_account_and_a_missing_stored_source_are_problems():
    staged = {("aws", "2026-10"): {"cur-a": ["1", "2"], "cur-b": ["2"]}, ("gcp", "2026-10"): {"g": ["9"]}}
    stored = {("aws", "2026-10"): {"cur-a": ["1"]}, ("gcp", "2026-10"): {"old": ["9"], "g": ["9"]}}
    assert ownership_problems(staged, stored) == [
        "aws/2026-10: sources 'cur-a' and 'cur-b' both bill account '2' (its rows would count twice)",
        "gcp/2026-10: the stored partition also holds rows of source(s) ['old'], which this run did not read for "
        "that period; replacing it would delete them (ingest them in the same run, or remove the partition first)"]
    assert ownership_problems({("aws", "2026-10"): {"a": ["1"]}}, {("aws", "2026-10"): None}) == []


def test_the_anomaly_window_is_this_month_and_the_trailing_days_before_up_to_as_of():
    days = [date(2026, 10, 24), date(2026, 10, 25), date(2026, 11, 3), date(2026, 11, 4)]
    found = pd.DataFrame({"day": days, "excess": [4.0, 3.0, 2.0, 1.0]})
    window = anomaly_window(found, date(2026, 11, 3), trailing_days=7)
    assert list(window["day"]) == [date(2026, 10, 25), date(2026, 11, 3)]  # 10-25 = 11-01 minus 7 days
    assert list(window.index) == [0, 1]
    many = pd.DataFrame({"day": [date(2026, 11, 1)] * 30, "excess": range(30)})
    assert len(anomaly_window(many, date(2026, 11, 3), 7)) == 20
    assert anomaly_window(found.iloc[:0], date(2026, 11, 3), 7).empty


@pytest.mark.parametrize("as_of,months", [(date(2026, 10, 31), ["2026-09", "2026-10"]),
                                          (date(2026, 1, 1), ["2025-12", "2026-01"]),
                                          (date(2024, 3, 1), ["2024-02", "2024-03"])])
def test_months_before(as_of, months):
    assert months_before(as_of) == months


def test_run_label():
    now = datetime(2026, 10, 31, 6, 5, 9, tzinfo=timezone.utc)
    assert run_label(now, "0123456789abcdef") == "20261031T060509-01234567"
    assert run_label(now, None) == "20261031T060509-local"
