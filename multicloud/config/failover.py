"""Failover plans: sites, their write switches and health URLs, data sets, weighted DNS, budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal


from pydantic import BaseModel, Discriminator, Field, Tag

from multicloud.config.loading import HttpUrlStr, KeyGlobs, StoreUrlStr, load_yaml_model, named
from multicloud.config.profiles import Cloud
from multicloud.core.replication import CompareMode




class HttpWriteSwitch(BaseModel):
    """The application's admin endpoint: GET {url} -> {"mode": ...}; POST {url}/read-only, {url}/read-write."""

    kind: Literal["http"] = "http"
    url: HttpUrlStr = Field(description="Admin endpoint base URL of the site's application.")
    token_env: str | None = Field(default=None, description="Env var holding a bearer token for the endpoint.")


class RdsWriteSwitch(BaseModel):
    """An RDS instance whose parameter group sets default_transaction_read_only."""

    kind: Literal["rds"] = "rds"
    instance: str = Field(description="DB instance identifier.")
    read_only_parameter_group: str = Field(description="Group with default_transaction_read_only=1.")
    read_write_parameter_group: str = Field(description="The instance's normal group.")
    connection: str | None = Field(default=None, description="AWS connection name (default: the first).")


class BucketPolicyWriteSwitch(BaseModel):
    """A deny-write statement added to (and removed from) an S3 bucket policy."""

    kind: Literal["bucket-policy"] = "bucket-policy"
    bucket: str = Field(description="Bucket name.")
    connection: str | None = None


class Site(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    cloud: Cloud
    region: str | None = None
    dns_value: str = Field(description="The value of this site's weighted DNS record (host name or address).")
    health_urls: list[HttpUrlStr] = Field(min_length=1, description="HTTP URLs that answer 2xx when the site serves.")
    write_switch: HttpWriteSwitch | RdsWriteSwitch | BucketPolicyWriteSwitch | None = Field(
        default=None, discriminator="kind", description="How to stop writes at this site.")


class Dataset(BaseModel):
    """Data kept in sync between sites: one URL per site name."""

    name: str
    urls: dict[str, StoreUrlStr] = Field(description="Site name -> store URL of this data set there.")
    include: KeyGlobs = Field(default_factory=list, description="Key globs to sync (none: every key).")
    exclude: KeyGlobs = Field(default_factory=list, description="Key globs never synced.")
    compare: CompareMode = Field(default="hash", description="hash: size, then SHA-256 or a shared provider hash; "
                                 "size: size only (cheaper listings, misses same-size changes).")
    tombstone_prefix: str | None = Field(default=".tombstones/", description="The replication's tombstone area "
                                         "on the target, never compared or copied; null or empty when there is none.")


class Route53Record(BaseModel):
    """Route 53 weighted record sets of one name; SetIdentifier = site name."""

    kind: Literal["route53"] = "route53"
    zone: str = Field(description="Hosted zone name, e.g. example.internal.")
    record: str = Field(description="Record name, e.g. app.example.internal.")
    type: Literal["CNAME", "A", "AAAA"] = "CNAME"
    connection: str | None = Field(default=None, description="AWS connection name (default: the first).")


class TrafficManagerProfile(BaseModel):
    """Azure DNS has no weighted records: Azure's weighted DNS is a Traffic Manager profile with
    the `Weighted` routing method; endpoint name = site name, endpoint target = the site's dns_value."""

    kind: Literal["azure-traffic-manager"] = "azure-traffic-manager"
    subscription_id: str
    resource_group: str
    profile: str = Field(description="Traffic Manager profile name.")
    api_endpoint: HttpUrlStr | None = Field(default=None,
                                            description="ARM endpoint override (tests, sovereign clouds).")
    connection: str | None = Field(default=None, description="Azure connection name (credentials).")


class CloudDnsRecord(BaseModel):
    """A Cloud DNS record set with a weighted round robin routing policy; each item's rrdatas is
    one site's dns_value."""

    kind: Literal["cloud-dns"] = "cloud-dns"
    project: str
    managed_zone: str
    record: str = Field(description="Record name, e.g. app.example.internal.")
    type: Literal["CNAME", "A", "AAAA"] = "CNAME"
    api_endpoint: HttpUrlStr | None = Field(default=None, description="Cloud DNS API endpoint override (tests).")
    connection: str | None = Field(default=None, description="GCP connection name (credentials).")


def _dns_kind(value) -> str:
    return value.get("kind", "route53") if isinstance(value, dict) else getattr(value, "kind", "route53")


DnsRecord = Annotated[
    Annotated[Route53Record, Tag("route53")] | Annotated[TrafficManagerProfile, Tag("azure-traffic-manager")]
    | Annotated[CloudDnsRecord, Tag("cloud-dns")],
    Discriminator(_dns_kind),
]


class FailoverPlan(BaseModel):
    """A failover runbook's configuration."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    sites: list[Site] = Field(min_length=2)
    primary: str = Field(description="Site that serves now; `failover` moves away from it, `failback` back.")
    secondary: str = Field(description="Site that takes over.")
    datasets: list[Dataset] = Field(default_factory=list)
    dns: DnsRecord = Field(description="Where the sites' traffic weights live (`kind`, default route53).")
    rpo_seconds: float = Field(default=900, gt=0, description="Most replication lag a failover may start with.")
    rto_seconds: float = Field(default=600, gt=0, description="Target time from trigger to validated.")
    approval: Literal["manual", "auto"] = "manual"
    approval_timeout_seconds: int = Field(default=900, ge=1)
    journal: StoreUrlStr = Field(description="Store URL of the durable journal, e.g. s3://ops-journal/failover/.")
    probe_timeout_seconds: float = Field(default=5, gt=0)
    probe_attempts: int = Field(default=3, ge=1, description="Health probe tries before a site counts as down.")

    def model_post_init(self, __context) -> None:
        names = [s.name for s in self.sites]
        for role in (self.primary, self.secondary):
            if role not in names:
                raise ValueError(f"site {role!r} is not among the plan's sites {names}")
        if self.primary == self.secondary:
            raise ValueError("primary and secondary must differ")
        for ds in self.datasets:
            missing = {self.primary, self.secondary} - set(ds.urls)
            if missing:
                raise ValueError(f"dataset {ds.name!r} has no URL for site(s) {sorted(missing)}")

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)


class PlansFile(BaseModel):
    plans: list[FailoverPlan]

    def plan(self, name: str, path: str) -> FailoverPlan:
        return named(self.plans, name, "failover plan", path)


def load_plans(path: str | Path) -> PlansFile:
    """Parse a YAML file of failover plans. Raises InvalidInput naming the file and the field."""
    return load_yaml_model(path, PlansFile, "failover plans")
