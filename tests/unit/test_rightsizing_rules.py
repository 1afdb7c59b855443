"""Boundary tests of every shipped rightsizing rule (deployments/rightsizing): at, just above and just
below each threshold, the days-matching count, data coverage and every missing-data policy; plus the
nearest-rank percentile against numpy and the keep-tag exclusion."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.rightsizing import (
    CLEAR, EXCLUDED, FINDING, INSUFFICIENT, SKIPPED, Resource, Series, evaluate, evaluate_rule, percentile,
    required_series,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = {r.name: r for r in load_rule_sets(sorted((ROOT / "deployments" / "rightsizing").glob("*.yaml")))}
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
VM = Resource(cloud="aws", id="i-1", kind="vm", type="m5.large", state="running", vcpus=2)
DB = Resource(cloud="aws", id="db-1", kind="database")


def series(metric: str, stat: str, period_min: int, values, days: int, start: datetime | None = None) -> Series:
    """A series of `values` (a list, or one value repeated) from `start` (default: `days` before NOW)."""
    start = start or NOW - timedelta(days=days)
    count = days * 1440 // period_min
    values = values if isinstance(values, list) else [values] * count
    step = timedelta(minutes=period_min)
    return Series(metric, stat, period_min * 60, tuple((start + i * step, float(v)) for i, v in enumerate(values)))


def spread(low: float, n_low: int, high: float, n_high: int) -> list[float]:
    """n_high `high` points first, then n_low `low` ones: a percentile's rank decides which it sees."""
    return [high] * n_high + [low] * n_low


def with_rule(name: str, **changes):
    return RULES[name].model_copy(update=changes)


def test_every_shipped_rule_is_tested_here():
    tested = {"ta-low-utilization-ec2", "ta-idle-rds", "co-ec2-over-provisioned", "azure-advisor-shutdown",
              "azure-advisor-resize", "gcp-idle-vm", "gcp-machine-type", "unattached-disk", "unassociated-ip",
              "old-snapshot", "orphaned-snapshot", "stopped-vm-with-disks"}
    assert set(RULES) == tested


# ---- statistics ---------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=300),
       st.sampled_from(["50", "90", "95", "97", "99", "99.5", "100", "0.1", "33.3"]))
def test_percentile_is_numpy_inverted_cdf(values, pct):
    assert percentile(values, Fraction(pct)) == np.percentile(values, float(pct), method="inverted_cdf")


def test_percentile_rank_is_exact():
    # 97 % of 100 points is rank 97 exactly (0.97 * 100 is 97.00000000000001 in floating point)
    assert percentile(list(range(1, 101)), Fraction("97")) == 97
    assert percentile([5.0], Fraction(1)) == 5.0


# ---- AWS Trusted Advisor: low-utilisation EC2 (4 of 14 days at ≤ 10 % CPU and ≤ 5 MB network) ----

def ta_series(idle_days: int, cpu: float = 10.0, net: float = 5_000_000, empty_days: int = 0) -> list[Series]:
    """14 hourly days: `idle_days` idle ones at `cpu` and `net` bytes (in + out, in the day's first hour),
    then `empty_days` without any point, the rest busy (50 % CPU, 1 GB)."""
    cpu_pts, in_pts, out_pts = [], [], []
    start = NOW - timedelta(days=14)
    for day in range(14):
        if idle_days <= day < idle_days + empty_days:
            continue
        idle = day < idle_days
        for hour in range(24):
            t = start + timedelta(days=day, hours=hour)
            cpu_pts.append((t, cpu if idle else 50.0))
            total = net if idle else 1e9
            in_pts.append((t, total * 0.6 if hour == 0 else 0.0))
            out_pts.append((t, total - total * 0.6 if hour == 0 else 0.0))
    return [Series("cpu_utilization", "average", 3600, tuple(cpu_pts)),
            Series("network_in_bytes", "sum", 3600, tuple(in_pts)),
            Series("network_out_bytes", "sum", 3600, tuple(out_pts))]


@pytest.mark.parametrize("idle_days,cpu,net,status", [
    (4, 10.0, 5_000_000, FINDING),          # at both thresholds, on exactly 4 days
    (4, 9.999, 4_999_999, FINDING),         # just below
    (4, 10.001, 5_000_000, CLEAR),          # CPU just above
    (4, 10.0, 5_000_001, CLEAR),            # network just above
    (3, 1.0, 0, CLEAR),                     # one day short
    (5, 1.0, 0, FINDING),
])
def test_trusted_advisor_low_utilization(idle_days, cpu, net, status):
    out = evaluate_rule(RULES["ta-low-utilization-ec2"], VM, ta_series(idle_days, cpu, net), NOW)
    assert out.status == status, out.reason
    assert out.evidence[-1].observed == (idle_days if status == FINDING else sum(d.matched is True for d in out.days))
    assert len(out.days) == 14
    if status == FINDING:
        day = out.days[0]
        assert [e.observed for e in day.evidence] == [pytest.approx(cpu), net]
        assert out.source.startswith("https://docs.aws.amazon.com/awssupport/")


@pytest.mark.parametrize("policy,status", [("unknown", INSUFFICIENT), ("skip", SKIPPED), ("zero", FINDING)])
def test_trusted_advisor_missing_days_follow_the_policy(policy, status):
    # 3 idle days and 1 day without data: the 4th day decides, so the policy does
    rule = with_rule("ta-low-utilization-ec2", missing_data=policy)
    out = evaluate_rule(rule, VM, ta_series(3, 1.0, 0, empty_days=1), NOW)
    assert out.status == status, out.reason
    if status != FINDING:
        assert "no data points" in out.reason


def test_trusted_advisor_missing_days_that_cannot_change_the_answer():
    # 2 idle days and 1 empty day: even if the empty day were idle, 3 < 4, so it is clear
    out = evaluate_rule(RULES["ta-low-utilization-ec2"], VM, ta_series(2, 1.0, 0, empty_days=1), NOW)
    assert out.status == CLEAR
    assert evaluate_rule(RULES["ta-low-utilization-ec2"], VM, [], NOW).status == INSUFFICIENT


def test_days_matching_applies_min_coverage_per_day():
    rule = with_rule("ta-low-utilization-ec2", min_coverage_fraction=0.5)
    data = ta_series(4, 1.0, 0)
    cpu = data[0]
    # day 0 keeps 11 of its 24 hours (below 50 %), so only 3 days are known idle and 1 is unknown
    kept = tuple(p for p in cpu.points if not (NOW - timedelta(days=14) + timedelta(hours=11) <= p[0]
                                                < NOW - timedelta(days=13)))
    out = evaluate_rule(rule, VM, [Series(cpu.metric, cpu.statistic, 3600, kept), *data[1:]], NOW)
    assert out.status == INSUFFICIENT
    assert "coverage 45.8% is below the rule's minimum 50%" in out.reason


# ---- AWS Compute Optimizer: P99.5 of 5-min maxima ≤ 40 %, memory ≤ 40 %, ≥ 30 h --------------------

CO_POINTS = 14 * 288  # 4032; nearest rank of P99.5 is 4012, so 20 points may be above it


def co(cpu: list[float] | float, memory: float | None = 30.0, days: int = 14) -> list[Series]:
    out = [series("cpu_utilization", "max", 5, cpu, days)]
    if memory is not None:
        out.append(series("memory_utilization", "max", 5, memory, days))
    return out


@pytest.mark.parametrize("cpu,memory,status", [
    (spread(40.0, CO_POINTS - 20, 100.0, 20), 30.0, FINDING),     # P99.5 at 40; 20 peaks ignored
    (spread(39.999, CO_POINTS - 20, 100.0, 20), 40.0, FINDING),   # just below; memory at 40
    (spread(40.001, CO_POINTS - 20, 100.0, 20), 30.0, CLEAR),     # just above
    (spread(40.0, CO_POINTS - 21, 100.0, 21), 30.0, CLEAR),       # 21 peaks reach the P99.5 rank
    (spread(10.0, CO_POINTS, 0, 0), 40.001, CLEAR),               # memory just above
])
def test_compute_optimizer_thresholds(cpu, memory, status):
    out = evaluate_rule(RULES["co-ec2-over-provisioned"], VM, co(cpu, memory), NOW)
    assert out.status == status, out.reason
    assert out.evidence[0].points == CO_POINTS


def test_compute_optimizer_never_downsizes_on_cpu_alone():
    out = evaluate_rule(RULES["co-ec2-over-provisioned"], VM, co(5.0, memory=None), NOW)
    assert out.status == INSUFFICIENT
    assert "memory_utilization" in out.reason and "no data points" in out.reason
    assert out.evidence[0].held is True and out.evidence[0].observed == 5.0  # the CPU evidence is kept
    # but a busy CPU is clear whatever memory would say
    assert evaluate_rule(RULES["co-ec2-over-provisioned"], VM, co(90.0, memory=None), NOW).status == CLEAR


@pytest.mark.parametrize("points,status", [(360, FINDING), (359, INSUFFICIENT)])
def test_compute_optimizer_needs_30_hours(points, status):
    start = NOW - timedelta(minutes=5 * points)
    data = [Series(m, "max", 300, tuple((start + timedelta(minutes=5 * i), 10.0) for i in range(points)))
            for m in ("cpu_utilization", "memory_utilization")]
    out = evaluate_rule(RULES["co-ec2-over-provisioned"], VM, data, NOW)
    assert out.status == status, out.reason
    if status == INSUFFICIENT:
        assert "29.9167 hours of data, below the rule's minimum 30 hours" in out.reason


def test_points_outside_the_window_do_not_count():
    old = [series("cpu_utilization", "max", 5, 1.0, 14, start=NOW - timedelta(days=30)),
           series("memory_utilization", "max", 5, 1.0, 14, start=NOW - timedelta(days=30))]
    out = evaluate_rule(RULES["co-ec2-over-provisioned"], VM, old, NOW)
    assert out.status == INSUFFICIENT


# ---- Azure Advisor shutdown: P95 max CPU < 3 %, P100 avg CPU (3 days) ≤ 2 %, P95 net out < 2 % -----

AZ_POINTS = 7 * 48  # 336; nearest rank of P95 is 320


def azure(cpu_max: list[float] | float = 1.0, cpu_avg: list[float] | float = 1.0,
          net: list[float] | float = 1.0, memory: float = 10.0) -> list[Series]:
    return [series("cpu_utilization", "max", 30, cpu_max, 7), series("cpu_utilization", "average", 30, cpu_avg, 7),
            series("network_out_utilization", "max", 30, net, 7), series("memory_utilization", "max", 30, memory, 7)]


@pytest.mark.parametrize("kwargs,status", [
    (dict(cpu_max=spread(2.999, 320, 50.0, 16)), FINDING),        # P95 just below 3
    (dict(cpu_max=spread(3.0, 320, 0.0, 0)), CLEAR),              # at 3: not < 3
    (dict(cpu_max=spread(2.999, 319, 50.0, 17)), CLEAR),          # 17 peaks reach the P95 rank
    (dict(cpu_avg=2.0), FINDING),                                 # P100 at 2
    (dict(cpu_avg=2.001), CLEAR),                                 # just above
    (dict(cpu_avg=[9.0] * (4 * 48) + [1.99] * (3 * 48)), FINDING),  # only the last 3 days count
    (dict(cpu_avg=[1.0] * (4 * 48) + [2.001] * (3 * 48)), CLEAR),
    (dict(net=1.999), FINDING),
    (dict(net=2.0), CLEAR),
])
def test_azure_advisor_shutdown(kwargs, status):
    out = evaluate_rule(RULES["azure-advisor-shutdown"], VM, azure(**kwargs), NOW)
    assert out.status == status, out.reason
    assert out.evidence[1].points == 3 * 48


@pytest.mark.parametrize("kwargs,status", [
    (dict(cpu_max=20.0, net=20.0, memory=30.0), FINDING),    # at every threshold
    (dict(cpu_max=19.999, net=19.999, memory=29.999), FINDING),
    (dict(cpu_max=20.001, net=20.0, memory=30.0), CLEAR),
    (dict(cpu_max=20.0, net=20.001, memory=30.0), CLEAR),
    (dict(cpu_max=20.0, net=20.0, memory=30.001), CLEAR),
    (dict(cpu_max=spread(20.0, 320, 90.0, 16), net=20.0, memory=30.0), FINDING),
])
def test_azure_advisor_resize(kwargs, status):
    out = evaluate_rule(RULES["azure-advisor-resize"], VM, azure(**kwargs), NOW)
    assert out.status == status, out.reason


def test_azure_advisor_resize_without_memory_is_insufficient():
    data = [s for s in azure(cpu_max=5.0, net=5.0) if s.metric != "memory_utilization"]
    assert evaluate_rule(RULES["azure-advisor-resize"], VM, data, NOW).status == INSUFFICIENT


# ---- GCP idle VM: < 0.03 vCPU for 97 %, < 2000 B/s in and < 1000 B/s out for 95 %, ≥ 1 day ----------

GCP_POINTS = 14 * 288  # 4032; nearest rank of P97 is 3912, of P95 3831


def gcp(cpu, received: float = 0.0, sent: float = 0.0, days: int = 14) -> list[Series]:
    """cpu in percent of the VM's 2 vCPUs (1.5 % = 0.03 vCPU); received/sent in bytes per 5 minutes."""
    return [series("cpu_utilization", "average", 5, cpu, days),
            series("network_in_bytes", "sum", 5, received, days),
            series("network_out_bytes", "sum", 5, sent, days)]


@pytest.mark.parametrize("cpu,received,sent,status", [
    (spread(1.49, 3912, 80.0, 120), 0, 0, FINDING),      # 97 % of points at 0.0298 vCPU
    (spread(1.49, 3911, 80.0, 121), 0, 0, CLEAR),        # 121 busy points: below 97 %
    (spread(1.5, 4032, 0, 0), 0, 0, CLEAR),              # exactly 0.03 vCPU is not below it
    (1.0, 599_999, 0, FINDING),                          # 1999.997 B/s received
    (1.0, 600_000, 0, CLEAR),                            # 2000 B/s
    (1.0, 0, 299_999, FINDING),                          # 999.997 B/s sent
    (1.0, 0, 300_000, CLEAR),                            # 1000 B/s
])
def test_gcp_idle_vm(cpu, received, sent, status):
    out = evaluate_rule(RULES["gcp-idle-vm"], VM, gcp(cpu, received, sent), NOW)
    assert out.status == status, out.reason


def test_gcp_idle_vm_network_percentile_rank():
    received = [700_000.0] * 201 + [0.0] * (GCP_POINTS - 201)   # 201 of 4032 above: 95.01 % below
    assert evaluate_rule(RULES["gcp-idle-vm"], VM, gcp(1.0, received), NOW).status == FINDING
    received = [700_000.0] * 202 + [0.0] * (GCP_POINTS - 202)   # 94.99 % below
    assert evaluate_rule(RULES["gcp-idle-vm"], VM, gcp(1.0, received), NOW).status == CLEAR


def test_gcp_idle_vm_needs_the_vcpu_count_and_a_day_of_data():
    out = evaluate_rule(RULES["gcp-idle-vm"], Resource("gcp", "vm-1", "vm"), gcp(1.0), NOW)
    assert out.status == INSUFFICIENT and "needs the vCPU count" in out.reason
    assert evaluate_rule(RULES["gcp-idle-vm"], VM, gcp(1.0, days=1), NOW).status == FINDING
    short = [Series(s.metric, s.statistic, 300, s.points[1:]) for s in gcp(1.0, days=1)]
    out = evaluate_rule(RULES["gcp-idle-vm"], VM, short, NOW)
    assert out.status == INSUFFICIENT and "below the rule's minimum 24 hours" in out.reason


@pytest.mark.parametrize("cpu,memory,status", [(40.0, 40.0, FINDING), (39.999, 39.999, FINDING),
                                               (40.001, 30.0, CLEAR), (30.0, 40.001, CLEAR)])
def test_gcp_machine_type(cpu, memory, status):
    data = [series("cpu_utilization", "max", 5, cpu, 8), series("memory_utilization", "max", 5, memory, 8)]
    assert evaluate_rule(RULES["gcp-machine-type"], VM, data, NOW).status == status


# ---- idle database: no connection in 7 days ---------------------------------------------------------

@pytest.mark.parametrize("connections,status", [(0.0, FINDING), (0.999, FINDING), (1.0, CLEAR), (1.001, CLEAR)])
def test_idle_rds(connections, status):
    values = [0.0] * (7 * 24 - 1) + [connections]
    data = [series("database_connections", "max", 60, values, 7)]
    out = evaluate_rule(RULES["ta-idle-rds"], DB, data, NOW)
    assert out.status == status
    assert out.evidence[0].observed == connections


@pytest.mark.parametrize("policy,status", [("unknown", INSUFFICIENT), ("skip", SKIPPED), ("zero", FINDING)])
def test_idle_rds_without_data_follows_the_policy(policy, status):
    out = evaluate_rule(with_rule("ta-idle-rds", missing_data=policy), DB, [], NOW)
    assert out.status == status, out.reason
    if policy == "zero":
        assert out.evidence[0].zero_filled == 7 * 24 and out.evidence[0].observed == 0.0


def test_zero_policy_fills_only_the_missing_periods():
    values = [0.0] * (7 * 24 - 1) + [3.0]
    out = evaluate_rule(with_rule("ta-idle-rds", missing_data="zero"), DB,
                        [Series("database_connections", "max", 3600, series("database_connections", "max", 60,
                                                                            values, 7).points[-1:])], NOW)
    assert out.status == CLEAR and out.evidence[0].zero_filled == 7 * 24 - 1


# ---- waste: attributes ------------------------------------------------------------------------------

@pytest.mark.parametrize("rule,resource,status", [
    ("unattached-disk", Resource("aws", "vol-1", "disk", attached=False), FINDING),
    ("unattached-disk", Resource("aws", "vol-1", "disk", attached=True), CLEAR),
    ("unattached-disk", Resource("aws", "vol-1", "disk"), INSUFFICIENT),
    ("unassociated-ip", Resource("aws", "eip-1", "ip", associated=False), FINDING),
    ("unassociated-ip", Resource("aws", "eip-1", "ip", associated=True), CLEAR),
    ("old-snapshot", Resource("aws", "snap-1", "snapshot", created=NOW - timedelta(days=90)), CLEAR),
    ("old-snapshot", Resource("aws", "snap-1", "snapshot", created=NOW - timedelta(days=90, seconds=1)), FINDING),
    ("old-snapshot", Resource("aws", "snap-1", "snapshot", created=NOW - timedelta(days=89, hours=23)), CLEAR),
    ("old-snapshot", Resource("aws", "snap-1", "snapshot"), INSUFFICIENT),
    ("orphaned-snapshot", Resource("aws", "snap-1", "snapshot", source_exists=False), FINDING),
    ("orphaned-snapshot", Resource("aws", "snap-1", "snapshot", source_exists=True), CLEAR),
])
def test_waste_rules(rule, resource, status):
    out = evaluate_rule(RULES[rule], resource, [], NOW)
    assert out.status == status, out.reason


def stopped_vm(days: timedelta | None, disks: int = 1, state: str = "stopped") -> Resource:
    return Resource("aws", "i-2", "vm", state=state, attached_disks=disks,
                    stopped_since=None if days is None else NOW - days)


@pytest.mark.parametrize("resource,status", [
    (stopped_vm(timedelta(days=30)), CLEAR),
    (stopped_vm(timedelta(days=30, seconds=1)), FINDING),
    (stopped_vm(timedelta(days=29, hours=23)), CLEAR),
    (stopped_vm(timedelta(days=60), disks=0), CLEAR),
    (stopped_vm(timedelta(days=60), state="running"), CLEAR),
    (stopped_vm(None), INSUFFICIENT),
])
def test_stopped_vm_still_paying_for_disks(resource, status):
    out = evaluate_rule(RULES["stopped-vm-with-disks"], resource, [], NOW)
    assert out.status == status, out.reason
    if status == FINDING:
        assert [e.observed for e in out.evidence] == ["stopped", pytest.approx(30 + 1 / 86400), 1]


# ---- exclusion, evaluation of many, what to fetch -----------------------------------------------------

@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("tag", [{"multicloud:keep": "true"}, {"multicloud-keep": "TRUE"}])
def test_keep_tag_excludes_from_every_rule(name, tag):
    rule = RULES[name]
    resource = Resource("aws", "r-1", rule.kind, tags=tag, attached=False, associated=False, source_exists=False)
    out = evaluate_rule(rule, resource, [], NOW)
    assert out.status == EXCLUDED and "multicloud:keep=true" in out.reason


def test_keep_tag_false_is_not_an_exclusion():
    resource = Resource("aws", "vol-1", "disk", tags={"multicloud:keep": "false"}, attached=False)
    assert evaluate_rule(RULES["unattached-disk"], resource, [], NOW).status == FINDING


def test_evaluate_judges_each_resource_by_the_rules_of_its_kind():
    resources = [Resource("aws", "vol-1", "disk", attached=False), Resource("aws", "eip-1", "ip", associated=True)]
    outs = evaluate(RULES.values(), resources, {}, NOW)
    assert {(o.resource, o.rule, o.status) for o in outs} == {
        ("vol-1", "unattached-disk", FINDING), ("eip-1", "unassociated-ip", CLEAR)}
    assert outs[0].finding == "waste" and outs[0].action == "snapshot_and_delete"
    with pytest.raises(ValueError, match="is for disk"):
        evaluate_rule(RULES["unattached-disk"], VM, [], NOW)


def test_required_series_asks_for_base_series_of_derived_metrics():
    need = required_series([RULES["ta-low-utilization-ec2"], RULES["gcp-idle-vm"]])
    assert need == {("cpu_utilization", "average", 3600): 14, ("network_in_bytes", "sum", 3600): 14,
                    ("network_out_bytes", "sum", 3600): 14, ("cpu_utilization", "average", 300): 14,
                    ("network_in_bytes", "sum", 300): 14, ("network_out_bytes", "sum", 300): 14}


def test_a_rule_naming_clouds_judges_only_their_resources():
    from multicloud.config.rightsizing import Rule
    from multicloud.core.rightsizing import Resource, evaluate

    rule = Rule.model_validate({"name": "aws-only", "kind": "ip", "finding": "waste", "action": "release",
                                "source": "https://example.com/r", "clouds": ["aws"],
                                "when": [{"attribute": "associated", "op": "eq", "value": False}]})
    every = rule.model_copy(update={"name": "every", "clouds": []})
    ips = [Resource(cloud, f"{cloud}-ip", "ip", associated=False) for cloud in ("aws", "azure", "gcp")]
    judged = evaluate([rule, every], ips, {}, datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert sorted((o.rule, o.resource) for o in judged) == [
        ("aws-only", "aws-ip"), ("every", "aws-ip"), ("every", "azure-ip"), ("every", "gcp-ip")]
    shipped = load_rule_sets(sorted(Path("deployments/rightsizing").glob("*.yaml")))
    assert {r.name: r.clouds for r in shipped if r.name.startswith(("co-", "ta-", "azure-", "gcp-"))} == {
        "co-ec2-over-provisioned": ["aws"], "ta-low-utilization-ec2": ["aws"], "ta-idle-rds": [],
        "azure-advisor-shutdown": ["azure"], "azure-advisor-resize": ["azure"], "gcp-idle-vm": ["gcp"],
        "gcp-machine-type": ["gcp"]}


def test_a_window_long_period_is_one_point_aligned_to_the_hour():
    from multicloud.config.rightsizing import Rule
    from multicloud.core.rightsizing import Resource, Series, evaluate, window

    base = {"name": "window-average", "kind": "vm", "finding": "idle", "action": "stop",
            "source": "https://example.com/r", "window_days": 14, "period_minutes": 20160, "missing_data": "skip",
            "when": [{"metric": "cpu_utilization", "statistic": "average", "op": "lt", "threshold": 10}]}
    rule = Rule.model_validate(base)
    now = datetime(2026, 12, 1, 10, 42, tzinfo=timezone.utc)
    start, end = window(now, 20160 * 60, 14)
    assert end == datetime(2026, 12, 1, 10, tzinfo=timezone.utc) and end - start == timedelta(days=14)
    vm = Resource("aws", "i-1", "vm")
    at = lambda v: {"i-1": [Series("cpu_utilization", "average", 20160 * 60, ((start, v),))]}  # noqa: E731
    assert [o.status for o in evaluate([rule], [vm], at(9.99), now)] == ["finding"]
    assert [o.status for o in evaluate([rule], [vm], at(10.0), now)] == ["clear"]
    assert [o.status for o in evaluate([rule], [vm], {}, now)] == ["skipped"]
    for bad, why in (({"period_minutes": 2000}, "only the whole window"),
                     ({"min_data_hours": 30}, "cannot be judged"), ({"min_coverage_fraction": 0.5}, "cannot be judged")):
        with pytest.raises(ValueError, match=why):
            Rule.model_validate({**base, **bad})
