"""The three-cloud case of bench/rightsizing.py: our inventory, metrics and window-average rules over
N resources split across AWS, Azure and Google Cloud on the local fakes (fake_aws_paging,
fake_azure_compute, fake_gce): per cloud half VMs, each with 14 days of hourly CPU, a quarter disks
(every other one unattached) and a quarter public IPs (every other one unassociated; snapshots on AWS,
whose fake serves no addresses). Seeding is not timed."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from multicloud.clouds.aws import inventory as aws_inventory, metrics as aws_metrics
from multicloud.clouds.azure import inventory as azure_inventory, metrics as azure_metrics
from multicloud.clouds.gcp import inventory as gcp_inventory, metrics as gcp_metrics
from multicloud.config import Connection
from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.rightsizing import FINDING, evaluate, required_series
from multicloud.testing.custodian import EQUIVALENT_RULES
from multicloud.testing.fakes.fake_aws_paging import FakeAwsPaging
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_gce import FakeGce

SUB = "00000000-1111-2222-3333-444444444444"
PROJECT = "bench-project"
ZONE = "us-central1-a"


def _hours(now: datetime) -> list[datetime]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [hour - timedelta(hours=h) for h in range(1, 14 * 24 - 1)]


def _cpu(n: int) -> float:
    return 3.0 if n % 5 == 0 else 40.0


def _judge(name: str, inventory, read, now: datetime) -> dict:
    """Time one cloud: its inventory, the VM metrics the rules need, and `evaluate`."""
    # the daily run reads hourly points (percentiles and days-matching rules need them), and Azure
    # Monitor has no window-long interval: the equivalent rules with hourly periods
    rules = [r.model_copy(update={"period_minutes": 60}) if any(c.metric for c in r.when) else r
             for r in load_rule_sets([EQUIVALENT_RULES])]
    started = time.perf_counter()
    inv = inventory()
    vms = inv.of_kind("vm")
    got = read(vms, required_series([r for r in rules if r.kind == "vm"]))
    outcomes = evaluate(rules, inv.resources, got.series, now)
    return {"cloud": name, "resources": len(inv.resources), "seconds": round(time.perf_counter() - started, 2),
            "requests": sum(inv.requests.values()) + got.requests,
            "findings": sum(o.status == FINDING for o in outcomes)}


def _split(n: int) -> tuple[int, int, int]:
    vms, disks = n // 2, n // 4
    return vms, disks, n - vms - disks


def _aws(n: int, now: datetime) -> dict:
    conn = Connection(name="aws-fake", cloud="aws", region="us-east-1", account="123456789012", credentials="emulator")
    vms, disks, snapshots = _split(n)
    with FakeAwsPaging(instances=vms, volumes=disks, snapshots=snapshots) as fake:
        conn = conn.model_copy(update={"endpoint": fake.url})
        return _judge("aws", lambda: aws_inventory.read_inventory(conn),
                      lambda vms, needs: aws_metrics.read_metrics(conn, vms, needs, now), now)


def _azure(n: int, now: datetime) -> dict:
    conn = Connection(name="azure-fake", cloud="azure", credentials="emulator")
    hours = _hours(now)
    with FakeAzureCompute(SUB, page_size=1000) as fake:
        fake.add_sku("eastus", "Standard_D2s_v3", vcpus=2, memory_gb=8)
        vms, disks, ips = _split(n)
        for k in range(vms):
            vm = fake.add_vm("rg-bench", f"vm-{k:05d}", "Standard_D2s_v3", created=now - timedelta(days=60))
            fake.add_samples(vm, "Percentage CPU", [(t, _cpu(k)) for t in hours])
        for k in range(disks):
            fake.add_disk("rg-bench", f"disk-{k:05d}", size_gb=64, created=now - timedelta(days=60),
                          managed_by=fake.resource_id("rg-bench", "Microsoft.Compute", "virtualMachines/vm-00000")
                          if k % 2 else None)
        for k in range(ips):
            fake.add_public_ip("rg-bench", f"ip-{k:05d}", address=f"10.{k // 65536}.{k // 256 % 256}.{k % 256}",
                               ip_configuration=f"{vm}-nic/ipConfigurations/ip" if k % 2 else None)
        return _judge("azure", lambda: azure_inventory.read_inventory(conn, SUB, base_url=fake.url, databases=False),
                      lambda vms, needs: azure_metrics.read_metrics(conn, SUB, vms, needs, now, base_url=fake.url), now)


def _gcp(n: int, now: datetime) -> dict:
    conn = Connection(name="gcp-fake", cloud="gcp", account=PROJECT, credentials="emulator")
    hours = _hours(now)
    with FakeGce(PROJECT) as fake:
        fake.add_machine_type(ZONE, "e2-standard-2", vcpus=2, memory_mb=8192)
        vms, disks, ips = _split(n)
        for k in range(vms):
            vm = fake.add_instance(ZONE, f"vm-{k:05d}", "e2-standard-2", created=now - timedelta(days=60))
            fake.add_samples(vm, "compute.googleapis.com/instance/cpu/utilization", [(t, _cpu(k) / 100) for t in hours])
        for k in range(disks):
            disk = fake.add_disk(ZONE, f"disk-{k:05d}", size_gb=64, created=now - timedelta(days=60))
            if k % 2:
                fake.attach(disk, vm)
        for k in range(ips):
            fake.add_address("us-central1", f"ip-{k:05d}", address=f"10.{k // 65536}.{k // 256 % 256}.{k % 256}",
                             user=vm if k % 2 else None)
        return _judge("gcp", lambda: gcp_inventory.read_inventory(conn, endpoint=fake.url),
                      lambda vms, needs: gcp_metrics.read_metrics(conn, vms, needs, now, endpoint=fake.url), now)


def three_clouds(total: int) -> dict:
    """Our seconds, requests and findings for `total` resources split evenly over the three clouds' fakes."""
    now = datetime.now(timezone.utc)
    per = [total // 3 + (1 if k < total % 3 else 0) for k in range(3)]
    rows = [_aws(per[0], now), _azure(per[1], now), _gcp(per[2], now)]
    return {"resources": sum(r["resources"] for r in rows), "seconds": round(sum(r["seconds"] for r in rows), 2),
            "requests": sum(r["requests"] for r in rows), "clouds": rows}
