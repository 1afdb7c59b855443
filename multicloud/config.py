"""Typed configuration: connection profiles naming each cloud connection.

A profile is a list of connections. `load_profile()` reads, in order:
the YAML file named by `MULTICLOUD_PROFILE`, the local emulator profile when
`MULTICLOUD_PROFILE=local` (written by `make cloud-up`), or the default profile
that uses each SDK's default credential chain."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from multicloud.core.errors import InvalidInput
from multicloud.core.objects import StoreUrl

Cloud = Literal["aws", "azure", "gcp"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def local_state_dir() -> Path:
    """Where the local cloud stack keeps its endpoints file, data and logs."""
    return Path(os.environ.get("MULTICLOUD_LOCAL_DIR", REPO_ROOT / ".local" / "cloud"))


class Connection(BaseModel):
    """One cloud connection. Secrets are never stored here: `credentials` names a source."""

    name: str = Field(description="Name used to pick this connection, e.g. 'aws-prod'.")
    cloud: Cloud = Field(description="Which cloud this connection talks to.")
    endpoint: str | None = Field(
        default=None,
        description="Service endpoint override (emulators, private endpoints). AWS: endpoint URL; "
        "Azure: blob endpoint URL (https://ACCOUNT.blob.core.windows.net); GCP: API endpoint.",
    )
    region: str | None = Field(default=None, description="AWS region (or the cloud's default location).")
    account: str | None = Field(
        default=None, description="AWS account id, Azure storage account name, or GCP project id."
    )
    credentials: Literal["default", "emulator", "connection-string-env"] = Field(
        default="default",
        description="'default': the SDK's default credential chain (AWS profile/env/role, "
        "Azure DefaultAzureCredential, GCP application default credentials); 'emulator': the "
        "public well-known credentials of the local emulators; 'connection-string-env': Azure "
        "only, the connection string in AZURE_STORAGE_CONNECTION_STRING.",
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="Read timeout of every request.")
    connect_timeout_seconds: float = Field(default=10.0, gt=0, description="Connect timeout of every request.")
    list_page_size: int | None = Field(
        default=None, ge=1, description="Objects per listing page; empty: the service maximum "
        "(S3 1,000, Azure 5,000, GCS 1,000).")


class Profile(BaseModel):
    """The connections a run may use."""

    name: str = "default"
    connections: list[Connection] = Field(default_factory=list)

    @field_validator("connections")
    @classmethod
    def _unique_names(cls, value: list[Connection]) -> list[Connection]:
        names = [c.name for c in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"connection names must be unique; repeated: {', '.join(dupes)}")
        return value

    def connection_for(self, cloud: str, name: str | None = None) -> Connection:
        """The named connection, or the first one of `cloud`. Raises InvalidInput."""
        for conn in self.connections:
            if (name is None and conn.cloud == cloud) or conn.name == name:
                if conn.cloud != cloud:
                    raise InvalidInput(f"connection is for {conn.cloud}, not {cloud}", target=name)
                return conn
        wanted = f"connection {name!r}" if name else f"a {cloud} connection"
        raise InvalidInput(f"profile {self.name!r} has no {wanted}", target=self.name)


def default_profile() -> Profile:
    """AWS and GCP through their default chains; Azure when AZURE_STORAGE_ACCOUNT_URL is set."""
    conns = [Connection(name="aws", cloud="aws"), Connection(name="gcp", cloud="gcp")]
    if os.environ.get("AZURE_STORAGE_ACCOUNT_URL"):
        conns.insert(1, Connection(name="azure", cloud="azure", endpoint=os.environ["AZURE_STORAGE_ACCOUNT_URL"]))
    elif os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):
        conns.insert(1, Connection(name="azure", cloud="azure", credentials="connection-string-env"))
    return Profile(name="default", connections=conns)


def read_profile(path: Path) -> Profile:
    """Parse a profile file (YAML or JSON). Raises InvalidInput naming the file and field."""
    return load_yaml_model(path, Profile, "profile")


def local_profile_path() -> Path:
    return local_state_dir() / "profile.json"


def write_local_profile(profile: Profile) -> Path:
    path = local_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile.model_dump(), indent=2))
    return path


def load_profile(name: str | None = None) -> Profile:
    """The active profile: `name` or MULTICLOUD_PROFILE ('local', a file path) or the default."""
    choice = name or os.environ.get("MULTICLOUD_PROFILE", "")
    if not choice or choice == "default":
        return default_profile()
    if choice == "local":
        path = local_profile_path()
        if not path.exists():
            raise InvalidInput("local cloud stack is not running (run `make cloud-up`)", target=str(path))
        return read_profile(path)
    return read_profile(Path(choice))


# ---- replication ----------------------------------------------------------------------------

class ReplicationRule(BaseModel):
    """One replication rule: what to copy from where to where, how to compare, whether to delete."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Rule name: lowercase, digits, dashes.")
    source: str = Field(description="Source URL: s3://bucket/prefix, az://container/prefix, gs://bucket/prefix.")
    targets: list[str] = Field(min_length=1, description="One or more target URLs, any mix of clouds.")
    include: list[str] = Field(default_factory=list, description="Globs a key must match (none: every key). "
                               "`*` and `?` stay within one '/' segment, `**` crosses them.")
    exclude: list[str] = Field(default_factory=list, description="Globs of keys never copied or deleted.")
    compare: Literal["hash", "size"] = Field(
        default="hash", description="hash: size + SHA-256 we record, else a provider hash both sides share, "
        "else size + modification time. size: size only.")
    delete: Literal["never", "mirror", "tombstone"] = Field(
        default="never", description="never: leave target-only objects. mirror: delete them (guarded). "
        "tombstone: move them under tombstone_prefix, purged after tombstone_days.")
    max_delete: int = Field(default=100, ge=0, description="Refuse all deletions if more than this many.")
    max_delete_percent: float = Field(default=10.0, ge=0, le=100,
                                      description="Refuse all deletions above this share of the target's objects.")
    tombstone_prefix: str = Field(default=".tombstones/", description="Tombstone area under each target's root.")
    tombstone_days: int = Field(default=30, ge=0, description="Tombstones older than this are purged.")
    dry_run: bool = Field(default=False, description="Plan and report only: copy and delete nothing.")
    concurrency: int = Field(default=16, ge=1, le=256, description="Objects copied at once per batch.")
    batch_objects: int = Field(default=1000, ge=1, description="Most objects in one copy task.")
    batch_bytes: int = Field(default=1 << 30, ge=1, description="About this many bytes in one copy task.")
    shards: list[str] = Field(default_factory=lambda: [""], description="Key prefixes listed and copied in "
                              "parallel; together they must cover every key to replicate, without overlap.")

    @field_validator("source")
    @classmethod
    def _source_url(cls, value: str) -> str:
        return _cloud_url(value)

    @field_validator("targets")
    @classmethod
    def _target_urls(cls, value: list[str]) -> list[str]:
        urls = [_cloud_url(v) for v in value]
        if len(set(urls)) != len(urls):
            raise ValueError("targets repeat a URL")
        return urls

    @field_validator("include", "exclude")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        from multicloud.core.replication import glob_to_regex

        for pattern in value:
            try:
                glob_to_regex(pattern)
            except InvalidInput as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one shard prefix ('' for all keys)")
        for a in value:
            for b in value:
                if a != b and b.startswith(a):
                    raise ValueError(f"shard prefixes overlap: {a!r} contains {b!r}")
        if len(set(value)) != len(value):
            raise ValueError("shard prefixes repeat")
        return value

    def model_post_init(self, __context) -> None:
        if self.source in self.targets:
            raise ValueError("a target is the source itself")
        src = StoreUrl.parse(self.source)
        for t in self.targets:
            dst = StoreUrl.parse(t)
            if (src.scheme, src.bucket) == (dst.scheme, dst.bucket) and (
                    src.prefix.startswith(dst.prefix) or dst.prefix.startswith(src.prefix)):
                raise ValueError(f"target {t} overlaps the source {self.source}")


def _cloud_url(value: str) -> str:
    try:
        parsed = StoreUrl.parse(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None
    return str(parsed)


class RulesFile(BaseModel):
    rules: list[ReplicationRule]

    def rule(self, name: str, path: str) -> ReplicationRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise InvalidInput(f"no rule named {name!r}; the file has {[r.name for r in self.rules]}", target=path)


def load_rules(path: str | Path) -> RulesFile:
    """Parse a YAML rules file. Raises InvalidInput naming the file and the field."""
    return load_yaml_model(path, RulesFile, "rules")


def load_yaml_model(path: str | Path, model, what: str):
    path = Path(path)
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"{what} file not found", target=str(path)) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{what} file is not valid YAML: {exc}", target=str(path)) from None
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        raise InvalidInput(f"invalid {what}: {_errors(exc)}", target=str(path)) from None


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


# ---- failover -----------------------------------------------------------------------------

class HttpWriteSwitch(BaseModel):
    """The application's admin endpoint: GET {url} -> {"mode": ...}; POST {url}/read-only, {url}/read-write."""

    kind: Literal["http"] = "http"
    url: str = Field(description="Admin endpoint base URL of the site's application.")
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
    health_urls: list[str] = Field(min_length=1, description="HTTP URLs that answer 2xx when the site serves.")
    write_switch: HttpWriteSwitch | RdsWriteSwitch | BucketPolicyWriteSwitch | None = Field(
        default=None, discriminator="kind", description="How to stop writes at this site.")


class Dataset(BaseModel):
    """Data kept in sync between sites: one URL per site name."""

    name: str
    urls: dict[str, str] = Field(description="Site name -> store URL of this data set there.")
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


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
    api_endpoint: str | None = Field(default=None, description="ARM endpoint override (tests, sovereign clouds).")
    connection: str | None = Field(default=None, description="Azure connection name (credentials).")


class CloudDnsRecord(BaseModel):
    """A Cloud DNS record set with a weighted round robin routing policy; each item's rrdatas is
    one site's dns_value."""

    kind: Literal["cloud-dns"] = "cloud-dns"
    project: str
    managed_zone: str
    record: str = Field(description="Record name, e.g. app.example.internal.")
    type: Literal["CNAME", "A", "AAAA"] = "CNAME"
    api_endpoint: str | None = Field(default=None, description="Cloud DNS API endpoint override (tests).")
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
    journal: str = Field(description="Store URL of the durable journal, e.g. s3://ops-journal/failover/.")
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
        for plan in self.plans:
            if plan.name == name:
                return plan
        raise InvalidInput(f"no failover plan named {name!r}; the file has {[p.name for p in self.plans]}",
                           target=path)


def load_plans(path: str | Path) -> PlansFile:
    """Parse a YAML file of failover plans. Raises InvalidInput naming the file and the field."""
    return load_yaml_model(path, PlansFile, "failover plans")


# --------------------------------------------------------------------------------------------
# Cost aggregation


COST_SOURCE_KINDS = ("aws-cur", "aws-focus", "azure-cost-details", "azure-focus", "gcp-billing-export", "gcp-focus")


class CostSource(BaseModel):
    """One billing export to ingest."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Source name: lowercase, digits, dashes.")
    kind: Literal["aws-cur", "aws-focus", "azure-cost-details", "azure-focus", "gcp-billing-export", "gcp-focus"] = Field(
        description="aws-cur: legacy CUR (CSV or Parquet) or CUR 2.0, found by its manifests; aws-focus: AWS FOCUS "
        "1.2 export; azure-cost-details: actual (url) and amortized (amortized_url) cost-details exports, EA or MCA; "
        "azure-focus: FocusCost export; gcp-billing-export: extracts of the BigQuery billing export (Parquet, "
        "JSON lines, CSV); gcp-focus: extracts of the FOCUS view.")
    url: str = Field(description="Where the export is: s3://, az://, gs:// or file:// URL of its folder.")
    amortized_url: str | None = Field(default=None, description="azure-cost-details only: the amortized-cost export.")
    periods: list[str] = Field(default_factory=list, description="Billing periods (YYYY-MM) to ingest; none: all found.")
    connection: str | None = Field(default=None, description="Connection name in the profile (default: the cloud's first).")

    @model_validator(mode="after")
    def _check(self):
        for period in self.periods:
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
                raise ValueError(f"period {period!r} is not YYYY-MM")
        if self.kind == "azure-cost-details" and not self.amortized_url:
            raise ValueError("azure-cost-details needs amortized_url: EffectiveCost comes from amortized cost")
        if self.kind != "azure-cost-details" and self.amortized_url:
            raise ValueError(f"amortized_url is for azure-cost-details, not {self.kind}")
        StoreUrl.parse(self.url)
        return self


class ProviderTotals(BaseModel):
    """A provider's own spend API, asked for the total of every period the run reconciles for one
    billing account: a second, independent check beside the export's own totals."""

    kind: Literal["aws-cost-explorer"] = Field(
        description="aws-cost-explorer: GetCostAndUsage, MONTHLY, no grouping, with the payer's credentials.")
    billing_account: str = Field(min_length=1, description="The billing account (AWS payer) these totals are for.")
    connection: str | None = Field(default=None, description="Connection name in the profile (default: the first).")
    metric: Literal["UnblendedCost", "NetUnblendedCost"] = Field(
        default="UnblendedCost", description="Which total: the one the export's BilledCost comes from "
        "(NetUnblendedCost when the CUR carries lineItem/NetUnblendedCost).")


class CostsConfig(BaseModel):
    """What the costs flow reads, where it writes the FOCUS dataset, and how it reports."""

    sources: list[CostSource] = Field(min_length=1, description="Billing exports to ingest.")
    provider_totals: list[ProviderTotals] = Field(
        default_factory=list, description="Spend APIs to compare the reconciled totals with (each request may cost).")
    dataset: str = Field(description="Store URL of the FOCUS Parquet dataset (partitioned by provider and period).")
    reports: str | None = Field(default=None, description="Store URL for charts and CSV (default: <dataset>/reports/).")
    tag_keys: list[str] = Field(default_factory=lambda: ["team"], description="Tag keys to report cost by.")
    anomaly_factor: float = Field(default=2.0, gt=1.0, description="A day is an anomaly above factor × trailing mean.")
    trailing_days: int = Field(default=7, ge=2, le=90, description="Days in the trailing mean.")
    min_anomaly_cost: float = Field(default=1.0, ge=0, description="Ignore anomalies whose day costs less than this.")
    fail_on_quarantine: bool = Field(default=False, description="Fail the run when any row was quarantined.")

    @model_validator(mode="after")
    def _unique(self):
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique: {dupes}")
        StoreUrl.parse(self.dataset)
        return self


def load_costs_config(path: str | Path) -> CostsConfig:
    """Parse a YAML costs file. Raises InvalidInput naming the file and the field."""
    return load_yaml_model(path, CostsConfig, "costs")
