"""The AWS inventory of idle and rightsizing detection: EC2 instances (with their type's vCPUs and
memory), EBS volumes, Elastic IPs, EBS snapshots and RDS instances of one region, as the cloud-neutral
`Resource` records the rules judge. Every listing that the API pages is read through boto3's paginators."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterable, Iterator

from multicloud.clouds.aws.paging import call, pages
from multicloud.clouds.aws.session import client
from multicloud.clouds.aws.shapes import named_shapes
from multicloud.config import Connection
from multicloud.core.rightsizing import Inventory, Resource
from multicloud.core.rightsizing.prices import Shape

# The largest pages each API serves, so a big account takes as few requests as the API allows.
PAGE_SIZES = {"describe_instances": 1000, "describe_volumes": 500, "describe_snapshots": 1000,
              "describe_instance_types": 100, "describe_db_instances": 100}
# Snapshots copied between regions or made from AMIs name this placeholder as their source volume.
_PLACEHOLDER_VOLUME = "vol-ffffffff"
_STOP_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")


def read_inventory(conn: Connection, page_sizes: dict[str, int] | None = None) -> Inventory:
    """Every instance, volume, Elastic IP, own snapshot and RDS instance of `conn`'s region.
    Raises the taxonomy error of the first request that fails."""
    sizes = {**PAGE_SIZES, **(page_sizes or {})}
    inv = Inventory()
    ec2 = client(conn, "ec2")
    volumes = [_volume(v, conn.region) for v in _pages(ec2, "describe_volumes", "Volumes", inv, sizes)]
    instances = [i for r in _pages(ec2, "describe_instances", "Reservations", inv, sizes) for i in r["Instances"]
                 if i["State"]["Name"] != "terminated"]
    types = _instance_types(ec2, {i["InstanceType"] for i in instances}, inv, sizes)
    inv.resources += [_instance(i, conn.region, types.get(i["InstanceType"])) for i in instances]
    inv.resources += volumes
    inv.resources += [_address(a, conn.region) for a in _call(ec2, "describe_addresses", inv)["Addresses"]]
    existing = {v.id for v in volumes}
    owner = {"Filters": [{"Name": "owner-id", "Values": [_account(conn, inv)]}]}
    # moto ignores OwnerIds; the owner-id filter (honoured by both) keeps other accounts' public snapshots out
    snaps = _pages(ec2, "describe_snapshots", "Snapshots", inv, sizes, OwnerIds=["self"], **owner)
    inv.resources += [_snapshot(s, conn.region, existing) for s in snaps]
    rds = client(conn, "rds")
    inv.resources += [_database(d, conn.region) for d in _pages(rds, "describe_db_instances", "DBInstances", inv, sizes)]
    return inv


def _pages(api, operation: str, key: str, inv: Inventory, sizes: dict[str, int], **params) -> Iterator[dict]:
    return pages(api, operation, key, inv.requests, sizes[operation], **params)


def _call(api, operation: str, inv: Inventory, **params) -> dict:
    return call(api, operation, inv.requests, **params)


def _account(conn: Connection, inv: Inventory) -> str:
    if conn.account:
        return conn.account
    return _call(client(conn, "sts"), "get_caller_identity", inv)["Account"]


def _instance_types(ec2, names: set[str], inv: Inventory, sizes: dict[str, int]) -> dict[str, Shape]:
    return named_shapes(ec2, names, inv.requests, sizes["describe_instance_types"])


def _tags(items: Iterable[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in items or ()}


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def stopped_since(reason: str) -> datetime | None:
    """The stop time EC2 writes in StateTransitionReason ("User initiated (2026-11-30 10:00:00 GMT)")."""
    found = _STOP_TIME.search(reason or "")
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc) if found else None


def _instance(i: dict, region: str, shape: Shape | None) -> Resource:
    state = i["State"]["Name"]
    return Resource(
        cloud="aws", id=i["InstanceId"], kind="vm", region=region, type=i["InstanceType"], state=state,
        tags=_tags(i.get("Tags")), created=_utc(i.get("LaunchTime")), architecture=i.get("Architecture", ""),
        vcpus=(shape.vcpus or None) if shape else None, memory_mib=(shape.memory_mib or None) if shape else None,
        attached_disks=sum(1 for b in i.get("BlockDeviceMappings", []) if "Ebs" in b),
        stopped_since=stopped_since(i.get("StateTransitionReason", "")) if state == "stopped" else None)


def _volume(v: dict, region: str) -> Resource:
    attachments = [a for a in v.get("Attachments", []) if a.get("State") in ("attached", "attaching")]
    return Resource(
        cloud="aws", id=v["VolumeId"], kind="disk", region=region, type=v.get("VolumeType", ""), state=v["State"],
        tags=_tags(v.get("Tags")), created=_utc(v.get("CreateTime")), size_gb=v.get("Size"),
        attached=bool(attachments), attached_to=attachments[0]["InstanceId"] if attachments else "")


def _address(a: dict, region: str) -> Resource:
    # moto answers InstanceId "" and NetworkInterfaceId "" for a free address; AWS leaves them out
    target = a.get("InstanceId") or a.get("NetworkInterfaceId") or ""
    return Resource(
        cloud="aws", id=a.get("AllocationId") or a["PublicIp"], kind="ip", region=region, type=a.get("Domain", ""),
        tags=_tags(a.get("Tags")), associated=bool(a.get("AssociationId")), attached_to=target)


def _snapshot(s: dict, region: str, volumes: set[str]) -> Resource:
    source = s.get("VolumeId", "")
    known = source and source != _PLACEHOLDER_VOLUME
    return Resource(
        cloud="aws", id=s["SnapshotId"], kind="snapshot", region=region, state=s.get("State", ""),
        tags=_tags(s.get("Tags")), created=_utc(s.get("StartTime")), size_gb=s.get("VolumeSize"),
        attached_to=source, source_exists=(source in volumes) if known else None)


def _database(d: dict, region: str) -> Resource:
    return Resource(
        cloud="aws", id=d["DBInstanceIdentifier"], kind="database", region=region, type=d.get("DBInstanceClass", ""),
        state=d.get("DBInstanceStatus", ""), tags=_tags(d.get("TagList")), created=_utc(d.get("InstanceCreateTime")),
        size_gb=d.get("AllocatedStorage"))
