"""What a person reads after a costs run: the markdown summary with the reconciliation, month to
date and forecast, top movers and anomalies, linking the charts (`multicloud.reports.costs`) and the CSV."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from multicloud.core.costs.reconcile import CENT, cents


def summary_markdown(reconciliation: pd.DataFrame, sources: pd.DataFrame, mtd: pd.DataFrame,
                     movers: pd.DataFrame, anomalies: pd.DataFrame, links: dict[str, str],
                     explanations: dict[int, pd.DataFrame] | None = None, as_of=None, decision: str = "") -> str:
    """The run's summary: every number in it can be checked against the tables it names;
    `decision` says whether the dataset was published and why."""
    statuses = set(reconciliation["status"]) if len(reconciliation) else {"ok"}
    lines = [f"# Cost aggregation{f' as of {as_of}' if as_of else ''}", ""]
    if "mismatch" in statuses:
        lines.append("**Reconciliation failed**: the rows marked `mismatch` differ from their source; the dataset "
                     "was not updated.")
    elif "unproven" in statuses:
        lines.append("**Reconciliation unproven**: rows marked `unproven` have source rows whose money could not be "
                     "read; they are in the quarantine file. The readable rows were published.")
    else:
        lines.append("**Reconciled**: every total matches its source to the cent.")
    if decision:
        lines += ["", f"Dataset {decision}."]
    lines += ["", "## Reconciliation (exact decimals; difference = source − quarantined − FOCUS)", "",
              "| provider | billing account | period | currency | source total | quarantined | FOCUS total | "
              "difference | unreadable rows | status |",
              "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for row in reconciliation.itertuples():
        lines.append(f"| {row.provider} | {row.billing_account} | {row.billing_period} | {row.currency} | "
                     f"{cents(row.source_total)} | {cents(row.quarantined_total)} | {cents(row.focus_total)} | "
                     f"{row.difference.normalize():f} | {row.unreadable_rows} | {row.status} |")
    lines += ["", "## Sources", "", _table(sources)]
    if len(mtd):
        lines += ["", "## Month to date and forecast to month end (EffectiveCost)", "", _table(mtd)]
    if len(movers):
        lines += ["", "## Top movers, day over day", "", _table(movers)]
    lines += ["", "## Anomalies", ""]
    if len(anomalies):
        lines.append(_table(anomalies))
        for index, rows in (explanations or {}).items():
            a = anomalies.iloc[index]
            lines += ["", f"Rows behind {a['day']} {a['ProviderName']} / {a['ServiceName']} / {a['SubAccountId']} "
                      f"({a['BillingCurrency']}):", "",
                      _table(rows)]
    else:
        lines.append("None.")
    if links:
        lines += ["", "## Files", ""] + [f"- [{name}]({url})" for name, url in links.items()]
    return "\n".join(lines) + "\n"


def _table(frame: pd.DataFrame) -> str:
    if frame is None or frame.empty:
        return "(none)"
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join("" if v is None else str(v) for v in (cell(None, v) for v in row)) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule] + body)


def cell(name: str | None, value, exact: tuple[str, ...] = ("difference",)):
    """A value as a person reads it in a row table: money to the cent (the CSV keeps every digit),
    the `exact` columns (a reconciliation's difference) as computed, a missing number as empty."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if name in exact else f"{value.quantize(CENT)}"
    return None if isinstance(value, float) and value != value else value


def table_records(frame: pd.DataFrame, exact: tuple[str, ...] = ("difference",)) -> list[dict]:
    """Rows for a table artifact, each cell as `cell` shows it."""
    return [{k: cell(k, v, exact) for k, v in row.items()} for row in frame.to_dict("records")]
