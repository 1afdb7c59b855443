"""The rightsizing flow's charts as PNG bytes: monthly savings by cloud and finding kind, and one VM's
utilisation against the thresholds of the rule that fired. Drawn on matplotlib's object API."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from matplotlib.figure import Figure

from multicloud.core.rightsizing.runs import Threshold
from multicloud.core.rightsizing.vocabulary import METRICS
from multicloud.reports.costs import png_bytes

CLOUD_COLORS = {"aws": "#ff9900", "azure": "#0078d4", "gcp": "#34a853"}
KIND_COLORS = {"idle": "#c0392b", "oversized": "#e67e22", "waste": "#7f8c8d"}


def savings_by_cloud_png(totals: Sequence[dict]) -> bytes:
    """Stacked bars, one per cloud, one colour per finding kind (rows of `runs.totals`): the monthly
    savings (effective, else list) where any finding has a figure, else the number of findings, as the
    title then says."""
    money = any(t["effective"] is not None or t["list"] is not None for t in totals)
    currencies = sorted({t["currency"] for t in totals}) if money else []
    clouds = sorted({t["cloud"] for t in totals})
    kinds = sorted({t["kind"] for t in totals})
    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.subplots()
    bottom = [0.0] * len(clouds)
    for kind in kinds:
        values = [sum(_measure(t, money) for t in totals if t["cloud"] == c and t["kind"] == kind) for c in clouds]
        ax.bar(clouds, values, bottom=bottom, label=kind, color=KIND_COLORS.get(kind))
        bottom = [b + v for b, v in zip(bottom, values)]
    if money:
        ax.set_title(f"Monthly savings by cloud and kind ({', '.join(currencies)})")
        ax.set_ylabel("/".join(currencies) + " per month")
    else:
        ax.set_title("Findings by cloud and kind (savings not computed in this run)")
        ax.set_ylabel("findings")
    if kinds:
        ax.legend()
    return png_bytes(fig)


def _measure(total: dict, money: bool) -> float:
    if not money:
        return float(total["findings"])
    value = total["effective"] if total["effective"] is not None else total["list"]
    return float(value or 0)


def utilisation_png(title: str, series: dict[str, Sequence[tuple[datetime, float]]],
                    thresholds: Sequence[Threshold]) -> bytes:
    """One line per metric (its period points as judged), each with its rule's threshold as a dashed
    line and the observed statistic as a dotted one."""
    fig = Figure(figsize=(11, 4.5), dpi=100)
    ax = fig.subplots()
    palette = ["#0078d4", "#e67e22", "#34a853", "#8e44ad"]
    for n, line in enumerate(thresholds):
        color = palette[n % len(palette)]
        points = series.get(_key(line), ())
        if points:
            ax.plot([t for t, _ in points], [v for _, v in points], color=color, linewidth=0.8,
                    label=f"{line.metric} ({line.series_statistic} per {line.period_seconds // 60} min)")
        ax.axhline(line.threshold, color=color, linestyle="--", linewidth=1, label=f"rule: {line.label}")
        if line.observed is not None:
            ax.axhline(line.observed, color=color, linestyle=":", linewidth=1,
                       label=f"observed {line.label.split()[0]} = {line.observed:.3g}")
    ax.set_title(title)
    ax.set_ylabel(", ".join(sorted({METRICS[t.metric] for t in thresholds})))
    ax.legend(fontsize=7, loc="upper right")
    fig.autofmt_xdate()
    return png_bytes(fig)


def _key(line: Threshold) -> str:
    return f"{line.metric}/{line.series_statistic}/{line.period_seconds}"


def series_key(metric: str, statistic: str, period_seconds: int) -> str:
    """How `utilisation_png` names a series in its `series` argument."""
    return f"{metric}/{statistic}/{period_seconds}"
