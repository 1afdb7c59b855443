"""Prefect tasks of the rightsizing flow: load the rules, read each target's inventory and metrics
(one task each per cloud or AWS region, run in parallel, their requests counted and throttling waits
reported), judge every resource, and write and publish the findings. The decisions live in
multicloud.core.rightsizing; the cloud readers in multicloud.clouds."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact, create_markdown_artifact, create_progress_artifact, create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from multicloud.config import Profile
from multicloud.config.rightsizing import Rule, RightsizingScope, ScanTarget, load_rule_sets
from multicloud.core.errors import StoreError
from multicloud.core.rightsizing import Resource, required_series
from multicloud.core.rightsizing import runs
from multicloud.core.rightsizing.arbitrage import Comparison
from multicloud.core.rightsizing.commitments import CommitmentPlan
from multicloud.core.rightsizing.market import Market, market_rows
from multicloud.core.rightsizing.runs import Judgement, RunSummary, Scan
from multicloud.engine import rightsizing_scan
from multicloud.reports import rightsizing as charts
from tasks.report_files import show_files
from tasks.storage import retry_transient

_RETRIES = dict(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
                cache_policy=NO_CACHE, tags=["rightsizing"])
_MONEY = pa.decimal128(38, 10)
_MONEY_COLUMNS = ("monthly_effective_savings", "monthly_list_savings")
_NOT_JUDGED_ROWS = 500  # the artifact's share; the CSV and Parquet hold every one


@dataclass(frozen=True)
class RuleSet:
    """The run's rules, the files they came from, and the series the clouds must read for them."""

    rules: list[Rule]
    files: list[str]

    def needs_of(self, cloud: str) -> dict[tuple[str, str, int], int]:
        """The series `cloud` must read: those of the rules that judge its resources."""
        return required_series(r for r in self.rules if not r.clouds or cloud in r.clouds)


@dataclass
class Collected:
    """The targets read so far, with their scans, and the targets that failed, with why."""

    read: list[tuple[ScanTarget, Scan]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def scans(self) -> list[Scan]:
        return [scan for _, scan in self.read]

    @property
    def resources(self) -> list[Resource]:
        return [r for _, scan in self.read for r in scan.inventory.resources]


@task(cache_policy=NO_CACHE, tags=["rightsizing"])
def load_rules(scope: RightsizingScope) -> RuleSet:
    """Every rules file of the scope, validated. Raises InvalidInput naming the file and the rule."""
    files = scope.rule_files()
    rules = load_rule_sets(files)
    get_run_logger().info("%d rules from %s", len(rules), ", ".join(p.name for p in files))
    return RuleSet(rules, [str(p) for p in files])


@task(task_run_name="inventory-{target.name}", **_RETRIES)
def read_inventory(target: ScanTarget, profile: Profile, tags: dict[str, str]) -> Scan:
    """The target's resources (only those carrying the run's tags are judged), requests counted."""
    scan = rightsizing_scan.read_inventory(target, profile, tags)
    inv = scan.inventory
    get_run_logger().info("%s: %d resources judged, %d left out by tags; requests %s", target.name,
                          len(inv.resources), scan.left_out, dict(inv.requests))
    _log_waits(target.name, "inventory", inv.throttle_waits)
    return scan


@task(task_run_name="metrics-{target.name}", **_RETRIES)
def read_metrics(target: ScanTarget, profile: Profile, scan: Scan, rules: RuleSet, now: datetime) -> Scan:
    """The series the rules need for every resource of the scan, requests counted per resource."""
    result = rightsizing_scan.read_metrics(target, profile, scan, rules.needs_of(target.cloud), now)
    logger = get_run_logger()
    logger.info("%s: %d metric requests for %d resources (at most %d for one)", target.name, result.requests,
                len(scan.inventory.resources), max(result.requests_by_resource.values(), default=0))
    if result.unsupported:
        logger.info("%s has no metric for %s", target.cloud,
                    ", ".join(f"{m} of a {k}" for k, m in sorted(result.unsupported)))
    for rid, notes in result.notes.items():
        logger.warning("%s: %s", rid, "; ".join(notes))
    _log_waits(target.name, "metrics", result.throttle_waits)
    return replace(scan, metrics=result)


def _log_waits(target: str, what: str, waits: list[float]) -> None:
    if waits:
        get_run_logger().warning("%s %s: %d throttled request(s) retried, %.1f s waited", target, what, len(waits),
                                 sum(waits))


def collect_scans(step: str, targets: list[ScanTarget], futures: list, before: Collected | None = None) -> Collected:
    """Wait for one step's tasks (a progress artifact shows them finish); the targets whose task
    failed are kept as failures, with their error, and the others go on."""
    progress = create_progress_artifact(0.0, description=f"rightsizing {step}: targets read of {len(futures)}")
    for done, _ in enumerate(as_completed(futures), start=1):
        update_progress_artifact(progress, 100.0 * done / len(futures))
    out = Collected(failures=list(before.failures) if before else [])
    for target, future in zip(targets, futures):
        scan = result_of(target.name, step, future, out.failures)
        if scan is not None:
            out.read.append((target, scan))
    return out


def settled(step: str, names: list[str], futures: list, failures: list[str]) -> list:
    """The results of one step's tasks; each that failed is added to `failures` with its error (the
    run goes on without it, and fails at its end)."""
    results = [result_of(name, step, future, failures) for name, future in zip(names, futures)]
    return [r for r in results if r is not None]


def result_of(name: str, step: str, future, failures: list[str]):
    """The task's result, or None with its error added to `failures`."""
    try:
        return future.result()
    except (StoreError, OSError) as exc:  # the taxonomy, and what a broken connection raises
        get_run_logger().error("%s %s failed: %s", name, step, exc)
        failures.append(f"{name} ({step}): {exc}")
        return None


@task(cache_policy=NO_CACHE, tags=["rightsizing"])
def judge_resources(rules: RuleSet, scans: list[Scan], now: datetime) -> Judgement:
    """Every rule on every judged resource; the findings and the outcomes without enough data."""
    judged = runs.judge(rules.rules, scans, now)
    get_run_logger().info("%d outcomes: %s", len(judged.outcomes), dict(judged.statuses))
    return judged


@task(**_RETRIES)
def write_outputs(judged: Judgement, scans: list[Scan], rules: RuleSet, output: str, run: str,
                  profile: Profile) -> dict[str, str]:
    """Findings and not-judged outcomes as Parquet and CSV, and the charts, in `<output>/<run>/`,
    shown in the UI (charts inline, files linked); returns their store URLs by file name."""
    findings = _table([runs.finding_record(f) for f in judged.findings], _finding_schema())
    not_judged = _table([runs.outcome_record(o) for o in judged.not_judged], _outcome_schema())
    files = {"findings.parquet": (_parquet(findings), "application/vnd.apache.parquet"),
             "findings.csv": (_csv(findings), "text/csv"),
             "not-judged.parquet": (_parquet(not_judged), "application/vnd.apache.parquet"),
             "not-judged.csv": (_csv(not_judged), "text/csv"),
             "savings-by-cloud.png": (charts.savings_by_cloud_png(runs.totals(judged.findings)), "image/png")}
    chart = _utilisation_chart(judged, scans, rules)
    if chart:
        files["utilisation.png"] = (chart, "image/png")
    written = show_files(output, profile, run, files, key="rightsizing-files",
                         title=f"Rightsizing run {run}: charts and findings files")
    get_run_logger().info("wrote %d findings and %d not-judged outcomes to %s/%s", findings.num_rows,
                          not_judged.num_rows, output.rstrip("/"), run)
    return {f.name: f.url for f in written}


def _utilisation_chart(judged: Judgement, scans: list[Scan], rules: RuleSet) -> bytes | None:
    choice = runs.chart_choice(judged, rules.rules)
    if choice is None:
        return None
    finding, thresholds = choice
    found = {charts.series_key(s.metric, s.statistic, s.period_seconds): s.points
             for scan in scans for s in scan.metrics.series.get(finding.resource.id, ())}
    title = f"{finding.resource.cloud} {finding.resource.type} {finding.resource.id.rsplit('/', 1)[-1]}: " \
            f"{finding.outcome.rule} ({finding.outcome.finding})"
    return charts.utilisation_png(title, found, thresholds)


def _finding_schema() -> pa.Schema:
    return pa.schema([(n, _MONEY if n in _MONEY_COLUMNS else pa.string()) for n in runs.FINDING_COLUMNS])


def _outcome_schema() -> pa.Schema:
    return pa.schema([(n, pa.string()) for n in runs.OUTCOME_COLUMNS])


def _table(records: list[dict], schema: pa.Schema) -> pa.Table:
    columns = {}
    for name in schema.names:
        values = [r[name] for r in records]
        if name in _MONEY_COLUMNS:  # Parquet decimals have a fixed scale: more digits than it would not fit
            values = [None if v is None else Decimal(v).quantize(Decimal("1e-10")) for v in values]
        columns[name] = pa.array(values, type=schema.field(name).type)
    return pa.table(columns, schema=schema)


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _csv(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    return buffer.getvalue()


@task(cache_policy=NO_CACHE, tags=["rightsizing"])
def publish_report(judged: Judgement, scans: list[Scan], rules: RuleSet, files: dict[str, str], run: str,
                   now: datetime, failures: list[str], markets: list[Market] = (),
                   commitments: CommitmentPlan | None = None,
                   arbitrage: list[Comparison] | None = None) -> RunSummary:
    """The findings table (sorted by savings), the not-judged and request tables, the summary
    markdown (with the commitments and arbitrage sections) and its links, and a link artifact per
    findings file."""
    create_table_artifact([runs.finding_row(f) for f in judged.findings], key="rightsizing-findings",
                          description="Findings sorted by monthly savings: resource, rule and its source, observed "
                          "values, savings (effective and list), action, target and advice")
    not_judged = judged.not_judged
    if not_judged:
        create_table_artifact([runs.outcome_record(o) for o in not_judged[:_NOT_JUDGED_ROWS]],
                              key="rightsizing-not-judged", description="Outcomes without enough data (insufficient "
                              "data or skipped) and why; all of them in not-judged.csv")
    create_table_artifact(runs.scan_rows(scans), key="rightsizing-requests",
                          description="API requests per target and per resource, and the time waited on throttling")
    if markets:
        create_table_artifact(market_rows(markets), key="rightsizing-market-requests",
                              description="Shape catalogs and list prices per cloud: shapes priced, requests, "
                              "time waited on throttling, and what could not be read")
    create_markdown_artifact(runs.summary_markdown(run, now, judged, scans, len(rules.rules), files, failures,
                                                   runs.commitments_section(commitments),
                                                   runs.arbitrage_section(arbitrage)),
                             key="rightsizing-summary", description="Rightsizing summary")
    for name in ("findings.parquet", "findings.csv"):
        create_link_artifact(files[name], link_text=name, key=f"rightsizing-{name.replace('.', '-')}")
    return RunSummary(run, len(judged.findings), dict(judged.statuses),
                      [{**t, "effective": _text(t["effective"]), "list": _text(t["list"])}
                       for t in runs.totals(judged.findings)], files, list(failures))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
