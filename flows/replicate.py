"""Replication: copy what changed from a source bucket to one or more targets on any cloud,
verified by hash, deleting only when it is safe; then a per-target table and a summary.
`verify` re-lists both sides and re-hashes target objects."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Annotated, Literal

from prefect import flow
from prefect.futures import as_completed, wait
from prefect.utilities.annotations import unmapped
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from multicloud.config import Profile, ReplicationRule, load_profile, load_rules
from multicloud.core.errors import InvalidInput
from multicloud.core.metrics import replication_metrics
from multicloud.core.replication import (
    ReplicationFailed, VerificationFailed, failure_summary, run_result, shards_of, target_outcome, target_report,
    verify_failure_summary,
)
from multicloud.core.replication_manifest import staged_manifests
from multicloud.core.replication_spool import sweep_needed
from tasks.metrics import publish_metrics
from tasks.replication import (
    clear_spool, commit_manifests, copy_objects, follow_copies, plan_shard, publish_target_report,
    publish_verification, purge_expired_tombstones, remove_target_only, report_run, verify_target,
)

# Tasks running at once with the threads runner (plans and copy batches; each batch copies
# `concurrency` objects at once): bounds threads, connections and read-ahead memory.
_TASKS_AT_ONCE = 4


def resolve_rule(rule: ReplicationRule | None, rules_file: str | None, rule_name: str | None) -> ReplicationRule:
    """The rule given inline, or the one named in the rules file. Raises InvalidInput."""
    if rule is not None:
        return rule
    if not rules_file or not rule_name:
        raise InvalidInput("give `rule`, or both `rules_file` and `rule_name`", target="parameters")
    return load_rules(rules_file).rule(rule_name, rules_file)


def run_rule(rule: ReplicationRule, profile: Profile) -> dict:
    """The runbook of one rule: plan every (target, shard) from both listings (spooling the
    batches beyond the first to the target), copy each batch, then per target remove what the
    delete policy allows, purge old tombstones, commit the target's staged manifests (or drop
    them), sweep its spool, and report."""
    now = datetime.now(timezone.utc)
    spool = rule.run_spool(now, secrets.token_hex(4))
    planning = [plan_shard.submit(rule, shard, profile, now, spool) for shard in shards_of(rule.targets, rule.shards)]
    plans, copies = [], []
    for future in as_completed(planning):
        plans.append(future.result())
        copies += copy_objects.map(unmapped(rule), plans[-1].batches, unmapped(profile))
    copied = follow_copies(rule.name, copies, sum(p.report.to_copy for p in plans))
    reports, settling = [], []
    for target in rule.targets:
        report, candidates = target_report(target, plans, copied)
        outcome = target_outcome(report, rule.delete_policy, rule.dry_run)
        removed = (remove_target_only.submit(target, profile, candidates, outcome, rule.delete_policy, now)
                   if outcome.removal else None)
        purged = (purge_expired_tombstones.submit(target, profile, rule.delete_policy, now)
                  if outcome.purge_tombstones else None)
        if staged := staged_manifests(target, plans):
            settling.append(commit_manifests.submit(target, profile, staged, report, outcome))
        if sweep_needed(report, len(rule.shards), rule.dry_run):
            settling.append(clear_spool.submit(target, profile, spool, now))
        reports.append(publish_target_report.submit(rule, report, outcome, removed, purged, now))
    settled = report_run(rule, reports, now)
    result = run_result(rule.name, rule.dry_run, settled, now)
    publish_metrics([replication_metrics(rule.name, result["targets"], datetime.now(timezone.utc))], profile)
    wait(settling)  # a manifest not committed costs the next run a full listing; a spool left, a later sweep
    failure = failure_summary(rule.name, settled)
    if failure:
        raise ReplicationFailed(failure)
    return result


@flow(name="replicate-on-dask")
def replicate_on_dask(rule: ReplicationRule, profile: Profile) -> dict:
    """The same runbook with its tasks on a Dask cluster (chosen by `task_runner="dask"`)."""
    return run_rule(rule, profile)


def _dask_runner(workers: int, address: str | None):
    """The cluster at `address` (its scheduler, e.g. tcp://10.0.0.5:8786), else a local one of `workers` processes."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 2, "processes": True,
                                          "dashboard_address": None})


@flow(name="replicate", task_runner=ThreadPoolTaskRunner(max_workers=_TASKS_AT_ONCE))
def replicate(
    rule: Annotated[ReplicationRule | None, Field(description="The rule, inline. Or name one in a rules file.")] = None,
    rules_file: Annotated[str | None, Field(description="YAML file with `rules:` (relative to the checkout).")] = None,
    rule_name: Annotated[str | None, Field(description="Name of the rule in `rules_file`.")] = None,
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty for MULTICLOUD_PROFILE.")] = None,
    task_runner: Annotated[Literal["threads", "dask"], Field(
        description="threads: tasks in this process. dask: the Dask cluster at `dask_address`, or a local one "
        "of `dask_workers` processes.")] = "threads",
    dask_workers: Annotated[int, Field(ge=1, le=64, description="Dask worker processes of a local cluster.")] = 2,
    dask_address: Annotated[str | None, Field(
        description="Scheduler of an existing Dask cluster (tcp://host:8786); its workers must have this "
        "project installed. Empty: a local cluster.")] = None,
) -> dict:
    """Replicate one rule (inline, or named in a rules file) to every target; fails, after the
    summary, when any object or shard failed."""
    chosen, connections = resolve_rule(rule, rules_file, rule_name), load_profile(profile)
    if dask_address and task_runner != "dask":
        raise InvalidInput("a Dask cluster address needs task_runner: dask", target="dask_address")
    if task_runner == "dask":
        return replicate_on_dask.with_options(task_runner=_dask_runner(dask_workers, dask_address))(chosen, connections)
    return run_rule(chosen, connections)


@flow(name="verify-replica")
def verify(
    rule: Annotated[ReplicationRule | None, Field(description="The rule whose targets to check.")] = None,
    rules_file: Annotated[str | None, Field(description="YAML file with `rules:`.")] = None,
    rule_name: Annotated[str | None, Field(description="Name of the rule in `rules_file`.")] = None,
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty.")] = None,
    fraction: Annotated[float, Field(ge=0, le=1, description="Share of target objects re-read and re-hashed.")] = 1.0,
) -> list[dict]:
    """Re-list the source and each target, re-hash `fraction` of the target objects, and fail
    when any object is missing, differs, is only on the target or has other bytes."""
    chosen, connections = resolve_rule(rule, rules_file, rule_name), load_profile(profile)
    checks = [verify_target.submit(chosen, target, connections, fraction) for target in chosen.targets]
    reports = publish_verification(chosen, checks, fraction)
    failure = verify_failure_summary(chosen.name, reports)
    if failure:
        raise VerificationFailed(failure)
    return [r.row() for r in reports]


if __name__ == "__main__":
    import sys

    print(replicate(rules_file=sys.argv[1], rule_name=sys.argv[2]))
