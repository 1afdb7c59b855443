"""Sample AWS Cost and Usage Reports: legacy CUR rows (CSV column names, all text), the same rows
as AWS types them in Parquet and in CUR 2.0, and the report manifest. Savings Plan covered usage
comes with its negation, and each month ends with its Savings Plan and RI fees. Pure: tables and
text, no files."""

from __future__ import annotations

import json
from functools import cache
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multicloud.testing.cost_samples.common import (
    CHUNK_ROWS, COST_CENTERS, ENVS, SCALE, TEAMS, cost_units, hours, iso, money, month_seed, period_bounds, pick,
    ragged, usage_end, vocabulary, with_units,
)

AWS_PAYERS = [("111122223333", "Example Corp"), ("444455556666", "Example Labs")]
AWS_ACCOUNTS = [("210987654321", "prod"), ("310987654321", "staging"), ("410987654321", "data"),
                ("510987654321", "ml"), ("610987654321", "shared"), ("710987654321", "sandbox")]
# product code | product name | usage type | unit | family
AWS_SERVICES = vocabulary("""
    AmazonEC2 | Amazon Elastic Compute Cloud | BoxUsage:m5.large | Hrs | Compute Instance
    AmazonEC2 | Amazon Elastic Compute Cloud | EBS:VolumeUsage.gp3 | GB-Mo | Storage
    AmazonS3 | Amazon Simple Storage Service | TimedStorage-ByteHrs | GB-Mo | Storage
    AmazonRDS | Amazon Relational Database Service | InstanceUsage:db.r6g.large | Hrs | Database Instance
    AmazonDynamoDB | Amazon DynamoDB | ReadCapacityUnit-Hrs | ReadCapacityUnit-Hrs | Provisioned IOPS
    AWSLambda | AWS Lambda | Lambda-GB-Second | Lambda-GB-Second | Serverless
    AmazonCloudFront | Amazon CloudFront | DataTransfer-Out-Bytes | GB | Data Transfer
    AmazonCloudWatch | AmazonCloudWatch | CW:MetricMonitorUsage | Metrics | Metric
    AmazonEKS | Amazon Elastic Container Service for Kubernetes | AmazonEKS-Hours:perCluster | Hours | Compute
    AmazonElastiCache | Amazon ElastiCache | NodeUsage:cache.r6g.large | NodeHour | Cache Instance
    AmazonVPC | Amazon Virtual Private Cloud | NatGateway-Hours | Hrs | NAT Gateway
    AWSGlue | AWS Glue | Crawler-DPU-Hour | DPU-Hour | AWS Glue
    AmazonSageMaker | Amazon SageMaker | ml.g5.xlarge-Training | Hrs | ML Instance
    AmazonRedshift | Amazon Redshift | Node:ra3.xlplus | Hrs | Compute Instance
    AmazonSNS | Amazon Simple Notification Service | Requests-Tier1 | Requests | API Request
    AmazonSQS | Amazon Simple Queue Service | Requests-RBP | Requests | API Request
    AWSKMS | AWS Key Management Service | KMS-Requests | Requests | Encryption Key
    AmazonGuardDuty | Amazon GuardDuty | PaidEventsAnalyzed | Events | Security
    AmazonAthena | Amazon Athena | DataScannedInTB | Terabytes | Analytics
    AmazonECR | Amazon EC2 Container Registry (ECR) | TimedStorage-ByteHrs | GB-Mo | Storage
""")
AWS_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]

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

# The cell each kind of bad value spoils in a CUR CSV (see common.spoil).
BAD_CELLS = {"cost": ("lineItem/UnblendedCost", "abc"), "date": ("lineItem/UsageStartDate", "10/32/2026"),
             "currency": ("lineItem/CurrencyCode", "usd$")}

_LINE_KINDS = np.array(["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "Tax", "Credit", "Refund", "Fee"])
_LINE_KIND_SHARES = [0.80, 0.05, 0.06, 0.04, 0.02, 0.01, 0.02]
_USAGE_KINDS = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")
# The fee rows' "service", in the order of AWS_SERVICES' fields.
_SAVINGS_PLANS = ("ComputeSavingsPlans", "Savings Plans for AWS Compute usage", "ComputeSP:1yrNoUpfront", "", "")
_PAYER_IDS = np.array([p for p, _ in AWS_PAYERS], dtype=object)
_SKUS = np.array([f"SKU{x:08X}" for x in range(64)], dtype=object)
_RESOURCES_PER_ACCOUNT = 2000


def aws_cur_tables(rows: int, period: str = "2026-10", seed: int = 0, restated: bool = False,
                   chunk_rows: int = CHUNK_ROWS, through: str | None = None,
                   spike: tuple[str, float] | None = None) -> Iterator[pa.Table]:
    """Legacy CUR rows (CSV column names, all text), chunk by chunk; the last chunk ends with
    the period's Savings Plan and RI fee rows. `spike` (day, factor) makes EC2 cost `factor`
    times as much that day."""
    rng = np.random.default_rng([seed, month_seed(period)])
    sp_used = [0] * len(AWS_PAYERS)
    ri_used = [0] * len(AWS_PAYERS)
    left, serial = max(rows - 2 * len(AWS_PAYERS), 1), 0
    while left > 0:
        lines = _usage_lines(rng, min(chunk_rows, left), period, restated, through, spike)
        for payer in range(len(AWS_PAYERS)):
            mine = lines["payer"] == payer
            sp_used[payer] += int(lines["sp_eff"][mine].sum())
            ri_used[payer] += int(lines["ri_eff"][mine].sum())
        left -= len(lines["kind"])
        yield _priced(rng, lines, period, serial)
        serial += 1
    yield _priced(rng, _fee_lines(sp_used, ri_used, period), period, serial)


def _priced(rng, lines: dict, period: str, serial: int) -> pa.Table:
    """The CUR table of `lines`, with its exact billed and effective totals per payer attached."""
    return with_units(_table(rng, lines, period, serial), "AWS", list(_PAYER_IDS), lines["payer"],
                      ["USD"] * len(AWS_PAYERS), lines["unblended"], lines["effective"])


# --------------------------------------------------------------------------------------------
# Line items as numbers

def _usage_lines(rng, n: int, period: str, restated: bool, through: str | None,
                 spike: tuple[str, float] | None) -> dict:
    """Columns of about n usage, tax, credit, refund and fee rows; each Savings Plan covered row
    is followed by its negation, which takes the place of a row at the chunk's end."""
    start, _ = period_bounds(period)
    kind = _line_kinds(rng, n)
    n_base = len(kind)
    payer = rng.integers(0, len(AWS_PAYERS), n_base)
    account = rng.integers(0, len(AWS_ACCOUNTS), n_base)
    service = rng.integers(0, len(AWS_SERVICES), n_base)
    region = rng.integers(0, len(AWS_REGIONS), n_base)
    usage_start = hours(rng, n_base, start, usage_end(period, through))
    amount = np.round(rng.gamma(2.0, 3.0, n_base), 6)
    od = _on_demand(rng, n_base, restated, spike, usage_start, service)
    cols = dict(kind=_LINE_KINDS[kind], payer=payer, account=account, service=service, region=region,
                start=usage_start, amount=amount, od=od, unblended=_unblended(kind, od),
                sp_eff=np.where(kind == 2, od * 7 // 10, 0), ri_eff=np.where(kind == 1, od * 6 // 10, 0))
    cols = _with_negations(cols, np.flatnonzero(kind == 2))
    zeros = np.zeros(len(cols["kind"]), dtype=np.int64)
    return cols | dict(
        end=cols["start"] + np.timedelta64(1, "h"), svc=np.array(AWS_SERVICES, dtype=object)[cols["service"]],
        sku=(cols["service"] * 3 + cols["region"]) % 64, total=zeros, used=zeros, unused_recurring=zeros,
        effective=_usage_effective(cols))


def _line_kinds(rng, n: int) -> np.ndarray:
    """Line item kinds (indexes into _LINE_KINDS), shortened to leave room for the negations."""
    kind = rng.choice(len(_LINE_KINDS), n, p=_LINE_KIND_SHARES)
    n_neg = int((kind == 2).sum())
    return kind[: n - n_neg] if n_neg < n else kind


def _on_demand(rng, n: int, restated: bool, spike, usage_start: np.ndarray, service: np.ndarray) -> np.ndarray:
    od = cost_units(rng, n)
    if restated:
        od = od + od // 20  # a 5% restatement
    if spike is not None:  # one day on which EC2 costs `factor` times as much: an anomaly to find
        hit = (usage_start.astype("datetime64[D]") == np.datetime64(spike[0])) & (service == 0)
        od = np.where(hit, (od * spike[1]).astype(np.int64), od)
    return od


def _unblended(kind: np.ndarray, od: np.ndarray) -> np.ndarray:
    unblended = od.copy()
    unblended[kind == 1] = 0                                   # RI-covered usage is billed by the RIFee
    unblended[kind == 3] = od[kind == 3] // 10                 # tax
    credit = np.isin(kind, (4, 5))
    unblended[credit] = -(od[credit] // 5)
    return unblended


def _with_negations(cols: dict, covered: np.ndarray) -> dict:
    """The columns with a copy of each covered row appended, its on-demand cost negated."""
    if not len(covered):
        return cols
    negations = {key: values[covered].copy() for key, values in cols.items()}
    negations |= dict(kind=np.full(len(covered), "SavingsPlanNegation", dtype=object),
                      unblended=-cols["unblended"][covered], sp_eff=np.zeros(len(covered), dtype=np.int64),
                      ri_eff=np.zeros(len(covered), dtype=np.int64))
    return {key: np.concatenate([values, negations[key]]) for key, values in cols.items()}


def _usage_effective(cols: dict) -> np.ndarray:
    kind = cols["kind"]
    return np.where(kind == "SavingsPlanCoveredUsage", cols["sp_eff"],
                    np.where(kind == "DiscountedUsage", cols["ri_eff"],
                             np.where(kind == "SavingsPlanNegation", 0, cols["unblended"])))


def _fee_lines(sp_used: list[int], ri_used: list[int], period: str) -> dict:
    """One SavingsPlanRecurringFee and one RIFee per payer for the period, priced so that the
    commitment is 95% used (the unused 5% is their EffectiveCost)."""
    start, end = period_bounds(period)
    rows = []
    for payer in range(len(AWS_PAYERS)):
        commitment = sp_used[payer] * 100 // 95
        fee = ri_used[payer] * 100 // 95
        rows += [("SavingsPlanRecurringFee", payer, commitment, commitment, sp_used[payer], 0),
                 ("RIFee", payer, fee, 0, 0, fee - ri_used[payer])]
    names = ("kind", "payer", "unblended", "total", "used", "unused_recurring")
    fees = {name: np.array(column) for name, column in zip(names, zip(*rows))}
    n = len(fees["kind"])
    zeros = np.zeros(n, dtype=np.int64)
    return fees | dict(
        account=zeros, region=zeros, sku=zeros, amount=np.ones(n), od=zeros, sp_eff=zeros, ri_eff=zeros,
        start=np.full(n, np.datetime64(start.replace(tzinfo=None), "s")),
        end=np.full(n, np.datetime64(end.replace(tzinfo=None), "s")),
        svc=np.array([_SAVINGS_PLANS] * n, dtype=object),
        effective=np.where(fees["kind"] == "RIFee", fees["unused_recurring"], fees["total"] - fees["used"]))


# --------------------------------------------------------------------------------------------
# Line items as CUR text

@cache
def _resources() -> np.ndarray:
    return np.array([f"arn:aws:ec2:us-east-1:{a}:instance/i-{x:017x}" for a, _ in AWS_ACCOUNTS
                     for x in range(_RESOURCES_PER_ACCOUNT)], dtype=object)


def _table(rng, lines: dict, period: str, serial: int) -> pa.Table:
    """CUR rows (legacy CSV names, all text) from line item columns."""
    n = len(lines["kind"])
    kind, svc = lines["kind"], lines["svc"]
    tags = {"team": pick(rng, TEAMS, n), "env": pick(rng, ENVS, n), "cost-center": pick(rng, COST_CENTERS, n)}
    code = np.where(np.isin(kind, ("RIFee",)), "AmazonEC2", svc[:, 0])
    spot = (rng.random(n) < 0.05) & (kind == "Usage") & (code == "AmazonEC2")
    resource = _resources()[lines["account"] * _RESOURCES_PER_ACCOUNT + rng.integers(0, _RESOURCES_PER_ACCOUNT, n)]
    facts = dict(n=n, usage=np.isin(kind, _USAGE_KINDS), code=code, payer=_PAYER_IDS[lines["payer"]],
                 region=np.array(AWS_REGIONS, dtype=object)[lines["region"]],
                 usage_type=np.where(spot, "USE1-SpotUsage:m5.large", svc[:, 2]), resource=resource,
                 rate=np.where(lines["amount"] > 0, lines["od"] / np.maximum(lines["amount"], 1e-9) / SCALE, 0.0))
    data = (_bill_columns(lines, facts, period, serial) | _line_item_columns(lines, facts, period)
            | _product_columns(lines, facts) | _commitment_columns(lines, facts)
            | {f"resourceTags/user:{k}": pa.array(np.where(facts["usage"], v, "")) for k, v in tags.items()})
    return pa.table({name: data[name] for name in AWS_CUR_CSV_COLUMNS})


def _constant(value: str, n: int) -> pa.Array:
    return pa.array(np.full(n, value, dtype=object))


def _bill_columns(lines: dict, facts: dict, period: str, serial: int) -> dict:
    n = facts["n"]
    start, end = period_bounds(period)
    row_numbers = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 10, "0")
    return {
        "identity/LineItemId": pc.binary_join_element_wise(f"{serial:06d}", row_numbers, ""),
        "identity/TimeInterval": _constant(f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}", n),
        "bill/InvoiceId": _constant(f"EUINUS{period.replace('-', '')}-1", n),
        "bill/InvoicingEntity": _constant("Amazon Web Services, Inc.", n),
        "bill/BillType": _constant("Anniversary", n),
        "bill/PayerAccountId": pa.array(facts["payer"]),
        "bill/BillingPeriodStartDate": _constant(f"{start:%Y-%m-%dT%H:%M:%SZ}", n),
        "bill/BillingPeriodEndDate": _constant(f"{end:%Y-%m-%dT%H:%M:%SZ}", n),
    }


def _line_item_columns(lines: dict, facts: dict, period: str) -> dict:
    usage, kind = facts["usage"], lines["kind"]
    account = np.array([a for a, _ in AWS_ACCOUNTS], dtype=object)[lines["account"]]
    return {
        "lineItem/UsageAccountId": pa.array(np.where(usage, account, facts["payer"])),
        "lineItem/LineItemType": pa.array(kind.astype(object)),
        "lineItem/UsageStartDate": iso(lines["start"]),
        "lineItem/UsageEndDate": iso(lines["end"]),
        "lineItem/ProductCode": pa.array(facts["code"]),
        "lineItem/UsageType": pa.array(facts["usage_type"]),
        "lineItem/Operation": pa.array(np.where(usage, "RunInstances", "")),
        "lineItem/AvailabilityZone": pa.array(np.where(usage, facts["region"].astype(str).astype(object) + "a", "")),
        "lineItem/ResourceId": pa.array(np.where(usage, facts["resource"], "")),
        "lineItem/UsageAmount": pc.cast(pa.array(lines["amount"]), pa.string()),
        "lineItem/CurrencyCode": _constant("USD", facts["n"]),
        "lineItem/UnblendedRate": pc.cast(pa.array(np.round(facts["rate"], 8)), pa.string()),
        "lineItem/UnblendedCost": money(lines["unblended"]),
        "lineItem/LineItemDescription": pa.array(np.where(usage, "$0.096 per On Demand Linux m5.large Instance Hour",
                                                         kind.astype(object) + " for " + period)),
        "lineItem/LegalEntity": _constant("Amazon Web Services, Inc.", facts["n"]),
    }


def _product_columns(lines: dict, facts: dict) -> dict:
    svc, usage, n = lines["svc"], facts["usage"], facts["n"]
    committed = np.isin(lines["kind"], ("DiscountedUsage", "RIFee", "SavingsPlanCoveredUsage", "SavingsPlanNegation",
                                        "SavingsPlanRecurringFee"))
    empty = np.full(n, "", dtype=object)
    return {
        "product/ProductName": pa.array(svc[:, 1]),
        "product/region": pa.array(facts["region"]), "product/regionCode": pa.array(facts["region"]),
        "product/sku": pa.array(_SKUS[lines["sku"]]),
        "product/productFamily": pa.array(svc[:, 4]),
        "product/instanceType": pa.array(np.where(facts["code"] == "AmazonEC2", "m5.large", "")),
        "pricing/unit": pa.array(svc[:, 3]),
        "pricing/term": pa.array(np.where(committed, "Reserved", np.where(usage, "OnDemand", ""))),
        "pricing/RateCode": pa.array(empty), "pricing/RateId": pa.array(empty),
        "pricing/publicOnDemandRate": pc.cast(pa.array(np.round(facts["rate"], 8)), pa.string()),
        "pricing/publicOnDemandCost": money(np.where(usage, np.abs(lines["od"]), 0)),
    }


def _commitment_columns(lines: dict, facts: dict) -> dict:
    kind, payer, n = lines["kind"], lines["payer"], facts["n"]
    is_sp = np.isin(kind, ("SavingsPlanCoveredUsage", "SavingsPlanNegation", "SavingsPlanRecurringFee"))
    is_ri = np.isin(kind, ("DiscountedUsage", "RIFee"))
    sp_arn = np.array([f"arn:aws:savingsplans::{p}:savingsplan/sp-{i:04d}" for i, p in enumerate(_PAYER_IDS)],
                      dtype=object)[payer]
    ri_arn = np.array([f"arn:aws:ec2:us-east-1:{p}:reserved-instances/ri-{i:04d}" for i, p in enumerate(_PAYER_IDS)],
                      dtype=object)[payer]
    return {
        "reservation/ReservationARN": pa.array(np.where(is_ri, ri_arn, "")),
        "reservation/EffectiveCost": money(lines["ri_eff"]),
        "reservation/TotalReservedUnits": pa.array(np.full(n, "", dtype=object)),
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": money(np.zeros(n, dtype=np.int64)),
        "reservation/UnusedRecurringFee": money(lines["unused_recurring"]),
        "savingsPlan/SavingsPlanARN": pa.array(np.where(is_sp, sp_arn, "")),
        "savingsPlan/SavingsPlanEffectiveCost": money(lines["sp_eff"]),
        "savingsPlan/TotalCommitmentToDate": money(lines["total"]),
        "savingsPlan/UsedCommitment": money(lines["used"]),
    }


# --------------------------------------------------------------------------------------------
# The same rows as Parquet holds them

def snake_typed(table: pa.Table) -> pa.Table:
    """Legacy CUR as AWS writes it in Parquet: snake_case names, money as doubles, times typed."""
    from multicloud.core.costs.sources import snake_case

    arrays, names = [], []
    for name in table.column_names:
        col = table.column(name)
        if name.endswith(("Cost", "Fee", "FeeForBillingPeriod", "CommitmentToDate", "UsedCommitment", "Rate", "UsageAmount")):
            col = pc.cast(pc.if_else(pc.equal(col, ""), None, col), pa.float64())
        elif name.endswith(("Date", "StartDate", "EndDate")):
            col = pc.cast(pc.strptime(col, format="%Y-%m-%dT%H:%M:%SZ", unit="ms"), pa.timestamp("ms"))
        arrays.append(col)
        names.append(snake_case(name))
    return pa.table(dict(zip(names, arrays)))


_PRODUCT_COLUMNS = ["product_product_name", "product_region", "product_sku", "product_product_family"]


def cur2(table: pa.Table) -> pa.Table:
    """CUR 2.0: tags and most product attributes in maps, account names beside their ids."""
    typed = snake_typed(table)
    tag_columns = [c for c in typed.column_names if c.startswith("resource_tags_")]
    keep = [c for c in typed.column_names if not c.startswith("resource_tags_") and c not in
            ("product_product_name", "product_region", "product_product_family")]
    out = (typed.select(keep).append_column("resource_tags", _map_of(typed, tag_columns, "resource_tags_", True))
           .append_column("product", _map_of(typed, _PRODUCT_COLUMNS, "product_", False)))
    names = dict(AWS_ACCOUNTS) | dict(AWS_PAYERS)
    for id_column in ("bill_payer_account_id", "line_item_usage_account_id"):
        out = out.append_column(id_column.replace("_id", "_name"),
                                pa.array([names.get(a) for a in out.column(id_column).to_pylist()]))
    return out


def _map_of(typed: pa.Table, columns: list[str], strip: str, skip_empty: bool) -> pa.MapArray:
    """A map column from text columns, keyed by their names without `strip`; `skip_empty`
    leaves out empty values (as tags are), else every row has every key."""
    values = np.stack([np.asarray(typed.column(c).to_pylist(), dtype=object) for c in columns], axis=1)
    keys = np.tile(np.array([c[len(strip):] for c in columns], dtype=object), (len(values), 1))
    keep = values != "" if skip_empty else np.ones(values.shape, dtype=bool)
    offsets, kept_keys, kept_values = ragged(keep, keys, values)
    return pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(kept_keys, pa.string()),
                                   pa.array(kept_values, pa.string()))


# --------------------------------------------------------------------------------------------
# The report's manifest

def cur_manifest(report: str, period: str, assembly: str, keys: list[str], content_type: str, cur2: bool) -> str:
    """The manifest AWS writes beside a report's files (legacy CUR or CUR 2.0), naming `keys`."""
    start, end = period_bounds(period)
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
    return json.dumps(body, indent=1)
