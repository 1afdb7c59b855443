"""Idle and rightsizing rules as data (deployments/rightsizing/*.yaml): pydantic models of the one
rule vocabulary shared by every cloud, and their loading with errors naming the file and the rule;
and what a rightsizing run scans (`RightsizingScope`, deployments/rightsizing/scopes/*.yaml)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from multicloud.config.loading import HttpUrlStr, StoreUrlStr, http_url, load_yaml_model, repeated
from multicloud.config.rightsizing_actions import ActionTargets
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing.vocabulary import (
    ACTIONS, ATTRIBUTES, DERIVED, FINDINGS, KINDS, METRICS, MISSING_DATA, OPERATORS, PERIOD_STATISTICS,
    parse_statistic,
)

Metric = Literal[tuple(METRICS)]
Attribute = Literal[tuple(ATTRIBUTES)]
Operator = Literal[tuple(OPERATORS)]
PeriodStatistic = Literal[PERIOD_STATISTICS]
_METRIC_ONLY = ("metric", "period_statistic", "statistic", "threshold", "last_days")


class Condition(BaseModel):
    """One test a resource must pass: either a metric statistic against a threshold, or a resource
    attribute against a value. Give `metric` or `attribute`, not both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Metric | None = Field(default=None, description="Metric of the shared vocabulary, e.g. cpu_utilization.")
    period_statistic: PeriodStatistic = Field(default="average", description="What each period's point is, as the "
                                              "cloud aggregates it: average, max, min or sum over period_minutes.")
    statistic: str = Field(default="average", description="Computed by us over the window's points: average, max, "
                           "min, sum or a percentile pN (p95, p99.5; nearest rank).")
    op: Operator = Field(description="lt, le, gt, ge, eq or ne: observed OP threshold (or value).")
    threshold: float | None = Field(default=None, description="Threshold of a metric condition, in the metric's unit.")
    last_days: int | None = Field(default=None, ge=1, description="Judge only the last N days of the rule's window.")
    attribute: Attribute | None = Field(default=None, description="Resource attribute, e.g. attached, age_days.")
    value: Union[bool, int, float, str, None] = Field(default=None, description="Value an attribute is compared to.")
    description: str = ""

    @field_validator("statistic")
    @classmethod
    def _statistic(cls, value: str) -> str:
        return parse_statistic(value).name

    @model_validator(mode="after")
    def _one_kind(self) -> "Condition":
        if (self.metric is None) == (self.attribute is None):
            raise ValueError("a condition names exactly one of `metric` or `attribute`")
        return self._check_metric() if self.metric else self._check_attribute()

    def _check_metric(self) -> "Condition":
        if self.threshold is None:
            raise ValueError(f"metric condition on {self.metric} needs a `threshold`")
        if self.value is not None:
            raise ValueError("`value` belongs to attribute conditions; a metric condition has a `threshold`")
        only = DERIVED.get(self.metric, ("", (), "", ""))[3]
        if only and self.period_statistic != only:
            raise ValueError(f"{self.metric} is derived and has period_statistic {only} only, "
                             f"not {self.period_statistic}")
        return self

    def _check_attribute(self) -> "Condition":
        given = sorted(set(_METRIC_ONLY) & self.model_fields_set)
        if given:
            raise ValueError(f"attribute condition on {self.attribute} may not set {', '.join(given)}")
        types = ATTRIBUTES[self.attribute]
        if self.value is None or not isinstance(self.value, types) or (
                isinstance(self.value, bool) and bool not in types):
            raise ValueError(f"{self.attribute} is compared to a {'/'.join(t.__name__ for t in types)} `value`, "
                             f"got {self.value!r}")
        if types[0] in (bool, str) and self.op not in ("eq", "ne"):
            raise ValueError(f"{self.attribute} takes op eq or ne, not {self.op}")
        return self


class Rule(BaseModel):
    """One published detection rule: which resources it judges, over which window, with which
    conditions (all must hold), what missing data means, and where the rule was published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Unique rule name: lowercase, digits, dashes.")
    kind: Literal[KINDS] = Field(description="Resource kind judged: vm, disk, ip, snapshot or database.")
    finding: Literal[FINDINGS] = Field(description="What a match means: idle, oversized or waste.")
    action: Literal[ACTIONS] = Field(description="The action a match suggests.")
    source: str = Field(description="URL of the published rule this reproduces.")
    description: str = ""
    window_days: int = Field(default=14, ge=1, le=455, description="Days of history judged, ending at `now`.")
    period_minutes: int = Field(default=60, ge=1, description="Length of each metric point's period: at most a "
                                "day (1440), or the whole window (window_days × 1440: one point, as Cloud Custodian "
                                "asks CloudWatch by default).")
    days_matching: int | None = Field(default=None, ge=1, description="When set, the metric conditions are judged "
                                      "per day and the rule fires on at least this many matching days.")
    min_coverage_fraction: float = Field(default=0.0, ge=0, le=1, description="Least fraction of periods with a "
                                         "point (per day for days-matching rules); below it the data is insufficient.")
    min_data_hours: float = Field(default=0.0, ge=0, description="Least hours of data in the window.")
    missing_data: Literal[MISSING_DATA] = Field(default="unknown", description="What a condition without enough "
                                                "data means: skip (reported as skipped), zero (missing periods count "
                                                "as 0) or unknown (reported as insufficient data).")
    when: list[Condition] = Field(min_length=1, description="Conditions, all of which must hold.")
    headroom_percent: dict[Metric, float] = Field(default_factory=dict, description="Headroom a rightsizing target "
                                                  "must keep per metric (read when choosing the target type).")
    clouds: list[Literal["aws", "azure", "gcp"]] = Field(default_factory=list, description="The clouds whose "
                                                         "resources the rule judges (empty: every cloud).")
    target_families: Literal["same", "any"] = Field(default="same", description="Where a resize rule's target "
                                                    "type may come from: the current type's family only (same), or "
                                                    "any family of the same architecture (any).")

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _consistent(self) -> "Rule":
        metrics = [c for c in self.when if c.metric]
        if self.days_matching is not None:
            if not metrics:
                raise ValueError("days_matching needs at least one metric condition")
            if self.days_matching > self.window_days:
                raise ValueError(f"days_matching {self.days_matching} exceeds window_days {self.window_days}")
            if 1440 % self.period_minutes:
                raise ValueError(f"period_minutes {self.period_minutes} does not divide a day (days_matching)")
            if any(c.last_days for c in metrics) or self.min_data_hours:
                raise ValueError("days_matching rules judge each day: last_days and min_data_hours do not apply "
                                 "(use min_coverage_fraction, applied per day)")
        if self.period_minutes > 1440:
            self._check_window_period(metrics)
        if any(c.last_days and c.last_days > self.window_days for c in metrics):
            raise ValueError(f"a condition's last_days exceeds window_days {self.window_days}")
        if self.missing_data == "zero" and (self.min_coverage_fraction or self.min_data_hours):
            raise ValueError("missing_data zero fills every missing period, so a minimum coverage could never fail")
        if self.min_data_hours > self.window_days * 24:
            raise ValueError(f"min_data_hours {self.min_data_hours:g} exceeds the window of {self.window_days} days")
        return self


    def _check_window_period(self, metrics: list[Condition]) -> None:
        if self.period_minutes != self.window_days * 1440:
            raise ValueError(f"period_minutes {self.period_minutes} is over a day: only the whole window "
                             f"({self.window_days * 1440}) may be one period")
        if self.min_coverage_fraction or self.min_data_hours or any(c.last_days for c in metrics):
            raise ValueError("a window-long period is one point: min_coverage_fraction, min_data_hours and "
                             "last_days cannot be judged on it")


class RightsizingRules(BaseModel):
    """A rules file: a named rule set (e.g. aws-trusted-advisor) and its rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Rule set name.")
    description: str = ""
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "RightsizingRules":
        dupes = repeated(r.name for r in self.rules)
        if dupes:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dupes)}")
        return self


def load_rightsizing_rules(path: str | Path) -> RightsizingRules:
    """Read and validate one rules file. Raises InvalidInput naming the file and, for a bad rule,
    the rule (by name, and its position) and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InvalidInput("rightsizing rules file not found", target=str(path)) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"rightsizing rules file is not valid YAML: {exc}", target=str(path)) from None
    try:
        return RightsizingRules.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise InvalidInput(f"invalid rightsizing rules: {_explain(exc, data)}", target=str(path)) from None


def load_rule_sets(paths) -> list[Rule]:
    """The rules of several files, in order; a rule name repeated across files is refused."""
    rules: dict[str, tuple[Rule, str]] = {}
    for path in paths:
        for rule in load_rightsizing_rules(path).rules:
            if rule.name in rules:
                raise InvalidInput(f"rule {rule.name!r} is also defined in {rules[rule.name][1]}", target=str(path))
            rules[rule.name] = (rule, str(path))
    return [rule for rule, _ in rules.values()]


def _explain(exc: ValidationError, data) -> str:
    raw = data.get("rules") if isinstance(data, dict) else None
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(map(str, loc)) or "file"
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            item = raw[loc[1]] if isinstance(raw, list) and loc[1] < len(raw) else None
            name = item.get("name") if isinstance(item, dict) else None
            field = ".".join(map(str, loc[2:])) or "rule"
            where = f"rule {name!r} (rules[{loc[1]}]) {field}" if name else f"rule rules[{loc[1]}] {field}"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


# ---- what a run scans ------------------------------------------------------------------------------

_TAG_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:/=+@ -]{0,126}$"


class AwsScan(BaseModel):
    """The AWS accounts and regions a rightsizing run reads (EC2, EBS, EIP, snapshots, RDS, CloudWatch)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: str | None = Field(default=None, description="AWS connection name in the profile "
                                   "(default: the profile's first AWS connection).")
    regions: list[str] = Field(default_factory=list, description="Regions to read, each as its own parallel task "
                               "(none: the connection's own region).")
    pricing_endpoint: HttpUrlStr | None = Field(default=None, description="AWS Pricing API endpoint override "
                                                "(default: the public us-east-1 endpoint).")
    spot_endpoint: HttpUrlStr | None = Field(default=None, description="EC2 endpoint for DescribeSpotPriceHistory "
                                             "(default: the connection's EC2 endpoint).")
    advice_endpoint: HttpUrlStr | None = Field(default=None, description="Compute Optimizer endpoint override.")
    advice: bool = Field(default=True, description="Read Compute Optimizer's recommendations to compare with ours "
                         "(the account must be opted in).")

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
                raise ValueError(f"{region!r} is not an AWS region name (like eu-west-1)")
        dupes = repeated(value)
        if dupes:
            raise ValueError(f"regions repeated: {', '.join(dupes)}")
        return value


class AzureScan(BaseModel):
    """The Azure subscription a rightsizing run reads through Azure Resource Manager (Compute, Network,
    SQL, Monitor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: str | None = Field(default=None, description="Azure connection name in the profile (credentials).")
    subscription_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$", description="Subscription id (a GUID).")
    arm_base_url: HttpUrlStr | None = Field(default=None, description="Azure Resource Manager endpoint override "
                                            "(sovereign clouds; a local fake ARM server with 'emulator' credentials).")
    databases: bool = Field(default=True, description="Also read Azure SQL databases.")
    bandwidth_mbps: dict[str, float] = Field(
        default_factory=dict, description="Expected network bandwidth in Mbit/s per VM size (Azure publishes it per "
        "size, not through an API); the network_out_utilization rules need the sizes in use.")
    prices_url: HttpUrlStr = Field(default="https://prices.azure.com", description="Azure Retail Prices API base "
                                   "URL (no credentials).")
    advice: bool = Field(default=True, description="Read Azure Advisor's cost recommendations to compare with ours.")

    @field_validator("bandwidth_mbps")
    @classmethod
    def _bandwidth(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(size for size, mbps in value.items() if not mbps > 0)
        if bad:
            raise ValueError(f"bandwidth must be above 0 Mbit/s; not for {', '.join(bad)}")
        return value


class GcpScan(BaseModel):
    """The Google Cloud project a rightsizing run reads (Compute Engine and Cloud Monitoring REST)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: str | None = Field(default=None, description="GCP connection name in the profile (credentials).")
    project: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
                                description="Project id (default: the connection's account).")
    compute_endpoint: HttpUrlStr | None = Field(default=None, description="Compute Engine API endpoint override "
                                                "(default https://compute.googleapis.com).")
    monitoring_endpoint: HttpUrlStr | None = Field(default=None, description="Cloud Monitoring API endpoint "
                                                   "override (default https://monitoring.googleapis.com).")
    billing_endpoint: HttpUrlStr | None = Field(default=None, description="Cloud Billing Catalog API endpoint "
                                                "override (VM list prices; default cloudbilling.googleapis.com).")
    recommender_endpoint: HttpUrlStr | None = Field(default=None, description="Recommender API endpoint override "
                                                    "(default https://recommender.googleapis.com).")
    advice: bool = Field(default=True, description="Read GCP Recommender's recommendations to compare with ours.")


class ScanTarget(BaseModel):
    """One unit of a run's parallel reading: one cloud (and, for AWS, one region) with its settings."""

    model_config = ConfigDict(frozen=True)

    cloud: Literal["aws", "azure", "gcp"]
    region: str = ""
    aws: AwsScan | None = None
    azure: AzureScan | None = None
    gcp: GcpScan | None = None

    @property
    def name(self) -> str:
        return f"{self.cloud}-{self.region}" if self.region else self.cloud

    @property
    def connection(self) -> str | None:
        return getattr(self, self.cloud).connection


class RightsizingScope(BaseModel):
    """What a rightsizing run scans (clouds, regions, subscription, project), with which rules, which
    resources it keeps (by tag), and where its findings and the FOCUS dataset are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aws: AwsScan | None = Field(default=None, description="AWS to scan (absent: AWS is not scanned).")
    azure: AzureScan | None = Field(default=None, description="Azure to scan (absent: Azure is not scanned).")
    gcp: GcpScan | None = Field(default=None, description="Google Cloud to scan (absent: not scanned).")
    rules: list[str] = Field(default_factory=lambda: ["deployments/rightsizing/*.yaml"], min_length=1,
                             description="Rules files or globs, relative to the working directory (the checkout).")
    select_tags: dict[str, str] = Field(default_factory=dict, description="Judge only resources carrying all of "
                                        "these tags (GCP: labels); the others are counted, not judged.")
    output: StoreUrlStr = Field(description="Store URL where each run writes its findings (Parquet, CSV) and charts.")
    focus_dataset: StoreUrlStr | None = Field(default=None, description="Store URL of the costs flow's FOCUS "
                                              "dataset, read for the effective-cost savings and commitments.")
    commitment_rates: str = Field(default="deployments/rightsizing/commitments/rates.yaml", description="Discount "
                                  "rates per provider and term for the commitment simulation (YAML).")
    approval_timeout_seconds: int = Field(default=3600, gt=0, description="How long a run with actions waits for "
                                          "an approval before it does nothing.")
    arbitrage_regions: dict[Literal["aws", "azure", "gcp"], str] = Field(
        default_factory=lambda: {"aws": "us-east-1", "azure": "eastus", "gcp": "us-central1"},
        description="Where each cloud's equivalent shapes are priced when the run finds no VM of that cloud "
        "(otherwise the regions of its VMs).")

    @field_validator("select_tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in value if not re.fullmatch(_TAG_KEY, k))
        if bad:
            raise ValueError(f"not a tag key: {', '.join(map(repr, bad))}")
        return value

    @model_validator(mode="after")
    def _some_cloud(self) -> "RightsizingScope":
        if not (self.aws or self.azure or self.gcp):
            raise ValueError("give at least one of aws, azure, gcp to scan")
        return self

    def targets(self) -> list[ScanTarget]:
        """One target per cloud scanned, AWS one per region (the connection's own when none is given)."""
        out = [ScanTarget(cloud="aws", region=r, aws=self.aws) for r in self.aws.regions or [""]] if self.aws else []
        if self.azure:
            out.append(ScanTarget(cloud="azure", azure=self.azure))
        if self.gcp:
            out.append(ScanTarget(cloud="gcp", gcp=self.gcp))
        return out

    def clouds(self) -> list[str]:
        """The clouds scanned, in a stable order (one market read each)."""
        return [c for c in ("aws", "azure", "gcp") if getattr(self, c) is not None]

    def advice_reads(self) -> list[dict]:
        """The keyword arguments of one advice read per cloud (AWS: per region) whose advice is read."""
        out = []
        if self.aws and self.aws.advice:
            out += [{"cloud": "aws", "connection": self.aws.connection, "region": region,
                     "endpoint": self.aws.advice_endpoint} for region in self.aws.regions or [""]]
        if self.azure and self.azure.advice:
            out.append({"cloud": "azure", "connection": self.azure.connection,
                        "subscription_id": self.azure.subscription_id, "arm_base_url": self.azure.arm_base_url})
        if self.gcp and self.gcp.advice:
            out.append({"cloud": "gcp", "connection": self.gcp.connection, "project": self.gcp.project,
                        "recommender_endpoint": self.gcp.recommender_endpoint,
                        "compute_endpoint": self.gcp.compute_endpoint})
        return out

    def action_targets(self) -> ActionTargets:
        """Where the approved actions reach each cloud: the scope's connections and endpoints."""
        names = {c: getattr(self, c).connection for c in self.clouds() if getattr(self, c).connection}
        return ActionTargets(connections=names, azure_arm_url=self.azure.arm_base_url if self.azure else None,
                             gcp_compute_url=self.gcp.compute_endpoint if self.gcp else None)

    def rule_files(self, root: Path | None = None) -> list[Path]:
        """The rules files the globs name, in order, each once. Raises InvalidInput naming a glob that
        matches no file (a typo would otherwise judge nothing)."""
        root = root or Path.cwd()
        found: list[Path] = []
        for pattern in self.rules:
            path = Path(pattern) if Path(pattern).is_absolute() else root / pattern
            if any(c in pattern for c in "*?["):
                matches = sorted(p for p in path.parent.glob(path.name) if p.is_file())
                if not matches:
                    raise InvalidInput("the rules glob matches no file", target=pattern)
            else:
                matches = [path]  # a file that is not there is refused by the loader, naming it
            found += [m for m in matches if m not in found]
        return found


def load_scope(path: str | Path) -> RightsizingScope:
    """Parse a YAML scope file. Raises InvalidInput naming the file and the field."""
    return load_yaml_model(path, RightsizingScope, "rightsizing scope")


def resolve_scope(scope: RightsizingScope | None, scope_file: str | None) -> RightsizingScope:
    """The flow's scope: `scope` inline, else the file. Raises InvalidInput naming the parameters when
    neither is given, or the file and the field when the file is bad."""
    if scope is not None:
        return scope
    if not scope_file:
        raise InvalidInput("give `scope` or `scope_file`", target="parameters")
    return load_scope(scope_file)
