"""Rightsizing targets: the cheapest type of the same architecture (and family, unless the rule allows
any) whose projected CPU and memory stay at or under 100 - headroom, boundary-tested at, just above and
just below the headroom; memory not observed gives no target ("memory unknown"); and every finding left
without a target says why. The last test runs the shipped Compute Optimizer rule through `evaluate`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.rightsizing import FINDING, INSUFFICIENT, Evidence, Outcome, Resource, Series, evaluate
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.prices import Shape, ShapePrice
from multicloud.core.rightsizing.targets import MEMORY_UNKNOWN, choose_targets

ROOT = Path(__file__).resolve().parents[2]
RULES = {r.name: r for r in load_rule_sets(sorted((ROOT / "deployments" / "rightsizing").glob("*.yaml")))}
CO = RULES["co-ec2-over-provisioned"]          # headroom 20 % CPU and memory: limits 80 / 80
ANY = CO.model_copy(update={"target_families": "any"})
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
REGION = "us-east-1"
TABLE = [  # type, vCPUs, MiB, architecture, USD per hour
    ("m5.large", 2, 8192, "x86_64", "0.096"), ("m5.xlarge", 4, 16384, "x86_64", "0.192"),
    ("m5.2xlarge", 8, 32768, "x86_64", "0.384"), ("c5.large", 2, 4096, "x86_64", "0.085"),
    ("t3.medium", 2, 4096, "x86_64", "0.0416"), ("r5.large", 2, 16384, "x86_64", "0.126"),
    ("m6g.large", 2, 8192, "arm64", "0.077"),
]
PRICES = [ShapePrice(Shape("aws", t, v, m, a, t.split(".")[0]), REGION, on_demand_hourly=Decimal(p),
                     source="test table") for t, v, m, a, p in TABLE]


def finding(vm_type: str = "m5.xlarge", cpu: float | None = 40.0, memory: float | None = 40.0, *,
            rule=CO, status: str = FINDING, action: str = "resize", region: str = REGION) -> Finding:
    spec = next(row for row in TABLE if row[0] == vm_type)
    res = Resource(cloud="aws", id="i-1", kind="vm", region=region, type=vm_type, state="running",
                   architecture=spec[3], vcpus=spec[1], memory_mib=spec[2])
    evidence = tuple(Evidence(f"{m} condition", value, None if value is None else True, metric=m, statistic="max")
                     for m, value in (("cpu_utilization", cpu), ("memory_utilization", memory)))
    outcome = Outcome(rule.name, res.id, "aws", "vm", status, "test", rule.finding, action, str(rule.source),
                      evidence)
    return Finding(outcome=outcome, resource=res)


def target(f: Finding, rule=CO) -> Finding:
    return choose_targets([f], [rule], PRICES)[0]


@pytest.mark.parametrize("cpu, memory, expected", [
    (40.0, 40.0, "m5.large"),        # projected exactly 80 % CPU and 80 % memory: at the headroom, allowed
    (39.999, 39.999, "m5.large"),    # just below
    (40.001, 10.0, ""),              # CPU just above: 80.002 % on m5.large
    (10.0, 40.001, ""),              # memory just above
])
def test_headroom_boundary(cpu, memory, expected):
    out = target(finding(cpu=cpu, memory=memory))
    assert out.target_type == expected
    if expected:
        assert "projected CPU" in out.target_note and "≤ 80 %" in out.target_note
    else:
        limit = "CPU" if cpu > 40 else "memory"
        assert "none of the 1 cheaper type(s) (x86_64, family m5)" in out.target_note
        assert f"{1 if limit == 'CPU' else 0} would exceed the CPU limit" in out.target_note
        assert f"{1 if limit == 'memory' else 0} the memory limit" in out.target_note


def test_memory_not_observed_never_downsizes_on_cpu_alone():
    out = target(finding(cpu=1.0, memory=None, status=INSUFFICIENT))
    assert out.target_type == "" and out.target_note.startswith(MEMORY_UNKNOWN)
    fired_without_memory = target(finding(cpu=1.0, memory=None))
    assert fired_without_memory.target_type == "" and fired_without_memory.target_note.startswith(MEMORY_UNKNOWN)


def test_other_families_only_when_the_rule_allows_them():
    low = finding("m5.xlarge", cpu=20.0, memory=15.0)
    # same family: the half size; any family: t3.medium (CPU 40 %, memory 60 %) is the cheapest that fits,
    # and the cheaper arm64 m6g.large is never offered to an x86_64 VM
    assert target(low).target_type == "m5.large"
    assert target(low, ANY).target_type == "t3.medium"
    # memory 25 % of 16 GiB projects to 100 % on a 4 GiB type: r5/m5 at 8+ GiB are left
    assert target(finding("m5.xlarge", cpu=20.0, memory=25.0), ANY).target_type == "m5.large"


def test_architecture_is_kept():
    arm = ShapePrice(Shape("aws", "m6g.medium", 1, 4096, "arm64", "m6g"), REGION, on_demand_hourly=Decimal("0.0385"))
    res = Resource(cloud="aws", id="i-2", kind="vm", region=REGION, type="m6g.large", architecture="arm64",
                   vcpus=2, memory_mib=8192)
    f = finding()
    f = Finding(outcome=f.outcome, resource=res)
    out = choose_targets([f], [CO], [*PRICES, arm])[0]
    assert out.target_type == "m6g.medium"


def test_no_cheaper_shape_says_why():
    out = target(finding("m5.large", cpu=5.0, memory=5.0))
    assert out.target_type == ""
    assert out.target_note == "no type (x86_64, family m5) is priced below m5.large (0.096/h) in the region: " \
                              "no cheaper target"


def test_missing_price_rule_and_non_resize_findings():
    assert "no on-demand price for m5.xlarge in eu-west-1" in target(finding(region="eu-west-1")).target_note
    lost = choose_targets([finding()], [], PRICES)[0]
    assert lost.target_type == "" and "was not given" in lost.target_note
    idle = finding(action="stop")
    assert choose_targets([idle], [CO], PRICES)[0] == idle
    cleared = target(finding(status="clear"))
    assert cleared.target_type == "" and "did not fire (clear)" in cleared.target_note


def test_shipped_rule_end_to_end():
    """Compute Optimizer's rule fires on 14 days of 5-minute maxima, and the target comes from its own
    evidence: P99.5 CPU 30 % and peak memory 35 % on m5.xlarge fit m5.large (60 % / 70 %)."""
    start = NOW - timedelta(days=14)
    times = [start + timedelta(minutes=5 * i) for i in range(14 * 288)]
    series = [Series("cpu_utilization", "max", 300, tuple((t, 30.0) for t in times)),
              Series("memory_utilization", "max", 300, tuple((t, 35.0) for t in times))]
    vm = Resource(cloud="aws", id="i-9", kind="vm", region=REGION, type="m5.xlarge", state="running",
                  architecture="x86_64", vcpus=4, memory_mib=16384)
    [outcome] = evaluate([CO], [vm], {"i-9": series}, NOW)
    assert outcome.status == FINDING
    [out] = choose_targets([Finding(outcome=outcome, resource=vm)], list(RULES.values()), PRICES)
    assert out.target_type == "m5.large"
    assert "projected CPU 60 %, memory 70 %" in out.target_note

