"""The Azure rightsizing inventory and Azure Monitor metrics through the real azure-mgmt-compute,
-network, -sql and -monitor clients against a local ARM server (multicloud/testing/fakes/fake_azure_compute.py)
serving two items a page: VMs, disks, public IPs, snapshots and SQL databases come back as `Resource`
records across several nextLink pages (counted on the server), 14 days of 5-minute samples come back
aggregated per interval, memory that was never reported stays missing, and the shipped Azure Advisor
and waste rules find what was seeded. Throttling is answered by azure-core's retry policy, whose
waits are reported."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from multicloud.clouds.azure.inventory import read_inventory
from multicloud.clouds.azure.management import ArmRetry
from multicloud.clouds.azure.metrics import read_metrics
from multicloud.config import Connection
from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.errors import Throttled
from multicloud.core.rightsizing import CLEAR, FINDING, INSUFFICIENT, evaluate, required_series
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from tests.support import WASTE_EXPECTED, rule_statuses, vm_summary

SUB = "00000000-1111-2222-3333-444444444444"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
STEP = timedelta(minutes=5)
SAMPLES = [NOW - timedelta(days=14) + i * STEP for i in range(14 * 288)]
GIB = 2**30
BANDWIDTH_MBPS = {"Standard_D2s_v3": 1000, "Standard_D4s_v3": 2000, "Standard_D4ps_v5": 2000}
RULES_DIR = Path(__file__).resolve().parents[2] / "deployments" / "rightsizing"
CONN = Connection(name="azure-arm", cloud="azure", credentials="emulator")


def seed_vm(fake: FakeAzureCompute, name: str, size: str, *, cpu, net_out, memory_available=None, **vm) -> str:
    """A VM with its OS disk and, per sample index i, CPU %, bytes out per minute and available memory."""
    os_disk = fake.add_disk("rg-app", f"{name}-os", size_gb=30, created=NOW - timedelta(days=100),
                            managed_by=fake.resource_id("rg-app", "Microsoft.Compute", f"virtualMachines/{name}"))
    vm_id = fake.add_vm("rg-app", name, size, created=NOW - timedelta(days=100), os_disk=os_disk, **vm)
    if cpu is not None:
        fake.add_samples(vm_id, "Percentage CPU", [(t, cpu(i)) for i, t in enumerate(SAMPLES)])
        fake.add_samples(vm_id, "Network Out Total", [(t, net_out(i)) for i, t in enumerate(SAMPLES)])
        fake.add_samples(vm_id, "Network In Total", [(t, 2.0 * net_out(i)) for i, t in enumerate(SAMPLES)])
    if memory_available is not None:
        fake.add_samples(vm_id, "Available Memory Bytes", [(t, memory_available) for t in SAMPLES])
    return vm_id


@pytest.fixture(scope="module")
def fake():
    with FakeAzureCompute(SUB, page_size=2) as server:
        ids = {}
        server.add_sku("eastus", "Standard_D2s_v3", vcpus=2, memory_gb=8)
        server.add_sku("eastus", "Standard_D4s_v3", vcpus=4, memory_gb=16)
        server.add_sku("eastus", "Standard_D4ps_v5", vcpus=4, memory_gb=16, architecture="Arm64")
        ids["idle"] = seed_vm(server, "vm-idle", "Standard_D2s_v3", cpu=lambda i: 0.5 + 0.25 * (i % 3),
                              net_out=lambda i: 50_000.0, memory_available=4 * GIB, tags={"team": "web"})
        ids["big"] = seed_vm(server, "vm-big", "Standard_D4s_v3", cpu=lambda i: 8.0 + i % 5,
                             net_out=lambda i: 3e8, memory_available=12 * GIB)
        ids["busy"] = seed_vm(server, "vm-busy", "Standard_D4ps_v5", cpu=lambda i: 70.0, net_out=lambda i: 5e9)
        ids["nomem"] = seed_vm(server, "vm-nomem", "Standard_D4s_v3", cpu=lambda i: 10.0, net_out=lambda i: 1e8)
        ids["stopped"] = seed_vm(server, "vm-stopped", "Standard_D2s_v3", cpu=None, net_out=None, power="deallocated",
                                 changed=NOW - timedelta(days=40))
        ids["free"] = server.add_disk("rg-data", "disk-free", size_gb=128, created=NOW - timedelta(days=60),
                                      sku="StandardSSD_LRS")
        nic = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Network/networkInterfaces/nic-1"
        ids["bound"] = server.add_public_ip("rg-app", "ip-bound", address="20.0.0.1",
                                            ip_configuration=f"{nic}/ipConfigurations/ipconfig1")
        ids["stray"] = server.add_public_ip("rg-app", "ip-stray", address="20.0.0.2")
        ids["bound2"] = server.add_public_ip("rg-app", "ip-bound2", address="20.0.0.3",
                                             ip_configuration=f"{nic}/ipConfigurations/ipconfig2")
        big_os = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/vm-big-os"
        gone = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/deleted-disk"
        ids["old"] = server.add_snapshot("rg-app", "snap-old", source=big_os, created=NOW - timedelta(days=200))
        ids["orphan"] = server.add_snapshot("rg-app", "snap-orphan", source=gone, created=NOW - timedelta(days=10))
        ids["recent"] = server.add_snapshot("rg-app", "snap-recent", source=big_os, created=NOW - timedelta(days=5))
        ids["db-idle"] = server.add_sql_database("rg-db", "sql-1", "db-idle", created=NOW - timedelta(days=300))
        ids["db-busy"] = server.add_sql_database("rg-db", "sql-1", "db-busy", created=NOW - timedelta(days=300))
        server.add_sql_database("rg-db", "sql-1", "master", created=NOW - timedelta(days=300), sku="System")
        server.add_samples(ids["db-idle"], "connection_successful", [(t, 0.0) for t in SAMPLES])
        server.add_samples(ids["db-busy"], "connection_successful",
                           [(t, 3.0 if i == len(SAMPLES) - 30 else 0.0) for i, t in enumerate(SAMPLES)])
        server.ids = ids
        yield server


@pytest.fixture(scope="module")
def inventory(fake):
    before = len(fake.requests)
    inv = read_inventory(CONN, SUB, base_url=fake.url)
    inv.pages_on_server = {path: len([r for r in fake.requests[before:] if r.path.lower().endswith(path.lower())])
                           for path in ("/virtualMachines", "/disks", "/publicIPAddresses", "/snapshots", "/skus",
                                        "/Microsoft.Sql/servers", "/databases")}
    return inv


def test_every_listing_is_read_across_its_pages(fake, inventory):
    # 5 VMs, 6 disks, 3 IPs, 3 snapshots, 3 SKUs, 3 databases (master included): two a page
    assert inventory.requests == {"virtual_machines.list_all": 3, "disks.list": 3, "public_ip_addresses.list_all": 2,
                                  "snapshots.list": 2, "resource_skus.list": 2, "servers.list": 1,
                                  "databases.list_by_server": 2}
    assert inventory.pages_on_server == {"/virtualMachines": 3, "/disks": 3, "/publicIPAddresses": 2, "/snapshots": 2,
                                         "/skus": 2, "/Microsoft.Sql/servers": 1, "/databases": 2}
    vm_pages = fake.gets("/providers/Microsoft.Compute/virtualMachines")
    assert [r.query.get("$skiptoken") for r in vm_pages] == [None, ["2"], ["4"]]
    assert all(r.query["statusOnly"] == ["true"] and r.authorization.startswith("Bearer ") for r in vm_pages)
    assert fake.gets("/skus")[0].query["$filter"] == ["location eq 'eastus'"]
    ids = [r.id for r in inventory.resources]
    assert len(ids) == len(set(ids)) == 5 + 6 + 3 + 3 + 2
    assert inventory.throttle_waits == []


def test_records_carry_each_kinds_attributes(fake, inventory):
    found = {r.id: r for r in inventory.resources}
    ids = fake.ids
    assert vm_summary(found[ids["big"]]) == ("vm", "Standard_D4s_v3", "running", "eastus", "x86_64", 4, 16384,
                                             NOW - timedelta(days=100), 1, None)
    assert found[ids["busy"]].architecture == "arm64"
    assert found[ids["idle"]].tags == {"team": "web"}
    stopped = found[ids["stopped"]]
    assert stopped.state == "stopped" and stopped.stopped_since == NOW - timedelta(days=40)
    assert found[ids["free"]].attached is False and found[ids["free"]].size_gb == 128
    assert found[ids["free"]].type == "StandardSSD_LRS" and found[ids["free"]].state == "Unattached"
    os_disk = found[ids["big"].replace("virtualMachines/vm-big", "disks/vm-big-os")]
    assert os_disk.attached is True and os_disk.attached_to == ids["big"]
    assert found[ids["stray"]].associated is False and found[ids["bound"]].associated is True
    assert found[ids["bound"]].attached_to.endswith("/ipConfigurations/ipconfig1")
    assert (found[ids["old"]].source_exists, found[ids["orphan"]].source_exists) == (True, False)
    assert found[ids["old"]].created == NOW - timedelta(days=200)
    db = found[ids["db-idle"]]
    assert (db.kind, db.type, db.state, db.size_gb) == ("database", "GP_Gen5_2", "Online", 32.0)
    assert not any(r.id.endswith("/databases/master") for r in inventory.resources)


def _hourly_means(values) -> list[tuple[datetime, float]]:
    out = []
    for h in range(0, len(SAMPLES), 12):
        chunk = [values(i) for i in range(h, h + 12)]
        out.append((SAMPLES[h], sum(chunk) / len(chunk)))
    return out


def test_metrics_come_back_per_interval_and_unreported_memory_stays_missing(fake, inventory):
    vms = {r.id: r for r in inventory.of_kind("vm")}
    big, nomem = vms[fake.ids["big"]], vms[fake.ids["nomem"]]
    needs = {("cpu_utilization", "average", 3600): 14, ("memory_utilization", "max", 3600): 14,
             ("network_out_bytes", "sum", 3600): 14}
    got = read_metrics(CONN, SUB, [big, nomem], needs, NOW, base_url=fake.url)
    assert got.requests == 2 and got.requests_by_resource == {big.id: 1, nomem.id: 1}
    series = {(s.metric, s.statistic): s for s in got.series[big.id]}
    cpu = series[("cpu_utilization", "average")]
    assert cpu.period_seconds == 3600 and list(cpu.points) == _hourly_means(lambda i: 8.0 + i % 5)
    assert [v for _, v in series[("memory_utilization", "max")].points] == [25.0] * 336  # 12 of 16 GiB free
    assert {v for _, v in series[("network_out_bytes", "sum")].points} == {12 * 3e8}
    missing = {(s.metric, s.statistic): s for s in got.series[nomem.id]}
    assert missing[("memory_utilization", "max")].points == ()          # missing, not zeros
    assert len(missing[("cpu_utilization", "average")].points) == 336
    asked = fake.gets(f"{big.id}/providers/Microsoft.Insights/metrics")[-1].query
    assert asked["interval"] == ["PT1H"] and asked["timespan"] == ["2026-11-06T00:00:00Z/2026-11-20T00:00:00Z"]
    assert asked["metricnames"] == ["Available Memory Bytes,Network Out Total,Percentage CPU"]
    assert asked["aggregation"] == ["Average,Minimum,Total"]   # max memory used = min available


def test_shipped_rules_find_what_was_seeded(fake, inventory):
    rules = load_rule_sets([RULES_DIR / "azure-advisor.yaml", RULES_DIR / "waste.yaml"])
    rules += [r for r in load_rule_sets([RULES_DIR / "aws-trusted-advisor.yaml"]) if r.name == "ta-idle-rds"]
    got = read_metrics(CONN, SUB, inventory.resources, required_series(rules), NOW, base_url=fake.url,
                       bandwidth_mbps=BANDWIDTH_MBPS)
    # one request per VM (every VM rule reads 30-minute points); a database is asked for its CPU at 30
    # minutes too (the needs are per metric, not per kind) and for its connections hourly
    assert got.requests == 9 and got.requests_by_resource[fake.ids["db-idle"]] == 2
    assert got.requests_by_resource[fake.ids["big"]] == 1
    assert {pair for pair in got.unsupported if pair[0] == "vm"} == {("vm", "database_connections")}
    assert got.notes == {}
    out = {(o.resource, o.rule): o for o in evaluate(rules, inventory.resources, got.series, NOW)}
    ids = fake.ids
    expected = {**WASTE_EXPECTED,
                "azure-advisor-shutdown": {"idle": FINDING, "big": CLEAR, "stopped": INSUFFICIENT},
                # vm-idle uses 50 % of its memory: too much to halve
                "azure-advisor-resize": {"idle": CLEAR, "big": FINDING, "busy": CLEAR, "nomem": INSUFFICIENT},
                "ta-idle-rds": {"db-idle": FINDING, "db-busy": CLEAR}}
    assert rule_statuses(out.values(), ids, expected) == expected
    shutdown = {e.condition: e.observed for e in out[(ids["idle"], "azure-advisor-shutdown")].evidence}
    assert list(shutdown.values()) == [1.0, 0.75, pytest.approx(100 * 50_000 / (1000e6 / 8 * 60))]
    resize = {e.condition: e for e in out[(ids["big"], "azure-advisor-resize")].evidence}
    assert [e.observed for e in resize.values()] == [12.0, pytest.approx(2.0), 25.0]
    assert "memory_utilization" in out[(ids["nomem"], "azure-advisor-resize")].reason
    assert "no data points" in out[(ids["nomem"], "azure-advisor-resize")].reason


def test_a_size_without_bandwidth_or_memory_is_noted_not_zeroed(fake, inventory):
    vm = next(r for r in inventory.of_kind("vm") if r.id == fake.ids["big"])
    got = read_metrics(CONN, SUB, [vm], {("network_out_utilization", "max", 1800): 7}, NOW, base_url=fake.url)
    assert got.series == {} and "expected bandwidth of size Standard_D4s_v3" in got.notes[vm.id][0]


def test_throttling_is_retried_by_the_sdk_policy_and_the_wait_reported(fake):
    fake.fail_next(2, status=429, retry_after="1")
    inv = read_inventory(CONN, SUB, base_url=fake.url, databases=False)
    assert inv.throttle_waits == [1.0, 1.0] and inv.waited_seconds == 2.0
    assert len(inv.of_kind("vm")) == 5 and inv.requests["disks.list"] == 3


def test_a_retry_after_beyond_the_bound_is_not_waited_for(fake):
    fake.fail_next(1, status=429, retry_after="600")
    with pytest.raises(Throttled, match="429|TooManyRequests"):
        read_inventory(CONN, SUB, base_url=fake.url, retry=ArmRetry(max_retry_after_seconds=60))
    fake.fail_next(3, status=429, retry_after="1")
    with pytest.raises(Throttled):
        read_inventory(CONN, SUB, base_url=fake.url, retry=ArmRetry(attempts=2))
