"""Prefect tasks of the restore flow: open a plan's repository with its password, find the snapshot
a reference names, restore it to a store, a folder or a PostgreSQL database, publish the report.
Thin adapters: the decisions live in multicloud.core.backups.restore."""

from __future__ import annotations

import os
from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds import open_store
from multicloud.config import Profile
from multicloud.config.backups import BackupPlan
from multicloud.core.backups.restore import RestoreReport, choose_snapshot, is_postgres
from multicloud.core.errors import InvalidInput, NotFound, Throttled, Transient
from multicloud.core.names import slug
from multicloud.engine.passwords import repository_password
from multicloud.engine.restic import Repository, SnapshotReader
from multicloud.engine.restic.restore import open_plan_repository, restore_postgres, restore_to_store
from tasks.storage import retry_transient

_RETRY = dict(retries=2, retry_delay_seconds=[2, 8], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
              cache_policy=NO_CACHE, tags=["backups"])


def plan_password(plan: BackupPlan, profile: Profile, url: str) -> str:
    """The plan's repository password (mirrors share it); never created here: a restore or a check of a
    repository without one fails naming the plan."""
    return repository_password(plan.password, profile, url, plan.name,
                               mirrors=[r for r in plan.repositories if r != url], create=False)


def open_repository(plan: BackupPlan, url: str, profile: Profile) -> Repository:
    return open_plan_repository(open_store(url, profile), plan_password(plan, profile, url), plan.name)


@dataclass(frozen=True)
class FoundSnapshot:
    """A snapshot of a plan, the repository it was read from, and why it is the one."""

    repository: str
    snapshot: dict
    why: str


@task(task_run_name="find-snapshot-{plan.name}", **_RETRY)
def find_snapshot(plan: BackupPlan, ref: str, repository: str | None, profile: Profile) -> FoundSnapshot:
    """The snapshot `ref` names, from `repository` or else the first of the plan's repositories that
    opens (a mirror that is down is skipped, and said so)."""
    failures = []
    for url in [repository] if repository else plan.repositories:
        try:
            repo = open_repository(plan, url, profile)
        except (Transient, Throttled, NotFound) as exc:  # a mirror that is down or gone: try the next
            if repository:
                raise
            get_run_logger().warning("%s: repository %s unavailable: %s", plan.name, url, exc)
            failures.append(exc)
            continue
        choice = choose_snapshot(repo.snapshots(), ref, plan.name)
        get_run_logger().info("%s: snapshot %s from %s: %s", plan.name, choice.snapshot["id"][:8], url, choice.why)
        return FoundSnapshot(url, dict(choice.snapshot), choice.why)
    raise failures[-1]


@task(task_run_name="restore-{plan.name}", **_RETRY)
def restore_snapshot(plan: BackupPlan, found: FoundSnapshot, target: str, include: list[str], overwrite: bool,
                     database: str | None, profile: Profile) -> RestoreReport:
    """Restore the snapshot: a PostgreSQL one into `database` at the DSN `target` with pg_restore;
    otherwise its objects into the store URL or folder `target`, every SHA-256 verified."""
    repo = open_repository(plan, found.repository, profile)
    with SnapshotReader(repo, threads=plan.concurrency) as reader:
        if is_postgres(found.snapshot):
            if not database:
                raise InvalidInput("a PostgreSQL snapshot is restored into a named database: give `database`",
                                   target="database")
            return restore_postgres(reader, found.snapshot, target, database)
        store = open_store(target if "://" in target else f"file://{os.path.abspath(target)}", profile)
        report = restore_to_store(reader, found.snapshot, store, include, overwrite)
    get_run_logger().info("%s: restored %d object(s), %d bytes, %d failed, in %.1f s", plan.name, report.objects,
                          report.bytes, len(report.failures), report.seconds)
    return report


@task(task_run_name="report-restore-{plan.name}", cache_policy=NO_CACHE, tags=["backups"])
def publish_restore_report(plan: BackupPlan, found: FoundSnapshot, report: RestoreReport) -> RestoreReport:
    """The restore report artifact, and the table of failed objects when there are any."""
    create_table_artifact(key=f"restore-{slug(plan.name)}", table=[{**report.row(), "chosen because": found.why}],
                          description=f"Restore of plan {plan.name}, snapshot {found.snapshot['id'][:8]} "
                                      f"({found.snapshot['time']})")
    if report.failures:
        create_table_artifact(key=f"restore-{slug(plan.name)}-failures", table=report.failures,
                              description=f"{len(report.failures)} object(s) of the restore failed")
    return report
