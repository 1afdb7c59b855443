"""Sample native FOCUS 1.2 exports, as AWS, Microsoft and Google Cloud publish them (typed as
Parquet holds them). Pure: tables, no files."""

from __future__ import annotations

import json
from typing import Iterator

import numpy as np
import pyarrow as pa

from multicloud.testing.cost_samples.common import (
    CHUNK_ROWS, TEAMS, chunk_sizes, cost_units, hours, money_float, month_seed, period_bounds, pick, repeat,
    timestamps, with_units,
)

_SERVICES = {
    "AWS": [("Amazon Elastic Compute Cloud", "Compute"), ("Amazon Simple Storage Service", "Storage"),
            ("Amazon Relational Database Service", "Databases"), ("AWS Lambda", "Compute")],
    "Microsoft": [("Virtual Machines", "Compute"), ("Storage", "Storage"), ("SQL Database", "Databases"),
                  ("Bandwidth", "Networking")],
    "Google Cloud": [("Compute Engine", "Compute"), ("Cloud Storage", "Storage"), ("BigQuery", "Analytics"),
                     ("Cloud Run", "Compute")],
}
_ACCOUNTS = {"AWS": ("111122223333", "Example Corp", "USD"), "Microsoft": ("8611537", "Contoso EA", "USD"),
             "Google Cloud": ("01A2B3-C4D5E6-F7A8B9", None, "USD")}
_ISSUERS = {"AWS": "Amazon Web Services, Inc.", "Microsoft": "Microsoft", "Google Cloud": "Google"}
_TAGS = np.array([json.dumps({"team": t}, separators=(",", ":")) if t else "{}" for t in TEAMS], dtype=object)
_UTC_US = pa.timestamp("us", tz="UTC")


def focus_tables(provider: str, rows: int, period: str = "2026-10", seed: int = 0, restated: bool = False,
                 chunk_rows: int = CHUNK_ROWS) -> Iterator[pa.Table]:
    """Rows of a provider's native FOCUS 1.2 export (typed as Parquet holds them); `provider` is
    a FOCUS ProviderName: AWS, Microsoft or Google Cloud."""
    rng = np.random.default_rng([seed + 29, month_seed(period)])
    for n in chunk_sizes(rows, chunk_rows):
        yield _table(rng, n, provider, period, restated)


def _table(rng, n: int, provider: str, period: str, restated: bool) -> pa.Table:
    start, end = period_bounds(period)
    svc = np.array(_SERVICES[provider], dtype=object)[rng.integers(0, 4, n)]
    account, name, currency = _ACCOUNTS[provider]
    cost = cost_units(rng, n)
    if restated:
        cost = cost + cost // 20
    category = pick(rng, ["Usage", "Usage", "Usage", "Tax", "Credit"], n)
    cost = np.where(category == "Credit", -cost // 5, cost)
    usage = category == "Usage"
    committed = (rng.random(n) < 0.1) & usage
    effective = np.where(committed, cost * 7 // 10, cost)
    usage_start = hours(rng, n, start, end)
    tags = _TAGS[rng.integers(0, len(TEAMS), n)]
    table = pa.table({
        "BilledCost": money_float(cost), "BillingAccountId": repeat(account, n), "BillingAccountName": repeat(name, n),
        "BillingCurrency": repeat(currency, n), "BillingPeriodStart": repeat(start, n, _UTC_US),
        "BillingPeriodEnd": repeat(end, n, _UTC_US), "ChargeCategory": pa.array(category),
        "ChargeClass": repeat(None, n), "ChargeDescription": pa.array(svc[:, 0]),
        "ChargePeriodStart": timestamps(usage_start), "ChargePeriodEnd": timestamps(usage_start + np.timedelta64(1, "h")),
        "ContractedCost": money_float(cost), "EffectiveCost": money_float(effective),
        "InvoiceIssuerName": repeat(_ISSUERS[provider], n),
        "ListCost": money_float(np.where(cost > 0, cost + cost // 10, cost)),
        "PricingQuantity": pa.array(np.round(rng.gamma(2.0, 3.0, n), 6), mask=~usage),
        "PricingUnit": pa.array(np.where(usage, "Hours", None)), "ProviderName": repeat(provider, n),
        "PublisherName": repeat(provider, n), "ServiceCategory": pa.array(svc[:, 1]), "ServiceName": pa.array(svc[:, 0]),
        "RegionId": pa.array(pick(rng, ["us-east-1", "eastus", "us-central1"], n)),
        "SubAccountId": pa.array(pick(rng, ["sub-a", "sub-b", "sub-c"], n)), "Tags": pa.array(tags),
        "PricingCategory": pa.array(np.where(committed, "Committed", np.where(usage, "Standard", None))),
        "CommitmentDiscountId": pa.array(np.where(committed, "commitment-1", None)),
        "CommitmentDiscountType": pa.array(np.where(committed, "Savings Plan", None)),
        "CommitmentDiscountCategory": pa.array(np.where(committed, "Spend", None)),
        "CommitmentDiscountStatus": pa.array(np.where(committed, "Used", None)),
        "x_UsageType": pa.array(np.where(usage, "BoxUsage", None)),
        "x_ResourceGroupName": repeat("rg-web" if provider == "Microsoft" else None, n),
        "x_ExportTime": timestamps(usage_start + np.timedelta64(6, "h")),
    })
    return with_units(table, provider, [account], np.zeros(n, dtype=np.int64), [currency], cost, effective)
