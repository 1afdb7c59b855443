"""AWS Compute Optimizer's advice through the real boto3 client against a local server answering its
JSON 1.0 requests (multicloud/testing/fakes/fake_compute_optimizer.py): the requests botocore 1.44.8
really sends, nextToken pages, the records in our vocabulary with the inventory's ids, throttling
retried with its waits reported, and an account not opted in. The ids are checked end to end against
the AWS inventory read from moto: an unattached volume our waste rule finds, and that Compute Optimizer
calls unattached, agrees."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from multicloud.clouds.aws.compute_optimizer import read_advice, resource_id
from multicloud.clouds.aws.inventory import read_inventory
from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.errors import PermissionDenied, Throttled
from multicloud.core.retry import RetryPolicy
from multicloud.core.rightsizing import evaluate
from multicloud.core.rightsizing.advice import AGREES, NO_ADVICE, compare_advice
from multicloud.core.rightsizing.findings import Finding
from multicloud.testing.fakes.fake_compute_optimizer import FakeComputeOptimizer

FAST = RetryPolicy(attempts=3, base_seconds=0.01, cap_seconds=0.02)
RULES_DIR = Path(__file__).resolve().parents[2] / "deployments" / "rightsizing"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)


def conn_for(fake: FakeComputeOptimizer) -> Connection:
    return Connection(name=f"co-{fake.port}", cloud="aws", endpoint=fake.url, region="us-east-1",
                      credentials="emulator")


@pytest.fixture
def fake():
    with FakeComputeOptimizer() as server:
        for n in range(5):
            server.add_instance(f"i-{n:05d}", "m5.2xlarge", options=(("m5.xlarge", 140.16), ("m6i.xlarge", 120.0)))
        server.add_instance("i-fine", "m5.large", finding="Optimized")
        server.add_instance("i-disc", "r5.xlarge", options=(("r5.large", 90.0),), discounted=61.2)
        server.add_idle("EC2Instance", "i-idle", saving=70.08)
        server.add_idle("EBSVolume", "vol-free", finding="Unattached", saving=8.0)
        server.add_idle("RDSDBInstance", "db-quiet", saving=None)
        server.add_idle("NatGateway", "nat-1")
        yield server


def test_the_requests_are_json_1_0_and_follow_next_token(fake):
    got = read_advice(conn_for(fake), page_sizes={"get_ec2_instance_recommendations": 2,
                                                  "get_idle_recommendations": 2})
    ec2 = fake.calls("GetEC2InstanceRecommendations")
    assert [c.body.get("nextToken") for c in ec2] == [None, "2", "4"]
    assert all(c.content_type == "application/x-amz-json-1.0" for c in fake.requests)
    assert ec2[0].body == {"filters": [{"name": "Finding", "values": ["Overprovisioned"]}], "maxResults": 2}
    idle = fake.calls("GetIdleRecommendations")
    assert [c.body.get("nextToken") for c in idle] == [None, "2"]
    assert idle[0].body["filters"] == [{"name": "ResourceType", "values": ["EBSVolume", "EC2Instance",
                                                                             "RDSDBInstance"]}]
    assert got.requests == {"get_ec2_instance_recommendations": 3, "get_idle_recommendations": 2}
    assert got.throttle_waits == [] and got.errors == []


def test_recommendations_come_back_in_our_vocabulary_with_inventory_ids(fake):
    got = read_advice(conn_for(fake))
    found = {a.resource_id: a for a in got.advice}
    assert set(found) == {*(f"i-{n:05d}" for n in range(5)), "i-disc", "i-idle", "vol-free", "db-quiet"}
    resize = found["i-00000"]
    assert (resize.finding, resize.action, resize.target_type, resize.monthly_savings, resize.currency) == (
        "oversized", "resize", "m5.xlarge", Decimal("140.16"), "USD")
    assert resize.detail.startswith("Overprovisioned (CPUOverprovisioned, MemoryOverprovisioned); m5.2xlarge over 14 "
                                    "days: CPU Maximum 12")
    # the savings after discounts, where the account's preferences give them
    assert found["i-disc"].monthly_savings == Decimal("61.20")
    assert [(found[i].finding, found[i].action, found[i].monthly_savings) for i in ("i-idle", "vol-free", "db-quiet")] \
        == [("idle", "stop", Decimal("70.08")), ("waste", "snapshot_and_delete", Decimal("8.00")), ("idle", "stop", None)]
    # "Optimized" is filtered out by the request; NatGateway by the resource type filter
    assert got.left_out == {}


def test_throttling_is_retried_and_its_waits_reported(fake):
    # the project's boto3 clients make no retry of their own, so each of our attempts is one HTTP request:
    # 2 throttled answers cost us 2 waits
    fake.fail_next(2)
    got = read_advice(conn_for(fake), retry=FAST, idle=False)
    assert len(got.advice) == 6
    assert len(got.throttle_waits) == 2 and got.requests == {"get_ec2_instance_recommendations": 3}
    assert len(fake.calls("GetEC2InstanceRecommendations")) == 2 + 1


def test_throttling_past_the_retries_is_raised_as_throttled(fake):
    fake.fail_next(2 * FAST.attempts, status=429, code="ThrottlingException")
    with pytest.raises(Throttled, match="Compute Optimizer ThrottlingException"):
        read_advice(conn_for(fake), retry=FAST)


def test_an_account_not_opted_in_says_so(fake):
    fake.fail_next(1, code="OptInRequiredException")
    with pytest.raises(PermissionDenied, match="not opted in"):
        read_advice(conn_for(fake))


@pytest.mark.parametrize("arn,expected", [
    ("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", "i-0abc"),
    ("arn:aws:ec2:us-east-1:123456789012:volume/vol-0abc", "vol-0abc"),
    ("arn:aws:rds:us-east-1:123456789012:db:orders-db", "orders-db")])
def test_arns_give_the_inventory_ids(arn, expected):
    assert resource_id(arn) == expected


def test_advice_matches_the_moto_inventory_ids_end_to_end(local_profile):
    region = "ap-south-2"  # a region of this test's own on the shared moto
    conn = local_profile.connection_for("aws").model_copy(update={"region": region})
    ec2 = client(conn, "ec2")
    tag = uuid.uuid4().hex[:10]
    free = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8,
                             TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "run", "Value": tag}]}])
    other = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8,
                              TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "run", "Value": tag}]}])
    try:
        inv = read_inventory(conn)
        mine = [r for r in inv.resources if r.tags.get("run") == tag]
        rules = [r for r in load_rule_sets([RULES_DIR / "waste.yaml"]) if r.name == "unattached-disk"]
        findings = [Finding(o, r) for o, r in zip(evaluate(rules, mine, {}, NOW), mine)]
        with FakeComputeOptimizer(region=region) as fake:
            fake.add_idle("EBSVolume", free["VolumeId"], finding="Unattached", saving=0.8)
            advice = read_advice(conn_for(fake).model_copy(update={"region": region})).advice
        compared, only = compare_advice(findings, advice, read=["aws"])
        verdicts = {f.resource.id: f.advice for f in compared}
        assert verdicts == {free["VolumeId"]: AGREES, other["VolumeId"]: NO_ADVICE}
        assert only == []
    finally:
        for vol in (free, other):
            ec2.delete_volume(VolumeId=vol["VolumeId"])
