"""Reading one rightsizing scan target (a cloud, an AWS region) through that cloud's own inventory and
metrics readers, keeping only the resources that carry the run's tags: the one place that knows which
reader and which settings each cloud takes."""

from __future__ import annotations

from datetime import datetime

from multicloud.config import Connection, Profile
from multicloud.config.rightsizing import ScanTarget
from multicloud.core.rightsizing import MetricsResult
from multicloud.core.rightsizing.runs import Scan, selected


def connection(target: ScanTarget, profile: Profile) -> Connection:
    """The target's connection from the profile; for an AWS region, that connection in the region.
    Raises InvalidInput naming the profile or connection."""
    conn = profile.connection_for(target.cloud, target.connection)
    return conn.model_copy(update={"region": target.region}) if target.region else conn


def read_inventory(target: ScanTarget, profile: Profile, tags: dict[str, str]) -> Scan:
    """The target's inventory, only the resources carrying every tag of `tags` kept (the others
    counted). Raises the taxonomy error of the cloud reader."""
    conn = connection(target, profile)
    if target.cloud == "aws":
        from multicloud.clouds.aws.inventory import read_inventory as aws

        inv = aws(conn)
    elif target.cloud == "azure":
        from multicloud.clouds.azure.inventory import read_inventory as azure

        inv = azure(conn, target.azure.subscription_id, base_url=target.azure.arm_base_url,
                    databases=target.azure.databases)
    else:
        from multicloud.clouds.gcp.inventory import read_inventory as gcp

        inv = gcp(conn, target.gcp.project, endpoint=target.gcp.compute_endpoint)
    inv.resources, left_out = selected(inv.resources, tags)
    return Scan(target.name, target.cloud, inv, left_out)


def read_metrics(target: ScanTarget, profile: Profile, scan: Scan, needs: dict[tuple[str, str, int], int],
                 now: datetime) -> MetricsResult:
    """The series `needs` asks for, for every resource of `scan`, each window ending at `now`.
    Raises the taxonomy error of the cloud reader."""
    conn = connection(target, profile)
    resources = scan.inventory.resources
    if not resources or not needs:
        return MetricsResult()
    if target.cloud == "aws":
        from multicloud.clouds.aws.metrics import read_metrics as aws

        return aws(conn, resources, needs, now)
    if target.cloud == "azure":
        from multicloud.clouds.azure.metrics import read_metrics as azure

        return azure(conn, target.azure.subscription_id, resources, needs, now, base_url=target.azure.arm_base_url,
                     bandwidth_mbps=target.azure.bandwidth_mbps)
    from multicloud.clouds.gcp.metrics import read_metrics as gcp

    return gcp(conn, resources, needs, now, project=target.gcp.project, endpoint=target.gcp.monitoring_endpoint)
