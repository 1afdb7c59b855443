"""Keeping backups honest: `check-backups` verifies every repository's structure and reads a
rotating share of its packs; `backup-drill` restores a sample of each plan's newest snapshot to a
scratch place, verifies and times it, and shows how old each plan's newest verified snapshot is;
`prune-backups` applies each plan's retention and prunes its repositories."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from prefect import flow
from pydantic import Field

from multicloud.config import load_profile
from multicloud.config.backups import BackupPlan, load_plans
from multicloud.core.backups.check import check_problem
from multicloud.core.backups.restore import RestoreFailed
from multicloud.core.metrics import drill_metrics
from tasks.metrics import publish_metrics
from tasks.backup_checks import (
    check_repository, drill_plan, forget_and_prune, publish_checks, publish_drills, publish_prunes,
)

PlansFile = Annotated[str, Field(description="YAML file with `plans:`.")]
PlanNames = Annotated[list[str], Field(description="Plans to include (none: every plan in the file).")]
ProfileName = Annotated[str | None, Field(description="'local', a profile file, or empty for MULTICLOUD_PROFILE.")]


class CheckFailed(RuntimeError):
    """A backup repository is damaged."""


def chosen_plans(plans_file: str, names: list[str]) -> list[BackupPlan]:
    """The named plans (InvalidInput naming an unknown one), or every plan of the file."""
    plans = load_plans(plans_file)
    return [plans.plan(n, plans_file) for n in names] if names else list(plans.plans)


@flow(name="check-backups")
def check_backups(plans_file: PlansFile = "deployments/backups/plans.yaml", plans: PlanNames = [],  # noqa: B006
                  profile: ProfileName = None) -> list[dict]:
    """Check every repository of every plan; fails, after the table, naming each damaged one."""
    chosen, connections, now = chosen_plans(plans_file, plans), load_profile(profile), datetime.now(timezone.utc)
    futures = [check_repository.submit(p, url, connections, now) for p in chosen for url in p.repositories]
    reports = publish_checks([f.result() for f in futures])
    problem = check_problem(reports)
    if problem:
        raise CheckFailed(problem)
    return [r.row() for r in reports]


@flow(name="backup-drill")
def backup_drill(plans_file: PlansFile = "deployments/backups/plans.yaml", plans: PlanNames = [],  # noqa: B006
                 scratch: Annotated[str, Field(description="Store URL under which each drill restores into a "
                                                           "fresh, removed-after place.")] = "mem://backup-drills/",
                 profile: ProfileName = None) -> list[dict]:
    """Drill every plan; fails loudly, after the drill and freshness tables, when any drill failed."""
    chosen, connections, now = chosen_plans(plans_file, plans), load_profile(profile), datetime.now(timezone.utc)
    results = [f.result() for f in [drill_plan.submit(p, connections, scratch, now) for p in chosen]]
    freshness = publish_drills(chosen, results, now)
    publish_metrics([drill_metrics(f, r.row(), datetime.now(timezone.utc)) for f, r in zip(freshness, results)],
                    connections)
    failed = [r.problem for r in results if r.problem]
    if failed:
        raise RestoreFailed("; ".join(failed))
    return freshness


@flow(name="prune-backups")
def prune_backups(plans_file: PlansFile = "deployments/backups/plans.yaml", plans: PlanNames = [],  # noqa: B006
                  max_unused: Annotated[str, Field(description="restic's --max-unused: `unlimited`, `N%` or a "
                                                               "size.")] = "5%",
                  dry_run: Annotated[bool, Field(description="Decide and report, change nothing.")] = False,
                  profile: ProfileName = None) -> list[dict]:
    """Forget by each plan's retention, then prune, every plan in turn (each under its repositories'
    exclusive locks)."""
    chosen, connections, now = chosen_plans(plans_file, plans), load_profile(profile), datetime.now(timezone.utc)
    done = [forget_and_prune.submit(p, connections, now, max_unused, dry_run) for p in chosen]
    return publish_prunes([f.result() for f in done])
