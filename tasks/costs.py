"""Prefect tasks of the costs flow: ingest one billing export, reconcile, publish the FOCUS
dataset, and build the reports. The rules live in multicloud.core.costs."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds import open_store
from multicloud.engine import dataset as ds
from multicloud.engine.cost_ingest import IngestResult, ingest, merge_totals, stored_totals, tag_views
from multicloud.config import CostsConfig, CostSource, load_profile
from multicloud.core.costs import aggregate, reconcile, report
from multicloud.reports import costs as charts
from tasks.storage import retry_transient

_PROGRESS_ROWS = 1_000_000


@task(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, task_run_name="ingest-{source.name}", tags=["costs"])
def ingest_source(source: CostSource, spool_dir: str, producer: str, profile: str | None) -> IngestResult:
    """Read one export, map it to FOCUS and spool it; bad rows are quarantined and counted."""
    logger = get_run_logger()
    next_report = [_PROGRESS_ROWS]

    def progress(result: IngestResult) -> None:
        if result.rows_read >= next_report[0]:
            logger.info("%s: %d rows read, %d written, %d quarantined", source.name, result.rows_read,
                        result.rows_written, result.rows_quarantined)
            next_report[0] += _PROGRESS_ROWS

    ds.Spool(Path(spool_dir), producer).discard()  # a retry starts this source's spool over
    result = ingest(source, Path(spool_dir), producer, load_profile(profile), progress=progress)
    logger.info("%s: %d file(s), %d rows read, %d FOCUS rows, %d represented by other rows, %d quarantined",
                source.name, len(result.files), result.rows_read, result.rows_written, result.rows_superseded,
                result.rows_quarantined)
    if result.rows_quarantined:
        logger.warning("%s: %d row(s) quarantined (file, line and reason in the quarantine file)",
                       source.name, result.rows_quarantined)
    for rule, rows in result.violations.items():
        logger.warning("%s: FOCUS 1.2 check %s: %d row(s)", source.name, rule, rows)
    return result


@task(cache_policy=NO_CACHE, tags=["costs"])
def reconcile_totals(results: list[IngestResult], spool_dir: str) -> pd.DataFrame:
    """Source totals against the spooled FOCUS totals, per provider, account, period, currency."""
    table = reconcile.reconcile(merge_totals([r.control for r in results]),
                                merge_totals([r.quarantined for r in results]), stored_totals(Path(spool_dir)),
                                merge_totals([r.unreadable for r in results]))
    create_table_artifact(_records(table), key="costs-reconciliation",
                          description="Σ BilledCost per provider, billing account, period and currency against "
                          "the source's own total (exact decimals)")
    bad = reconcile.mismatches(table)
    if len(bad):
        get_run_logger().error("reconciliation: %d key(s) do not match their source", len(bad))
    return table


@task(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, tags=["costs"])
def compare_provider_totals(config: CostsConfig, reconciliation: pd.DataFrame, profile: str | None) -> pd.DataFrame:
    """Ask each configured spend API for the total of every period reconciled for its billing
    account, and compare. A difference, or an API that does not answer, is reported and logged,
    not fatal: the APIs refresh on their own schedule, so they can lag the exports. Runs after
    the dataset is published, so it never holds the data back."""
    from multicloud.clouds.aws.costexplorer import monthly_totals

    p = load_profile(profile)
    totals: dict[tuple, Decimal] = {}
    unavailable: set[tuple] = set()
    for entry in config.provider_totals:
        mine = reconciliation[(reconciliation["provider"] == "AWS")
                              & (reconciliation["billing_account"] == entry.billing_account)]
        conn = p.connection_for("aws", entry.connection)
        for period in sorted(set(mine["billing_period"])):
            start = date.fromisoformat(f"{period}-01")
            end = (start + timedelta(days=32)).replace(day=1)
            try:
                frame = monthly_totals(conn, start, end, metric=entry.metric)
            except Exception as exc:  # the API is a second opinion: its failure is reported, not fatal
                get_run_logger().warning("Cost Explorer total for %s %s unavailable: %s", entry.billing_account,
                                         period, exc)
                unavailable.add(("AWS", entry.billing_account, period))
                continue
            for row in frame.to_dict("records"):
                key = ("AWS", entry.billing_account, period, row[f"{entry.metric}Unit"])
                totals[key] = totals.get(key, Decimal(0)) + Decimal(row[entry.metric])
    table = reconcile.compare_with_provider(reconciliation, totals, unavailable)
    create_table_artifact(_records(table), key="costs-provider-totals",
                          description="Reconciled source totals against the provider's own spend API")
    for row in table[table["status"] == "differs"].itertuples():
        get_run_logger().warning("%s %s %s: the export totals %s, the provider's API %s", row.provider,
                                 row.billing_account, row.billing_period, row.source_total, row.provider_total)
    return table


@task(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, tags=["costs"])
def publish_dataset(dataset: str, spool_dir: str, run: str, profile: str | None) -> list[ds.Published]:
    """Upload the spooled partitions and swap their pointers (a restated period is replaced)."""
    published = ds.publish(open_store(dataset, load_profile(profile)), Path(spool_dir), run)
    for p in published:
        get_run_logger().info("published %s %s: %d rows%s", p.provider, p.period, p.rows,
                              f" (replaced run {p.replaced_run})" if p.replaced_run else "")
    return published


@task(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, tags=["costs"])
def upload_quarantine(dataset: str, results: list[IngestResult], run: str, profile: str | None) -> list[str]:
    """Quarantine files to `<dataset>/quarantine/<run>/<source>.jsonl`; returns their URLs."""
    store = open_store(dataset, load_profile(profile))
    urls = []
    for result in results:
        if result.quarantine_file:
            key = f"quarantine/{run}/{result.source}.jsonl"
            path = Path(result.quarantine_file)
            with open(path, "rb") as f:
                store.write(key, f, size=path.stat().st_size, content_type="application/x-ndjson")
            urls.append(_url(dataset, key))
    return urls


def _url(base: str, key: str) -> str:
    return base.rstrip("/") + "/" + key


@task(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, tags=["costs"])
def build_reports(config: CostsConfig, results: list[IngestResult], reconciliation: pd.DataFrame,
                  spool_dir: str, run: str, as_of: date, profile: str | None, quarantine_urls: list[str]) -> str:
    """Daily and tag views, month to date, movers, anomalies with their rows, two charts and a
    CSV next to the dataset, and the markdown summary artifact. Returns the markdown."""
    p = load_profile(profile)
    dataset = open_store(config.dataset, p)
    reports_url = config.reports or _url(config.dataset, "reports")
    reports = open_store(reports_url, p)
    daily = ds.daily_history(dataset, _months_before(as_of))
    tag_frames = tag_views(Path(spool_dir), config.tag_keys)
    mtd = aggregate.month_to_date(daily, as_of, trailing_days=config.trailing_days)
    movers = aggregate.top_movers(daily, as_of) if len(daily) else pd.DataFrame()
    found = aggregate.anomalies(daily, config.anomaly_factor, config.trailing_days, min_cost=config.min_anomaly_cost)
    if len(found):  # this month's (and the days just before), up to as_of
        found = found[(found["day"] >= as_of.replace(day=1) - timedelta(days=config.trailing_days))
                      & (found["day"] <= as_of)].head(20).reset_index(drop=True)
    explanations = ds.explain_anomalies(dataset, found.head(5))
    links = {}
    stamp = f"{run}"
    shown = daily[pd.to_datetime(daily["day"]).dt.date <= as_of] if len(daily) else daily
    currencies = sorted(shown["BillingCurrency"].unique()) if len(shown) else []
    for currency in currencies:  # one pair of charts per currency: money of two currencies is never added
        part = shown[shown["BillingCurrency"] == currency]
        suffix = f"-{currency}" if len(currencies) > 1 else ""
        for name, png in ((f"daily-cost-by-provider{suffix}.png", charts.daily_by_provider_png(part, currency=currency)),
                          (f"top-10-services{suffix}.png", charts.top_services_png(part, currency=currency))):
            key = f"{stamp}/{name}"
            reports.write(key, io.BytesIO(png), size=len(png), content_type="image/png")
            links[name] = _url(reports_url, key)
    if len(daily):
        csv = daily.to_csv(index=False).encode()
        reports.write(f"{stamp}/daily-cost.csv", io.BytesIO(csv), size=len(csv), content_type="text/csv")
        links["daily-cost.csv"] = _url(reports_url, f"{stamp}/daily-cost.csv")
    for key, frame in tag_frames.items():
        body = frame.to_csv(index=False).encode()
        reports.write(f"{stamp}/cost-by-tag-{key}.csv", io.BytesIO(body), size=len(body), content_type="text/csv")
        links[f"cost-by-tag-{key}.csv"] = _url(reports_url, f"{stamp}/cost-by-tag-{key}.csv")
    for url in quarantine_urls:
        links[url.rsplit("/", 1)[-1] + " (quarantine)"] = url
    sources = pd.DataFrame([{"source": r.source, "kind": r.kind, "files": len(r.files), "rows read": r.rows_read,
                             "FOCUS rows": r.rows_written, "represented by other rows": r.rows_superseded,
                             "quarantined": r.rows_quarantined,
                             "FOCUS check failures": "; ".join(f"{k}: {v}" for k, v in r.violations.items()) or "none"}
                            for r in results])
    markdown = report.summary_markdown(reconciliation, sources, mtd, movers, found, links, explanations, as_of)
    create_markdown_artifact(markdown, key="costs-summary", description="Cost aggregation summary")
    if len(mtd):
        create_table_artifact(_records(mtd), key="costs-month-to-date")
    for key, frame in tag_frames.items():
        create_table_artifact(_records(frame.head(200)), key=f"costs-by-tag-{_slug(key)}",
                              description=f"Cost by tag {key!r} per billing period and provider (untagged: empty)")
    return markdown


def _records(frame: pd.DataFrame, exact: tuple[str, ...] = ("difference",)) -> list[dict]:
    """Rows for a table artifact: money to the cent as text (the CSV keeps every digit), the
    `exact` columns (a reconciliation's difference) as computed."""
    def cell(name, value):
        if isinstance(value, Decimal):
            return f"{value.normalize():f}" if name in exact else f"{value.quantize(reconcile.CENT)}"
        return None if isinstance(value, float) and value != value else value

    return [{k: cell(k, v) for k, v in row.items()} for row in frame.to_dict("records")]


def _months_before(as_of: date) -> list[str]:
    """The month of `as_of` and the one before: what the views and anomalies look back over."""
    first = (as_of.replace(day=1) - timedelta(days=1)).replace(day=1)
    return [f"{first:%Y-%m}", f"{as_of:%Y-%m}"]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "tag"
