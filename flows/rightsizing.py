"""Idle and rightsizing detection across AWS, Azure and Google Cloud: every target of the scope (each
cloud, each AWS region) read in parallel, every resource judged by the shipped rules with its
evidence; then each finding gets its target type, its savings in money (the FOCUS dataset's effective
cost and the catalogs' list prices) and the cloud's own advice beside it; commitments are sized from
on-demand spend and the shapes in use priced on every cloud; the findings are published (table,
summary, Parquet and CSV, charts); and, when asked, the approved actions are carried out (practice
mode by default). Resources without enough data are reported as such, never dropped."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from prefect import flow
from prefect.exceptions import FlowPauseTimeout
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from multicloud.config import Profile, load_profile
from multicloud.config.rightsizing import RightsizingScope, resolve_scope
from multicloud.config.rightsizing_actions import ActionTargets
from multicloud.core.costs.decisions import run_label
from multicloud.core.metrics import rightsizing_metrics
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.market import merged_markets
from multicloud.core.rightsizing.runs import RunSummary
from tasks.metrics import publish_metrics
from tasks.rightsizing import (
    Collected, RuleSet, collect_scans, judge_resources, load_rules, publish_report, read_inventory, read_metrics,
    result_of, settled, write_outputs,
)
from tasks.rightsizing_actions import APPROVAL, ask_approval, carry_out, open_journal, plan_and_journal, \
    publish_actions
from tasks.rightsizing_advice import compare_with_advice, read_cloud_advice
from tasks.rightsizing_market import read_market
from tasks.rightsizing_money import price_findings_task, recommend_commitments
from tasks.rightsizing_shapes import arbitrage_table, choose_rightsizing_targets


@flow(name="rightsizing", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=6))
def rightsizing(
    scope_file: Annotated[str | None, Field(description="YAML scope: clouds, regions, rules, output.")] =
        "deployments/rightsizing/scopes/local.yaml",
    scope: Annotated[RightsizingScope | None, Field(description="The scope inline (instead of the file).")] = None,
    profile: Annotated[str | None, Field(description="'local', a profile file, or empty for MULTICLOUD_PROFILE.")] = None,
    now: Annotated[datetime | None, Field(description="The time judged as of (default: now, UTC).")] = None,
    actions: Annotated[bool, Field(description="Offer the findings for approval and carry out the approved "
                                   "stop / snapshot-and-delete / release actions (practice mode by default).")] = False,
) -> RunSummary:
    """Rules → inventory and metrics per target → judge → markets → targets → savings → advice →
    arbitrage and commitments → outputs → report → approved actions."""
    scope = resolve_scope(scope, scope_file)
    connections = load_profile(profile)
    now = now or datetime.now(timezone.utc)
    run = run_label(now, flow_run.get_id())
    rules = load_rules(scope)
    advice_reads = scope.advice_reads()
    advice = [read_cloud_advice.submit(connections, **read) for read in advice_reads]
    planned = recommend_commitments.submit(scope.focus_dataset, connections, now, rates=scope.commitment_rates)
    read = read_targets(scope, connections, rules, now)
    judged = judge_resources(rules, read.scans, now)
    markets = settled("market", scope.clouds(), [read_market.submit(cloud, scope, connections, read.resources,
                                                                    rules.rules, now) for cloud in scope.clouds()],
                      read.failures)
    catalogs, prices, unit_prices = merged_markets(markets)
    judged = judged.with_findings(choose_rightsizing_targets(judged.findings, rules.rules, prices))
    judged = judged.with_findings(price_findings_task(judged.findings, scope.focus_dataset, connections, prices,
                                                      unit_prices, now))
    advised = settled("advice", [r["cloud"] for r in advice_reads], advice, read.failures)
    judged = judged.with_findings(compare_with_advice(judged.findings, advised, judged.outcomes)[0])
    arbitrage = arbitrage_table(read.resources, catalogs, prices)
    commitments = result_of("commitments", "commitments", planned, read.failures)
    files = write_outputs(judged, read.scans, rules, scope.output, run, connections)
    summary = publish_report(judged, read.scans, rules, files, run, now, read.failures, markets, commitments,
                             arbitrage)
    publish_metrics([rightsizing_metrics(scope_file or "inline", judged.findings, datetime.now(timezone.utc),
                                         not read.failures)], connections)
    if actions:
        act_on_findings(list(judged.findings), connections, scope.output, str(flow_run.get_id()),
                        scope.action_targets(), approval_timeout_seconds=scope.approval_timeout_seconds)
    summary.raise_if_incomplete()
    return summary


def read_targets(scope: RightsizingScope, connections: Profile, rules: RuleSet, now: datetime) -> Collected:
    """Every target's inventory, then its metrics, each target a parallel task; failures kept."""
    targets = scope.targets()
    listed = collect_scans("inventory", targets,
                           [read_inventory.submit(t, connections, scope.select_tags) for t in targets])
    return collect_scans("metrics", [t for t, _ in listed.read],
                         [read_metrics.submit(t, connections, scan, rules, now) for t, scan in listed.read], listed)


def act_on_findings(findings: list[Finding], profile: Profile, journal_url: str, run_id: str,
                    targets: ActionTargets = ActionTargets(), practice: bool = True,
                    approval_timeout_seconds: int = 3600) -> dict:
    """The actions step, inside a flow run (which it pauses for approval): journal the plan, carry
    out each approved action as its own task, report. A timed-out approval does nothing and says so."""
    try:
        answer = ask_approval(findings, practice, approval_timeout_seconds)
    except FlowPauseTimeout:
        reason = f"no answer within {approval_timeout_seconds} s: nothing was done"
        open_journal(journal_url, run_id, profile).append(APPROVAL, "failed", datetime.now(timezone.utc),
                                                          {"reason": reason}, practice)
        answer = {"approved_ids": [], "approver": "", "comment": reason, "practice": practice}
    planned = plan_and_journal(findings, answer, journal_url, run_id, profile)
    futures = [carry_out.submit(p, profile, targets, journal_url, run_id) for p in planned if p.will_run]
    return publish_actions(planned, [f.result() for f in futures], answer["practice"], run_id)


if __name__ == "__main__":
    import sys

    print(rightsizing(scope_file=sys.argv[1] if len(sys.argv) > 1 else "deployments/rightsizing/scopes/local.yaml"))
