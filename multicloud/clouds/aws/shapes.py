"""The EC2 shape catalog: every instance type of a region (DescribeInstanceTypes through boto3's
paginator, 100 a page as the API allows), or the named ones, as `Shape` records with their default
vCPUs, memory, primary architecture and family."""

from __future__ import annotations

from collections import Counter

from multicloud.clouds.aws.paging import pages
from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.core.rightsizing.catalogs import ShapeCatalog
from multicloud.core.rightsizing.prices import Shape

PAGE_SIZE = 100  # DescribeInstanceTypes' largest MaxResults, and the most names one request may carry
# A type supporting several architectures (t2: i386 and x86_64) is listed under the first of these;
# mac types keep their own names, so no Linux VM is ever matched to one.
_ARCHITECTURES = ("x86_64", "arm64", "x86_64_mac", "arm64_mac", "i386")


def read_shapes(conn: Connection, page_size: int = PAGE_SIZE) -> ShapeCatalog:
    """Every instance type offered in `conn`'s region, each page one counted request. Raises the
    taxonomy error of the first request that fails."""
    catalog = ShapeCatalog(cloud="aws", region=conn.region or "us-east-1")
    ec2 = client(conn, "ec2")
    catalog.shapes = [shape_of(t) for t in pages(ec2, "describe_instance_types", "InstanceTypes",
                                                  catalog.requests, page_size)]
    return catalog


def named_shapes(ec2, names: set[str], requests: Counter, page_size: int = PAGE_SIZE) -> dict[str, Shape]:
    """type -> Shape of the named types, at most 100 names a request (the API's limit)."""
    found: dict[str, Shape] = {}
    ordered = sorted(names)
    for i in range(0, len(ordered), PAGE_SIZE):
        for t in pages(ec2, "describe_instance_types", "InstanceTypes", requests, page_size,
                       InstanceTypes=ordered[i:i + PAGE_SIZE]):
            found[t["InstanceType"]] = shape_of(t)
    return found


def shape_of(info: dict) -> Shape:
    """One DescribeInstanceTypes item as a Shape (vCPUs and MiB 0 when the item does not say)."""
    name = info["InstanceType"]
    supported = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    arch = next((a for a in _ARCHITECTURES if a in supported), supported[0] if supported else "")
    return Shape(cloud="aws", type=name, vcpus=int(info.get("VCpuInfo", {}).get("DefaultVCpus", 0)),
                 memory_mib=int(info.get("MemoryInfo", {}).get("SizeInMiB", 0)), architecture=arch,
                 family=name.split(".", 1)[0])
