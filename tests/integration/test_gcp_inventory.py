"""The Google Cloud rightsizing inventory and Cloud Monitoring metrics over REST against a local server
answering the Compute Engine and Monitoring routes (multicloud/testing/fakes/fake_gce.py), two items or series a
page: instances, disks, addresses and snapshots come back as `Resource` records across several
nextPageToken pages (counted on the server), 14 days of 5-minute samples come back aligned per period,
memory without the Ops Agent stays missing, and the shipped Recommender and waste rules find what was
seeded. Throttling is answered by urllib3's retry policy, whose waits are reported."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from multicloud.clouds.gcp.inventory import read_inventory
from multicloud.clouds.gcp.metrics import read_metrics
from multicloud.clouds.gcp.rest import GoogleRetry
from multicloud.config import Connection
from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.errors import InvalidInput, NotFound, Throttled
from multicloud.core.rightsizing import CLEAR, FINDING, INSUFFICIENT, evaluate, required_series
from multicloud.testing.fakes.fake_gce import FakeGce
from tests.support import WASTE_EXPECTED, rule_statuses, vm_summary

PROJECT = "proj-rightsizing"
ZONE = "us-central1-a"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
SAMPLES = [NOW - timedelta(days=14) + i * timedelta(minutes=5) for i in range(14 * 288)]
RULES_DIR = Path(__file__).resolve().parents[2] / "deployments" / "rightsizing"
CONN = Connection(name="gcp-rest", cloud="gcp", account=PROJECT, credentials="emulator")
CPU = "compute.googleapis.com/instance/cpu/utilization"
MEMORY = "agent.googleapis.com/memory/percent_used"


def seed_vm(fake: FakeGce, name: str, machine_type: str, *, cpu, received=0.0, sent=0.0, memory=None, **vm):
    """A VM with its boot disk; per sample index i: CPU as a 0-1 fraction, bytes in and out per sample,
    and the Ops Agent's used-memory percent when given."""
    boot = fake.add_disk(ZONE, f"{name}-boot", size_gb=20, created=NOW - timedelta(days=100))
    inst = fake.add_instance(ZONE, name, machine_type, created=NOW - timedelta(days=100), disks=(boot,), **vm)
    fake.attach(boot, inst)
    if cpu is not None:
        fake.add_samples(inst, CPU, [(t, cpu(i)) for i, t in enumerate(SAMPLES)])
        for metric, value in (("received_bytes_count", received), ("sent_bytes_count", sent)):
            fake.add_samples(inst, f"compute.googleapis.com/instance/network/{metric}", [(t, value) for t in SAMPLES],
                             value_type="INT64", kind="DELTA")
    if memory is not None:
        fake.add_samples(inst, MEMORY, [(t, memory) for t in SAMPLES], labels={"state": "used"})
        fake.add_samples(inst, MEMORY, [(t, 100.0 - memory) for t in SAMPLES], labels={"state": "free"})
    return inst, boot


def gid(item: dict, collection: str, scope: str = f"zones/{ZONE}") -> str:
    return f"//compute.googleapis.com/projects/{PROJECT}/{scope}/{collection}/{item['id']}"


@pytest.fixture(scope="module")
def fake():
    with FakeGce(PROJECT) as server:
        server.add_machine_type(ZONE, "e2-standard-2", vcpus=2, memory_mb=8192)
        server.add_machine_type(ZONE, "e2-standard-4", vcpus=4, memory_mb=16384)
        server.add_machine_type(ZONE, "t2a-standard-4", vcpus=4, memory_mb=16384, architecture="ARM64")
        vms = {}
        vms["idle"] = seed_vm(server, "vm-idle", "e2-standard-2", cpu=lambda i: 0.005, received=150_000.0,
                              sent=60_000.0, memory=50.0, labels={"team": "web"})
        vms["big"] = seed_vm(server, "vm-big", "e2-standard-4", cpu=lambda i: 0.10 + 0.02 * (i % 5),
                             received=3e6, sent=3e6, memory=30.0)
        vms["nomem"] = seed_vm(server, "vm-nomem", "t2a-standard-4", cpu=lambda i: 0.2, received=3e6, sent=3e6)
        vms["busy"] = seed_vm(server, "vm-busy", "e2-standard-4", cpu=lambda i: 0.8, received=3e7, sent=3e7,
                              memory=70.0)
        vms["stopped"] = seed_vm(server, "vm-stopped", "e2-standard-2", cpu=None, status="TERMINATED",
                                 stopped=NOW - timedelta(days=45), labels={"multicloud-keep": "false"})
        free = server.add_disk(ZONE, "disk-free", size_gb=200, created=NOW - timedelta(days=50), disk_type="pd-ssd")
        gone = server.add_disk(ZONE, "disk-gone", size_gb=10, created=NOW - timedelta(days=300))
        ips = {"bound": server.add_address("us-central1", "ip-bound", address="34.1.1.1", user=vms["big"][0]),
               "stray": server.add_address("us-central1", "ip-stray", address="34.1.1.2"),
               "internal": server.add_address("us-central1", "ip-internal", address="10.0.0.5",
                                              address_type="INTERNAL")}
        snaps = {"old": server.add_snapshot("snap-old", disk=vms["big"][1], created=NOW - timedelta(days=200)),
                 "orphan": server.add_snapshot("snap-orphan", disk=gone, created=NOW - timedelta(days=10)),
                 "recent": server.add_snapshot("snap-recent", disk=vms["big"][1], created=NOW - timedelta(days=5))}
        server.delete_disk(gone)
        server.ids = {**{k: gid(i, "instances") for k, (i, _) in vms.items()},
                      "boot-big": gid(vms["big"][1], "disks"), "free": gid(free, "disks"),
                      **{k: gid(a, "addresses", "regions/us-central1") for k, a in ips.items()},
                      **{k: gid(s, "snapshots", "global") for k, s in snaps.items()}, "gone": gid(gone, "disks")}
        yield server


@pytest.fixture(scope="module")
def inventory(fake):
    return read_inventory(CONN, endpoint=fake.url, page_size=2)


def test_every_listing_is_read_across_its_pages(fake, inventory):
    # 5 instances, 6 disks, 3 addresses (one internal, left out), 3 snapshots: two a page
    assert inventory.requests == {"instances.aggregatedList": 3, "disks.aggregatedList": 3,
                                  "addresses.aggregatedList": 2, "snapshots.list": 2, "machineTypes.get": 3}
    pages = fake.gets(r"/aggregated/instances$")
    assert [r.query.get("pageToken") for r in pages] == [None, ["2"], ["4"]]
    assert all(r.query["maxResults"] == ["2"] and r.authorization is None for r in pages)
    assert len(fake.gets(r"/global/snapshots$")) == 2 and len(fake.gets(r"/aggregated/disks$")) == 3
    ids = [r.id for r in inventory.resources]
    assert len(ids) == len(set(ids)) == 5 + 6 + 2 + 3
    assert fake.ids["internal"] not in ids and inventory.throttle_waits == []


def test_records_carry_each_kinds_attributes(fake, inventory):
    found = {r.id: r for r in inventory.resources}
    ids = fake.ids
    assert vm_summary(found[ids["big"]]) == ("vm", "e2-standard-4", "running", "us-central1", "x86_64", 4, 16384,
                                             NOW - timedelta(days=100), 1, None)
    assert found[ids["nomem"]].architecture == "arm64" and found[ids["idle"]].tags == {"team": "web"}
    stopped = found[ids["stopped"]]
    assert (stopped.state, stopped.stopped_since) == ("stopped", NOW - timedelta(days=45))
    free = found[ids["free"]]
    assert (free.attached, free.size_gb, free.type) == (False, 200.0, "pd-ssd")
    assert found[ids["boot-big"]].attached is True and found[ids["boot-big"]].attached_to == ids["big"]
    assert found[ids["stray"]].associated is False and found[ids["stray"]].state == "RESERVED"
    assert found[ids["bound"]].associated is True and found[ids["bound"]].attached_to == ids["big"]
    old, orphan = found[ids["old"]], found[ids["orphan"]]
    assert (old.source_exists, old.attached_to, old.created) == (True, ids["boot-big"], NOW - timedelta(days=200))
    assert orphan.source_exists is False and orphan.attached_to.endswith("/disks/disk-gone")


def test_metrics_come_back_aligned_and_memory_without_the_agent_stays_missing(fake, inventory):
    vms = {r.id: r for r in inventory.of_kind("vm")}
    big, nomem = vms[fake.ids["big"]], vms[fake.ids["nomem"]]
    before = len(fake.requests)
    got = read_metrics(CONN, [big, nomem], {("cpu_utilization", "average", 3600): 14,
                                            ("memory_utilization", "max", 3600): 14}, NOW, endpoint=fake.url)
    assert got.requests == 2 and got.requests_by_resource == {big.id: 2, nomem.id: 1}
    series = {s.metric: s for s in got.series[big.id]}
    hourly = [(SAMPLES[h], sum(100 * (0.10 + 0.02 * (i % 5)) for i in range(h, h + 12)) / 12)
              for h in range(0, len(SAMPLES), 12)]
    assert [t for t, _ in series["cpu_utilization"].points] == [t for t, _ in hourly]
    assert [v for _, v in series["cpu_utilization"].points] == pytest.approx([v for _, v in hourly])
    assert {v for _, v in series["memory_utilization"].points} == {30.0}
    assert {s.metric: len(s.points) for s in got.series[nomem.id]} == {"cpu_utilization": 336,
                                                                       "memory_utilization": 0}
    asked = [r.query for r in fake.requests[before:]]
    assert asked[1]["filter"] == [f'metric.type = "{MEMORY}" AND resource.type = "gce_instance" '
                                  'AND metric.labels.state = "used"']
    assert (asked[0]["aggregation.alignmentPeriod"], asked[0]["aggregation.perSeriesAligner"]) == (
        ["3600s"], ["ALIGN_MEAN"])
    assert (asked[0]["interval.startTime"], asked[0]["interval.endTime"]) == (
        ["2026-11-06T00:00:00Z"], ["2026-11-20T00:00:00Z"])


def test_shipped_rules_find_what_was_seeded(fake, inventory):
    rules = load_rule_sets([RULES_DIR / "gcp-recommender.yaml", RULES_DIR / "waste.yaml"])
    before = len(fake.requests)
    got = read_metrics(CONN, inventory.resources, required_series(rules), NOW, endpoint=fake.url, page_size=2)
    # 5 queries (CPU mean and max, bytes in and out, memory), each 2 pages of at most 2 series
    assert got.requests == 10 == len(fake.requests) - before
    assert [r.query.get("pageToken") for r in fake.requests[before:before + 2]] == [None, ["2"]]
    assert got.requests_by_resource[fake.ids["big"]] == 5 and got.requests_by_resource[fake.ids["nomem"]] == 4
    out = {(o.resource, o.rule): o for o in evaluate(rules, inventory.resources, got.series, NOW)}
    ids = fake.ids
    expected = {**WASTE_EXPECTED, "gcp-idle-vm": {"idle": FINDING, "big": CLEAR, "stopped": INSUFFICIENT},
                # vm-idle uses 50 % of its memory: too much for a smaller type
                "gcp-machine-type": {"idle": CLEAR, "big": FINDING, "nomem": INSUFFICIENT, "busy": CLEAR}}
    expected["unattached-disk"] = {"free": FINDING, "boot-big": CLEAR}
    assert rule_statuses(out.values(), ids, expected) == expected
    idle = [e.observed for e in out[(ids["idle"], "gcp-idle-vm")].evidence]
    assert idle == pytest.approx([0.01, 500.0, 200.0])          # vCPUs used, B/s received, B/s sent
    assert [e.observed for e in out[(ids["big"], "gcp-machine-type")].evidence] == pytest.approx([18.0, 30.0])
    reason = out[(ids["nomem"], "gcp-machine-type")].reason
    assert "memory_utilization" in reason and "no data points" in reason


def test_throttling_is_retried_by_the_transport_policy_and_the_wait_reported(fake):
    fake.fail_next(2, status=429, retry_after="1")
    inv = read_inventory(CONN, endpoint=fake.url)
    assert inv.throttle_waits == [1.0, 1.0] and inv.waited_seconds == 2.0
    assert len(inv.of_kind("vm")) == 5 and inv.requests["instances.aggregatedList"] == 1
    fake.fail_next(3, status=429, retry_after="1")
    with pytest.raises(Throttled, match="Compute Engine"):
        read_inventory(CONN, endpoint=fake.url, retry=GoogleRetry(attempts=1))


def test_errors_and_bad_settings_name_what_failed(fake):
    with pytest.raises(NotFound, match="other-project"):
        read_inventory(CONN, "other-project", endpoint=fake.url)
    with pytest.raises(InvalidInput, match="local plain-HTTP"):
        read_inventory(CONN, endpoint="https://compute.googleapis.com")
    with pytest.raises(InvalidInput, match="project id"):
        read_metrics(CONN.model_copy(update={"account": None}), [], {}, NOW, endpoint=fake.url)
