"""Replication: copy what changed from a source bucket to one or more targets on any cloud,
verified by hash, deleting only when it is safe; then a per-target table and a summary.
`verify` re-lists both sides and re-hashes target objects."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import Field

from multicloud.config import ReplicationRule, load_rules
from multicloud.core.errors import InvalidInput
from multicloud.core.replication import ShardReport, delete_refusal, summary_markdown
from multicloud.engine.transfer import Failure
from tasks.replication import purge_expired_tombstones, remove_target_only, sync_shard, verify_target

_FAILURE_ROWS = 5000


def resolve_rule(rule: ReplicationRule | None, rules_file: str | None, rule_name: str | None) -> ReplicationRule:
    """The rule given inline, or the one named in the rules file. Raises InvalidInput."""
    if rule is not None:
        return rule
    if not rules_file or not rule_name:
        raise InvalidInput("give `rule`, or both `rules_file` and `rule_name`", target="parameters")
    return load_rules(rules_file).rule(rule_name, rules_file)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def run_rule(rule: ReplicationRule, profile: str | None) -> dict:
    """The runbook of one rule; runs inside a flow with whatever task runner it has."""
    logger = get_run_logger()
    now = datetime.now(timezone.utc)
    futures = {
        (target, shard): sync_shard.submit(rule, target, shard, profile, f"{_slug(target)}-{_slug(shard) or 'all'}")
        for target in rule.targets for shard in rule.shards
    }
    reports: list[ShardReport] = []
    failures: list[Failure] = []
    shard_errors: list[str] = []
    for target in rule.targets:
        merged = ShardReport(target, reasons={})
        candidates = []
        for shard in rule.shards:
            try:
                report, found, failed = futures[(target, shard)].result()
            except Exception as exc:
                merged.source_errors += 1
                shard_errors.append(f"{target} shard {shard!r}: {type(exc).__name__}: {exc}")
                logger.error("listing or planning failed for %s shard %r: %s", target, shard, exc)
                continue
            merged = merged.merge(report)
            candidates.extend(found)
            failures.extend(failed)
        if rule.delete != "never" and merged.delete_candidates:
            merged.delete_refused = delete_refusal(merged.delete_candidates, merged.listed_source,
                                                   merged.listed_target, merged.source_errors, rule.max_delete,
                                                   rule.max_delete_percent)
            if merged.delete_refused:
                logger.warning("%s: no object deleted: %s", target, merged.delete_refused)
            elif not rule.dry_run:
                removed = remove_target_only(rule, target, profile, candidates, now)
                if rule.delete == "mirror":
                    merged.deleted = removed
                else:
                    merged.tombstoned = removed
        if rule.delete == "tombstone" and not rule.dry_run and not merged.source_errors:
            merged.purged = purge_expired_tombstones(rule, target, profile, now)
        reports.append(merged)
        create_table_artifact(key=f"replication-{_slug(rule.name)}-{_slug(target)}", table=[merged.row()],
                              description=f"Replication {rule.name}: {rule.source} -> {target}")

    markdown = summary_markdown(rule.name, rule.source, reports, now, rule.dry_run)
    if shard_errors:
        markdown += "\n## Shards that failed\n\n" + "\n".join(f"- {e}" for e in shard_errors) + "\n"
    create_markdown_artifact(key=f"replication-{_slug(rule.name)}-summary", markdown=markdown,
                             description=f"Replication {rule.name}")
    if failures:
        create_table_artifact(
            key=f"replication-{_slug(rule.name)}-failures",
            table=[{"key": f.key, "target": f.target, "error": f.error} for f in failures[:_FAILURE_ROWS]],
            description=f"{len(failures)} object(s) failed" + (f"; first {_FAILURE_ROWS} shown" if len(failures) >
                                                               _FAILURE_ROWS else ""),
        )
    summary = {"rule": rule.name, "dry_run": rule.dry_run, "targets": [r.row() for r in reports],
               "failures": [f.__dict__ for f in failures], "shard_errors": shard_errors}
    if failures or shard_errors:
        examples = [f"{f.key} -> {f.target}: {f.error}" for f in failures[:5]] + shard_errors[:3]
        raise RuntimeError(f"replication {rule.name}: {len(failures)} object(s) failed, "
                           f"{len(shard_errors)} shard(s) failed; " + "; ".join(examples))
    return summary


@flow(name="replicate-on-dask")
def replicate_on_dask(rule: ReplicationRule, profile: str | None = None) -> dict:
    """The same runbook with its tasks on a Dask cluster (chosen by `task_runner="dask"`)."""
    return run_rule(rule, profile)


@flow(name="replicate")
def replicate(
    rule: Annotated[ReplicationRule | None, Field(description="The rule, inline. Or name one in a rules file.")] = None,
    rules_file: Annotated[str | None, Field(description="YAML file with `rules:` (relative to the checkout).")] = None,
    rule_name: Annotated[str | None, Field(description="Name of the rule in `rules_file`.")] = None,
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty for MULTICLOUD_PROFILE.")] = None,
    task_runner: Annotated[Literal["threads", "dask"], Field(
        description="threads: tasks in this process. dask: a local Dask cluster of `dask_workers` processes.")] = "threads",
    dask_workers: Annotated[int, Field(ge=1, le=64, description="Dask worker processes.")] = 2,
) -> dict:
    chosen = resolve_rule(rule, rules_file, rule_name)
    if task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        runner = DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 2,
                                                "processes": True, "dashboard_address": None})
        return replicate_on_dask.with_options(task_runner=runner)(chosen, profile)
    return run_rule(chosen, profile)


@flow(name="verify-replica")
def verify(
    rule: Annotated[ReplicationRule | None, Field(description="The rule whose targets to check.")] = None,
    rules_file: Annotated[str | None, Field(description="YAML file with `rules:`.")] = None,
    rule_name: Annotated[str | None, Field(description="Name of the rule in `rules_file`.")] = None,
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty.")] = None,
    fraction: Annotated[float, Field(ge=0, le=1, description="Share of target objects re-read and re-hashed.")] = 1.0,
) -> list[dict]:
    chosen = resolve_rule(rule, rules_file, rule_name)
    results = [verify_target.submit(chosen, t, profile, fraction) for t in chosen.targets]
    rows = [f.result() for f in results]
    create_table_artifact(
        key=f"verify-{_slug(chosen.name)}",
        table=[{k: v for k, v in r.items() if k != "problems"} for r in rows],
        description=f"Verification of {chosen.name}: {fraction:.0%} of target objects re-hashed")
    problems = [{"target": r["target"], **p} for r in rows for p in r["problems"]]
    if problems:
        create_table_artifact(key=f"verify-{_slug(chosen.name)}-problems", table=problems[:_FAILURE_ROWS],
                              description=f"{len(problems)} problem(s)")
        raise RuntimeError(f"verify {chosen.name}: {len(problems)} problem(s), e.g. {problems[:3]}")
    return rows


if __name__ == "__main__":
    import sys

    print(replicate(rules_file=sys.argv[1], rule_name=sys.argv[2]))
