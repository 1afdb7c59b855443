"""Backups: every plan's source (a bucket on any cloud, a folder or a PostgreSQL database) into
encrypted, deduplicated restic snapshots, mirrored to each of the plan's repositories; unchanged objects
are not read again. Fails, after every plan's summary, naming the repositories left without a snapshot."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from multicloud.config import Profile, load_profile
from multicloud.config.backups import BackupPlan
from multicloud.core.backups.runs import BackupFailed
from multicloud.core.metrics import backup_metrics
from tasks.metrics import publish_metrics
from tasks.backups import (
    back_up_shard, follow_shards, prepare_backup, publish_snapshot, report_backup, repository_lock, selected_plans,
)


def run_plans(plans: list[BackupPlan], profile: Profile) -> list[dict]:
    """The runbook: check every plan and open its repositories first, then per plan, under restic's lock,
    back up each shard in parallel, join them into one snapshot per repository, and report."""
    starts = [prepare_backup(plan, profile) for plan in plans]
    results = []
    for plan, start in zip(plans, starts):
        with repository_lock(plan, profile):
            shards = [back_up_shard.submit(plan, shard, profile, start) for shard in start.shards]
            published = publish_snapshot(plan, profile, follow_shards(plan, shards), start)
        results.append(report_backup(plan, start, published))
    publish_metrics([backup_metrics(r, datetime.now(timezone.utc)) for r in results], profile)
    failures = [r["failure"] for r in results if r["failure"]]
    if failures:
        raise BackupFailed("; ".join(failures))
    return results


@flow(name="backup-on-dask")
def backup_on_dask(plans: list[BackupPlan], profile: Profile) -> list[dict]:
    """The same runbook with the shard tasks on a Dask cluster."""
    return run_plans(plans, profile)


@flow(name="backup", task_runner=ThreadPoolTaskRunner(max_workers=4))
def backup(
    plans_file: Annotated[str, Field(description="YAML file with `plans:`.")] = "deployments/backups/plans.yaml",
    plans: Annotated[list[str] | None, Field(description="Plans to run (empty: every plan).")] = None,
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty for MULTICLOUD_PROFILE.")] = None,
    task_runner: Annotated[Literal["threads", "dask"], Field(
        description="threads: shards in this process. dask: a local Dask cluster of `dask_workers`.")] = "threads",
    dask_workers: Annotated[int, Field(ge=1, le=64, description="Dask workers.")] = 2,
) -> list[dict]:
    """Back up the chosen plans of the plans file to all their repositories."""
    chosen, connections = selected_plans(plans_file, plans), load_profile(profile)
    if task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        runner = DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "processes": False,
                                                "dashboard_address": None})
        return backup_on_dask.with_options(task_runner=runner)(chosen, connections)
    return run_plans(chosen, connections)


if __name__ == "__main__":
    import sys

    print(backup(plans_file=sys.argv[1] if len(sys.argv) > 1 else "deployments/backups/plans.yaml"))
