"""Seeded rightsizing scenarios for tests and the demo: in each cloud one idle VM, one oversized VM (with
memory metrics), one unattached disk, one stray public IP, one old (AWS: orphaned) snapshot, one VM
tagged multicloud:keep=true and one VM without metrics, with 14 days of metrics ending at `now`. AWS is
seeded in moto through boto3 (put_metric_data, at most 1,000 datums a request); Azure and Google Cloud
in their local fakes. Everything carries the tag `rightsizing-run=<run>`, so a run judges only its own.
Prices, spot, advice and FOCUS costs for the same resources: multicloud.testing.rightsizing_market.

    python -m multicloud.testing.rightsizing_seed --run demo --aws-region R --aws-ids-file F --ids-file G

serves every fake the local scope names (ports 9110-9117 by default), seeded, until stopped (the
demo's process)."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.testing import rightsizing_market as market
from multicloud.testing.fakes.fake_aws_pricing import FakeAwsPricing
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_azure_prices import FakeAzurePrices
from multicloud.testing.fakes.fake_cloud_billing import FakeCloudBilling
from multicloud.testing.fakes.fake_compute_optimizer import FakeComputeOptimizer
from multicloud.testing.fakes.fake_ec2_spot import FakeEc2Spot
from multicloud.testing.fakes.fake_gce import FakeGce
from multicloud.testing.fakes.fake_recommender import FakeRecommender
from multicloud.testing.fakes.localserver import LocalServer

RUN_TAG = "rightsizing-run"
KEEP = {"aws": "multicloud:keep", "azure": "multicloud:keep", "gcp": "multicloud-keep"}
HOUR, FIVE_MINUTES = timedelta(hours=1), timedelta(minutes=5)
DAYS = 14
GIB = 2**30
MAX_DATUMS = 1000  # put_metric_data's limit per request (moto does not enforce it)


def floor(now: datetime, step: timedelta) -> datetime:
    """`now` floored to a multiple of `step` since the epoch, as the metric readers floor their windows."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return epoch + (now.astimezone(timezone.utc) - epoch) // step * step


def times(now: datetime, step: timedelta, days: int = DAYS) -> list[datetime]:
    """The period starts of `days` of `step` periods ending at `now` floored, oldest first."""
    end = floor(now, step)
    count = int(timedelta(days=days) / step)
    return [end - (count - i) * step for i in range(count)]


# ---- AWS (moto) ------------------------------------------------------------------------------------

def _aws_tags(run: str, role: str, kinds: tuple[str, ...], keep: bool = False) -> list[dict]:
    tags = [{"Key": RUN_TAG, "Value": run}, {"Key": "Name", "Value": f"rightsizing-{role}-{run}"}]
    if keep:
        tags.append({"Key": KEEP["aws"], "Value": "true"})
    return [{"ResourceType": kind, "Tags": tags} for kind in kinds]


def put_metrics(conn: Connection, namespace: str, instance: str, series: dict[str, list[tuple[datetime, float]]]) -> int:
    """Each named series of one instance through put_metric_data, 1,000 datums a request; the requests made."""
    cw = client(conn, "cloudwatch")
    data = [{"MetricName": name, "Dimensions": [{"Name": "InstanceId", "Value": instance}], "Timestamp": t,
             "Value": v, "Unit": "Percent" if "CPU" in name or "percent" in name else "Bytes"}
            for name, points in series.items() for t, v in points]
    for i in range(0, len(data), MAX_DATUMS):
        cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + MAX_DATUMS])
    return (len(data) + MAX_DATUMS - 1) // MAX_DATUMS


def seed_aws(conn: Connection, run: str, now: datetime) -> dict[str, str]:
    """The scenario in `conn`'s region of moto; resource ids by role. moto cannot backdate a snapshot
    (its StartTime is always the time of the call): the snapshot's source volume is deleted, so it is
    orphaned now, and old for a run judged as of 91 days or more after seeding."""
    ec2 = client(conn, "ec2")
    zone = f"{conn.region}a"

    def instance(role: str, itype: str, keep: bool = False) -> str:
        made = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType=itype,
                                 TagSpecifications=_aws_tags(run, role, ("instance", "volume"), keep))
        return made["Instances"][0]["InstanceId"]

    types = market.VM_TYPES["aws"]
    ids = {role: instance(role, types[role], keep=role == "kept") for role in ("idle", "oversized", "kept", "nodata")}
    hours = times(now, HOUR)
    for role in ("idle", "kept"):
        put_metrics(conn, "AWS/EC2", ids[role], {
            "CPUUtilization": [(t, 1.0 + 0.5 * (i % 3)) for i, t in enumerate(hours)],
            "NetworkIn": [(t, 2000.0) for t in hours], "NetworkOut": [(t, 1500.0) for t in hours]})
    fives = times(now, FIVE_MINUTES)
    put_metrics(conn, "AWS/EC2", ids["oversized"], {"CPUUtilization": [(t, 12.0 + 2 * (i % 7)) for i, t in enumerate(fives)]})
    put_metrics(conn, "CWAgent", ids["oversized"], {"mem_used_percent": [(t, 22.0 + i % 5) for i, t in enumerate(fives)]})
    ids["disk"] = ec2.create_volume(AvailabilityZone=zone, Size=50, VolumeType="gp3",
                                    TagSpecifications=_aws_tags(run, "disk", ("volume",)))["VolumeId"]
    ids["ip"] = ec2.allocate_address(Domain="vpc", TagSpecifications=_aws_tags(run, "ip", ("elastic-ip",)))[
        "AllocationId"]
    source = ec2.create_volume(AvailabilityZone=zone, Size=8, TagSpecifications=_aws_tags(run, "gone", ("volume",)))
    ids["snapshot"] = ec2.create_snapshot(VolumeId=source["VolumeId"],
                                          TagSpecifications=_aws_tags(run, "snapshot", ("snapshot",)))["SnapshotId"]
    ec2.delete_volume(VolumeId=source["VolumeId"])
    return ids


def remove_aws(conn: Connection, run: str) -> int:
    """Terminate, delete and release what an earlier seeding of `run` left in moto; how many."""
    ec2 = client(conn, "ec2")
    mine = [{"Name": f"tag:{RUN_TAG}", "Values": [run]}]
    instances = [i["InstanceId"] for r in ec2.describe_instances(Filters=mine)["Reservations"] for i in r["Instances"]
                 if i["State"]["Name"] != "terminated"]
    if instances:
        ec2.terminate_instances(InstanceIds=instances)
    snapshots = ec2.describe_snapshots(OwnerIds=["self"], Filters=mine)["Snapshots"]
    for snap in snapshots:
        ec2.delete_snapshot(SnapshotId=snap["SnapshotId"])
    volumes = [v for v in ec2.describe_volumes(Filters=mine)["Volumes"] if not v["Attachments"]]
    for volume in volumes:
        ec2.delete_volume(VolumeId=volume["VolumeId"])
    addresses = ec2.describe_addresses(Filters=mine)["Addresses"]
    for address in addresses:
        ec2.release_address(AllocationId=address["AllocationId"])
    return len(instances) + len(snapshots) + len(volumes) + len(addresses)


# ---- Azure (the local ARM fake) --------------------------------------------------------------------

AZURE_GROUP = "rg-rightsizing"


def seed_azure(fake: FakeAzureCompute, run: str, now: datetime, location: str = "eastus") -> dict[str, str]:
    """The scenario in the fake ARM server's subscription; resource ids by role."""
    market.add_azure_sizes(fake, location)
    tags = {RUN_TAG: run}
    created = now - timedelta(days=120)

    def vm(role: str, size: str, keep: bool = False) -> str:
        name = f"vm-{role}-{run}"
        os_disk = fake.add_disk(AZURE_GROUP, f"{name}-os", size_gb=30, created=created, location=location, tags=tags,
                                managed_by=fake.resource_id(AZURE_GROUP, "Microsoft.Compute", f"virtualMachines/{name}"))
        return fake.add_vm(AZURE_GROUP, name, size, location=location, created=created, os_disk=os_disk,
                           tags={**tags, **({KEEP["azure"]: "true"} if keep else {})})

    sizes = market.VM_TYPES["azure"]
    ids = {role: vm(role, sizes[role], keep=role == "kept") for role in ("idle", "oversized", "kept", "nodata")}
    fives = times(now, FIVE_MINUTES)
    for role in ("idle", "kept"):
        _azure_samples(fake, ids[role], fives, cpu=lambda i: 0.6 + 0.2 * (i % 3), net=50_000.0, available=5 * GIB)
    _azure_samples(fake, ids["oversized"], fives, cpu=lambda i: 10.0 + 2 * (i % 4), net=3e8, available=26 * GIB)
    ids["disk"] = fake.add_disk(AZURE_GROUP, f"disk-free-{run}", size_gb=128, created=created, location=location,
                                tags=tags, sku="StandardSSD_LRS")
    ids["ip"] = fake.add_public_ip(AZURE_GROUP, f"ip-stray-{run}", address="20.10.0.2", location=location, tags=tags)
    source = fake.resource_id(AZURE_GROUP, "Microsoft.Compute", f"disks/vm-oversized-{run}-os")
    ids["snapshot"] = fake.add_snapshot(AZURE_GROUP, f"snap-old-{run}", source=source, location=location, tags=tags,
                                        created=now - timedelta(days=200))
    return ids


def _azure_samples(fake: FakeAzureCompute, vm_id: str, at: list[datetime], *, cpu, net: float,
                   available: float) -> None:
    fake.add_samples(vm_id, "Percentage CPU", [(t, cpu(i)) for i, t in enumerate(at)])
    fake.add_samples(vm_id, "Network Out Total", [(t, net) for t in at])
    fake.add_samples(vm_id, "Network In Total", [(t, net) for t in at])
    fake.add_samples(vm_id, "Available Memory Bytes", [(t, available) for t in at])


# ---- Google Cloud (the local Compute Engine and Monitoring fake) -----------------------------------

GCP_ZONE = "us-central1-a"
CPU = "compute.googleapis.com/instance/cpu/utilization"
RECEIVED = "compute.googleapis.com/instance/network/received_bytes_count"
SENT = "compute.googleapis.com/instance/network/sent_bytes_count"
MEMORY = "agent.googleapis.com/memory/percent_used"


def gcp_id(item: dict) -> str:
    """The inventory's id of a fake item: its selfLink's parent and numeric id as a global name."""
    link = item["selfLink"]
    parent = link[link.index("projects/"):].rsplit("/", 1)[0]
    return f"//compute.googleapis.com/{parent}/{item['id']}"


def gcp_paths(run: str, zone: str = GCP_ZONE) -> dict[str, str]:
    """The seeded resources' paths below the project by role (zones/Z/instances/NAME), as Recommender
    names them."""
    region = zone.rsplit("-", 1)[0]
    vms = {role: f"zones/{zone}/instances/{role}-{run}" for role in ("idle", "oversized", "kept", "nodata")}
    return {**vms, "disk": f"zones/{zone}/disks/free-{run}", "ip": f"regions/{region}/addresses/stray-{run}"}


def seed_gcp(fake: FakeGce, run: str, now: datetime, zone: str = GCP_ZONE) -> dict[str, str]:
    """The scenario in the fake's project; resource ids by role."""
    market.add_gcp_types(fake, zone)
    labels = {RUN_TAG: run}
    created = now - timedelta(days=120)
    made = {}
    names = {role: path.rsplit("/", 1)[-1] for role, path in gcp_paths(run, zone).items()}

    def vm(role: str, mtype: str, keep: bool = False) -> str:
        boot = fake.add_disk(zone, f"{role}-{run}-boot", size_gb=20, created=created, labels=labels)
        made[role] = fake.add_instance(zone, names[role], mtype, created=created, disks=(boot,),
                                       labels={**labels, **({KEEP["gcp"]: "true"} if keep else {})})
        fake.attach(boot, made[role])
        made[f"{role}-boot"] = boot
        return gcp_id(made[role])

    types = market.VM_TYPES["gcp"]
    ids = {role: vm(role, types[role], keep=role == "kept") for role in ("idle", "oversized", "kept", "nodata")}
    fives = times(now, FIVE_MINUTES)
    for role in ("idle", "kept"):
        fake.add_samples(made[role], CPU, [(t, 0.004 + 0.001 * (i % 3)) for i, t in enumerate(fives)])
        fake.add_samples(made[role], RECEIVED, [(t, 30_000) for t in fives], value_type="INT64", kind="DELTA")
        fake.add_samples(made[role], SENT, [(t, 20_000) for t in fives], value_type="INT64", kind="DELTA")
    fake.add_samples(made["oversized"], CPU, [(t, 0.12 + 0.02 * (i % 5)) for i, t in enumerate(fives)])
    fake.add_samples(made["oversized"], MEMORY, [(t, 25.0) for t in fives], labels={"state": "used"})
    ids["disk"] = gcp_id(fake.add_disk(zone, names["disk"], size_gb=100, created=created, labels=labels))
    ids["ip"] = gcp_id(fake.add_address(zone.rsplit("-", 1)[0], names["ip"], address="34.10.0.2", labels=labels))
    ids["snapshot"] = gcp_id(fake.add_snapshot(f"old-{run}", disk=made["idle-boot"], labels=labels,
                                               created=now - timedelta(days=200)))
    return ids


# ---- every fake of the local scope, and the demo's process -------------------------------------------

#: The demo's ports (deployments/rightsizing/scopes/local.yaml names them); tests bind port 0.
PORTS = {"arm": 9110, "gce": 9111, "pricing": 9112, "prices": 9113, "billing": 9114, "optimizer": 9115,
         "recommender": 9116, "spot": 9117}


@dataclass
class LocalFakes:
    """Every local server a rightsizing run on the local stack reads besides moto: the ARM server (with
    Advisor), Compute Engine (with Monitoring), AWS Pricing, Azure Retail Prices, Cloud Billing, Compute
    Optimizer, Recommender and the spot interposer in front of moto. Seed them, then `with fakes:`
    serves them all on 127.0.0.1 (and stops them)."""

    arm: FakeAzureCompute
    gce: FakeGce
    pricing: FakeAwsPricing
    prices: FakeAzurePrices
    billing: FakeCloudBilling
    optimizer: FakeComputeOptimizer
    recommender: FakeRecommender
    spot: FakeEc2Spot
    _stack: ExitStack = field(default_factory=ExitStack)

    @classmethod
    def create(cls, subscription: str, project: str, moto_url: str, *, aws_region: str = "us-east-1",
               account: str = "123456789012", ports: dict[str, int] | None = None,
               arm_page_size: int = 100) -> "LocalFakes":
        """The fakes on `ports` (by PORTS' names; missing ones: a free port)."""
        port = {name: 0 for name in PORTS} | (ports or {})
        return cls(FakeAzureCompute(subscription, page_size=arm_page_size, port=port["arm"]),
                   FakeGce(project, port=port["gce"]), FakeAwsPricing(port=port["pricing"]),
                   FakeAzurePrices(port=port["prices"]), FakeCloudBilling(port=port["billing"]),
                   FakeComputeOptimizer(account, aws_region, port=port["optimizer"]),
                   FakeRecommender(project, port=port["recommender"]), FakeEc2Spot(moto_url, port=port["spot"]))

    def servers(self) -> dict[str, LocalServer]:
        return {name: getattr(self, name) for name in PORTS}

    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers().items()}

    def __enter__(self) -> "LocalFakes":
        for server in self.servers().values():
            self._stack.enter_context(server)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()


def seed_market(fakes: LocalFakes, aws_region: str, now: datetime) -> dict[str, int]:
    """List and spot prices on the price fakes for the seed's AWS region and every cloud's arbitrage
    region (the Azure and GCP seeds are in theirs); what was added to each."""
    aws_regions = (aws_region, market.ARBITRAGE_REGIONS["aws"])
    return {"pricing": market.seed_aws_prices(fakes.pricing, aws_regions),
            "spot": market.seed_spot(fakes.spot, aws_regions, now),
            "prices": market.seed_azure_prices(fakes.prices, market.ARBITRAGE_REGIONS["azure"]),
            "billing": market.seed_gcp_prices(fakes.billing, market.ARBITRAGE_REGIONS["gcp"])}


def seed_advice(fakes: LocalFakes, ids: dict[str, dict[str, str]], run: str, aws_region: str) -> None:
    """Each cloud's own advice on the seeded resources of `ids` (cloud -> role -> id; a cloud left out
    gets none)."""
    if "aws" in ids:
        market.seed_aws_advice(fakes.optimizer, ids["aws"], aws_region)
    if "azure" in ids:
        market.seed_azure_advice(fakes.arm, ids["azure"])
    if "gcp" in ids:
        market.seed_gcp_advice(fakes.recommender, gcp_paths(run), GCP_ZONE)


def seed_scenario(fakes: LocalFakes, run: str, now: datetime, aws_region: str, *, aws: Connection | None = None,
                  aws_ids: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """The whole scenario: AWS in moto through `aws` (in `aws_region`) unless its `aws_ids` are given
    (seeded earlier), Azure and Google Cloud in their fakes, the market and every cloud's advice; the
    ids by cloud and role."""
    aws_ids = seed_aws(aws.model_copy(update={"region": aws_region}), run, now) if aws is not None else aws_ids
    ids = {"aws": aws_ids or {}, "azure": seed_azure(fakes.arm, run, now), "gcp": seed_gcp(fakes.gce, run, now)}
    seed_market(fakes, aws_region, now)
    seed_advice(fakes, {k: v for k, v in ids.items() if v}, run, aws_region)
    return ids


def serve(ports: dict[str, int], run: str, subscription: str, project: str, moto_url: str, aws_region: str,
          aws_ids: dict[str, str], ids_file: Path | None) -> None:
    """Every fake on its port of 127.0.0.1, seeded as of now (the AWS resources' advice from `aws_ids`,
    which moto holds), until SIGTERM or SIGINT. The seeded ids of every cloud are written to `ids_file`
    before the servers answer, so a caller that waited for them can read it."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    now = datetime.now(timezone.utc)
    fakes = LocalFakes.create(subscription, project, moto_url, aws_region=aws_region, ports=ports)
    ids = seed_scenario(fakes, run, now, aws_region, aws_ids=aws_ids)
    if ids_file:
        ids_file.write_text(json.dumps(ids, indent=1))
    with fakes:
        print(f"rightsizing fakes seeded as of {now:%Y-%m-%d %H:%M} UTC:", flush=True)
        for name, url in fakes.urls().items():
            print(f"  {name:12} {url}", flush=True)
        stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, port in PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=port, help=f"default {port}")
    parser.add_argument("--run", default="demo")
    parser.add_argument("--subscription", default="5a1e0000-0000-4000-8000-0000000000de")
    parser.add_argument("--project", default="local-project")
    parser.add_argument("--moto-url", default="http://127.0.0.1:9100", help="the EC2 endpoint behind the spot "
                        "interposer")
    parser.add_argument("--aws-region", default="us-east-1", help="the region the AWS resources were seeded in")
    parser.add_argument("--aws-ids-file", type=Path, help="JSON of the seeded AWS ids by role (seed_aws)")
    parser.add_argument("--ids-file", type=Path, help="where to write every cloud's seeded ids (JSON)")
    args = parser.parse_args(argv)
    aws_ids = json.loads(args.aws_ids_file.read_text()) if args.aws_ids_file else {}
    serve({name: getattr(args, f"{name}_port") for name in PORTS}, args.run, args.subscription, args.project,
          args.moto_url, args.aws_region, aws_ids, args.ids_file)


if __name__ == "__main__":
    main()
