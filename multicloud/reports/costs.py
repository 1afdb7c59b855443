"""The costs flow's charts as PNG bytes: daily cost stacked by provider, and the top ten services.
Drawn on matplotlib's object API (no pyplot, no global backend switch)."""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.figure import Figure

PROVIDER_COLORS = {"AWS": "#ff9900", "Microsoft": "#0078d4", "Google Cloud": "#34a853"}


def daily_by_provider_png(daily: pd.DataFrame, measure: str = "EffectiveCost", currency: str = "") -> bytes:
    """Stacked bars: one per day, one colour per provider (rows of one currency)."""
    frame = daily.copy()
    frame[measure] = frame[measure].astype(float)
    pivot = frame.pivot_table(index="day", columns="ProviderName", values=measure, aggfunc="sum", fill_value=0.0)
    fig = Figure(figsize=(11, 4.5), dpi=100)
    ax = fig.subplots()
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
    return png_bytes(fig)


def top_services_png(daily: pd.DataFrame, n: int = 10, measure: str = "EffectiveCost", currency: str = "") -> bytes:
    """Horizontal bars: the `n` services with the highest cost over the data shown (one currency)."""
    frame = daily.copy()
    frame[measure] = frame[measure].astype(float)
    top = frame.groupby(["ProviderName", "ServiceName"])[measure].sum().nlargest(n).iloc[::-1]
    fig = Figure(figsize=(9, 4.5), dpi=100)
    ax = fig.subplots()
    labels = [f"{service} ({provider})" for provider, service in top.index]
    colors = [PROVIDER_COLORS.get(provider, "#888888") for provider, _ in top.index]
    ax.barh(labels, top.values, color=colors)
    ax.set_title(f"Top {n} services ({measure}{', ' + currency if currency else ''})")
    ax.set_xlabel(currency or "cost")
    fig.tight_layout()
    return png_bytes(fig)


def png_bytes(fig) -> bytes:
    """A figure as PNG bytes, cropped to what it draws (the rightsizing charts use it too)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
