"""Prefect tasks of the replication flow: plan and copy one (target, shard) pair in batches,
apply guarded deletions, verify a replica. The rules live in multicloud.core.replication."""

from __future__ import annotations

import time
from datetime import datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds import open_store
from multicloud.engine.transfer import (
    BatchResult, Failure, copy_batch, delete_objects, prefetch, purge_tombstones, sha256_of, tombstone_objects,
)
from multicloud.config import ReplicationRule, load_profile
from multicloud.core.objects import StoreUrl
from multicloud.core.replication import Decision, KeyFilter, ShardReport, batches, plan, sampled
from tasks.storage import retry_transient

_BATCHES_IN_FLIGHT = 2


@task(retries=2, retry_delay_seconds=[2, 8], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, task_run_name="copy-batch-{number}", tags=["replication"])
def copy_objects(source: str, target: str, profile: str | None, decisions: list[Decision], concurrency: int,
                 number: int) -> BatchResult:
    """Copy one batch; failed objects are returned, not raised, so the rest go on."""
    p = load_profile(profile)
    result = copy_batch(open_store(source, p), open_store(target, p), decisions, concurrency)
    if result.failures:
        get_run_logger().warning("batch %d: %d of %d object(s) failed", number, len(result.failures), len(decisions))
    return result


@task(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, task_run_name="sync-{rule.name}-{shard_label}", tags=["replication"])
def sync_shard(rule: ReplicationRule, target: str, shard: str, profile: str | None, shard_label: str
               ) -> tuple[ShardReport, list[Decision], list[Failure]]:
    """List source and target under `shard`, merge them into decisions, copy what differs in
    batches (one task per batch), and return the report, the target-only objects (at most
    max_delete + 1 of them) and the failed objects."""
    logger = get_run_logger()
    started = time.monotonic()
    p = load_profile(profile)
    src, dst = open_store(rule.source, p), open_store(target, p)
    report = ShardReport(target, reasons={})
    candidates: list[Decision] = []
    result = BatchResult()
    pending: list = []
    progress = create_progress_artifact(0.0, description=f"{rule.name}: {target} shard {shard!r} (share of "
                                        "objects listed so far that are done)")

    def settle(wait_all: bool) -> None:
        while pending and (wait_all or len(pending) >= _BATCHES_IN_FLIGHT):
            result.add(pending.pop(0).result())
            done = report.skipped + result.copied + len(result.failures)
            update_progress_artifact(progress, 100.0 * done / max(report.listed_source, 1))

    def copies():
        for d in plan(prefetch(src.list(shard)), prefetch(dst.list(shard)), rule.compare,
                      KeyFilter(rule.include, rule.exclude), StoreUrl.parse(target).scheme, rule.tombstone_prefix):
            report.reasons[d.reason] = report.reasons.get(d.reason, 0) + 1
            report.listed_source += d.source is not None
            report.listed_target += d.target is not None
            report.encoded_keys += d.target_key != d.key
            if d.action == "skip":
                report.skipped += 1
            elif d.action == "delete":
                report.delete_candidates += 1
                if len(candidates) <= rule.max_delete:
                    candidates.append(d)
            else:
                report.to_copy += 1
                if d.source.last_modified and (report.oldest_pending is None
                                               or d.source.last_modified < report.oldest_pending):
                    report.oldest_pending = d.source.last_modified
                yield d

    number = 0
    for batch in batches(copies(), rule.batch_objects, rule.batch_bytes):
        number += 1
        if rule.dry_run:
            continue
        pending.append(copy_objects.submit(rule.source, target, profile, batch, rule.concurrency, number))
        settle(wait_all=False)
    settle(wait_all=True)
    update_progress_artifact(progress, 100.0)
    report.copied, report.bytes, report.server_side = result.copied, result.bytes, result.server_side
    report.encoded_metadata, report.failed = result.encoded_metadata, len(result.failures)
    report.seconds = time.monotonic() - started
    logger.info("%s shard %r: listed %d, copy %d (copied %d, failed %d), skipped %d, target-only %d",
                target, shard, report.listed_source, report.to_copy, report.copied, report.failed, report.skipped,
                report.delete_candidates)
    return report, candidates, result.failures


@task(retries=2, retry_delay_seconds=[2, 8], retry_condition_fn=retry_transient, cache_policy=NO_CACHE,
      task_run_name="remove-target-only-{rule.name}", tags=["replication"])
def remove_target_only(rule: ReplicationRule, target: str, profile: str | None, decisions: list[Decision],
                       now: datetime) -> int:
    """Delete (mirror) or move under the tombstone prefix (tombstone) the given target-only objects."""
    dst = open_store(target, load_profile(profile))
    if rule.delete == "mirror":
        return delete_objects(dst, decisions)
    return tombstone_objects(dst, decisions, rule.tombstone_prefix, now)


@task(retries=2, retry_delay_seconds=[2, 8], retry_condition_fn=retry_transient, cache_policy=NO_CACHE,
      task_run_name="purge-tombstones-{rule.name}", tags=["replication"])
def purge_expired_tombstones(rule: ReplicationRule, target: str, profile: str | None, now: datetime) -> int:
    return purge_tombstones(open_store(target, load_profile(profile)), rule.tombstone_prefix, now,
                            rule.tombstone_days)


@task(retries=2, retry_delay_seconds=[2, 8], retry_condition_fn=retry_transient, cache_policy=NO_CACHE,
      task_run_name="verify-{rule.name}", tags=["replication"])
def verify_target(rule: ReplicationRule, target: str, profile: str | None, fraction: float) -> dict:
    """Re-list both sides and re-hash `fraction` of the target's objects; returns counts and mismatches."""
    p = load_profile(profile)
    src, dst = open_store(rule.source, p), open_store(target, p)
    out = {"target": target, "checked": 0, "rehashed": 0, "missing": 0, "differs": 0, "extra": 0, "hash_mismatch": 0,
           "problems": []}
    decisions = plan(prefetch(src.list()), prefetch(dst.list()), rule.compare, KeyFilter(rule.include, rule.exclude),
                     StoreUrl.parse(target).scheme, rule.tombstone_prefix)
    for d in decisions:
        out["checked"] += 1
        if d.action == "copy":
            kind = "missing" if d.target is None else "differs"
            out[kind] += 1
            out["problems"].append({"key": d.key, "problem": d.reason})
        elif d.action == "delete":
            out["extra"] += 1
            out["problems"].append({"key": d.key, "problem": "only on the target"})
        elif sampled(d.key, fraction):
            expected = d.source.sha256 or src.stat(d.key).sha256 or sha256_of(src, d.key)
            actual = sha256_of(dst, d.target_key)
            out["rehashed"] += 1
            if actual != expected:
                out["hash_mismatch"] += 1
                out["problems"].append({"key": d.key, "problem": f"target bytes hash {actual[:12]}…, "
                                                                 f"source {expected[:12]}…"})
    return out
