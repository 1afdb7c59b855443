"""Reconciliation: the source's own billed total per (provider, billing account, billing period,
currency) against what was stored, in exact decimals. A difference of a cent or more is a
mismatch; quarantined money is shown apart, so nothing is hidden in either total."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import pyarrow as pa

KEYS = ["provider", "billing_account", "billing_period", "currency"]
CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")


@dataclass
class Totals:
    """Running exact sums per reconciliation key, fed chunk by chunk."""

    amounts: dict
    rows: dict

    @classmethod
    def empty(cls) -> "Totals":
        return cls({}, {})

    def add(self, key: tuple, amount: Decimal, rows: int) -> None:
        self.amounts[key] = self.amounts.get(key, Decimal(0)) + amount
        self.rows[key] = self.rows.get(key, 0) + rows

    def add_grouped(self, grouped: pa.Table, amount: str, count: str, provider_col: str = "ProviderName",
                    account_col: str = "BillingAccountId", period_col: str = "BillingPeriodStart",
                    currency_col: str = "BillingCurrency") -> None:
        for row in grouped.to_pylist():
            key = (row[provider_col], row[account_col], period_label(row[period_col]), row[currency_col])
            self.add(key, row[amount] or Decimal(0), row[count] or 0)


def period_label(value) -> str:
    """A billing period's name, `YYYY-MM`, from its start. Google's periods start at midnight
    Pacific time (07:00 or 08:00 UTC on the 1st), still the same month."""
    if value is None:
        return "(unreadable)"
    return f"{value.year:04d}-{value.month:02d}"


def reconcile(source: Totals, quarantined: Totals, stored: Totals, unreadable: Totals | None = None) -> pd.DataFrame:
    """One row per key: source total, quarantined part, stored FOCUS total, difference
    (source − quarantined − stored) and status: `mismatch` when |difference| ≥ half a cent (it
    rounds to a cent or more), else `unproven` when rows of that key had money that could not be
    read (their amount is unknown, so the total is not proven), else `ok`."""
    unreadable = unreadable or Totals.empty()
    keys = sorted(set(source.amounts) | set(stored.amounts) | set(quarantined.amounts) | set(unreadable.rows),
                  key=lambda k: tuple(map(str, k)))
    rows = []
    for key in keys:
        src = source.amounts.get(key, Decimal(0))
        quar = quarantined.amounts.get(key, Decimal(0))
        got = stored.amounts.get(key, Decimal(0))
        diff = src - quar - got
        rows.append(dict(zip(KEYS, key)) | {
            "source_total": src, "quarantined_total": quar, "focus_total": got, "difference": diff,
            "source_rows": source.rows.get(key, 0), "quarantined_rows": quarantined.rows.get(key, 0),
            "focus_rows": stored.rows.get(key, 0), "unreadable_rows": unreadable.rows.get(key, 0),
            "status": ("mismatch" if abs(diff) >= HALF_CENT else "unproven" if unreadable.rows.get(key, 0) else "ok"),
        })
    columns = KEYS + ["source_total", "quarantined_total", "focus_total", "difference", "source_rows",
                      "quarantined_rows", "focus_rows", "unreadable_rows", "status"]
    return pd.DataFrame(rows, columns=columns)


def cents(value: Decimal) -> str:
    return f"{value.quantize(CENT):,}"


COMPARISON = KEYS + ["metric", "compared", "run_total", "provider_total", "difference", "status"]


def periods_of(table: pd.DataFrame, provider: str, account: str) -> list[str]:
    """The billing periods reconciled for one provider's billing account, in order."""
    mine = table[(table["provider"] == provider) & (table["billing_account"] == account)]
    return sorted(set(mine["billing_period"]))


def compare_with_provider(table: pd.DataFrame, provider_totals: dict[tuple, Decimal],
                          unavailable: set[tuple] = frozenset(), expected: dict[tuple, Decimal] | None = None,
                          metric: str = "") -> pd.DataFrame:
    """The run's totals beside the provider API's totals for the same keys: `agrees` when they
    differ by less than half a cent, else `differs`; `unavailable` for (provider, account,
    period) the API did not answer; keys the API was not asked about are left out. The run's
    total is the source's own (Σ BilledCost), or `expected[key]` when given (Σ EffectiveCost of
    the stored rows, for an amortized metric)."""
    compared = "Σ EffectiveCost (stored)" if expected is not None else "Σ BilledCost (source)"
    rows = []
    for row in table.to_dict("records"):
        key = tuple(row[k] for k in KEYS)
        mine = row["source_total"] if expected is None else expected.get(key, Decimal(0))
        base = dict(zip(KEYS, key)) | {"metric": metric, "compared": compared, "run_total": mine}
        if key[:3] in unavailable:
            rows.append(base | {"provider_total": None, "difference": None, "status": "unavailable"})
        elif key in provider_totals:
            diff = mine - provider_totals[key]
            rows.append(base | {"provider_total": provider_totals[key], "difference": diff,
                                "status": "agrees" if abs(diff) < HALF_CENT else "differs"})
    return pd.DataFrame(rows, columns=COMPARISON)


def concat_comparisons(tables: list[pd.DataFrame]) -> pd.DataFrame:
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COMPARISON)
