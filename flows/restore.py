"""Restore: a snapshot (id or id prefix, a time, or `latest`) of a backup plan, from any of its
repositories, to a store URL on any cloud, a folder, or (a PostgreSQL snapshot) a database; every
object's SHA-256 verified against the snapshot and its metadata put back; then the restore report."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from multicloud.config import load_profile
from multicloud.config.backups import load_plans
from multicloud.core.backups.restore import RestoreFailed, restore_problem
from tasks.restore import find_snapshot, publish_restore_report, restore_snapshot


@flow(name="restore")
def restore(
    plan: Annotated[str, Field(description="Name of the backup plan in `plans_file`.")],
    target: Annotated[str, Field(description="Store URL (s3://, az://, gs://, file://) or folder to restore into; "
                                             "for a PostgreSQL snapshot, the server's postgresql:// DSN.")],
    plans_file: Annotated[str, Field(description="YAML file with `plans:`.")] = "deployments/backups/plans.yaml",
    snapshot: Annotated[str, Field(description="`latest`, a snapshot id or id prefix, or a time "
                                               "(the newest snapshot at or before it).")] = "latest",
    repository: Annotated[str | None, Field(description="One of the plan's repositories; empty: the first "
                                                        "that is reachable.")] = None,
    include: Annotated[list[str], Field(description="Globs of keys to restore (none: every key).")] = [],  # noqa: B006
    overwrite: Annotated[bool, Field(description="Write into a target that is not empty.")] = False,
    database: Annotated[str | None, Field(description="Database a PostgreSQL snapshot is restored into.")] = None,
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty for MULTICLOUD_PROFILE.")] = None,
) -> dict:
    """Restore one snapshot of `plan` into `target`; fails, after the report, when any object failed."""
    chosen, connections = load_plans(plans_file).plan(plan, plans_file), load_profile(profile)
    found = find_snapshot(chosen, snapshot, repository, connections)
    report = restore_snapshot(chosen, found, target, include, overwrite, database, connections)
    publish_restore_report(chosen, found, report)
    problem = restore_problem(report)
    if problem:
        raise RestoreFailed(problem)
    return report.row()


if __name__ == "__main__":
    import sys

    print(restore(plan=sys.argv[1], target=sys.argv[2], plans_file=sys.argv[3]))
