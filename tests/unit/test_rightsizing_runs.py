"""What a rightsizing run reports, without clouds: tag selection, findings sorted by savings, totals
per cloud and kind per currency, rows that say why a figure is empty, the summary's sections, and the
chart's choice of VM and thresholds."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.rightsizing import Resource, Series
from multicloud.core.rightsizing.records import Inventory, MetricsResult
from multicloud.core.rightsizing.runs import (
    Scan, Section, chart_choice, finding_row, judge, selected, summary_markdown, totals,
)

NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
RULES = load_rule_sets(sorted((Path(__file__).resolve().parents[2] / "deployments" / "rightsizing").glob("*.yaml")))


def hourly(value: float, days: int = 14) -> tuple:
    return tuple((NOW - timedelta(hours=h + 1), value) for h in range(days * 24))


def scans() -> list[Scan]:
    idle = Resource("aws", "i-idle", "vm", region="eu-west-1", type="m5.large", vcpus=2, memory_mib=8192)
    disk = Resource("aws", "vol-free", "disk", attached=False)
    ip = Resource("azure", "/sub/ip", "ip", associated=False)
    nodata = Resource("gcp", "//vm/nodata", "vm", vcpus=2)
    series = {"i-idle": [Series("cpu_utilization", "average", 3600, hourly(1.0)),
                         Series("network_in_bytes", "sum", 3600, hourly(100.0)),
                         Series("network_out_bytes", "sum", 3600, hourly(100.0))]}
    return [Scan("aws-eu-west-1", "aws", Inventory([idle, disk]), 3, MetricsResult(series=series, requests=2)),
            Scan("azure", "azure", Inventory([ip], throttle_waits=[1.5])), Scan("gcp", "gcp", Inventory([nodata]))]


def test_selected_keeps_resources_with_every_tag_and_counts_the_rest():
    a = Resource("aws", "a", "vm", tags={"run": "1", "team": "x"})
    b = Resource("aws", "b", "vm", tags={"run": "2"})
    assert selected([a, b], {"run": "1"}) == ([a], 1)
    assert selected([a, b], {}) == ([a, b], 0)


def test_findings_are_sorted_by_savings_and_totals_keep_currencies_apart():
    judged = judge(RULES, scans(), NOW)
    fired = {(f.resource.id, f.outcome.rule) for f in judged.findings}
    assert {("i-idle", "ta-low-utilization-ec2"), ("vol-free", "unattached-disk"), ("/sub/ip", "unassociated-ip")} <= fired
    assert any(o.resource == "//vm/nodata" and o.status == "insufficient_data" for o in judged.not_judged)
    by_id = {f.resource.id: f for f in judged.findings}
    priced = judged.with_findings([
        replace(by_id["vol-free"], monthly_effective_savings=Decimal("4.005"), monthly_list_savings=Decimal("5")),
        replace(by_id["/sub/ip"], monthly_list_savings=Decimal("3.6"), currency="EUR"),
        by_id["i-idle"]])
    assert [f.resource.id for f in priced.findings] == ["vol-free", "/sub/ip", "i-idle"]
    rows = {(t["cloud"], t["kind"], t["currency"]): t for t in totals(priced.findings)}
    assert rows[("aws", "waste", "USD")]["effective"] == Decimal("4.005")
    assert rows[("azure", "waste", "EUR")]["effective"] is None and rows[("azure", "waste", "EUR")]["list"] == Decimal("3.6")
    assert rows[("aws", "idle", "USD")]["without"] == 1 and rows[("aws", "idle", "USD")]["list"] is None
    row = finding_row(priced.findings[0])
    assert (row["monthly_effective_savings"], row["monthly_list_savings"], row["savings_note"]) == ("4.00", "5.00", "")
    idle = finding_row(priced.findings[2])
    assert idle["monthly_effective_savings"] == "not computed" and idle["savings_note"] == "savings not computed in this run"
    assert "on the matching days: 1–1" in idle["observed"]


def test_summary_has_every_section_and_says_what_was_not_computed():
    judged = judge(RULES, scans(), NOW)
    text = summary_markdown("run-1", NOW, judged, scans(), len(RULES), {"findings.csv": "s3://b/run-1/findings.csv"},
                            ["gcp (metrics): Throttled"], arbitrage=Section("| shape | cheapest |"))
    assert "4 resources in 3 target(s) (3 left out by the run's tags)" in text
    assert "**Not read**" in text and "- gcp (metrics): Throttled" in text
    assert "## Commitments\n\nNot computed: no stage of this run computes it yet." in text
    assert "## Cross-cloud arbitrage\n\n| shape | cheapest |" in text
    assert "| azure | 1 | 0 | 0 | 0 | 0 | 1 | 1.5 |" in text           # the throttling wait, reported
    assert "## Not judged: insufficient data or skipped" in text and "- [findings.csv](s3://b/run-1/findings.csv)" in text


def test_the_chart_shows_the_first_vm_finding_judged_on_direct_metrics():
    judged = judge(RULES, scans(), NOW)
    finding, lines = chart_choice(judged, RULES)
    assert (finding.resource.id, finding.outcome.rule) == ("i-idle", "ta-low-utilization-ec2")
    # network_io_bytes is derived (in + out): only the CPU condition is drawn over its series
    assert [(t.metric, t.series_statistic, t.period_seconds, t.threshold) for t in lines] == [
        ("cpu_utilization", "average", 3600, 10.0)]
