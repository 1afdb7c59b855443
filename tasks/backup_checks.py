"""Prefect tasks of the backup check, drill and prune flows: check one repository (structure and a
rotating read subset), drill a plan (restore a sample to scratch, verify, time it), forget and prune
a plan's repositories (mirrors replay the primary's prune), and publish their tables. Thin adapters:
the decisions live in multicloud.core.backups."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds import open_store
from multicloud.config import Profile
from multicloud.config.backups import BackupPlan
from multicloud.core.backups.check import CheckReport, freshness_markdown, freshness_row, subset_bucket
from multicloud.core.backups.forget import retention_rows
from multicloud.core.backups.prune import MaxUnused
from multicloud.core.backups.restore import RestoreReport, choose_snapshot, drill_problem, is_postgres
from multicloud.core.errors import StoreError
from multicloud.core.names import slug
from multicloud.engine.restic import SnapshotReader
from multicloud.engine.restic.check import check
from multicloud.engine.restic.prune import can_replay, maintain, replay
from multicloud.engine.restic.restore import drill, drill_postgres
from tasks.restore import open_repository
from tasks.storage import retry_transient

_RETRY = dict(retries=2, retry_delay_seconds=[2, 8], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
              cache_policy=NO_CACHE, tags=["backups"])


@task(task_run_name="check-{plan.name}-{url}", **_RETRY)
def check_repository(plan: BackupPlan, url: str, profile: Profile, now: datetime) -> CheckReport:
    """Check one repository: structure, and the read subset of this run (1/N of the packs, N the
    plan's drill.read_data_fraction, moving on daily). Damage is in the report, not raised."""
    buckets = plan.drill.read_data_fraction
    report = check(open_repository(plan, url, profile), subset_bucket(now, buckets), buckets)
    report.plan = plan.name
    if report.findings:
        create_table_artifact(key=f"check-{slug(plan.name)}-{slug(url)}-findings",
                              table=[f.row() for f in report.findings],
                              description=f"Check of {url} (plan {plan.name}): {len(report.errors)} error(s)")
    get_run_logger().info("%s %s: %d pack(s), read %s, %d error(s)", plan.name, url, report.packs, report.subset,
                          len(report.errors))
    return report


@task(task_run_name="report-check", cache_policy=NO_CACHE, tags=["backups"])
def publish_checks(reports: list[CheckReport]) -> list[CheckReport]:
    create_table_artifact(key="check-backups", table=[r.row() for r in reports],
                          description="Backup repositories checked: structure and this run's read subset")
    return reports


@dataclass(frozen=True)
class DrillResult:
    """A plan's drill: the snapshot it verified (None when it could not), the restore, and why it failed."""

    plan: str
    snapshot: dict | None
    report: RestoreReport | None
    sampled: int
    problem: str | None

    def row(self) -> dict:
        r = self.report
        return {"plan": self.plan, "snapshot": (self.snapshot or {}).get("id", "")[:8],
                "sampled": self.sampled, "verified": r.verified_sha256 + r.verified_blobs_only if r else 0,
                "bytes": r.bytes if r else 0, "restore seconds": round(r.seconds, 3) if r else None,
                "result": self.problem or "ok"}


@task(task_run_name="drill-{plan.name}", **_RETRY)
def drill_plan(plan: BackupPlan, profile: Profile, scratch: str, now: datetime) -> DrillResult:
    """Restore plan.drill.sample_objects objects of the plan's newest snapshot into a fresh place
    under `scratch`, verify each, and time it. What fails is the result's problem, not raised, so
    the other plans' drills and the freshness table still happen."""
    try:
        repo = open_repository(plan, plan.repositories[0], profile)
        snapshot = dict(choose_snapshot(repo.snapshots(), "latest", plan.name).snapshot)
        with SnapshotReader(repo) as reader:
            if is_postgres(snapshot) and plan.source.postgres:
                report, rows = drill_postgres(reader, snapshot, plan.source.postgres, plan.drill.query)
                get_run_logger().info("drill of %s: the query returned %d rows in the scratch database",
                                      plan.name, rows)
                sampled = 1
            else:
                place = open_store(f"{scratch.rstrip('/')}/{slug(plan.name)}-{uuid.uuid4().hex[:12]}/", profile)
                report, sampled = drill(reader, snapshot, place, plan.drill.sample_objects, int(now.timestamp()))
    except StoreError as exc:
        get_run_logger().error("drill of %s could not run: %s", plan.name, exc)
        return DrillResult(plan.name, None, None, 0, f"drill of plan {plan.name} could not run: "
                                                     f"{type(exc).__name__}: {exc}")
    problem = drill_problem(plan.name, report, sampled)
    return DrillResult(plan.name, None if problem else snapshot, report, sampled, problem)


@task(task_run_name="report-drills", cache_policy=NO_CACHE, tags=["backups"])
def publish_drills(plans: list[BackupPlan], results: list[DrillResult], now: datetime) -> list[dict]:
    """The drill table and, per plan, the age of its newest verified snapshot (stale beyond
    drill.max_age_hours)."""
    create_table_artifact(key="backup-drill", table=[r.row() for r in results], description="Restore drills")
    rows = [freshness_row(p.name, r.snapshot, now, p.drill.max_age_hours, r.problem) for p, r in zip(plans, results)]
    create_markdown_artifact(key="backup-freshness", markdown=freshness_markdown(rows),
                             description="Newest verified snapshot of each backup plan")
    return rows


@dataclass(frozen=True)
class PruneSummary:
    plan: str
    repository: str
    how: str
    numbers: dict

    def row(self) -> dict:
        return {"plan": self.plan, "repository": self.repository, "how": self.how, **self.numbers}


@task(task_run_name="forget-prune-{plan.name}", **_RETRY)
def forget_and_prune(plan: BackupPlan, profile: Profile, now: datetime, max_unused: str, dry_run: bool
                     ) -> list[PruneSummary]:
    """Apply the plan's retention and prune its first repository under the exclusive lock; each
    mirror that matches it replays the same files, any other is pruned on its own. Publishes the
    retention table (the reason for every kept snapshot) and the packs' decisions."""
    limit = MaxUnused.parse(max_unused)
    primary = open_repository(plan, plan.repositories[0], profile)
    mirrors = [open_repository(plan, url, profile) for url in plan.repositories[1:]]
    index_before, snapshots_before = set(primary.list_ids("index")), set(primary.list_ids("snapshots"))
    forgotten, pruned = maintain(primary, plan.name, plan.retention, now, limit, dry_run)
    create_table_artifact(key=f"retention-{slug(plan.name)}", table=retention_rows(forgotten.decision),
                          description=f"Retention of plan {plan.name}" + (" (dry run)" if dry_run else ""))
    create_table_artifact(key=f"prune-{slug(plan.name)}", table=[p.__dict__ for p in pruned.plan.packs],
                          description=f"Prune of {primary.name}: what happens to each pack, and why")
    summaries = [PruneSummary(plan.name, primary.name, "pruned" + (" (dry run)" if dry_run else ""),
                              pruned.plan.summary())]
    for mirror in mirrors:
        if dry_run:
            continue
        if can_replay(primary, mirror, index_before, snapshots_before):
            replay(primary, mirror, forgotten, pruned)
            summaries.append(PruneSummary(plan.name, mirror.name, "replayed the primary's prune", {}))
        else:
            _, own = maintain(mirror, plan.name, plan.retention, now, limit)
            summaries.append(PruneSummary(plan.name, mirror.name, "pruned on its own (differs from the primary)",
                                          own.plan.summary()))
    return summaries


@task(task_run_name="report-prune", cache_policy=NO_CACHE, tags=["backups"])
def publish_prunes(summaries: list[list[PruneSummary]]) -> list[dict]:
    rows = [s.row() for group in summaries for s in group]
    create_table_artifact(key="prune-backups", table=rows, description="Forget and prune of every plan")
    return rows
