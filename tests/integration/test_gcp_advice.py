"""GCP Recommender's advice over REST v1 against a local Recommender (multicloud/testing/fakes/
fake_recommender.py) and the local Compute Engine (fake_gce.py) that names the resources: the four
recommenders asked only where the project has resources, ACTIVE only, nextPageToken pages followed,
negative cost projections as savings, upsizes and unknown resources left out and counted, a 429 with
Retry-After retried and its wait reported. The ids are the Compute Engine inventory's own, even when
a recommendation names the project by number, and the idle disk our waste rule finds agrees."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from multicloud.clouds.gcp.inventory import read_inventory
from multicloud.clouds.gcp.recommender import RECOMMENDERS, read_advice
from multicloud.clouds.gcp.rest import GoogleRetry
from multicloud.config import Connection
from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.errors import PermissionDenied, Throttled
from multicloud.core.rightsizing import evaluate
from multicloud.core.rightsizing.advice import AGREES, compare_advice
from multicloud.core.rightsizing.findings import Finding
from multicloud.testing.fakes.fake_gce import FakeGce
from multicloud.testing.fakes.fake_recommender import FakeRecommender

PROJECT = "advice-project"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
CONN = Connection(name="gcp-advice", cloud="gcp", credentials="emulator", account=PROJECT)
RULES_DIR = Path(__file__).resolve().parents[2] / "deployments" / "rightsizing"
FAST = GoogleRetry(attempts=2, backoff_seconds=0.01, backoff_max_seconds=0.02)
IDLE_VM, MACHINE_TYPE, IDLE_DISK, IDLE_ADDRESS = RECOMMENDERS


@pytest.fixture(scope="module")
def clouds():
    with FakeGce(PROJECT) as gce, FakeRecommender(PROJECT) as rec:
        created = NOW - timedelta(days=60)
        gce.add_machine_type("us-central1-a", "n2-standard-8", vcpus=8, memory_mb=32768)
        gce.add_machine_type("us-central1-b", "n2-standard-8", vcpus=8, memory_mb=32768)
        boot = gce.add_disk("us-central1-a", "vm-big-boot", size_gb=20, created=created)
        big = gce.add_instance("us-central1-a", "vm-big", "n2-standard-8", created=created, disks=(boot,))
        gce.attach(boot, big)
        made = [gce.add_instance("us-central1-a", "vm-idle", "n2-standard-8", created=created),
                gce.add_instance("us-central1-b", "vm-hot", "n2-standard-8", created=created),
                gce.add_disk("us-central1-a", "disk-free", size_gb=200, created=created),
                gce.add_address("us-central1", "ip-stray", address="34.1.2.3")]
        gce.names = {item["id"]: item["name"] for item in (boot, big, *made)}
        rec.add("us-central1-a", IDLE_VM, "zones/us-central1-a/instances/vm-idle", monthly_cost_change="-70.08")
        rec.add("us-central1-a", MACHINE_TYPE, "zones/us-central1-a/instances/vm-big", monthly_cost_change="-97.5",
                target_machine_type="n2-standard-4")
        rec.add("us-central1-b", MACHINE_TYPE, "zones/us-central1-b/instances/vm-hot", monthly_cost_change="31.2",
                target_machine_type="n2-standard-16")
        rec.add("us-central1-a", MACHINE_TYPE, "zones/us-central1-a/instances/vm-idle", monthly_cost_change="-40",
                target_machine_type="n2-standard-2", state="DISMISSED")
        rec.add("us-central1-a", IDLE_DISK, "zones/us-central1-a/disks/disk-free", monthly_cost_change="-4")
        rec.add("us-central1-a", IDLE_DISK, "zones/us-central1-a/disks/gone", monthly_cost_change="-1")
        rec.add("us-central1", IDLE_ADDRESS, "regions/us-central1/addresses/ip-stray", monthly_cost_change="-7.3",
                project_in_name="123456789012")
        yield gce, rec


def read(clouds, **kwargs):
    gce, rec = clouds
    return read_advice(CONN, endpoint=rec.url, compute_endpoint=gce.url, **kwargs)


def test_each_recommender_is_asked_where_the_project_has_resources(clouds):
    _, rec = clouds
    before = len(rec.requests)
    got = read(clouds, page_size=1)
    asked = {(r.path.split("/")[5], r.path.split("/")[7]) for r in rec.requests[before:]}
    assert asked == {("us-central1-a", IDLE_VM), ("us-central1-b", IDLE_VM), ("us-central1-a", MACHINE_TYPE),
                     ("us-central1-b", MACHINE_TYPE), ("us-central1-a", IDLE_DISK), ("us-central1", IDLE_ADDRESS)}
    assert all(r.query["filter"] == ["stateInfo.state = ACTIVE"] and r.authorization is None
               for r in rec.requests[before:])
    # one a page: the two idle disk recommendations of zone a take two pages
    pages = rec.gets(f"us-central1-a/recommenders/{IDLE_DISK}/")[-2:]
    assert [r.query.get("pageToken") for r in pages] == [None, ["1"]]
    assert got.requests[f"{IDLE_DISK}.list"] == 2
    assert got.requests["instances.aggregatedList"] == 3  # three instances, one a page


def test_recommendations_come_back_in_our_vocabulary_with_inventory_ids(clouds):
    gce, _ = clouds
    got = read(clouds)
    inv = read_inventory(CONN, endpoint=gce.url)
    assert {a.resource_id for a in got.advice} <= {r.id for r in inv.resources}
    by_name = {_name(gce, a.resource_id): a for a in got.advice}
    assert set(by_name) == {"vm-idle", "vm-big", "disk-free", "ip-stray"}
    assert (by_name["vm-big"].finding, by_name["vm-big"].action, by_name["vm-big"].target_type,
            by_name["vm-big"].monthly_savings) == ("oversized", "resize", "n2-standard-4", Decimal("97.50"))
    assert (by_name["vm-idle"].finding, by_name["vm-idle"].action, by_name["vm-idle"].monthly_savings) == (
        "idle", "stop", Decimal("70.08"))
    assert (by_name["disk-free"].finding, by_name["disk-free"].action) == ("waste", "snapshot_and_delete")
    assert (by_name["ip-stray"].finding, by_name["ip-stray"].monthly_savings) == ("waste", Decimal("7.30"))
    assert got.left_out == {f"{MACHINE_TYPE}: CHANGE_MACHINE_TYPE that costs more": 1,
                            f"{IDLE_DISK}: resource not in the Compute Engine listing": 1}


def _name(gce: FakeGce, global_id: str) -> str:
    return gce.names[global_id.rsplit("/", 1)[-1]]


def test_a_429_is_retried_after_its_retry_after(clouds):
    _, rec = clouds
    rec.fail_next(1, status=429, retry_after="1")
    got = read(clouds, retry=FAST)
    assert got.throttle_waits == [1.0] and len(got.advice) == 4


def test_throttling_past_the_retries_is_raised(clouds):
    _, rec = clouds
    rec.fail_next(FAST.attempts + 1, status=429, retry_after=None)
    with pytest.raises(Throttled):
        read(clouds, retry=FAST)


def test_a_refused_recommender_api_is_permission_denied_naming_it(clouds):
    _, rec = clouds
    rec.fail_next(1, status=403, retry_after=None)
    with pytest.raises(PermissionDenied, match="Recommender"):
        read(clouds)


def test_the_idle_disk_our_waste_rule_finds_agrees(clouds):
    gce, _ = clouds
    inv = read_inventory(CONN, endpoint=gce.url)
    disks = inv.of_kind("disk")
    rules = [r for r in load_rule_sets([RULES_DIR / "waste.yaml"]) if r.name == "unattached-disk"]
    outcomes = evaluate(rules, disks, {}, NOW)
    findings = [Finding(o, r) for o, r in zip(outcomes, disks) if o.fired]
    compared, only = compare_advice(findings, read(clouds).advice, outcomes=outcomes, read=["gcp"])
    assert [(_name(gce, f.resource.id), f.advice) for f in compared] == [("disk-free", AGREES)]
    assert sorted(_name(gce, o.advice.resource_id) for o in only) == ["ip-stray", "vm-big", "vm-idle"]
