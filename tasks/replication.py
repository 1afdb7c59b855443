"""Prefect tasks of the replication flows: plan one (target, shard), copy one batch, remove
target-only objects, purge tombstones, verify a target, and publish the reports. Thin adapters:
every rule they apply lives in multicloud.core.replication."""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timezone

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact, \
    update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import task_run

from multicloud.clouds import open_store
from multicloud.config import Profile, ReplicationRule
from multicloud.core.errors import StoreError
from multicloud.core.names import slug
from multicloud.core.replication import (
    KEPT, BatchResult, CopyBatch, DeletePolicy, Decision, Shard, ShardPlan, ShardReport, TargetOutcome,
    VerifyReport, failed_plan, failure_rows, problem_rows, progress_percent, settle, summary_markdown, target_row,
)
from multicloud.core.replication_manifest import ManifestNote, commit_staged
from multicloud.core.replication_spool import RunSpool, unread_batch
from multicloud.engine.manifest import ManifestPlanning, ShardManifests, planned_shard, settle_staged
from multicloud.engine.spool import batch_decisions, sweep_spool
from multicloud.engine.transfer import (
    copy_batch, delete_objects, planned, purge_tombstones, sha256_of, source_sha256, tombstone_objects,
)
from tasks.storage import retry_transient

_PLAN_RETRIES = 2
# No task tags: Prefect takes a tag concurrency slot on the server for every tagged task run, a
# database write before the task starts and another after it ends; on a SQLite-backed server
# such writes collide with the event writer ("database is locked", answered 503), and the
# client's back-off then stalls the task about 2 s. The runs themselves carry the deployment's tags.
_RETRY = dict(retry_jitter_factor=0.5, retry_condition_fn=retry_transient, cache_policy=NO_CACHE)


def worker_id() -> str:
    """host:pid of the process running this task (a Dask worker's, with the dask runner)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TablePages:
    """Rows published as table artifacts of at most KEPT rows each, so a long list of failures
    or problems is kept in full without being held in memory."""

    def __init__(self, title: str):
        self.title, self.rows, self.published = title, [], 0

    def add(self, row: dict | None) -> None:
        if row is not None:
            self.rows.append(row)
        if len(self.rows) >= KEPT:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            create_table_artifact(table=self.rows, description=f"{self.title}: rows {self.published + 1:,}-"
                                                                f"{self.published + len(self.rows):,}")
            self.published, self.rows = self.published + len(self.rows), []

    def __enter__(self) -> "TablePages":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()


@task(retries=_PLAN_RETRIES, retry_delay_seconds=[5, 20], task_run_name="plan-{shard.label}", **_RETRY)
def plan_shard(rule: ReplicationRule, shard: Shard, profile: Profile, now: datetime, spool: RunSpool) -> ShardPlan:
    """List the source and, at the same time, the target under one shard prefix (or read the
    target's side from its manifest: see engine.manifest) and plan them: the shard's report, its
    copy batches (beyond the rule's spool_after objects, written to the target's `spool` and
    carried by reference) and its first max_delete + 1 target-only objects. A listing that still
    fails after the retries becomes the shard's listing error (the run reports it, and no object
    of that target is deleted)."""
    started = time.time()
    src, dst = open_store(rule.source, profile), open_store(shard.target, profile)
    try:
        plan = planned_shard(src, dst, rule.sync_options, shard,
                             ManifestPlanning(rule.manifest_settings, rule.delete_policy, rule.dry_run, now, spool))
    except StoreError as exc:
        if exc.retryable and task_run.run_count <= _PLAN_RETRIES:
            raise
        get_run_logger().error("listing failed for %s shard %r: %s", shard.target, shard.prefix, exc)
        plan = failed_plan(shard, f"{type(exc).__name__}: {exc}")
    plan.report.started, plan.report.finished, plan.report.workers = started, time.time(), (worker_id(),)
    r = plan.report
    get_run_logger().info("%s shard %r: listed %d, to copy %d in %d batch(es) (%d spooled), skipped %d, "
                          "target-only %d", shard.target, shard.prefix, r.listed_source, r.to_copy, len(plan.batches),
                          r.spooled, r.skipped, r.delete_candidates)
    if plan.manifest:
        get_run_logger().info("%s shard %r: %s; manifest: %s", shard.target, shard.prefix, plan.manifest.listing,
                              plan.manifest.why)
    return plan


@task(retries=2, retry_delay_seconds=[2, 8], task_run_name="copy-{batch.label}", **_RETRY)
def copy_objects(rule: ReplicationRule, batch: CopyBatch, profile: Profile) -> BatchResult:
    """Copy one batch, its decisions held in it or read back from the target's spool. A failed
    object is counted and listed in this task's table artifact, not raised, so the others go on;
    the result keeps the first KEPT failures. A spool that still cannot be read after the retries
    fails the whole batch the same way."""
    started = time.time()
    dst = open_store(batch.target, profile)
    try:
        decisions = batch_decisions(dst, batch)
    except StoreError as exc:
        if exc.retryable and task_run.run_count <= 2:
            raise
        result = unread_batch(batch, f"{type(exc).__name__}: {exc}", exc.retryable)
    else:
        result = copy_batch(open_store(rule.source, profile), dst, decisions, rule.concurrency)
    if result.failures:
        get_run_logger().warning("batch %s: %d of %d object(s) failed", batch.label, result.failed, batch.objects)
        with TablePages(f"{rule.name}: objects of batch {batch.label} that failed") as table:
            for f in result.failures:
                table.add({"key": f.key, "target": f.target, "error": f.error})
    result.failures = result.failures[:KEPT]
    # Counted under the rule's spelling of the target (a store may print its URL differently).
    result.target = batch.target
    result.started, result.finished, result.worker = started, time.time(), worker_id()
    return result


def follow_copies(rule_name: str, copies: list[PrefectFuture], to_copy: int) -> list[BatchResult]:
    """Wait for every copy task, moving the run's progress artifact (objects copied or failed,
    of those to copy) as they end: at most once per whole percent, so a run of a thousand batches
    makes a hundred calls to the API for it, not a thousand."""
    progress = create_progress_artifact(0.0 if to_copy else 100.0,
                                        description=f"{rule_name}: objects copied or failed, of {to_copy:,} to copy")
    results, done, shown = [], 0, 0
    for future in as_completed(copies):
        results.append(future.result())
        done += results[-1].copied + results[-1].failed
        if (percent := progress_percent(done, to_copy)) != shown:  # one call per whole percent, not per batch
            update_progress_artifact(progress, float(percent))
            shown = percent
    return results


@task(retries=2, retry_delay_seconds=[2, 8], task_run_name="remove-target-only-{target}", **_RETRY)
def remove_target_only(target: str, profile: Profile, candidates: list[Decision], outcome: TargetOutcome,
                       policy: DeletePolicy, now: datetime) -> int:
    """Delete (outcome `delete`) or move under the tombstone prefix (`tombstone`) the target-only objects."""
    dst = open_store(target, profile)
    if outcome.removal == "delete":
        return delete_objects(dst, candidates)
    return tombstone_objects(dst, candidates, policy.tombstone_prefix, now)


@task(retries=2, retry_delay_seconds=[2, 8], task_run_name="purge-tombstones-{target}", **_RETRY)
def purge_expired_tombstones(target: str, profile: Profile, policy: DeletePolicy, now: datetime) -> int:
    """Delete the target's tombstones older than the policy's tombstone_days."""
    return purge_tombstones(open_store(target, profile), policy.tombstone_prefix, now, policy.tombstone_days)


@task(task_run_name="report-{report.target}", cache_policy=NO_CACHE)
def publish_target_report(rule: ReplicationRule, report: ShardReport, outcome: TargetOutcome, removed: int | None,
                          purged: int | None, now: datetime) -> ShardReport:
    """The target's final report, published as its table artifact."""
    settled = settle(report, outcome, removed, purged)
    if outcome.refused:
        get_run_logger().warning("%s: no object deleted: %s", report.target, outcome.refused)
    create_table_artifact(key=f"replication-{slug(rule.name)}-{slug(report.target)}", table=[target_row(settled, now)],
                          description=f"Replication {rule.name}: {rule.source} -> {report.target}")
    return settled


@task(task_run_name="report-{rule.name}", cache_policy=NO_CACHE)
def report_run(rule: ReplicationRule, reports: list[ShardReport], now: datetime) -> list[ShardReport]:
    """The run's summary artifact and, when objects failed, the table of the first KEPT of them."""
    create_markdown_artifact(key=f"replication-{slug(rule.name)}-summary", description=f"Replication {rule.name}",
                             markdown=summary_markdown(rule.name, rule.source, reports, now, rule.dry_run))
    _publish_examples(f"replication-{slug(rule.name)}-failures", failure_rows(reports),
                      f"{sum(r.failed for r in reports):,} object(s) failed", "the table of its copy task")
    return reports


def _publish_examples(key: str, rows: list[dict], total: str, where: str) -> None:
    """A run's table of the first KEPT failures or problems, when there are any."""
    if rows:
        create_table_artifact(key=key, table=rows, description=f"{total}; {len(rows):,} shown here, every one in "
                                                                f"{where}")


@task(retries=2, retry_delay_seconds=[2, 8], task_run_name="verify-{target}", **_RETRY)
def verify_target(rule: ReplicationRule, target: str, profile: Profile, fraction: float) -> VerifyReport:
    """Re-list both sides and re-hash `fraction` of the target's objects. Every problem goes to
    this task's table artifacts; the report counts them and keeps the first KEPT."""
    src, dst = open_store(rule.source, profile), open_store(target, profile)
    report = VerifyReport(target, worker=worker_id())
    manifests = ShardManifests(dst, rule.manifest_settings, target, rule.shards, rule.sync_options,
                               datetime.now(timezone.utc))
    with TablePages(f"verify {rule.name}: problems on {target}") as table:
        for d in manifests.record(planned(src, dst, rule.sync_options)):
            problem = report.see(d)
            if report.rehash(d, fraction):
                problem = report.hashed(d.key, source_sha256(src, d.source), sha256_of(dst, d.target_key))
            table.add(problem)
    get_run_logger().info("%s: %d manifest(s) rewritten from the full listing", target, manifests.commit())
    return report


@task(task_run_name="report-verify-{rule.name}", cache_policy=NO_CACHE)
def publish_verification(rule: ReplicationRule, reports: list[VerifyReport], fraction: float) -> list[VerifyReport]:
    """The counts table of a verification and, when problems were found, the first KEPT of them."""
    create_table_artifact(key=f"verify-{slug(rule.name)}", table=[r.row() for r in reports],
                          description=f"Verification of {rule.name}: {fraction:.0%} of target objects re-hashed")
    _publish_examples(f"verify-{slug(rule.name)}-problems", problem_rows(reports),
                      f"{sum(r.problem_count for r in reports):,} problem(s)", "the tables of its verify task")
    return reports


@task(retries=2, retry_delay_seconds=[2, 8], task_run_name="sweep-spool-{target}", **_RETRY)
def clear_spool(target: str, profile: Profile, spool: RunSpool, now: datetime) -> int:
    """Remove this run's spooled batches from the target, and the spool older runs left behind."""
    removed = sweep_spool(open_store(target, profile), spool, now)
    get_run_logger().info("%s: %d spooled batch(es) removed from %s", target, removed, spool.rule_prefix)
    return removed


@task(retries=2, retry_delay_seconds=[2, 8], task_run_name="commit-manifests-{target}", **_RETRY)
def commit_manifests(target: str, profile: Profile, staged: list[ManifestNote], report: ShardReport,
                     outcome: TargetOutcome) -> int:
    """After a target's copies: make its staged manifests current when the target is as its plans
    foresaw (commit_staged says why not otherwise), and remove the staged copies either way."""
    commit, why = commit_staged(report, outcome)
    get_run_logger().info("%s: %s", target, why)
    return settle_staged(open_store(target, profile), staged, commit)
