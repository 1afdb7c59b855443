"""What a person reads after a costs run: two PNG charts (daily cost stacked by provider, the top
ten services) and one markdown summary with the reconciliation, month to date and forecast, top
movers and anomalies, linking the charts and the CSV."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from multicloud.core.costs.reconcile import cents  # noqa: E402

PROVIDER_COLORS = {"AWS": "#ff9900", "Microsoft": "#0078d4", "Google Cloud": "#34a853"}


def daily_by_provider_png(daily: pd.DataFrame, measure: str = "EffectiveCost", currency: str = "") -> bytes:
    """Stacked bars: one per day, one colour per provider (rows of one currency)."""
    frame = daily.copy()
    frame[measure] = frame[measure].astype(float)
    pivot = frame.pivot_table(index="day", columns="ProviderName", values=measure, aggfunc="sum", fill_value=0.0)
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    bottom = None
    for provider in pivot.columns:
        values = pivot[provider]
        ax.bar([str(d) for d in pivot.index], values, bottom=bottom, label=provider,
               color=PROVIDER_COLORS.get(provider))
        bottom = values if bottom is None else bottom + values
    ax.set_title(f"Daily cost by provider ({measure}{', ' + currency if currency else ''})")
    ax.set_ylabel(currency or "cost")
    ax.legend()
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    return _png(fig)


def top_services_png(daily: pd.DataFrame, n: int = 10, measure: str = "EffectiveCost", currency: str = "") -> bytes:
    """Horizontal bars: the `n` services with the highest cost over the data shown (one currency)."""
    frame = daily.copy()
    frame[measure] = frame[measure].astype(float)
    top = frame.groupby(["ProviderName", "ServiceName"])[measure].sum().nlargest(n).iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    labels = [f"{service} ({provider})" for provider, service in top.index]
    colors = [PROVIDER_COLORS.get(provider, "#888888") for provider, _ in top.index]
    ax.barh(labels, top.values, color=colors)
    ax.set_title(f"Top {n} services ({measure}{', ' + currency if currency else ''})")
    ax.set_xlabel(currency or "cost")
    fig.tight_layout()
    return _png(fig)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def summary_markdown(reconciliation: pd.DataFrame, sources: pd.DataFrame, mtd: pd.DataFrame,
                     movers: pd.DataFrame, anomalies: pd.DataFrame, links: dict[str, str],
                     explanations: dict[int, pd.DataFrame] | None = None, as_of=None) -> str:
    """The run's summary: every number in it can be checked against the tables it names."""
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
    body = ["| " + " | ".join("" if v is None or (isinstance(v, float) and v != v) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule] + body)
