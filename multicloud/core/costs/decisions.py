"""What a costs run decides, as values: whether the dataset is published and why, how the run
ends (and the error it ends with), which partitions a run may not replace, and the windows the
reports look back over. Pure: tables and values in, decisions out; `now` and `as_of` passed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import pandas as pd

from multicloud.core.errors import InvalidInput

#: Why a run fails, in the order its error text names them.
FAILURES = ("mismatch", "unproven", "quarantine", "ownership")


class ReconciliationFailed(Exception):
    """Stored FOCUS totals differ from a source's own total, or cannot be proven."""


@dataclass(frozen=True)
class PublishDecision:
    """Publish or not, and why; how the run ends: `ok`, or `fail` with the `failures` (keys of
    FAILURES) and the error text naming every key, file or partition involved."""

    publish: bool
    why: str
    outcome: Literal["ok", "fail"] = "ok"
    failures: tuple[str, ...] = ()
    error: str | None = None
    target: str | None = field(default=None, compare=False)

    def exception(self) -> Exception | None:
        """The error the run ends with: ReconciliationFailed when money is in question, else
        InvalidInput (quarantined rows refused, a partition the run may not replace)."""
        if self.outcome == "ok":
            return None
        if {"mismatch", "unproven"} & set(self.failures):
            return ReconciliationFailed(self.error)
        return InvalidInput(self.error, target=self.target)

    def raise_if_failed(self) -> None:
        failure = self.exception()
        if failure is not None:
            raise failure


def _key(row) -> str:
    return f"{row.provider}/{row.billing_account}/{row.billing_period}/{row.currency}"


def publish_decision(reconciliation: pd.DataFrame, quarantined_rows: int, fail_on_quarantine: bool,
                     ownership: list[str] | tuple[str, ...] = (), quarantine_urls: list[str] | tuple[str, ...] = (),
                     dataset: str = "dataset") -> PublishDecision:
    """Money that appeared or vanished on the way (`mismatch`): nothing is published. Rows whose
    money the source itself holds unreadably (`unproven`): the readable rows are published and
    the run fails, pointing at the quarantine files. `fail_on_quarantine` with quarantined rows,
    or `ownership` problems (sources overlapping, a stored source missing): nothing is published."""
    errors = _failure_texts(reconciliation, ", ".join(quarantine_urls) or "(no quarantine file)")
    if fail_on_quarantine and quarantined_rows:
        errors["quarantine"] = f"{quarantined_rows} row(s) quarantined (fail_on_quarantine): " \
                               f"{', '.join(quarantine_urls) or '(no quarantine file)'}"
    if ownership:
        errors["ownership"] = "; ".join(ownership)
    if not errors:
        return PublishDecision(True, "published: every total reconciled")
    refused = [k for k in ("mismatch", "quarantine", "ownership") if k in errors]
    why = ("not published: " + "; ".join(_REFUSED[k] for k in refused)) if refused else \
        "published the readable rows; " + _REFUSED["unproven"]
    failures = tuple(k for k in FAILURES if k in errors)
    return PublishDecision(not refused, why, "fail", failures, "; ".join(errors[k] for k in failures),
                           target="sources" if failures == ("quarantine",) else dataset)


def _failure_texts(reconciliation: pd.DataFrame, files: str) -> dict[str, str]:
    """The error text of each reconciliation status that fails a run, naming every key."""
    texts = {}
    statuses = reconciliation["status"] if len(reconciliation) else pd.Series([], dtype=object)
    mismatched = reconciliation[statuses == "mismatch"]
    if len(mismatched):
        keys = ", ".join(f"{_key(r)} (difference {r.difference:f})" for r in mismatched.itertuples())
        texts["mismatch"] = f"{len(mismatched)} total(s) do not match their source: {keys}"
    unproven = reconciliation[statuses == "unproven"]
    if len(unproven):
        keys = ", ".join(f"{_key(r)} ({r.unreadable_rows} row(s))" for r in unproven.itertuples())
        texts["unproven"] = (f"totals cannot be proven: rows with unreadable money were quarantined for {keys}; "
                             f"see {files}")
    return texts


_REFUSED = {
    "mismatch": "a total does not match its source (money appeared or vanished)",
    "unproven": "some totals cannot be proven (source rows with unreadable money were quarantined)",
    "quarantine": "rows were quarantined and fail_on_quarantine is set",
    "ownership": "the run may not replace a stored partition",
}


def ownership_problems(staged: dict[tuple[str, str], dict[str, list[str]]],
                       stored: dict[tuple[str, str], dict[str, list[str]] | None]) -> list[str]:
    """Why the run may not replace partitions: two of its sources billing the same account in one
    partition (their rows would count twice), or a stored partition holding rows of a source the
    run did not read for it (replacing it would delete them). `staged`: (provider, period) →
    source → billing accounts of this run; `stored`: the same from each partition's pointer."""
    problems = []
    for (provider, period), sources in sorted(staged.items()):
        seen: dict[str, str] = {}
        for name, accounts in sorted(sources.items()):
            for account in accounts:
                if account in seen:
                    problems.append(f"{provider}/{period}: sources {seen[account]!r} and {name!r} both bill account "
                                    f"{account!r} (its rows would count twice)")
                seen.setdefault(account, name)
        missing = sorted(set(stored.get((provider, period)) or {}) - set(sources))
        if missing:
            problems.append(f"{provider}/{period}: the stored partition also holds rows of source(s) {missing}, which "
                            "this run did not read for that period; replacing it would delete them (ingest them in "
                            "the same run, or remove the partition first)")
    return problems


def anomaly_window(found: pd.DataFrame, as_of: date, trailing_days: int, limit: int = 20) -> pd.DataFrame:
    """The anomalies worth showing on `as_of`: this month's and the `trailing_days` days just
    before it (so a spike on the 30th still shows on the 2nd), up to `as_of`, largest first."""
    if not len(found):
        return found
    start = as_of.replace(day=1) - timedelta(days=trailing_days)
    return found[(found["day"] >= start) & (found["day"] <= as_of)].head(limit).reset_index(drop=True)


def months_before(as_of: date) -> list[str]:
    """The month of `as_of` and the one before (YYYY-MM): what the views and anomalies look back over."""
    first = (as_of.replace(day=1) - timedelta(days=1)).replace(day=1)
    return [f"{first:%Y-%m}", f"{as_of:%Y-%m}"]


def run_label(now: datetime, flow_run_id: str | None) -> str:
    """A run's name in the dataset's keys: UTC time to the second, then the flow run's id."""
    return f"{now:%Y%m%dT%H%M%S}-{(flow_run_id or 'local')[:8]}"
