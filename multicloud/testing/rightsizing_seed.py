"""Seeded rightsizing scenarios for tests and the demo: in each cloud one idle VM, one oversized VM (with
memory metrics), one unattached disk, one stray public IP, one old (AWS: orphaned) snapshot, one VM
tagged multicloud:keep=true and one VM without metrics, with 14 days of metrics ending at `now`. AWS is
seeded in moto through boto3 (put_metric_data, at most 1,000 datums a request); Azure and Google Cloud
in their local fakes. Everything carries the tag `rightsizing-run=<run>`, so a run judges only its own.

    python -m multicloud.testing.rightsizing_seed --azure-port 9110 --gce-port 9111 --run demo

serves both fakes, seeded, until stopped (the demo's process)."""

from __future__ import annotations

import argparse
import signal
import threading
from datetime import datetime, timedelta, timezone

from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_gce import FakeGce

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

    ids = {"idle": instance("idle", "m5.large"), "oversized": instance("oversized", "m5.2xlarge"),
           "kept": instance("kept", "t3.micro", keep=True), "nodata": instance("nodata", "t3.small")}
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

AZURE_SIZES = {"Standard_D2s_v3": (2, 8), "Standard_D8s_v3": (8, 32)}
AZURE_GROUP = "rg-rightsizing"


def seed_azure(fake: FakeAzureCompute, run: str, now: datetime, location: str = "eastus") -> dict[str, str]:
    """The scenario in the fake ARM server's subscription; resource ids by role."""
    for size, (vcpus, memory) in AZURE_SIZES.items():
        fake.add_sku(location, size, vcpus=vcpus, memory_gb=memory)
    tags = {RUN_TAG: run}
    created = now - timedelta(days=120)

    def vm(role: str, size: str, keep: bool = False) -> str:
        name = f"vm-{role}-{run}"
        os_disk = fake.add_disk(AZURE_GROUP, f"{name}-os", size_gb=30, created=created, location=location, tags=tags,
                                managed_by=fake.resource_id(AZURE_GROUP, "Microsoft.Compute", f"virtualMachines/{name}"))
        return fake.add_vm(AZURE_GROUP, name, size, location=location, created=created, os_disk=os_disk,
                           tags={**tags, **({KEEP["azure"]: "true"} if keep else {})})

    ids = {"idle": vm("idle", "Standard_D2s_v3"), "oversized": vm("oversized", "Standard_D8s_v3"),
           "kept": vm("kept", "Standard_D2s_v3", keep=True), "nodata": vm("nodata", "Standard_D2s_v3")}
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

GCP_TYPES = {"e2-standard-2": (2, 8192), "n2-standard-8": (8, 32768)}
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


def seed_gcp(fake: FakeGce, run: str, now: datetime, zone: str = GCP_ZONE) -> dict[str, str]:
    """The scenario in the fake's project; resource ids by role."""
    for name, (vcpus, memory) in GCP_TYPES.items():
        fake.add_machine_type(zone, name, vcpus=vcpus, memory_mb=memory)
    labels = {RUN_TAG: run}
    created = now - timedelta(days=120)
    made = {}

    def vm(role: str, mtype: str, keep: bool = False) -> str:
        boot = fake.add_disk(zone, f"{role}-{run}-boot", size_gb=20, created=created, labels=labels)
        made[role] = fake.add_instance(zone, f"{role}-{run}", mtype, created=created, disks=(boot,),
                                       labels={**labels, **({KEEP["gcp"]: "true"} if keep else {})})
        fake.attach(boot, made[role])
        made[f"{role}-boot"] = boot
        return gcp_id(made[role])

    ids = {"idle": vm("idle", "e2-standard-2"), "oversized": vm("oversized", "n2-standard-8"),
           "kept": vm("kept", "e2-standard-2", keep=True), "nodata": vm("nodata", "e2-standard-2")}
    fives = times(now, FIVE_MINUTES)
    for role in ("idle", "kept"):
        fake.add_samples(made[role], CPU, [(t, 0.004 + 0.001 * (i % 3)) for i, t in enumerate(fives)])
        fake.add_samples(made[role], RECEIVED, [(t, 30_000) for t in fives], value_type="INT64", kind="DELTA")
        fake.add_samples(made[role], SENT, [(t, 20_000) for t in fives], value_type="INT64", kind="DELTA")
    fake.add_samples(made["oversized"], CPU, [(t, 0.12 + 0.02 * (i % 5)) for i, t in enumerate(fives)])
    fake.add_samples(made["oversized"], MEMORY, [(t, 25.0) for t in fives], labels={"state": "used"})
    ids["disk"] = gcp_id(fake.add_disk(zone, f"free-{run}", size_gb=100, created=created, labels=labels))
    ids["ip"] = gcp_id(fake.add_address(zone.rsplit("-", 1)[0], f"stray-{run}", address="34.10.0.2", labels=labels))
    ids["snapshot"] = gcp_id(fake.add_snapshot(f"old-{run}", disk=made["idle-boot"], labels=labels,
                                               created=now - timedelta(days=200)))
    return ids


# ---- the demo's process ------------------------------------------------------------------------------

def serve(azure_port: int, gce_port: int, run: str, subscription: str, project: str) -> None:
    """Both fakes on fixed ports of 127.0.0.1, seeded as of now, until SIGTERM or SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    now = datetime.now(timezone.utc)
    with FakeAzureCompute(subscription, page_size=100, port=azure_port) as arm, FakeGce(project, port=gce_port) as gce:
        seed_azure(arm, run, now)
        seed_gcp(gce, run, now)
        print(f"fake ARM {arm.url} (subscription {subscription}), fake Compute Engine {gce.url} (project {project}):"
              f" seeded as of {now:%Y-%m-%d %H:%M} UTC", flush=True)
        stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--azure-port", type=int, required=True)
    parser.add_argument("--gce-port", type=int, required=True)
    parser.add_argument("--run", default="demo")
    parser.add_argument("--subscription", default="5a1e0000-0000-4000-8000-0000000000de")
    parser.add_argument("--project", default="local-project")
    args = parser.parse_args(argv)
    serve(args.azure_port, args.gce_port, args.run, args.subscription, args.project)


if __name__ == "__main__":
    main()
