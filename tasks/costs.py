"""Prefect tasks of the costs flow: ingest one billing export (staged in the dataset), reconcile,
decide, publish or discard, compare with the spend APIs, and build the reports. Every task reads
and writes object stores only, so any task may run on any worker; the rules live in
multicloud.core.costs."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact, \
    update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from multicloud.clouds import open_store
from multicloud.config import CostsConfig, CostSource, Profile
from multicloud.core.costs import aggregate, decisions, report
from multicloud.core.costs.decisions import PublishDecision
from multicloud.core.metrics import MetricsReport, costs_metrics
from multicloud.core.names import slug
from multicloud.engine import dataset as ds
from multicloud.engine import provider_totals
from multicloud.engine.cost_ingest import IngestResult, ingest, merge_totals, reconcile_results, staged, tag_views
from multicloud.reports import costs as charts
from tasks.report_files import show_files
from tasks.storage import retry_transient

_PROGRESS_ROWS = 1_000_000
_RETRIES = dict(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
                cache_policy=NO_CACHE, tags=["costs"])


@task(task_run_name="ingest-{source.name}", **_RETRIES)
def ingest_source(source: CostSource, dataset: str, run: str, profile: Profile, tag_keys: list[str]) -> IngestResult:
    """Read one export, map it to FOCUS and stage it in the dataset (not yet published); bad rows
    are quarantined, counted and uploaded. A retry stages the same keys again."""
    logger = get_run_logger()
    next_report = [_PROGRESS_ROWS]

    def progress(result: IngestResult) -> None:
        if result.rows_read >= next_report[0]:
            logger.info("%s: %d rows read, %d written, %d quarantined", source.name, result.rows_read,
                        result.rows_written, result.rows_quarantined)
            next_report[0] += _PROGRESS_ROWS

    result = ingest(source, dataset, run, profile, tag_keys=tag_keys, progress=progress)
    logger.info("%s: %d file(s), %d rows read, %d FOCUS rows, %d represented by other rows, %d quarantined",
                source.name, len(result.files), result.rows_read, result.rows_written, result.rows_superseded,
                result.rows_quarantined)
    if result.quarantine_url:
        logger.warning("%s: %d row(s) quarantined (file, line and reason in %s)", source.name,
                       result.rows_quarantined, result.quarantine_url)
    for rule, rows in result.violations.items():
        logger.warning("%s: FOCUS 1.2 check %s: %d row(s)", source.name, rule, rows)
    return result


def collect_ingests(futures: list, dataset: str, profile: Profile) -> list[IngestResult]:
    """Every ingest's result, with a progress artifact; when one failed, what the others staged
    is removed before its error is raised."""
    progress = create_progress_artifact(0.0, description=f"costs: sources ingested of {len(futures)}")
    for done, _ in enumerate(as_completed(futures), start=1):
        update_progress_artifact(progress, 100.0 * done / len(futures))
    failed = [f for f in futures if f.state.is_failed() or f.state.is_crashed()]
    if failed:
        discard_staged(dataset, [f.result() for f in futures if f not in failed], profile)
        failed[0].result()
    return [f.result() for f in futures]


@task(cache_policy=NO_CACHE, tags=["costs"])
def reconcile_totals(results: list[IngestResult]) -> pd.DataFrame:
    """Source totals against the staged FOCUS totals, per provider, account, period, currency."""
    table = reconcile_results(results)
    create_table_artifact(report.table_records(table), key="costs-reconciliation",
                          description="Σ BilledCost per provider, billing account, period and currency against "
                          "the source's own total (exact decimals)")
    bad = table[table["status"] != "ok"]
    if len(bad):
        get_run_logger().error("reconciliation: %d key(s) not ok: %s", len(bad), ", ".join(sorted(set(bad["status"]))))
    return table


@task(**_RETRIES)
def decide_publication(config: CostsConfig, reconciliation: pd.DataFrame, results: list[IngestResult],
                       profile: Profile) -> PublishDecision:
    """Read the stored pointers of the partitions the run staged, and decide (`publish_decision`)."""
    items = staged(results)
    wanted = ds.staged_sources(items)
    stored = ds.stored_sources(open_store(config.dataset, profile), list(wanted))
    decision = decisions.publish_decision(
        reconciliation, sum(r.rows_quarantined for r in results), config.fail_on_quarantine,
        decisions.ownership_problems(wanted, stored), [r.quarantine_url for r in results if r.quarantine_url],
        dataset=config.dataset)
    (get_run_logger().info if decision.publish else get_run_logger().error)("dataset %s", decision.why)
    return decision


@task(**_RETRIES)
def publish_dataset(dataset: str, results: list[IngestResult], run: str, profile: Profile) -> list[ds.Published]:
    """Swap the pointers of every staged partition (a restated period is replaced)."""
    published = ds.publish(open_store(dataset, profile), staged(results), run)
    for p in published:
        get_run_logger().info("published %s %s: %d rows%s", p.provider, p.period, p.rows,
                              f" (replaced run {p.replaced_run})" if p.replaced_run else "")
    return published


@task(**_RETRIES)
def discard_staged(dataset: str, results: list[IngestResult], profile: Profile) -> list[ds.Published]:
    """Remove what the run staged and will not publish; nothing was published."""
    removed = ds.discard(open_store(dataset, profile), staged(results))
    get_run_logger().info("removed %d staged file(s)", removed)
    return []


@task(**_RETRIES)
def compare_provider_totals(config: CostsConfig, reconciliation: pd.DataFrame, results: list[IngestResult],
                            profile: Profile) -> pd.DataFrame:
    """Ask each configured spend API for the total of every period reconciled for its billing
    account, and compare. A difference, or an API that does not answer, is reported and logged,
    not fatal: the APIs refresh on their own schedule, so they can lag the exports."""
    table, failures = provider_totals.compare(config.provider_totals, reconciliation,
                                              merge_totals([r.effective for r in results]), profile)
    create_table_artifact(report.table_records(table), key="costs-provider-totals",
                          description="The run's totals against the provider's own spend API")
    for line in failures:
        get_run_logger().warning(line)
    for row in table[table["status"] == "differs"].itertuples():
        get_run_logger().warning("%s %s %s: the run's %s is %s, the provider's %s %s", row.provider,
                                 row.billing_account, row.billing_period, row.compared, row.run_total, row.metric,
                                 row.provider_total)
    return table


@task(**_RETRIES)
def build_reports(config: CostsConfig, results: list[IngestResult], reconciliation: pd.DataFrame, run: str,
                  as_of: date, profile: Profile, decision: PublishDecision) -> MetricsReport:
    """Daily and tag views, month to date, movers, anomalies with their rows, two charts and a
    CSV next to the dataset, and the markdown summary artifact. Returns the run's metrics (month to
    date and forecast per provider and currency, the reconciliation status of every key)."""
    dataset = open_store(config.dataset, profile)
    daily = ds.daily_history(dataset, decisions.months_before(as_of))
    tag_frames = tag_views(results, config.tag_keys)
    mtd = aggregate.month_to_date(daily, as_of, trailing_days=config.trailing_days)
    movers = aggregate.top_movers(daily, as_of) if len(daily) else pd.DataFrame()
    found = decisions.anomaly_window(
        aggregate.anomalies(daily, config.anomaly_factor, config.trailing_days, min_cost=config.min_anomaly_cost),
        as_of, config.trailing_days)
    links = _write_report_files(config.reports_url, profile, run, daily, tag_frames, as_of)
    links.update({r.quarantine_url.rsplit("/", 1)[-1] + " (quarantine)": r.quarantine_url
                  for r in results if r.quarantine_url})
    markdown = report.summary_markdown(reconciliation, _sources_table(results), mtd, movers, found, links,
                                       ds.explain_anomalies(dataset, found.head(5)), as_of, decision.why)
    create_markdown_artifact(markdown, key="costs-summary", description="Cost aggregation summary")
    if len(mtd):
        create_table_artifact(report.table_records(mtd), key="costs-month-to-date")
    for key, frame in tag_frames.items():
        create_table_artifact(report.table_records(frame.head(200)), key=f"costs-by-tag-{slug(key) or 'tag'}",
                              description=f"Cost by tag {key!r} per billing period and provider (untagged: empty)")
    return costs_metrics(config.dataset, mtd.to_dict("records"), reconciliation.to_dict("records"),
                         datetime.now(timezone.utc))


def _write_report_files(reports_url: str, profile: Profile, run: str, daily: pd.DataFrame, tag_frames: dict,
                        as_of: date) -> dict[str, str]:
    """Charts (one pair per currency: money of two currencies is never added) and CSV, shown in
    the UI (`costs-charts`); each file's browser link, or its store URL where there is none."""
    files: dict[str, tuple[bytes, str]] = {}
    shown = daily[pd.to_datetime(daily["day"]).dt.date <= as_of] if len(daily) else daily
    currencies = sorted(shown["BillingCurrency"].unique()) if len(shown) else []
    for currency in currencies:
        part = shown[shown["BillingCurrency"] == currency]
        suffix = f"-{currency}" if len(currencies) > 1 else ""
        files[f"daily-cost-by-provider{suffix}.png"] = (charts.daily_by_provider_png(part, currency=currency),
                                                        "image/png")
        files[f"top-10-services{suffix}.png"] = (charts.top_services_png(part, currency=currency), "image/png")
    if len(daily):
        files["daily-cost.csv"] = (daily.to_csv(index=False).encode(), "text/csv")
    for key, frame in tag_frames.items():
        files[f"cost-by-tag-{key}.csv"] = (frame.to_csv(index=False).encode(), "text/csv")
    written = show_files(reports_url, profile, run, files, key="costs-charts", title=f"Cost charts as of {as_of}")
    return {f.name: f.link if f.link.startswith("http") else f.url for f in written}


def _sources_table(results: list[IngestResult]) -> pd.DataFrame:
    return pd.DataFrame([{"source": r.source, "kind": r.kind, "files": len(r.files), "rows read": r.rows_read,
                          "FOCUS rows": r.rows_written, "represented by other rows": r.rows_superseded,
                          "quarantined": r.rows_quarantined,
                          "FOCUS check failures": "; ".join(f"{k}: {v}" for k, v in r.violations.items()) or "none"}
                         for r in results])
