"""The costs flow's configuration: billing exports to read, the dataset, reports, spend-API checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field, field_validator, model_validator

from multicloud.config.loading import HttpUrlStr, load_yaml_model, repeated, store_url
from multicloud.core.errors import InvalidInput


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

    @field_validator("url", "amortized_url")
    @classmethod
    def _store_urls(cls, value: str | None) -> str | None:
        return value if value is None else store_url(value)

    @model_validator(mode="after")
    def _check(self):
        for period in self.periods:
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
                raise ValueError(f"period {period!r} is not YYYY-MM")
        if self.kind == "azure-cost-details" and not self.amortized_url:
            raise ValueError("azure-cost-details needs amortized_url: EffectiveCost comes from amortized cost")
        if self.kind != "azure-cost-details" and self.amortized_url:
            raise ValueError(f"amortized_url is for azure-cost-details, not {self.kind}")
        return self


class CostExplorerTotals(BaseModel):
    """AWS Cost Explorer asked for the total of every period the run reconciles for one payer: a
    second, independent check beside the export's own totals."""

    kind: Literal["aws-cost-explorer"] = Field(
        description="aws-cost-explorer: GetCostAndUsage, MONTHLY, no grouping, with the payer's credentials.")
    billing_account: str = Field(min_length=1, description="The billing account (AWS payer) these totals are for.")
    connection: str | None = Field(default=None, description="Connection name in the profile (default: the first).")
    metric: Literal["UnblendedCost", "NetUnblendedCost"] = Field(
        default="UnblendedCost", description="Which total: the one the export's BilledCost comes from "
        "(NetUnblendedCost when the CUR carries lineItem/NetUnblendedCost).")


class CostManagementTotals(BaseModel):
    """Azure Cost Management Query asked for the total of every period the run reconciles for one
    billing account, at the scope that bills it."""

    kind: Literal["azure-cost-management"] = Field(
        description="azure-cost-management: the Query API, monthly totals per currency at `scope`.")
    billing_account: str = Field(min_length=1, description="The billing account as the export names it "
                                 "(EA BillingAccountId, MCA BillingProfileId): which reconciled totals to compare.")
    scope: str = Field(min_length=2, description="ARM scope of that account, e.g. "
                       "/providers/Microsoft.Billing/billingAccounts/{id} or /subscriptions/{id}.")
    metric: Literal["ActualCost", "AmortizedCost"] = Field(
        default="ActualCost", description="ActualCost is compared with Σ BilledCost (the actual-cost export's own "
        "total); AmortizedCost with Σ EffectiveCost of the stored rows (the amortized export).")
    api_endpoint: HttpUrlStr | None = Field(default=None, description="Azure Resource Manager endpoint override "
                                     "(sovereign clouds, a local fake with 'emulator' credentials).")
    connection: str | None = Field(default=None, description="Azure connection name in the profile (credentials).")


ProviderTotals = Annotated[Union[CostExplorerTotals, CostManagementTotals], Field(discriminator="kind")]


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

    @field_validator("dataset", "reports")
    @classmethod
    def _store_urls(cls, value: str | None) -> str | None:
        return value if value is None else store_url(value)

    @model_validator(mode="after")
    def _unique(self):
        dupes = repeated(s.name for s in self.sources)
        if dupes:
            raise ValueError(f"source names must be unique: {dupes}")
        return self

    @property
    def reports_url(self) -> str:
        return self.reports or self.dataset.rstrip("/") + "/reports"


def load_costs_config(path: str | Path) -> CostsConfig:
    """Parse a YAML costs file. Raises InvalidInput naming the file and the field."""
    return load_yaml_model(path, CostsConfig, "costs")


def resolve_costs_config(config: CostsConfig | None, config_file: str | None) -> CostsConfig:
    """The flow's configuration: `config` inline, else the file. Raises InvalidInput naming
    the parameters when neither is given, or the file and the field when the file is bad."""
    if config is not None:
        return config
    if not config_file:
        raise InvalidInput("give `config` or `config_file`", target="parameters")
    return load_costs_config(config_file)
