"""Sample billing exports of every kind, at any size, for tests, the demo and the benchmark:
several accounts, services, regions and tags, credits, commitments, taxes, a restated month, and
optionally a few bad rows. Deterministic for a seed; generated chunk by chunk (memory does not
grow with rows); money is made as integer ten-billionths so the expected totals are exact and
independent of the code under test."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SCALE = 10 ** 10  # money unit: 1e-10 of the currency
KINDS = ("aws-cur", "aws-cur-parquet", "aws-cur2", "aws-focus", "azure-ea", "azure-mca", "azure-focus",
         "gcp-standard", "gcp-detailed", "gcp-focus")
CHUNK_ROWS = 200_000
UTC = timezone.utc

# --------------------------------------------------------------------------------------------
# Vocabularies

AWS_PAYERS = [("111122223333", "Example Corp"), ("444455556666", "Example Labs")]
AWS_ACCOUNTS = [("210987654321", "prod"), ("310987654321", "staging"), ("410987654321", "data"),
                ("510987654321", "ml"), ("610987654321", "shared"), ("710987654321", "sandbox")]
AWS_SERVICES = [  # product code, product name, usage type, unit, family
    ("AmazonEC2", "Amazon Elastic Compute Cloud", "BoxUsage:m5.large", "Hrs", "Compute Instance"),
    ("AmazonEC2", "Amazon Elastic Compute Cloud", "EBS:VolumeUsage.gp3", "GB-Mo", "Storage"),
    ("AmazonS3", "Amazon Simple Storage Service", "TimedStorage-ByteHrs", "GB-Mo", "Storage"),
    ("AmazonRDS", "Amazon Relational Database Service", "InstanceUsage:db.r6g.large", "Hrs", "Database Instance"),
    ("AmazonDynamoDB", "Amazon DynamoDB", "ReadCapacityUnit-Hrs", "ReadCapacityUnit-Hrs", "Provisioned IOPS"),
    ("AWSLambda", "AWS Lambda", "Lambda-GB-Second", "Lambda-GB-Second", "Serverless"),
    ("AmazonCloudFront", "Amazon CloudFront", "DataTransfer-Out-Bytes", "GB", "Data Transfer"),
    ("AmazonCloudWatch", "AmazonCloudWatch", "CW:MetricMonitorUsage", "Metrics", "Metric"),
    ("AmazonEKS", "Amazon Elastic Container Service for Kubernetes", "AmazonEKS-Hours:perCluster", "Hours", "Compute"),
    ("AmazonElastiCache", "Amazon ElastiCache", "NodeUsage:cache.r6g.large", "NodeHour", "Cache Instance"),
    ("AmazonVPC", "Amazon Virtual Private Cloud", "NatGateway-Hours", "Hrs", "NAT Gateway"),
    ("AWSGlue", "AWS Glue", "Crawler-DPU-Hour", "DPU-Hour", "AWS Glue"),
    ("AmazonSageMaker", "Amazon SageMaker", "ml.g5.xlarge-Training", "Hrs", "ML Instance"),
    ("AmazonRedshift", "Amazon Redshift", "Node:ra3.xlplus", "Hrs", "Compute Instance"),
    ("AmazonSNS", "Amazon Simple Notification Service", "Requests-Tier1", "Requests", "API Request"),
    ("AmazonSQS", "Amazon Simple Queue Service", "Requests-RBP", "Requests", "API Request"),
    ("AWSKMS", "AWS Key Management Service", "KMS-Requests", "Requests", "Encryption Key"),
    ("AmazonGuardDuty", "Amazon GuardDuty", "PaidEventsAnalyzed", "Events", "Security"),
    ("AmazonAthena", "Amazon Athena", "DataScannedInTB", "Terabytes", "Analytics"),
    ("AmazonECR", "Amazon EC2 Container Registry (ECR)", "TimedStorage-ByteHrs", "GB-Mo", "Storage"),
]
AWS_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]
TEAMS = ["data", "web", "ml", "platform", "payments", ""]
ENVS = ["prod", "staging", "dev", ""]
COST_CENTERS = ["cc-100", "cc-200", "cc-300", ""]

AZ_ACCOUNTS = [("8611537", "Contoso EA", "USD"), ("9922001", "Contoso Europe", "EUR")]
AZ_SUBS = [("a1b2c3d4-0000-4000-8000-000000000001", "prod"), ("a1b2c3d4-0000-4000-8000-000000000002", "dev"),
           ("a1b2c3d4-0000-4000-8000-000000000003", "data"), ("a1b2c3d4-0000-4000-8000-000000000004", "shared"),
           ("a1b2c3d4-0000-4000-8000-000000000005", "web")]
AZ_METERS = [  # meter category, consumed service, product, unit, resource type
    ("Virtual Machines", "Microsoft.Compute", "Virtual Machines Dsv5 Series - D4s v5 - EU West", "1 Hour", "virtualMachines"),
    ("Storage", "Microsoft.Storage", "Standard Page Blob - LRS - Disk Storage", "1 GB/Month", "storageAccounts"),
    ("SQL Database", "Microsoft.Sql", "SQL Database Single vCore - General Purpose", "1 Hour", "servers"),
    ("Azure Cosmos DB", "Microsoft.DocumentDB", "Azure Cosmos DB - RU/s", "100 Hours", "databaseAccounts"),
    ("Bandwidth", "Microsoft.Network", "Bandwidth - Inter Region - Data Transfer Out", "1 GB", "networkInterfaces"),
    ("Azure App Service", "Microsoft.Web", "Azure App Service Premium v3 Plan - P1 v3", "1 Hour", "serverFarms"),
    ("Azure Kubernetes Service", "Microsoft.ContainerService", "AKS Uptime SLA", "1 Hour", "managedClusters"),
    ("Log Analytics", "Microsoft.OperationalInsights", "Log Analytics - Pay-as-you-go Data Ingestion", "1 GB", "workspaces"),
    ("Key Vault", "Microsoft.KeyVault", "Key Vault - Standard Operations", "10K", "vaults"),
    ("Azure Synapse Analytics", "Microsoft.Synapse", "Synapse Serverless SQL Pool", "1 TB", "workspaces"),
    ("Cognitive Services", "Microsoft.CognitiveServices", "Azure OpenAI - GPT-4o Input Tokens", "1K", "accounts"),
    ("Event Hubs", "Microsoft.EventHub", "Event Hubs Standard Throughput Unit", "1 Hour", "namespaces"),
]
AZ_REGIONS = ["EastUS", "westeurope", "US West 2", "northeurope", "uksouth"]

GCP_ACCOUNTS = [("01A2B3-C4D5E6-F7A8B9", "USD"), ("0ABCDE-123456-FEDCBA", "USD")]
GCP_PROJECTS = [("shop-prod", "Shop prod", "1000001"), ("shop-dev", "Shop dev", "1000002"),
                ("analytics", "Analytics", "1000003"), ("ml-train", "ML training", "1000004"),
                ("platform", "Platform", "1000005")]
GCP_SERVICES = [  # service id, description, sku id, sku description, unit, pricing unit
    ("6F81-5844-456A", "Compute Engine", "2E27-4F75-95CD", "N2 Instance Core running in Americas", "seconds", "hour"),
    ("6F81-5844-456A", "Compute Engine", "D973-5D65-BAB2", "Storage PD Capacity", "byte-seconds", "gibibyte month"),
    ("95FF-2EF5-5EA1", "Cloud Storage", "E5F0-6A5D-7BAD", "Standard Storage US Multi-region", "byte-seconds", "gibibyte month"),
    ("24E6-581D-38E5", "BigQuery", "3362-E469-6BEF", "Analysis", "bytes", "tebibyte"),
    ("9662-B51E-5089", "Cloud SQL", "D4A1-4B2A-6D2C", "Cloud SQL for PostgreSQL: Zonal - vCPU", "seconds", "hour"),
    ("CCD8-9BF1-090E", "Kubernetes Engine", "B561-BFBD-1264", "Autopilot Pod mCPU Requests", "seconds", "hour"),
    ("152E-C115-5142", "Cloud Run", "8E6F-A4D0-4EF4", "CPU Allocation Time", "seconds", "vCPU-second"),
    ("E505-1604-58F8", "Networking", "9DE9-9092-B3BC", "Network Inter Region Egress", "bytes", "gibibyte"),
    ("5490-F7B7-8DF6", "Cloud Logging", "143F-A1B0-E0BE", "Log Storage cost", "bytes", "gibibyte"),
    ("A1E8-BE35-7EBC", "Pub/Sub", "5B8A-6F4D-ABCD", "Message Delivery Basic", "bytes", "tebibyte"),
    ("C7E2-9256-1C43", "Vertex AI", "A8B1-C2D3-E4F5", "Gemini 1.5 Pro Input Characters", "count", "count"),
    ("29E7-DA93-CA13", "Cloud Functions", "F8AE-1234-5678", "CPU Time", "seconds", "GHz-second"),
]
GCP_REGIONS = [("us-central1", "us-central1-a", "US"), ("europe-west1", "europe-west1-b", "BE"),
               ("us-east1", "us-east1-c", "US"), ("asia-east1", "asia-east1-a", "TW")]


# --------------------------------------------------------------------------------------------
# Money and time helpers

def money(units: np.ndarray) -> pa.Array:
    """Integer ten-billionths as decimal strings with ten places ("0.0001234500")."""
    units = np.asarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = np.where(units < 0, -1, 0)
    dec = pa.Array.from_buffers(pa.decimal128(38, 10), len(units), [None, pa.py_buffer(words.tobytes())])
    # Arrow writes zero as "0E-10"; exports write plain digits.
    return pc.if_else(pa.array(units == 0), "0.0000000000", pc.cast(dec, pa.string()))


def money_float(units: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(units, dtype=np.int64) / SCALE, pa.float64())


def total(units) -> Decimal:
    return Decimal(int(np.asarray(units, dtype=np.int64).sum(dtype=np.int64))) / SCALE


def period_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = int(period[:4]), int(period[5:7])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def iso(ts: np.ndarray) -> pa.Array:
    """datetime64[s] → '2026-10-01T00:00:00Z', formatting each distinct value once."""
    values = pa.array(ts.astype("datetime64[s]"))
    encoded = pc.dictionary_encode(values)
    labels = pa.array([d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in encoded.dictionary.to_pylist()])
    return labels.take(encoded.indices)


def fmt_dates(ts: np.ndarray, fmt: str) -> pa.Array:
    values = pa.array(ts.astype("datetime64[s]"))
    encoded = pc.dictionary_encode(values)
    labels = pa.array([d.strftime(fmt) for d in encoded.dictionary.to_pylist()])
    return labels.take(encoded.indices)


def pick(rng, items, n, p=None):
    return np.asarray(items, dtype=object)[rng.choice(len(items), n, p=p)]


def cost_units(rng, n, low=1e-4, high=8.0) -> np.ndarray:
    """Log-uniform costs between `low` and `high` (many small charges, a few large ones)."""
    return (np.exp(rng.uniform(np.log(low), np.log(high), n)) * SCALE).astype(np.int64)


def hours(rng, n, start: datetime, end: datetime, offset_hours: int = 0) -> np.ndarray:
    count = int((end - start).total_seconds() // 3600)
    base = np.datetime64(start.replace(tzinfo=None), "s") + np.timedelta64(offset_hours, "h")
    return base + rng.integers(0, count, n).astype("timedelta64[h]")


# --------------------------------------------------------------------------------------------
# Results

@dataclass
class SampleExport:
    """What `write_export` wrote: keys (relative to the directory), rows, and the expected
    totals per (ProviderName, billing account, period, currency): `billed` as the source bills it,
    `amortized` as FOCUS EffectiveCost. `bad_rows` lists injected bad rows as (key, line, column,
    value) with line counting the CSV header as 1."""

    kind: str
    keys: list[str] = field(default_factory=list)
    rows: int = 0
    billed: dict = field(default_factory=dict)
    amortized: dict = field(default_factory=dict)
    bad_rows: list = field(default_factory=list)

    def add(self, target: dict, key: tuple, units) -> None:
        target[key] = target.get(key, Decimal(0)) + total(units)


# --------------------------------------------------------------------------------------------
# AWS

def _month_seed(period: str) -> int:
    """Each month its own numbers, for one seed."""
    return int(period.replace("-", ""))


def usage_end(period: str, through: str | None) -> datetime:
    """End of the usage window: the period's end, or the day `through` (YYYY-MM-DD, exclusive),
    for an export of a month still in progress."""
    _, end = period_bounds(period)
    if through is None:
        return end
    return min(end, datetime.fromisoformat(through).replace(tzinfo=UTC))


def _aws_chunk(rng, n: int, period: str, restated: bool, through: str | None = None,
               spike: tuple[str, float] | None = None) -> dict:
    """Columns (numpy / arrow) of n CUR rows, SP-covered usage followed by its negation."""
    start, end = period_bounds(period)
    kinds = np.array(["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "Tax", "Credit", "Refund", "Fee"])
    kind = rng.choice(len(kinds), n, p=[0.80, 0.05, 0.06, 0.04, 0.02, 0.01, 0.02])
    covered = np.flatnonzero(kind == 2)
    # Each covered row is followed by its negation: reuse the tail of the chunk for them.
    n_neg = len(covered)
    kind = kind[: n - n_neg] if n_neg < n else kind
    covered = np.flatnonzero(kind == 2)
    n_base = len(kind)
    payer = rng.integers(0, len(AWS_PAYERS), n_base)
    account = rng.integers(0, len(AWS_ACCOUNTS), n_base)
    service = rng.integers(0, len(AWS_SERVICES), n_base)
    region = rng.integers(0, len(AWS_REGIONS), n_base)
    usage_start = hours(rng, n_base, start, usage_end(period, through))
    amount = np.round(rng.gamma(2.0, 3.0, n_base), 6)
    od = cost_units(rng, n_base)
    if restated:
        od = od + od // 20  # a 5% restatement
    if spike is not None:  # one day on which EC2 costs `factor` times as much: an anomaly to find
        hit = (usage_start.astype("datetime64[D]") == np.datetime64(spike[0])) & (service == 0)
        od = np.where(hit, (od * spike[1]).astype(np.int64), od)
    unblended = od.copy()
    names = kinds[kind]
    unblended[kind == 1] = 0                                   # RI-covered usage is billed by the RIFee
    unblended[kind == 3] = od[kind == 3] // 10                 # tax
    unblended[np.isin(kind, (4, 5))] = -(od[np.isin(kind, (4, 5))] // 5)
    sp_eff = np.where(kind == 2, od * 7 // 10, 0)
    ri_eff = np.where(kind == 1, od * 6 // 10, 0)
    cols = dict(kind=names, payer=payer, account=account, service=service, region=region, start=usage_start,
                amount=amount, od=od, unblended=unblended, sp_eff=sp_eff, ri_eff=ri_eff)
    # Negation rows: copies of the covered rows with the on-demand cost negated.
    if len(covered):
        for key, values in cols.items():
            extra = values[covered].copy()
            if key == "kind":
                extra = np.full(len(covered), "SavingsPlanNegation", dtype=object)
            elif key == "unblended":
                extra = -values[covered]
            elif key in ("sp_eff", "ri_eff"):
                extra = np.zeros(len(covered), dtype=np.int64)
            cols[key] = np.concatenate([values, extra])
    return cols


def _aws_commitment_rows(sp_used: dict, ri_eff: dict, period: str) -> dict:
    """One SavingsPlanRecurringFee and one RIFee per payer for the period, priced so that the
    commitment is 95% used (the unused 5% is their EffectiveCost)."""
    start, _ = period_bounds(period)
    rows = {k: [] for k in ("kind", "payer", "unblended", "total", "used", "unused_recurring")}
    for payer in range(len(AWS_PAYERS)):
        used = sp_used.get(payer, 0)
        commitment = used * 100 // 95
        rows["kind"].append("SavingsPlanRecurringFee"); rows["payer"].append(payer)
        rows["unblended"].append(commitment); rows["total"].append(commitment); rows["used"].append(used)
        rows["unused_recurring"].append(0)
        ri = ri_eff.get(payer, 0)
        fee = ri * 100 // 95
        rows["kind"].append("RIFee"); rows["payer"].append(payer); rows["unblended"].append(fee)
        rows["total"].append(0); rows["used"].append(0); rows["unused_recurring"].append(fee - ri)
    return {k: np.array(v) for k, v in rows.items()}


AWS_CUR_CSV_COLUMNS = (
    "identity/LineItemId", "identity/TimeInterval", "bill/InvoiceId", "bill/InvoicingEntity", "bill/BillType",
    "bill/PayerAccountId", "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate", "lineItem/UsageAccountId",
    "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
    "lineItem/UsageType", "lineItem/Operation", "lineItem/AvailabilityZone", "lineItem/ResourceId",
    "lineItem/UsageAmount", "lineItem/CurrencyCode", "lineItem/UnblendedRate", "lineItem/UnblendedCost",
    "lineItem/LineItemDescription", "lineItem/LegalEntity", "product/ProductName", "product/region",
    "product/regionCode", "product/sku", "product/productFamily", "product/instanceType", "pricing/unit",
    "pricing/term", "pricing/RateCode", "pricing/RateId", "pricing/publicOnDemandRate", "pricing/publicOnDemandCost",
    "reservation/ReservationARN", "reservation/EffectiveCost", "reservation/TotalReservedUnits",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanARN", "savingsPlan/SavingsPlanEffectiveCost", "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment", "resourceTags/user:team", "resourceTags/user:env", "resourceTags/user:cost-center",
)


def _aws_table(rng, cols: dict, period: str, serial: int) -> pa.Table:
    """CUR rows (legacy CSV names, all text) from generated columns."""
    n = len(cols["kind"])
    start, end = period_bounds(period)
    svc = np.array(AWS_SERVICES, dtype=object)[cols["service"]] if "service" in cols else None
    kind = cols["kind"]
    usage = np.isin(kind, ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"))
    payer = np.array([p for p, _ in AWS_PAYERS], dtype=object)[cols["payer"]]
    acct_idx = cols.get("account", np.zeros(n, dtype=np.int64))
    account = np.array([a for a, _ in AWS_ACCOUNTS], dtype=object)[acct_idx]
    region = np.array(AWS_REGIONS, dtype=object)[cols.get("region", np.zeros(n, dtype=np.int64))]
    ustart = cols.get("start", np.full(n, np.datetime64(start.replace(tzinfo=None), "s")))
    uend = ustart + np.timedelta64(1, "h") if "start" in cols else np.full(n, np.datetime64(end.replace(tzinfo=None), "s"))
    code = svc[:, 0] if svc is not None else np.full(n, "ComputeSavingsPlans", dtype=object)
    code = np.where(np.isin(kind, ("RIFee",)), "AmazonEC2", code)
    team = pick(rng, TEAMS, n); env = pick(rng, ENVS, n); cc = pick(rng, COST_CENTERS, n)
    sp_arn = np.array([f"arn:aws:savingsplans::{p}:savingsplan/sp-{i:04d}" for i, (p, _) in enumerate(AWS_PAYERS)],
                      dtype=object)[cols["payer"]]
    ri_arn = np.array([f"arn:aws:ec2:us-east-1:{p}:reserved-instances/ri-{i:04d}" for i, (p, _) in enumerate(AWS_PAYERS)],
                      dtype=object)[cols["payer"]]
    is_sp = np.isin(kind, ("SavingsPlanCoveredUsage", "SavingsPlanNegation", "SavingsPlanRecurringFee"))
    is_ri = np.isin(kind, ("DiscountedUsage", "RIFee"))
    zeros = np.zeros(n, dtype=np.int64)
    amount = cols.get("amount", np.ones(n))
    od = cols.get("od", zeros)
    spot = (rng.random(n) < 0.05) & (kind == "Usage") & (code == "AmazonEC2")
    usage_type = svc[:, 2] if svc is not None else np.full(n, "ComputeSP:1yrNoUpfront", dtype=object)
    usage_type = np.where(spot, "USE1-SpotUsage:m5.large", usage_type)
    rid = _AWS_RESOURCES[acct_idx * 2000 + rng.integers(0, 2000, n)]
    rate = np.where(amount > 0, od / np.maximum(amount, 1e-9) / SCALE, 0.0)
    empty = np.full(n, "", dtype=object)
    data = {
        "identity/LineItemId": pc.binary_join_element_wise(f"{serial:06d}", pc.utf8_lpad(
            pc.cast(pa.array(np.arange(n)), pa.string()), 10, "0"), ""),
        "identity/TimeInterval": pa.array(np.full(n, f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}", dtype=object)),
        "bill/InvoiceId": pa.array(np.full(n, f"EUINUS{period.replace('-', '')}-1", dtype=object)),
        "bill/InvoicingEntity": pa.array(np.full(n, "Amazon Web Services, Inc.", dtype=object)),
        "bill/BillType": pa.array(np.full(n, "Anniversary", dtype=object)),
        "bill/PayerAccountId": pa.array(payer),
        "bill/BillingPeriodStartDate": pa.array(np.full(n, f"{start:%Y-%m-%dT%H:%M:%SZ}", dtype=object)),
        "bill/BillingPeriodEndDate": pa.array(np.full(n, f"{end:%Y-%m-%dT%H:%M:%SZ}", dtype=object)),
        "lineItem/UsageAccountId": pa.array(np.where(usage, account, payer)),
        "lineItem/LineItemType": pa.array(kind.astype(object)),
        "lineItem/UsageStartDate": iso(ustart),
        "lineItem/UsageEndDate": iso(uend),
        "lineItem/ProductCode": pa.array(code),
        "lineItem/UsageType": pa.array(usage_type),
        "lineItem/Operation": pa.array(np.where(usage, "RunInstances", "")),
        "lineItem/AvailabilityZone": pa.array(np.where(usage, region.astype(str).astype(object) + "a", "")),
        "lineItem/ResourceId": pa.array(np.where(usage, rid, "")),
        "lineItem/UsageAmount": pc.cast(pa.array(amount), pa.string()),
        "lineItem/CurrencyCode": pa.array(np.full(n, "USD", dtype=object)),
        "lineItem/UnblendedRate": pc.cast(pa.array(np.round(rate, 8)), pa.string()),
        "lineItem/UnblendedCost": money(cols["unblended"]),
        "lineItem/LineItemDescription": pa.array(np.where(usage, "$0.096 per On Demand Linux m5.large Instance Hour",
                                                         kind.astype(object) + " for " + period)),
        "lineItem/LegalEntity": pa.array(np.full(n, "Amazon Web Services, Inc.", dtype=object)),
        "product/ProductName": pa.array(svc[:, 1] if svc is not None else np.full(n, "Savings Plans for AWS Compute usage", dtype=object)),
        "product/region": pa.array(region), "product/regionCode": pa.array(region),
        "product/sku": pa.array(np.array([f"SKU{x:08X}" for x in range(64)], dtype=object)[
            (cols.get("service", zeros) * 3 + cols.get("region", zeros)) % 64]),
        "product/productFamily": pa.array(svc[:, 4] if svc is not None else empty),
        "product/instanceType": pa.array(np.where(code == "AmazonEC2", "m5.large", "")),
        "pricing/unit": pa.array(svc[:, 3] if svc is not None else empty),
        "pricing/term": pa.array(np.where(is_ri | is_sp, "Reserved", np.where(usage, "OnDemand", ""))),
        "pricing/RateCode": pa.array(empty), "pricing/RateId": pa.array(empty),
        "pricing/publicOnDemandRate": pc.cast(pa.array(np.round(rate, 8)), pa.string()),
        "pricing/publicOnDemandCost": money(np.where(usage, np.abs(od), 0)),
        "reservation/ReservationARN": pa.array(np.where(is_ri, ri_arn, "")),
        "reservation/EffectiveCost": money(cols.get("ri_eff", zeros)),
        "reservation/TotalReservedUnits": pa.array(empty),
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": money(zeros),
        "reservation/UnusedRecurringFee": money(cols.get("unused_recurring", zeros)),
        "savingsPlan/SavingsPlanARN": pa.array(np.where(is_sp, sp_arn, "")),
        "savingsPlan/SavingsPlanEffectiveCost": money(cols.get("sp_eff", zeros)),
        "savingsPlan/TotalCommitmentToDate": money(cols.get("total", zeros)),
        "savingsPlan/UsedCommitment": money(cols.get("used", zeros)),
        "resourceTags/user:team": pa.array(np.where(usage, team, "")),
        "resourceTags/user:env": pa.array(np.where(usage, env, "")),
        "resourceTags/user:cost-center": pa.array(np.where(usage, cc, "")),
    }
    return pa.table(data)


_AWS_RESOURCES = np.array([f"arn:aws:ec2:us-east-1:{a}:instance/i-{x:017x}" for a, _ in AWS_ACCOUNTS
                           for x in range(2000)], dtype=object)


def aws_cur_tables(rows: int, period: str = "2026-10", seed: int = 0, restated: bool = False,
                   chunk_rows: int = CHUNK_ROWS, through: str | None = None,
                   spike: tuple[str, float] | None = None) -> Iterator[pa.Table]:
    """Legacy CUR rows (CSV column names, all text), chunk by chunk; the last chunk ends with
    the period's Savings Plan and RI fee rows."""
    rng = np.random.default_rng([seed, _month_seed(period)])
    sp_used: dict[int, int] = {}
    ri_eff: dict[int, int] = {}
    left, serial = max(rows - 2 * len(AWS_PAYERS), 1), 0
    while left > 0:
        n = min(chunk_rows, left)
        cols = _aws_chunk(rng, n, period, restated, through, spike)
        for payer in range(len(AWS_PAYERS)):
            mine = cols["payer"] == payer
            sp_used[payer] = sp_used.get(payer, 0) + int(cols["sp_eff"][mine].sum())
            ri_eff[payer] = ri_eff.get(payer, 0) + int(cols["ri_eff"][mine].sum())
        left -= len(cols["kind"])
        effective = np.where(cols["kind"] == "SavingsPlanCoveredUsage", cols["sp_eff"],
                             np.where(cols["kind"] == "DiscountedUsage", cols["ri_eff"],
                                      np.where(cols["kind"] == "SavingsPlanNegation", 0, cols["unblended"])))
        yield _with_units(_aws_table(rng, cols, period, serial), "AWS", [a for a, _ in AWS_PAYERS], cols["payer"],
                          ["USD"] * len(AWS_PAYERS), cols["unblended"], effective)
        serial += 1
    fees = _aws_commitment_rows(sp_used, ri_eff, period)
    effective = np.where(fees["kind"] == "RIFee", fees["unused_recurring"], fees["total"] - fees["used"])
    yield _with_units(_aws_table(rng, fees, period, serial), "AWS", [a for a, _ in AWS_PAYERS], fees["payer"],
                      ["USD"] * len(AWS_PAYERS), fees["unblended"], effective)


def _with_units(table: pa.Table, provider: str, accounts: list[str], index: np.ndarray, currencies: list[str],
                billed: np.ndarray, effective: np.ndarray) -> pa.Table:
    """Attach the chunk's exact billed and effective totals per account (integer units) as
    schema metadata, computed from the integers the strings were made from."""
    totals = {}
    for i, (account, currency) in enumerate(zip(accounts, currencies)):
        mine = index == i
        if mine.any():
            totals[f"{provider}|{account}|{currency}"] = [int(billed[mine].sum()), int(effective[mine].sum())]
    return table.replace_schema_metadata({"units": json.dumps(totals)})


def _snake_typed(table: pa.Table) -> pa.Table:
    """Legacy CUR as AWS writes it in Parquet: snake_case names, money as doubles, times typed."""
    from multicloud.core.costs.sources import snake_case

    arrays, names = [], []
    for name in table.column_names:
        col = table.column(name)
        snake = snake_case(name)
        if name.endswith(("Cost", "Fee", "FeeForBillingPeriod", "CommitmentToDate", "UsedCommitment", "Rate", "UsageAmount")):
            text = pc.if_else(pc.equal(col, ""), None, col)
            col = pc.cast(text, pa.float64())
        elif name.endswith(("Date", "StartDate", "EndDate")):
            col = pc.cast(pc.strptime(col, format="%Y-%m-%dT%H:%M:%SZ", unit="ms"), pa.timestamp("ms"))
        arrays.append(col)
        names.append(snake)
    return pa.table(dict(zip(names, arrays)))


def _cur2(table: pa.Table) -> pa.Table:
    """CUR 2.0: tags and most product attributes in maps."""
    typed = _snake_typed(table)
    n = typed.num_rows
    tag_cols = [c for c in typed.column_names if c.startswith("resource_tags_")]
    keys, values, offsets = [], [], [0]
    tag_values = [typed.column(c).to_pylist() for c in tag_cols]
    for i in range(n):
        for c, vals in zip(tag_cols, tag_values):
            if vals[i]:
                keys.append(c[len("resource_tags_"):]); values.append(vals[i])
        offsets.append(len(keys))
    tags = pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(keys, pa.string()), pa.array(values, pa.string()))
    product_keys = ["product_name", "region", "sku", "product_family"]
    product_cols = ["product_product_name", "product_region", "product_sku", "product_product_family"]
    pk = np.tile(np.array(product_keys, dtype=object), n)
    pv = np.stack([np.asarray(typed.column(c).to_pylist(), dtype=object) for c in product_cols], axis=1).reshape(-1)
    product = pa.MapArray.from_arrays(pa.array(np.arange(0, 4 * n + 1, 4), pa.int32()), pa.array(pk, pa.string()),
                                      pa.array(pv, pa.string()))
    keep = [c for c in typed.column_names if not c.startswith("resource_tags_") and c not in
            ("product_product_name", "product_region", "product_product_family")]
    out = typed.select(keep).append_column("resource_tags", tags).append_column("product", product)
    acct = dict(AWS_ACCOUNTS) | {p: name for p, name in AWS_PAYERS}
    out = out.append_column("bill_payer_account_name", pa.array([acct.get(a) for a in out.column("bill_payer_account_id").to_pylist()]))
    return out.append_column("line_item_usage_account_name",
                             pa.array([acct.get(a) for a in out.column("line_item_usage_account_id").to_pylist()]))


# --------------------------------------------------------------------------------------------
# Azure

AZURE_EA_COLUMNS = (
    "BillingAccountId", "BillingAccountName", "BillingPeriodStartDate", "BillingPeriodEndDate", "BillingProfileId",
    "BillingProfileName", "AccountOwnerId", "AccountName", "SubscriptionId", "SubscriptionName", "Date", "Product",
    "PartNumber", "MeterId", "ServiceFamily", "MeterCategory", "MeterSubCategory", "MeterRegion", "MeterName",
    "Quantity", "EffectivePrice", "CostInBillingCurrency", "CostCenter", "ConsumedService", "ResourceId", "Tags",
    "OfferId", "AdditionalInfo", "ServiceInfo1", "ServiceInfo2", "ResourceName", "ReservationId", "ReservationName",
    "UnitPrice", "ProductOrderId", "ProductOrderName", "Term", "PublisherType", "PublisherName", "ChargeType",
    "Frequency", "PricingModel", "AvailabilityZone", "BillingCurrencyCode", "ResourceLocation", "ResourceGroup",
    "PayGPrice", "PaygCostInBillingCurrency", "BenefitId", "BenefitName", "UnitOfMeasure", "ProductId",
)
AZURE_MCA_COLUMNS = (
    "invoiceId", "billingAccountId", "billingAccountName", "billingProfileId", "billingProfileName", "invoiceSectionId",
    "invoiceSectionName", "billingPeriodStartDate", "billingPeriodEndDate", "date", "serviceFamily", "productOrderId",
    "productOrderName", "consumedService", "meterId", "meterName", "meterCategory", "meterSubCategory", "meterRegion",
    "ProductId", "ProductName", "SubscriptionId", "subscriptionName", "publisherType", "publisherName",
    "resourceGroupName", "ResourceId", "resourceLocation", "effectivePrice", "quantity", "unitOfMeasure", "chargeType",
    "billingCurrency", "costInBillingCurrency", "paygCostInBillingCurrency", "tags", "PayGPrice", "frequency", "term",
    "reservationId", "reservationName", "pricingModel", "unitPrice", "benefitId", "benefitName", "ResourceName",
    "AvailabilityZone",
)
_BENEFITS = [("/providers/Microsoft.Capacity/reservationOrders/ro-1/reservations/r-1", "VM reservation D4s v5", "Reservation"),
             ("/providers/Microsoft.BillingBenefits/savingsPlanOrders/spo-1/savingsPlans/sp-1", "Compute savings plan", "SavingsPlan")]


_AZ_GROUPS = ["rg-web", "rg-data", "rg-ml", "rg-shared"]
_AZ_PER = 40
_AZ_POOL: dict = {}


def _azure_resources() -> tuple[np.ndarray, np.ndarray]:
    """Resource ids (and names) for every subscription × group × meter, _AZ_PER of each."""
    if "rid" not in _AZ_POOL:
        ids = [f"/subscriptions/{s}/resourceGroups/{g}/providers/{m[1]}/{m[4]}/res-{x}"
               for s, _ in AZ_SUBS for g in _AZ_GROUPS for m in AZ_METERS for x in range(_AZ_PER)]
        _AZ_POOL["rid"] = (np.array(ids, dtype=object), np.array([i.rsplit("/", 1)[-1] for i in ids], dtype=object))
    return _AZ_POOL["rid"]


def _azure_tags(mca: bool) -> np.ndarray:
    """Tags text for every (team, env) pair: MCA writes JSON, EA the inside of it without braces."""
    out = []
    for t in TEAMS:
        for e in ENVS:
            pairs = [(k, v) for k, v in (("team", t), ("env", e)) if v]
            if mca:
                out.append(json.dumps(dict(pairs)) if pairs else "")
            else:
                out.append(",".join(f'"{k}": "{v}"' for k, v in pairs))
    return np.array(out, dtype=object)


def azure_tables(rows: int, period: str = "2026-10", seed: int = 0, restated: bool = False, mca: bool = False,
                 chunk_rows: int = CHUNK_ROWS, through: str | None = None) -> Iterator[tuple[pa.Table, pa.Table]]:
    """(actual, amortized) cost-details chunks of one month. Usage rows appear in both, identical
    except commitment-covered usage (0 in actual, amortized cost in amortized); the last chunk
    adds each commitment's purchase (actual only) and unused part (amortized only), sized so both
    files total the same."""
    rng = np.random.default_rng([seed + 7, _month_seed(period)])
    start, end = period_bounds(period)
    used: dict[tuple[int, int], int] = {}
    left = max(rows - 2 * len(AZ_ACCOUNTS) * len(_BENEFITS), 1)
    while left > 0:
        n = min(chunk_rows, left)
        left -= n
        acct = rng.integers(0, len(AZ_ACCOUNTS), n)
        model = rng.choice(4, n, p=[0.8, 0.08, 0.07, 0.05])  # OnDemand, Reservation, SavingsPlan, Spot
        cost = cost_units(rng, n)
        if restated:
            cost = cost + cost // 20
        for a in range(len(AZ_ACCOUNTS)):
            for b, m in ((0, 1), (1, 2)):
                used[(a, b)] = used.get((a, b), 0) + int(cost[(acct == a) & (model == m)].sum())
        charge = np.full(n, "Usage", dtype=object)
        market = (rng.random(n) < 0.01) & (model == 0)
        charge[market] = "Purchase"
        day = hours(rng, n, start, usage_end(period, through)).astype("datetime64[D]")
        base = _azure_columns(rng, n, acct, model, charge, day, period, mca)
        actual_cost = np.where(np.isin(model, (1, 2)), 0, cost)
        yield _azure_pair(base, actual_cost, cost, acct, mca)
    # Purchases (actual) and unused commitment (amortized).
    keys = sorted(used)
    unused = {k: max(used[k] // 19, 1) for k in keys}  # 95% utilisation
    n = len(keys)
    acct = np.array([a for a, _ in keys]); bidx = np.array([b for _, b in keys])
    model = np.where(bidx == 0, 1, 2)
    day = np.full(n, np.datetime64(start.replace(tzinfo=None), "D"))
    purchase = _azure_columns(rng, n, acct, model, np.full(n, "Purchase", dtype=object), day, period, mca)
    gone = _azure_columns(rng, n, acct, model, np.where(bidx == 0, "UnusedReservation", "UnusedSavingsPlan").astype(object),
                          day, period, mca)
    price = np.array([used[k] + unused[k] for k in keys], dtype=np.int64)
    waste = np.array([unused[k] for k in keys], dtype=np.int64)
    actual = _azure_table(purchase, price, price, mca)
    amortized = _azure_table(gone, waste, waste, mca)
    accounts, currencies = _azure_accounts(mca), [c for _, _, c in AZ_ACCOUNTS]
    yield (_with_units(actual, "Microsoft", accounts, acct, currencies, price, np.zeros(n, dtype=np.int64)),
           _with_units(amortized, "Microsoft", accounts, acct, currencies, np.zeros(n, dtype=np.int64), waste))


def _azure_accounts(mca: bool) -> list[str]:
    """FOCUS billing accounts: the EA enrollment, or the MCA billing profile."""
    return [("BP-" + a if mca else a) for a, _, _ in AZ_ACCOUNTS]


def _azure_pair(base: dict, actual_cost, amortized_cost, acct, mca: bool):
    accounts, currencies = _azure_accounts(mca), [c for _, _, c in AZ_ACCOUNTS]
    zero = np.zeros(len(acct), dtype=np.int64)
    return (_with_units(_azure_table(base, actual_cost, amortized_cost, mca), "Microsoft", accounts, acct, currencies,
                        actual_cost, zero),
            _with_units(_azure_table(base, amortized_cost, amortized_cost, mca), "Microsoft", accounts, acct, currencies,
                        zero, amortized_cost))


def _azure_columns(rng, n, acct, model, charge, day, period, mca) -> dict:
    start, end = period_bounds(period)
    meter = rng.integers(0, len(AZ_METERS), n)
    sub = rng.integers(0, len(AZ_SUBS), n)
    meters = np.array(AZ_METERS, dtype=object)[meter] if n else np.empty((0, 5), dtype=object)
    subs = np.array(AZ_SUBS, dtype=object)[sub] if n else np.empty((0, 2), dtype=object)
    accounts = np.array(AZ_ACCOUNTS, dtype=object)[acct] if n else np.empty((0, 3), dtype=object)
    region = pick(rng, AZ_REGIONS, n)
    g = rng.integers(0, len(_AZ_GROUPS), n)
    group = np.array(_AZ_GROUPS, dtype=object)[g]
    slot = ((sub * len(_AZ_GROUPS) + g) * len(AZ_METERS) + meter) * _AZ_PER + rng.integers(0, _AZ_PER, n)
    rid, names = _azure_resources()
    rid, rname = rid[slot], names[slot]
    combo = rng.integers(0, len(TEAMS) * len(ENVS), n)
    tags = _azure_tags(mca)[combo]
    models = np.array(["OnDemand", "Reservation", "SavingsPlan", "Spot"], dtype=object)[model]
    benefit = np.where(model == 1, _BENEFITS[0][0], np.where(model == 2, _BENEFITS[1][0], ""))
    benefit_name = np.where(model == 1, _BENEFITS[0][1], np.where(model == 2, _BENEFITS[1][1], ""))
    quantity = np.round(rng.gamma(2.0, 4.0, n), 6)
    return dict(n=n, accounts=accounts, subs=subs, meters=meters, region=region, group=group, rid=rid, rname=rname, tags=tags,
                models=models, charge=charge, benefit=benefit, benefit_name=benefit_name, quantity=quantity,
                day=day, start=start, end=end, period=period)


def _azure_table(c: dict, cost: np.ndarray, payg: np.ndarray, mca: bool) -> pa.Table:
    n = c["n"]
    last = c["end"] - timedelta(days=1)
    full = lambda v: pa.repeat(pa.scalar(v, pa.string()), n)  # noqa: E731
    unit_price = np.where(c["quantity"] > 0, payg / np.maximum(c["quantity"], 1e-9) / SCALE, 0.0)
    if mca:
        date = fmt_dates(c["day"], "%Y-%m-%d")
        return pa.table({
            "invoiceId": full(f"G{c['period'].replace('-', '')}0001"), "billingAccountId": full("1234abcd-mca:5678_2019-05-31"),
            "billingAccountName": full("Contoso MCA"), "billingProfileId": pa.array(np.array(["BP-" + a for a in c["accounts"][:, 0]], dtype=object)),
            "billingProfileName": pa.array(c["accounts"][:, 1]), "invoiceSectionId": full("IS-0001"),
            "invoiceSectionName": full("Engineering"), "billingPeriodStartDate": full(f"{c['start']:%Y-%m-%d}"),
            "billingPeriodEndDate": full(f"{last:%Y-%m-%d}"), "date": date, "serviceFamily": full("Compute"),
            "productOrderId": full(""), "productOrderName": full(""), "consumedService": pa.array(c["meters"][:, 1]),
            "meterId": full("00000000-0000-0000-0000-000000000001"), "meterName": full("D4s v5"),
            "meterCategory": pa.array(c["meters"][:, 0]), "meterSubCategory": full(""), "meterRegion": pa.array(c["region"]),
            "ProductId": full("DZH318Z0BQ4L"), "ProductName": pa.array(c["meters"][:, 2]),
            "SubscriptionId": pa.array(c["subs"][:, 0]), "subscriptionName": pa.array(c["subs"][:, 1]),
            "publisherType": full("Azure"), "publisherName": full("Microsoft"), "resourceGroupName": pa.array(c["group"]),
            "ResourceId": pa.array(c["rid"]), "resourceLocation": pa.array(c["region"]),
            "effectivePrice": pc.cast(pa.array(np.round(unit_price, 8)), pa.string()),
            "quantity": pc.cast(pa.array(c["quantity"]), pa.string()), "unitOfMeasure": pa.array(c["meters"][:, 3]),
            "chargeType": pa.array(c["charge"]), "billingCurrency": pa.array(c["accounts"][:, 2]),
            "costInBillingCurrency": money(cost), "paygCostInBillingCurrency": money(payg), "tags": pa.array(c["tags"]),
            "PayGPrice": pc.cast(pa.array(np.round(unit_price, 8)), pa.string()), "frequency": full("UsageBased"),
            "term": full(""), "reservationId": full(""), "reservationName": full(""), "pricingModel": pa.array(c["models"]),
            "unitPrice": pc.cast(pa.array(np.round(unit_price, 8)), pa.string()), "benefitId": pa.array(c["benefit"]),
            "benefitName": pa.array(c["benefit_name"]), "ResourceName": pa.array(c["rname"]),
            "AvailabilityZone": full(""),
        })
    date = fmt_dates(c["day"], "%m/%d/%Y")
    return pa.table({
        "BillingAccountId": pa.array(c["accounts"][:, 0]), "BillingAccountName": pa.array(c["accounts"][:, 1]),
        "BillingPeriodStartDate": full(f"{c['start']:%m/%d/%Y}"), "BillingPeriodEndDate": full(f"{last:%m/%d/%Y}"),
        "BillingProfileId": pa.array(c["accounts"][:, 0]), "BillingProfileName": pa.array(c["accounts"][:, 1]),
        "AccountOwnerId": full("owner@contoso.com"), "AccountName": full("Engineering"),
        "SubscriptionId": pa.array(c["subs"][:, 0]), "SubscriptionName": pa.array(c["subs"][:, 1]), "Date": date,
        "Product": pa.array(c["meters"][:, 2]), "PartNumber": full("AAA-00000"),
        "MeterId": full("00000000-0000-0000-0000-000000000001"), "ServiceFamily": full("Compute"),
        "MeterCategory": pa.array(c["meters"][:, 0]), "MeterSubCategory": full(""), "MeterRegion": pa.array(c["region"]),
        "MeterName": full("D4s v5"), "Quantity": pc.cast(pa.array(c["quantity"]), pa.string()),
        "EffectivePrice": pc.cast(pa.array(np.round(unit_price, 8)), pa.string()), "CostInBillingCurrency": money(cost),
        "CostCenter": full("CC-42"), "ConsumedService": pa.array(c["meters"][:, 1]), "ResourceId": pa.array(c["rid"]),
        "Tags": pa.array(c["tags"]), "OfferId": full("MS-AZR-0017P"), "AdditionalInfo": full(""),
        "ServiceInfo1": full(""), "ServiceInfo2": full(""),
        "ResourceName": pa.array(c["rname"]), "ReservationId": full(""),
        "ReservationName": full(""), "UnitPrice": pc.cast(pa.array(np.round(unit_price, 8)), pa.string()),
        "ProductOrderId": full(""), "ProductOrderName": full(""), "Term": full(""), "PublisherType": full("Azure"),
        "PublisherName": full("Microsoft"), "ChargeType": pa.array(c["charge"]), "Frequency": full("UsageBased"),
        "PricingModel": pa.array(c["models"]), "AvailabilityZone": full(""),
        "BillingCurrencyCode": pa.array(c["accounts"][:, 2]), "ResourceLocation": pa.array(c["region"]),
        "ResourceGroup": pa.array(c["group"]), "PayGPrice": pc.cast(pa.array(np.round(unit_price, 8)), pa.string()),
        "PaygCostInBillingCurrency": money(payg), "BenefitId": pa.array(c["benefit"]),
        "BenefitName": pa.array(c["benefit_name"]), "UnitOfMeasure": pa.array(c["meters"][:, 3]),
        "ProductId": full("DZH318Z0BQ4L"),
    })


# --------------------------------------------------------------------------------------------
# Google Cloud

_PAIRS = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
_CREDIT = pa.struct([("name", pa.string()), ("amount", pa.float64()), ("full_name", pa.string()),
                     ("id", pa.string()), ("type", pa.string())])


def gcp_tables(rows: int, period: str = "2026-10", seed: int = 0, restated: bool = False, detailed: bool = False,
               chunk_rows: int = CHUNK_ROWS, through: str | None = None) -> Iterator[pa.Table]:
    """Billing export rows, nested as BigQuery holds them. A restatement appends corrections
    (rows with a later export_time), as Google does."""
    rng = np.random.default_rng([seed + 13, _month_seed(period)])
    start, _ = period_bounds(period)
    end = usage_end(period, through)
    # Google's months are Pacific time: usage of the invoice month runs 07:00/08:00 UTC to the next.
    left = rows
    while left > 0:
        n = min(chunk_rows, left)
        left -= n
        yield _gcp_table(rng, n, period, start, end, detailed, corrections=False)
    if restated:
        yield _gcp_table(rng, max(rows // 50, 1), period, start, end, detailed, corrections=True)


def _gcp_table(rng, n, period, start, end, detailed, corrections) -> pa.Table:
    acct = rng.integers(0, len(GCP_ACCOUNTS), n)
    proj = rng.integers(0, len(GCP_PROJECTS), n)
    svc = rng.integers(0, len(GCP_SERVICES), n)
    reg = rng.integers(0, len(GCP_REGIONS), n)
    services = np.array(GCP_SERVICES, dtype=object)[svc]
    projects = np.array(GCP_PROJECTS, dtype=object)[proj]
    regions = np.array(GCP_REGIONS, dtype=object)[reg]
    cost_type = pick(rng, ["regular", "tax", "adjustment", "rounding_error"], n, p=[0.95, 0.03, 0.015, 0.005])
    cost = cost_units(rng, n)
    cost = np.where(cost_type == "adjustment", -cost // 4, cost)
    cost = np.where(cost_type == "rounding_error", cost // 10_000, cost)
    if corrections:
        cost = cost // 20
    usage_start = hours(rng, n, start, end, offset_hours=7)
    export_offset = 30 if corrections else 6
    export = usage_start + np.timedelta64(export_offset, "h")
    # Credits: sustained use on some Compute rows, CUDs on others, promotions rarely.
    has_sud = (rng.random(n) < 0.25) & (services[:, 1] == "Compute Engine") & (cost_type == "regular")
    has_cud = (rng.random(n) < 0.10) & (cost_type == "regular") & ~has_sud
    has_promo = (rng.random(n) < 0.02) & (cost_type == "regular")
    offsets, names, amounts, ids, types = [0], [], [], [], []
    sud_amount = -(cost * 2 // 10)
    cud_amount = -(cost * 3 // 10)
    promo_amount = -(cost // 10)
    total_credit = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if has_sud[i]:
            names.append("Sustained usage discount"); amounts.append(sud_amount[i]); ids.append(""); types.append("SUSTAINED_USAGE_DISCOUNT")
            total_credit[i] += sud_amount[i]
        if has_cud[i]:
            names.append("Committed use discount: CPU"); amounts.append(cud_amount[i])
            ids.append(f"projects/{projects[i][0]}/regions/{regions[i][0]}/commitments/cud-1"); types.append("COMMITTED_USAGE_DISCOUNT")
            total_credit[i] += cud_amount[i]
        if has_promo[i]:
            names.append("Free trial"); amounts.append(promo_amount[i]); ids.append("promo-1"); types.append("PROMOTION")
            total_credit[i] += promo_amount[i]
        offsets.append(len(names))
    credits = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.StructArray.from_arrays(
        [pa.array(names, pa.string()), money_float(np.array(amounts, dtype=np.int64)), pa.array(names, pa.string()),
         pa.array(ids, pa.string()), pa.array(types, pa.string())], fields=list(_CREDIT)))
    team, env = pick(rng, TEAMS, n), pick(rng, ENVS, n)
    lab_off, lab_k, lab_v = [0], [], []
    for t, e in zip(team, env):
        for k, v in (("team", t), ("env", e)):
            if v:
                lab_k.append(k); lab_v.append(v)
        lab_off.append(len(lab_k))
    labels = pa.ListArray.from_arrays(pa.array(lab_off, pa.int32()), pa.StructArray.from_arrays(
        [pa.array(lab_k, pa.string()), pa.array(lab_v, pa.string())], names=["key", "value"]))
    proj_labels = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), pa.StructArray.from_arrays(
        [pa.array(np.full(n, "owner", dtype=object)), pa.array(np.where(proj % 2 == 0, "shop", "data"))], names=["key", "value"]))
    empty_pairs = pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.struct(
        [("key", pa.string()), ("value", pa.string())])))
    amount = np.round(rng.gamma(2.0, 3.0, n), 6)
    ts = lambda a: pa.array(a.astype("datetime64[us]"), pa.timestamp("us", tz="UTC"))  # noqa: E731
    fields = {
        "billing_account_id": pa.array(np.array([a for a, _ in GCP_ACCOUNTS], dtype=object)[acct]),
        "service": pa.StructArray.from_arrays([pa.array(services[:, 0]), pa.array(services[:, 1])], names=["id", "description"]),
        "sku": pa.StructArray.from_arrays([pa.array(services[:, 2]), pa.array(services[:, 3])], names=["id", "description"]),
        "usage_start_time": ts(usage_start), "usage_end_time": ts(usage_start + np.timedelta64(1, "h")),
        "project": pa.StructArray.from_arrays([pa.array(projects[:, 0]), pa.array(projects[:, 2]), pa.array(projects[:, 1]),
                                               proj_labels], names=["id", "number", "name", "labels"]),
        "labels": labels, "system_labels": empty_pairs,
        "location": pa.StructArray.from_arrays([pa.array(regions[:, 0]), pa.array(regions[:, 2]), pa.array(regions[:, 0]),
                                                pa.array(regions[:, 1])], names=["location", "country", "region", "zone"]),
        "export_time": ts(export), "cost": money_float(cost),
        "currency": pa.array(np.array([c for _, c in GCP_ACCOUNTS], dtype=object)[acct]),
        "currency_conversion_rate": pa.array(np.ones(n)),
        "usage": pa.StructArray.from_arrays([pa.array(amount), pa.array(services[:, 4]), pa.array(amount / 3600),
                                             pa.array(services[:, 5])], names=["amount", "unit", "amount_in_pricing_units", "pricing_unit"]),
        "credits": credits,
        "invoice": pa.StructArray.from_arrays([pa.array(np.full(n, period.replace("-", ""), dtype=object))], names=["month"]),
        "cost_type": pa.array(cost_type), "cost_at_list": money_float(np.where(cost > 0, cost + cost // 5, cost)),
    }
    if detailed:
        rid = np.array([f"//compute.googleapis.com/projects/{p}/zones/{z}/instances/vm-{x}" for p, z, x in
                        zip(projects[:, 0], regions[:, 1], rng.integers(0, 200, n))], dtype=object)
        fields["resource"] = pa.StructArray.from_arrays([pa.array([r.rsplit("/", 1)[-1] for r in rid]), pa.array(rid)],
                                                        names=["name", "global_name"])
    billed = cost + total_credit
    return _with_units(pa.table(fields), "Google Cloud", [a for a, _ in GCP_ACCOUNTS], acct,
                       [c for _, c in GCP_ACCOUNTS], billed, billed)


# --------------------------------------------------------------------------------------------
# Native FOCUS exports

_FOCUS_SERVICES = {
    "AWS": [("Amazon Elastic Compute Cloud", "Compute"), ("Amazon Simple Storage Service", "Storage"),
            ("Amazon Relational Database Service", "Databases"), ("AWS Lambda", "Compute")],
    "Microsoft": [("Virtual Machines", "Compute"), ("Storage", "Storage"), ("SQL Database", "Databases"),
                  ("Bandwidth", "Networking")],
    "Google Cloud": [("Compute Engine", "Compute"), ("Cloud Storage", "Storage"), ("BigQuery", "Analytics"),
                     ("Cloud Run", "Compute")],
}
_FOCUS_ACCOUNTS = {"AWS": [("111122223333", "Example Corp", "USD")], "Microsoft": [("8611537", "Contoso EA", "USD")],
                   "Google Cloud": [("01A2B3-C4D5E6-F7A8B9", None, "USD")]}


def focus_tables(provider: str, rows: int, period: str = "2026-10", seed: int = 0, restated: bool = False,
                 chunk_rows: int = CHUNK_ROWS) -> Iterator[pa.Table]:
    """Rows of a provider's native FOCUS 1.2 export (typed as Parquet holds them)."""
    rng = np.random.default_rng([seed + 29, _month_seed(period)])
    start, end = period_bounds(period)
    left = rows
    while left > 0:
        n = min(chunk_rows, left)
        left -= n
        svc = np.array(_FOCUS_SERVICES[provider], dtype=object)[rng.integers(0, 4, n)]
        account, name, currency = _FOCUS_ACCOUNTS[provider][0]
        cost = cost_units(rng, n)
        if restated:
            cost = cost + cost // 20
        category = pick(rng, ["Usage", "Usage", "Usage", "Tax", "Credit"], n)
        cost = np.where(category == "Credit", -cost // 5, cost)
        committed = (rng.random(n) < 0.1) & (category == "Usage")
        effective = np.where(committed, cost * 7 // 10, cost)
        usage_start = hours(rng, n, start, end)
        combo = rng.integers(0, len(TEAMS), n)
        tags = np.array([json.dumps({"team": t}, separators=(",", ":")) if t else "{}" for t in TEAMS], dtype=object)[combo]
        ts = lambda a: pa.array(a.astype("datetime64[us]"), pa.timestamp("us", tz="UTC"))  # noqa: E731
        full = lambda v, t=pa.string(): pa.repeat(pa.scalar(v, t), n)  # noqa: E731
        usage = category == "Usage"
        table = pa.table({
            "BilledCost": money_float(cost), "BillingAccountId": full(account), "BillingAccountName": full(name),
            "BillingCurrency": full(currency), "BillingPeriodStart": full(start, pa.timestamp("us", tz="UTC")),
            "BillingPeriodEnd": full(end, pa.timestamp("us", tz="UTC")), "ChargeCategory": pa.array(category),
            "ChargeClass": full(None), "ChargeDescription": pa.array(svc[:, 0]),
            "ChargePeriodStart": ts(usage_start), "ChargePeriodEnd": ts(usage_start + np.timedelta64(1, "h")),
            "ContractedCost": money_float(cost), "EffectiveCost": money_float(effective),
            "InvoiceIssuerName": full({"AWS": "Amazon Web Services, Inc.", "Microsoft": "Microsoft", "Google Cloud": "Google"}[provider]),
            "ListCost": money_float(np.where(cost > 0, cost + cost // 10, cost)),
            "PricingQuantity": pa.array(np.round(rng.gamma(2.0, 3.0, n), 6), mask=~usage),
            "PricingUnit": pa.array(np.where(usage, "Hours", None)), "ProviderName": full(provider),
            "PublisherName": full(provider), "ServiceCategory": pa.array(svc[:, 1]), "ServiceName": pa.array(svc[:, 0]),
            "RegionId": pa.array(pick(rng, ["us-east-1", "eastus", "us-central1"], n)), "SubAccountId": pa.array(
                pick(rng, ["sub-a", "sub-b", "sub-c"], n)), "Tags": pa.array(tags),
            "PricingCategory": pa.array(np.where(committed, "Committed", np.where(usage, "Standard", None))),
            "CommitmentDiscountId": pa.array(np.where(committed, "commitment-1", None)),
            "CommitmentDiscountType": pa.array(np.where(committed, "Savings Plan", None)),
            "CommitmentDiscountCategory": pa.array(np.where(committed, "Spend", None)),
            "CommitmentDiscountStatus": pa.array(np.where(committed, "Used", None)),
            "x_UsageType": pa.array(np.where(usage, "BoxUsage", None)),
            "x_ResourceGroupName": full("rg-web" if provider == "Microsoft" else None),
            "x_ExportTime": ts(usage_start + np.timedelta64(6, "h")),
        })
        index = np.zeros(n, dtype=np.int64)
        yield _with_units(table, provider, [account], index, [currency], cost, effective)


# --------------------------------------------------------------------------------------------
# Writing exports in their real layouts


def _period_folder(period: str) -> str:
    start, end = period_bounds(period)
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def _accumulate(export: SampleExport, table: pa.Table, period: str, billed: bool = True, effective: bool = True) -> None:
    meta = json.loads((table.schema.metadata or {}).get(b"units", b"{}"))
    for key, (b, e) in meta.items():
        provider, account, currency = key.split("|")
        k = (provider, account, period, currency)
        if billed:
            export.billed[k] = export.billed.get(k, Decimal(0)) + Decimal(b) / SCALE
        if effective:
            export.amortized[k] = export.amortized.get(k, Decimal(0)) + Decimal(e) / SCALE


def _write_csv(path: Path, tables, gz: bool = False) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    raw = open(path, "wb")
    out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if gz else raw
    try:
        writer = None
        for table in tables:
            table = table.replace_schema_metadata(None)
            if writer is None:
                writer = pacsv.CSVWriter(out, table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is not None:
            writer.close()
    finally:
        if gz:
            out.close()
        raw.close()
    return rows


BAD_VALUES = ("cost", "date", "currency")


def _inject_bad_rows(table: pa.Table, columns: dict[str, str], export: SampleExport, key: str,
                     which: bool | tuple[str, ...] = True) -> pa.Table:
    """Spoil one row per (column, bad value), rows 1, 2, 3... of the first chunk of a CSV file;
    `which` picks among BAD_VALUES (True: all)."""
    wanted = BAD_VALUES if which is True else which
    columns = {c: v for (c, v), name in zip(columns.items(), BAD_VALUES) if name in wanted}
    for i, (column, value) in enumerate(columns.items()):
        row = i + 1
        values = table.column(column).to_pylist()
        export.bad_rows.append((key, row + 2, column, value))
        values[row] = value
        table = table.set_column(table.column_names.index(column), column, pa.array(values, pa.string()))
    return table


def write_export(kind: str, rows: int, directory: Path | str, prefix: str = "", period: str = "2026-10",
                 seed: int = 0, restated: bool = False, bad_rows: bool | tuple[str, ...] = False, fmt: str = "parquet",
                 run: str = "run-1", chunk_rows: int = CHUNK_ROWS, compress: bool = True, through: str | None = None,
                 spike: tuple[str, float] | None = None) -> SampleExport:
    """Write one export of `kind` (see KINDS) under `directory`/`prefix` in the provider's layout.
    `restated` writes the month as the provider would after a restatement (a new assembly or run
    folder, or appended corrections); `bad_rows` spoils a number, a date and a currency in CSV
    kinds (True), or those of BAD_VALUES named; `fmt` is parquet, jsonl or csv for gcp-standard/gcp-detailed;
    `compress=False` writes the CUR as plain CSV (AWS offers both); `through` (YYYY-MM-DD) ends usage
    that day, as in a month still in progress; `spike` (day, factor) makes one day of AWS EC2 cost
    `factor` times as much."""
    if kind not in KINDS:
        raise ValueError(f"unknown sample kind {kind!r}; expected one of {KINDS}")
    root = Path(directory)
    export = SampleExport(kind)
    folder = _period_folder(period)
    tag = period.replace("-", "")

    def rel(path: Path) -> str:
        return path.relative_to(root).as_posix()

    if kind == "aws-cur":
        report = "cur-hourly"
        assembly = f"{'b' if restated else 'a'}{seed:07d}-0000-4000-8000-{tag}00000000"
        key_path = root / f"{prefix}{report}/{folder}/{assembly}/{report}-1.csv{'.gz' if compress else ''}"
        tables = aws_cur_tables(rows, period, seed, restated, chunk_rows, through, spike)

        def counted():
            first = True
            for table in tables:
                _accumulate(export, table, period)
                if bad_rows and first:
                    table = _inject_bad_rows(table, {"lineItem/UnblendedCost": "abc", "lineItem/UsageStartDate": "10/32/2026",
                                                     "lineItem/CurrencyCode": "usd$"}, export, rel(key_path), bad_rows)
                first = False
                yield table
        export.rows = _write_csv(key_path, counted(), gz=compress)
        export.keys.append(rel(key_path))
        _manifest(root, f"{prefix}{report}/{folder}/{report}-Manifest.json", report, period, assembly, export.keys,
                  "text/csv", export)
    elif kind in ("aws-cur-parquet", "aws-cur2"):
        report = "cur-parquet" if kind == "aws-cur-parquet" else "cur2"
        if kind == "aws-cur-parquet":
            key_path = root / f"{prefix}{report}/{report}/year={period[:4]}/month={int(period[5:])}/{report}-00001.snappy.parquet"
        else:
            key_path = root / f"{prefix}{report}/data/BILLING_PERIOD={period}/{report}-00001.snappy.parquet"
        key_path.parent.mkdir(parents=True, exist_ok=True)
        writer = None
        for table in aws_cur_tables(rows, period, seed, restated, chunk_rows, through, spike):
            _accumulate(export, table, period)
            typed = _snake_typed(table) if kind == "aws-cur-parquet" else _cur2(table)
            typed = typed.replace_schema_metadata(None)
            writer = writer or pq.ParquetWriter(key_path, typed.schema)
            writer.write_table(typed.cast(writer.schema))
            export.rows += typed.num_rows
        writer.close()
        export.keys.append(rel(key_path))
        manifest = (f"{prefix}{report}/{folder}/{report}-Manifest.json" if kind == "aws-cur-parquet"
                    else f"{prefix}{report}/metadata/BILLING_PERIOD={period}/{report}-Manifest.json")
        _manifest(root, manifest, report, period, "", export.keys, "Parquet", export, cur2=kind == "aws-cur2")
    elif kind in ("azure-ea", "azure-mca"):
        mca = kind == "azure-mca"
        paths = {d: root / f"{prefix}{d}/costs-{d}/{folder}/{run}/part_0_0001.csv" for d in ("actual", "amortized")}
        pairs = azure_tables(rows, period, seed, restated, mca, chunk_rows, through)
        # Two files from one stream: spool the amortized side to disk chunk by chunk.
        spool = paths["amortized"].with_suffix(".parts")
        spool.mkdir(parents=True, exist_ok=True)
        def actual_stream():
            first = True
            for i, (actual, amortized) in enumerate(pairs):
                _accumulate(export, actual, period, effective=False)
                _accumulate(export, amortized, period, billed=False)
                pq.write_table(amortized.replace_schema_metadata(None), spool / f"{i:06d}.parquet")
                if bad_rows and first:
                    cost = "costInBillingCurrency" if mca else "CostInBillingCurrency"
                    date = "date" if mca else "Date"
                    currency = "billingCurrency" if mca else "BillingCurrencyCode"
                    actual = _inject_bad_rows(actual, {cost: "12,5", date: "2026-13-45", currency: "EURO"}, export,
                                              rel(paths["actual"]), bad_rows)
                first = False
                yield actual
        export.rows = _write_csv(paths["actual"], actual_stream())
        export.rows += _write_csv(paths["amortized"], (pq.read_table(p) for p in sorted(spool.glob("*.parquet"))))
        for p in spool.glob("*.parquet"):
            p.unlink()
        spool.rmdir()
        export.keys += [rel(paths["actual"]), rel(paths["amortized"])]
        for dataset in ("actual", "amortized"):  # the run's manifest, written last, as Azure does
            manifest = paths[dataset].parent / "manifest.json"
            manifest.write_text(json.dumps({"manifestVersion": "2024-04-01", "blobCount": 1, "blobs": [
                {"blobName": rel(paths[dataset]), "byteCount": paths[dataset].stat().st_size}]}))
            export.keys.append(rel(manifest))
    elif kind in ("gcp-standard", "gcp-detailed"):
        detailed = kind == "gcp-detailed"
        key_path = root / f"{prefix}billing-export/{period}/{'corrections' if restated else 'part'}-000000000000.{fmt}"
        key_path.parent.mkdir(parents=True, exist_ok=True)
        tables = gcp_tables(rows, period, seed, restated, detailed, chunk_rows, through)
        if fmt == "parquet":
            writer = None
            for table in tables:
                _accumulate(export, table, period)
                table = table.replace_schema_metadata(None)
                writer = writer or pq.ParquetWriter(key_path, table.schema)
                writer.write_table(table)
                export.rows += table.num_rows
            writer.close()
        elif fmt == "jsonl":
            with open(key_path, "w") as out:
                for table in tables:
                    _accumulate(export, table, period)
                    for row in table.to_pylist():
                        out.write(json.dumps(row, default=_json_default) + "\n")
                        export.rows += 1
        else:
            def flat():
                for table in tables:
                    _accumulate(export, table, period)
                    yield _gcp_csv(table)
            export.rows = _write_csv(key_path, flat())
        export.keys.append(rel(key_path))
    else:
        provider = {"aws-focus": "AWS", "azure-focus": "Microsoft", "gcp-focus": "Google Cloud"}[kind]
        if kind == "azure-focus":
            key_path = root / f"{prefix}focus/{folder}/{run}/part_0_0001.csv"
            def as_text():
                for table in focus_tables(provider, rows, period, seed, restated, chunk_rows):
                    _accumulate(export, table, period)
                    yield table.replace_schema_metadata(None)
            export.rows = _write_csv(key_path, as_text())
        else:
            key_path = root / f"{prefix}focus/data/BILLING_PERIOD={period}/focus-00001.snappy.parquet"
            key_path.parent.mkdir(parents=True, exist_ok=True)
            writer = None
            for table in focus_tables(provider, rows, period, seed, restated, chunk_rows):
                _accumulate(export, table, period)
                table = table.replace_schema_metadata(None)
                writer = writer or pq.ParquetWriter(key_path, table.schema)
                writer.write_table(table)
                export.rows += table.num_rows
            writer.close()
        export.keys.append(rel(key_path))
    return export


def _json_default(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(type(value))


def _gcp_csv(table: pa.Table) -> pa.Table:
    """A CSV extract: records flattened to dotted names, repeated fields as JSON text, times as
    BigQuery prints them."""
    flat = table.replace_schema_metadata(None)
    while any(pa.types.is_struct(f.type) for f in flat.schema):
        flat = flat.flatten()
    out = {}
    for name in flat.column_names:
        col = flat.column(name)
        if pa.types.is_list(col.type):
            out[name] = pa.array([json.dumps(v) for v in col.to_pylist()])
        elif pa.types.is_timestamp(col.type):
            out[name] = pc.strftime(col, format="%Y-%m-%d %H:%M:%S UTC")
        else:
            out[name] = col
    return pa.table(out)


def _manifest(root: Path, key: str, report: str, period: str, assembly: str, keys: list[str], content_type: str,
              export: SampleExport, cur2: bool = False) -> None:
    start, end = period_bounds(period)
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"assemblyId": assembly, "account": AWS_PAYERS[0][0], "charset": "UTF-8",
            "compression": "GZIP" if content_type == "text/csv" else "Parquet", "contentType": content_type,
            "reportId": "0" * 64, "reportName": report, "bucket": "billing-exports",
            "billingPeriod": {"start": f"{start:%Y%m%dT%H%M%S}.000Z", "end": f"{end:%Y%m%dT%H%M%S}.000Z"},
            "additionalArtifactKeys": []}
    if cur2:
        body["dataFiles"] = [f"s3://billing-exports/{k}" for k in keys]
    else:
        body["reportKeys"] = list(keys)
        body["columns"] = [{"category": c.split("/")[0], "name": c.split("/")[-1], "type": "String"}
                           for c in AWS_CUR_CSV_COLUMNS]
    path.write_text(json.dumps(body, indent=1))
    export.keys.append(key)


def mixed(rows: int) -> list[tuple[str, int]]:
    """A row budget split across the three providers' main exports (the benchmark's mix)."""
    return [("aws-cur", rows * 4 // 10), ("azure-ea", rows * 3 // 10), ("gcp-standard", rows - rows * 7 // 10)]
