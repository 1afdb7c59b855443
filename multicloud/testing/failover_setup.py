"""Local stand-ins for a failover plan: the data set buckets, the journal bucket, and the Route 53
hosted zone with one weighted record per site (on moto). Used by the demo and the tests."""

from __future__ import annotations

from multicloud.clouds import ensure_bucket
from multicloud.clouds.aws.session import client
from multicloud.config import FailoverPlan, Profile


def prepare(plan: FailoverPlan, profile: Profile, weights: dict[str, int] | None = None) -> None:
    """Create what the plan points at; weights default to all traffic on the primary."""
    for ds in plan.datasets:
        for url in ds.urls.values():
            ensure_bucket(url, profile)
    ensure_bucket(plan.journal, profile)
    r53 = client(profile.connection_for("aws", plan.dns.connection), "route53")
    zone = plan.dns.zone if plan.dns.zone.endswith(".") else plan.dns.zone + "."
    zones = [z for z in r53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"] if z["Name"] == zone]
    zone_id = zones[0]["Id"] if zones else r53.create_hosted_zone(Name=zone, CallerReference=plan.name)["HostedZone"]["Id"]
    weights = weights or {s.name: (100 if s.name == plan.primary else 0) for s in plan.sites}
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": plan.dns.record, "Type": plan.dns.type, "SetIdentifier": site.name, "Weight": weights[site.name],
            "TTL": 30, "ResourceRecords": [{"Value": site.dns_value}]}}
        for site in plan.sites]})
