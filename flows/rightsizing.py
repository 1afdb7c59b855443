"""Idle and rightsizing detection across AWS, Azure and Google Cloud: every target of the scope (each
cloud, each AWS region) read in parallel, every resource judged by the shipped rules with its
evidence, and the findings published (table, summary, Parquet and CSV, charts). Resources without
enough data are reported as such, never dropped."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from prefect import flow
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from multicloud.config import load_profile
from multicloud.config.rightsizing import RightsizingScope, resolve_scope
from multicloud.core.costs.decisions import run_label
from multicloud.core.rightsizing.runs import RunSummary
from tasks.rightsizing import (
    collect_scans, judge_resources, load_rules, publish_report, read_inventory, read_metrics, write_outputs,
)


@flow(name="rightsizing", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=6))
def rightsizing(
    scope_file: Annotated[str | None, Field(description="YAML scope: clouds, regions, rules, output.")] =
        "deployments/rightsizing/scopes/local.yaml",
    scope: Annotated[RightsizingScope | None, Field(description="The scope inline (instead of the file).")] = None,
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty for MULTICLOUD_PROFILE.")] = None,
    now: Annotated[datetime | None, Field(description="The time judged as of (default: now, UTC).")] = None,
) -> RunSummary:
    """Rules → inventory per target → metrics per target → judge → outputs → report."""
    scope = resolve_scope(scope, scope_file)
    connections = load_profile(profile)
    now = now or datetime.now(timezone.utc)
    run = run_label(now, flow_run.get_id())
    rules = load_rules(scope)
    targets = scope.targets()
    listed = collect_scans("inventory", targets,
                           [read_inventory.submit(t, connections, scope.select_tags) for t in targets])
    read = collect_scans("metrics", [t for t, _ in listed.read],
                         [read_metrics.submit(t, connections, scan, rules, now) for t, scan in listed.read], listed)
    judged = judge_resources(rules, read.scans, now)
    # Where the later stages fill each Finding (tasks/rightsizing_<part>.py: target type, savings from
    # the FOCUS dataset and the price catalogs, the cloud's own advice) and give the commitments and
    # arbitrage sections: judged = judged.with_findings(...), publish_report(..., commitments, arbitrage).
    files = write_outputs(judged, read.scans, rules, scope.output, run, connections)
    summary = publish_report(judged, read.scans, rules, files, run, now, read.failures)
    summary.raise_if_incomplete()
    return summary


if __name__ == "__main__":
    import sys

    print(rightsizing(scope_file=sys.argv[1] if len(sys.argv) > 1 else "deployments/rightsizing/scopes/local.yaml"))
