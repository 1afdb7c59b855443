"""Prefect tasks of the backup flow: check a plan and open (or create) its repositories, back up one
shard, join the shards into one snapshot published to every mirror, and report. Thin adapters: the
decisions live in multicloud.core.backups, the repository format in multicloud.engine.restic."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed

from multicloud.clouds import ensure_bucket, open_store
from multicloud.config import Profile
from multicloud.config.backups import BackupPlan, load_plans
from multicloud.core.backups.format import snapshot_document, format_datetime
from multicloud.core.backups.runs import (
    ParentChoice, ShardCounts, choose_parent, progress_text, repository_rows, run_failure, snapshot_labels,
    summary_markdown,
)
from multicloud.core.backups.shards import BackupShard, plan_shards
from multicloud.core.backups.tree import beside_folder, snapshot_path, source_root
from multicloud.core.errors import InvalidInput, StoreError
from multicloud.core.names import slug
from multicloud.engine.passwords import repository_password
from multicloud.engine.restic.bucket import ParentTree, back_up_entries
from multicloud.engine.restic.mirror import HeldLock, Mirrors, join_trees
from multicloud.engine.restic.sources import source_entries
from multicloud.engine.restic.writer import SnapshotWriter

_TASK = dict(cache_policy=NO_CACHE, tags=["backups"])
_PROGRESS_EVERY_SECONDS = 2.0


def selected_plans(plans_file: str, names: list[str] | None) -> list[BackupPlan]:
    """The plans named (all when none), from the plans file. Raises InvalidInput naming the file."""
    plans = load_plans(plans_file)
    return [plans.plan(n, plans_file) for n in names] if names else list(plans.plans)


def open_mirrors(plan: BackupPlan, profile: Profile, create: bool = False) -> Mirrors:
    """The plan's repositories, each with its password. Raises InvalidInput (unknown connection, foreign
    store, other version), WrongPassword, naming the plan and the repository."""
    stores = {}
    for url in plan.repositories:
        try:
            if create:
                ensure_bucket(url, profile)
            stores[url] = open_store(url, profile)
        except InvalidInput as exc:
            raise InvalidInput(f"repositories: {exc}", target=f"plan {plan.name}, repository {url}") from None
    # Mirrors hold the same key files, so they share one password (a KMS-wrapped one lies beside each).
    password = repository_password(plan.password, profile, plan.repositories[0], plan.name,
                                   mirrors=plan.repositories[1:], create=create)
    return Mirrors.open(plan.name, stores, dict.fromkeys(plan.repositories, password), create=create)


@dataclass(frozen=True)
class BackupStart:
    """What every task of one plan's run shares: its shards, snapshot root and parent."""

    shards: list[BackupShard]
    root: tuple[str, ...]
    parent: ParentChoice
    started: float = field(default_factory=time.time)


@task(task_run_name="prepare-{plan.name}", **_TASK)
def prepare_backup(plan: BackupPlan, profile: Profile) -> BackupStart:
    """Check the plan (shards, source connection, every repository) before anything is written, create
    the missing repositories as mirrors of the existing one, and choose the parent snapshot."""
    shards = plan_shards(plan.source.shards, f"plan {plan.name}, field source.shards")
    if plan.source.url is not None:
        try:
            open_store(plan.source.url, profile, plan.source.connection)
        except InvalidInput as exc:
            raise InvalidInput(f"source: {exc}", target=f"plan {plan.name}, field source") from None
    root = source_root(plan.source.url, plan.source.postgres)
    mirrors = open_mirrors(plan, profile, create=True)
    try:
        parent = choose_parent(mirrors.shared_snapshots(), plan.name, [snapshot_path(root)])
    finally:
        mirrors.close()
    get_run_logger().info("plan %s: %d shard(s); %s", plan.name, len(shards), parent.reason)
    return BackupStart(shards, root, parent)


@contextlib.contextmanager
def repository_lock(plan: BackupPlan, profile: Profile) -> Iterator[HeldLock]:
    """restic's non-exclusive lock in every repository for the whole run, refreshed while it lasts."""
    mirrors = open_mirrors(plan, profile)
    try:
        with HeldLock(mirrors) as lock:
            yield lock
    finally:
        mirrors.close()


def _writer(plan: BackupPlan, mirrors: Mirrors) -> SnapshotWriter:
    mirrors.repository.use_compression(plan.compression)
    return SnapshotWriter(mirrors.repository, compression=plan.compression != "off", threads=plan.concurrency,
                          rename_beside_folder=beside_folder, index_loader=mirrors.shared_index)


@dataclass
class ShardResult:
    label: str
    tree: str | None
    counts: dict
    failed_repositories: dict[str, str]


def _counts(entry_counts, stats) -> dict:
    return {"objects": entry_counts.objects, "read": entry_counts.read, "reused": entry_counts.reused,
            "failed": entry_counts.failed, "failures": entry_counts.failures,
            "logical_bytes": entry_counts.logical_bytes, "bytes_read": stats.bytes_read,
            "bytes_new": stats.bytes_new, "bytes_deduplicated": stats.bytes_deduplicated,
            "bytes_stored": stats.bytes_stored, "packs": stats.packs}


@task(retries=1, retry_delay_seconds=5, task_run_name="backup-{plan.name}-{shard.label}", **_TASK)
def back_up_shard(plan: BackupPlan, shard: BackupShard, profile: Profile, start: BackupStart) -> ShardResult:
    """Back up the shard's entries into packs and an index in every live repository (no snapshot: the
    join publishes one); unchanged objects reuse the parent's content. Progress moves as it goes."""
    mirrors = open_mirrors(plan, profile)
    progress = create_progress_artifact(0.0, description=f"{plan.name} shard {shard.label}: starting")
    shown = [time.monotonic()]
    try:
        with _writer(plan, mirrors) as writer:
            parent = ParentTree(mirrors.repository, writer.index, start.parent.tree)

            def show(entry_counts, final: bool = False) -> None:
                if final or time.monotonic() - shown[0] >= _PROGRESS_EVERY_SECONDS:
                    shown[0] = time.monotonic()
                    update_progress_artifact(progress, 100.0 if final else 50.0, description=progress_text(
                        f"{plan.name} shard {shard.label}", _counts(entry_counts, writer.stats)))

            counts = back_up_entries(writer, start.root, source_entries(plan.source, profile, shard), parent, show)
            tree = writer.finish() if counts.objects else None
            show(counts, final=True)
        result = ShardResult(shard.label, tree, _counts(counts, writer.stats), dict(mirrors.fanout.failed))
    finally:
        mirrors.close()
    get_run_logger().info(progress_text(f"{plan.name} shard {shard.label}", result.counts))
    return result


def follow_shards(plan: BackupPlan, shards: list[PrefectFuture]) -> list[ShardResult]:
    """Wait for the shard tasks, moving the run's progress artifact (shards done) as each ends."""
    progress = create_progress_artifact(0.0, key=f"backup-{slug(plan.name)}-progress",
                                        description=f"{plan.name}: shards backed up, of {len(shards)}")
    results, total = [], ShardCounts()
    for future in as_completed(shards):
        results.append(future.result())
        total.add(results[-1].counts)
        update_progress_artifact(progress, 100.0 * len(results) / len(shards),
                                 description=progress_text(plan.name, vars(total)))
    return results


@dataclass
class Published:
    snapshot_id: str | None
    failed_repositories: dict[str, str]
    counts: ShardCounts
    seconds: float


@task(task_run_name="publish-{plan.name}", **_TASK)
def publish_snapshot(plan: BackupPlan, profile: Profile, shards: list[ShardResult], start: BackupStart
                     ) -> Published:
    """Join the shards' trees into one snapshot and publish it (after its trees' packs and index) to every
    repository that failed in no shard and holds no exclusive lock, then read it back from each."""
    counts = ShardCounts()
    for shard in shards:
        counts.add(shard.counts)
    mirrors = open_mirrors(plan, profile)
    try:
        for shard in shards:
            for url, error in shard.failed_repositories.items():
                mirrors.drop(url, f"shard {shard.label}: {error}")
        snapshot_id = None
        if mirrors.live:
            snapshot_id = _join_and_publish(plan, mirrors, shards, start, counts)
        failed = dict(mirrors.fanout.failed)
    except StoreError as exc:
        failed = {url: f"{type(exc).__name__}: {exc}" for url in plan.repositories}
        snapshot_id = None
    finally:
        mirrors.close()
    return Published(snapshot_id, failed, counts, time.time() - start.started)


def _join_and_publish(plan: BackupPlan, mirrors: Mirrors, shards: list[ShardResult], start: BackupStart,
                      counts: ShardCounts) -> str | None:
    with _writer(plan, mirrors) as writer:
        tree = join_trees(writer, start.root, [s.tree for s in shards if s.tree])
        writer.finish()
        counts.add({"bytes_stored": writer.stats.bytes_stored, "packs": writer.stats.packs})
        host, tags = snapshot_labels(plan.name)
        doc = snapshot_document(tree, [snapshot_path(start.root)], format_datetime(datetime.now(timezone.utc)),
                                hostname=host, username="mcops", tags=tags, parent=start.parent.id)
        return mirrors.publish(doc)


@task(task_run_name="report-{plan.name}", **_TASK)
def report_backup(plan: BackupPlan, start: BackupStart, published: Published) -> dict:
    """The per-repository table and the markdown summary; returns the run's result, with `failure` set
    when a repository got no snapshot or objects could not be stored."""
    rows = repository_rows(plan.repositories, published.failed_repositories, published.snapshot_id,
                           published.counts, published.seconds)
    key = f"backup-{slug(plan.name)}"
    create_table_artifact(rows, key=f"{key}-repositories", description=f"{plan.name}: one row per repository")
    if published.counts.failures:
        create_table_artifact(published.counts.failures, key=f"{key}-failures",
                              description=f"{plan.name}: objects not stored (first {len(published.counts.failures)})")
    create_markdown_artifact(summary_markdown(plan.name, start.parent.reason, rows, published.counts),
                             key=f"{key}-summary", description=f"{plan.name}: backup summary")
    failure = run_failure(plan.name, rows, published.counts)
    if failure:
        get_run_logger().error(failure)
    return {"plan": plan.name, "snapshot": published.snapshot_id, "repositories": rows,
            "objects": published.counts.objects, "read": published.counts.read,
            "bytes_read": published.counts.bytes_read,
            "reused": published.counts.reused, "failure": failure}
