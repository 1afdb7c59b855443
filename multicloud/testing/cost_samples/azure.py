"""Sample Azure cost details (EA and MCA column sets): the actual and the amortized file of a
month, with reservations and savings plans bought, used and left unused, and the manifest of an
export run. Pure: tables and text, no files."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from itertools import product
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multicloud.testing.cost_samples.common import (
    CHUNK_ROWS, ENVS, SCALE, TEAMS, chunk_sizes, cost_units, fmt_dates, hours, money, month_seed, period_bounds, pick,
    repeat, usage_end, vocabulary, with_units,
)

AZ_ACCOUNTS = [("8611537", "Contoso EA", "USD"), ("9922001", "Contoso Europe", "EUR")]
AZ_SUBS = [("a1b2c3d4-0000-4000-8000-000000000001", "prod"), ("a1b2c3d4-0000-4000-8000-000000000002", "dev"),
           ("a1b2c3d4-0000-4000-8000-000000000003", "data"), ("a1b2c3d4-0000-4000-8000-000000000004", "shared"),
           ("a1b2c3d4-0000-4000-8000-000000000005", "web")]
# meter category | consumed service | product | unit | resource type
AZ_METERS = vocabulary("""
    Virtual Machines | Microsoft.Compute | Virtual Machines Dsv5 Series - D4s v5 - EU West | 1 Hour | virtualMachines
    Storage | Microsoft.Storage | Standard Page Blob - LRS - Disk Storage | 1 GB/Month | storageAccounts
    SQL Database | Microsoft.Sql | SQL Database Single vCore - General Purpose | 1 Hour | servers
    Azure Cosmos DB | Microsoft.DocumentDB | Azure Cosmos DB - RU/s | 100 Hours | databaseAccounts
    Bandwidth | Microsoft.Network | Bandwidth - Inter Region - Data Transfer Out | 1 GB | networkInterfaces
    Azure App Service | Microsoft.Web | Azure App Service Premium v3 Plan - P1 v3 | 1 Hour | serverFarms
    Azure Kubernetes Service | Microsoft.ContainerService | AKS Uptime SLA | 1 Hour | managedClusters
    Log Analytics | Microsoft.OperationalInsights | Log Analytics - Pay-as-you-go Data Ingestion | 1 GB | workspaces
    Key Vault | Microsoft.KeyVault | Key Vault - Standard Operations | 10K | vaults
    Azure Synapse Analytics | Microsoft.Synapse | Synapse Serverless SQL Pool | 1 TB | workspaces
    Cognitive Services | Microsoft.CognitiveServices | Azure OpenAI - GPT-4o Input Tokens | 1K | accounts
    Event Hubs | Microsoft.EventHub | Event Hubs Standard Throughput Unit | 1 Hour | namespaces
""")
AZ_REGIONS = ["EastUS", "westeurope", "US West 2", "northeurope", "uksouth"]

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
_MODELS = np.array(["OnDemand", "Reservation", "SavingsPlan", "Spot"], dtype=object)  # model 1 + b is _BENEFITS[b]
_MODEL_SHARES = [0.8, 0.08, 0.07, 0.05]
_GROUPS = ["rg-web", "rg-data", "rg-ml", "rg-shared"]
_RESOURCES_PER_METER = 40


def bad_cells(mca: bool) -> dict[str, tuple[str, str]]:
    """The cell each kind of bad value spoils in an actual-cost file (see common.spoil)."""
    if mca:
        return {"cost": ("costInBillingCurrency", "12,5"), "date": ("date", "2026-13-45"),
                "currency": ("billingCurrency", "EURO")}
    return {"cost": ("CostInBillingCurrency", "12,5"), "date": ("Date", "2026-13-45"),
            "currency": ("BillingCurrencyCode", "EURO")}


def run_manifest(blob_name: str, byte_count: int) -> str:
    """The manifest.json Azure writes last in an export run's folder."""
    return json.dumps({"manifestVersion": "2024-04-01", "blobCount": 1,
                       "blobs": [{"blobName": blob_name, "byteCount": byte_count}]})


def azure_tables(rows: int, period: str = "2026-10", seed: int = 0, restated: bool = False, mca: bool = False,
                 chunk_rows: int = CHUNK_ROWS, through: str | None = None) -> Iterator[tuple[pa.Table, pa.Table]]:
    """(actual, amortized) cost-details chunks of one month. Usage rows appear in both, identical
    except commitment-covered usage (0 in actual, amortized cost in amortized); the last chunk
    adds each commitment's purchase (actual only) and unused part (amortized only), sized so both
    files total the same."""
    rng = np.random.default_rng([seed + 7, month_seed(period)])
    used = {(a, b): 0 for a in range(len(AZ_ACCOUNTS)) for b in range(len(_BENEFITS))}
    for n in chunk_sizes(max(rows - 2 * len(AZ_ACCOUNTS) * len(_BENEFITS), 1), chunk_rows):
        yield _usage_pair(rng, n, period, restated, mca, through, used)
    yield _commitment_pair(rng, used, period, mca)


def _usage_pair(rng, n: int, period: str, restated: bool, mca: bool, through: str | None,
                used: dict) -> tuple[pa.Table, pa.Table]:
    """n usage rows as (actual, amortized); adds the commitment-covered cost to `used`."""
    start, _ = period_bounds(period)
    acct = rng.integers(0, len(AZ_ACCOUNTS), n)
    model = rng.choice(len(_MODELS), n, p=_MODEL_SHARES)
    cost = cost_units(rng, n)
    if restated:
        cost = cost + cost // 20
    for a, b in used:
        used[(a, b)] += int(cost[(acct == a) & (model == 1 + b)].sum())
    charge = np.full(n, "Usage", dtype=object)
    charge[(rng.random(n) < 0.01) & (model == 0)] = "Purchase"  # marketplace
    day = hours(rng, n, start, usage_end(period, through)).astype("datetime64[D]")
    base = _columns(rng, n, acct, model, charge, day, period)
    actual_cost = np.where(np.isin(model, (1, 2)), 0, cost)
    zero = np.zeros(n, dtype=np.int64)
    return (_priced(_table(base, actual_cost, cost, mca), acct, actual_cost, zero, mca),
            _priced(_table(base, cost, cost, mca), acct, zero, cost, mca))


def _commitment_pair(rng, used: dict, period: str, mca: bool) -> tuple[pa.Table, pa.Table]:
    """Each commitment's purchase (actual) and its unused part (amortized), 95% utilisation."""
    start, _ = period_bounds(period)
    keys = sorted(used)
    n = len(keys)
    unused = [max(used[k] // 19, 1) for k in keys]
    price = np.array([used[k] + u for k, u in zip(keys, unused)], dtype=np.int64)
    waste = np.array(unused, dtype=np.int64)
    acct = np.array([a for a, _ in keys])
    benefit = np.array([b for _, b in keys])
    day = np.full(n, np.datetime64(start.replace(tzinfo=None), "D"))
    purchase = _columns(rng, n, acct, 1 + benefit, np.full(n, "Purchase", dtype=object), day, period)
    unused_kind = np.array(["UnusedReservation", "UnusedSavingsPlan"], dtype=object)[benefit]
    gone = _columns(rng, n, acct, 1 + benefit, unused_kind, day, period)
    zero = np.zeros(n, dtype=np.int64)
    return (_priced(_table(purchase, price, price, mca), acct, price, zero, mca),
            _priced(_table(gone, waste, waste, mca), acct, zero, waste, mca))


def _priced(table: pa.Table, acct: np.ndarray, billed: np.ndarray, effective: np.ndarray, mca: bool) -> pa.Table:
    """The table with its exact totals per FOCUS billing account: the EA enrollment, or the MCA
    billing profile."""
    accounts = [("BP-" + a if mca else a) for a, _, _ in AZ_ACCOUNTS]
    return with_units(table, "Microsoft", accounts, acct, [c for _, _, c in AZ_ACCOUNTS], billed, effective)


@cache
def _resources() -> tuple[np.ndarray, np.ndarray]:
    """Resource ids (and names) for every subscription × group × meter, _RESOURCES_PER_METER of each."""
    ids = [f"/subscriptions/{s}/resourceGroups/{g}/providers/{m[1]}/{m[4]}/res-{x}"
           for s, _ in AZ_SUBS for g in _GROUPS for m in AZ_METERS for x in range(_RESOURCES_PER_METER)]
    return np.array(ids, dtype=object), np.array([i.rsplit("/", 1)[-1] for i in ids], dtype=object)


@cache
def _tags(mca: bool) -> np.ndarray:
    """Tags text for every (team, env) pair: MCA writes JSON, EA the inside of it without braces."""
    out = []
    for team, env in product(TEAMS, ENVS):
        tags = {k: v for k, v in (("team", team), ("env", env)) if v}
        if mca:
            out.append(json.dumps(tags) if tags else "")
        else:
            out.append(",".join(f'"{k}": "{v}"' for k, v in tags.items()))
    return np.array(out, dtype=object)


def _columns(rng, n, acct, model, charge, day, period) -> dict:
    """What a row is about (account, subscription, meter, resource, tags, pricing model), drawn
    for n rows."""
    start, end = period_bounds(period)
    meter = rng.integers(0, len(AZ_METERS), n)
    sub = rng.integers(0, len(AZ_SUBS), n)
    region = pick(rng, AZ_REGIONS, n)
    group = rng.integers(0, len(_GROUPS), n)
    slot = ((sub * len(_GROUPS) + group) * len(AZ_METERS) + meter) * _RESOURCES_PER_METER
    slot = slot + rng.integers(0, _RESOURCES_PER_METER, n)
    rid, names = _resources()
    tag_pair = rng.integers(0, len(TEAMS) * len(ENVS), n)
    return dict(n=n, accounts=np.array(AZ_ACCOUNTS, dtype=object)[acct], subs=np.array(AZ_SUBS, dtype=object)[sub],
                meters=np.array(AZ_METERS, dtype=object)[meter], region=region,
                group=np.array(_GROUPS, dtype=object)[group], rid=rid[slot], rname=names[slot], tag_pair=tag_pair,
                models=_MODELS[model], charge=charge,
                benefit=np.where(model == 1, _BENEFITS[0][0], np.where(model == 2, _BENEFITS[1][0], "")),
                benefit_name=np.where(model == 1, _BENEFITS[0][1], np.where(model == 2, _BENEFITS[1][1], "")),
                quantity=np.round(rng.gamma(2.0, 4.0, n), 6), day=day, start=start, end=end, period=period)


def _table(c: dict, cost: np.ndarray, payg: np.ndarray, mca: bool) -> pa.Table:
    """Cost-details rows (all text) in the EA or the MCA column set."""
    values = _shared_values(c, cost, payg, "%Y-%m-%d" if mca else "%m/%d/%Y")
    values |= _tags_and_mca_values(c) if mca else _tags_and_ea_values(c)
    return pa.table({name: values[name.lower()] for name in (AZURE_MCA_COLUMNS if mca else AZURE_EA_COLUMNS)})


def _shared_values(c: dict, cost: np.ndarray, payg: np.ndarray, date_format: str) -> dict:
    """Columns both sets hold with the same values, keyed by lower-case name (a few under each
    set's name)."""
    n = c["n"]
    last = c["end"] - timedelta(days=1)
    unit_price = np.where(c["quantity"] > 0, payg / np.maximum(c["quantity"], 1e-9) / SCALE, 0.0)
    price = pc.cast(pa.array(np.round(unit_price, 8)), pa.string())
    meters, accounts = c["meters"], c["accounts"]
    values = {name: repeat("", n) for name in ("metersubcategory", "productorderid", "productordername", "term",
                                                "reservationid", "reservationname", "availabilityzone")}
    return values | {
        "billingprofilename": pa.array(accounts[:, 1]), "billingcurrencycode": pa.array(accounts[:, 2]),
        "billingperiodstartdate": repeat(format(c["start"], date_format), n),
        "billingperiodenddate": repeat(format(last, date_format), n), "date": fmt_dates(c["day"], date_format),
        "subscriptionid": pa.array(c["subs"][:, 0]), "subscriptionname": pa.array(c["subs"][:, 1]),
        "product": pa.array(meters[:, 2]), "metercategory": pa.array(meters[:, 0]),
        "consumedservice": pa.array(meters[:, 1]), "unitofmeasure": pa.array(meters[:, 3]),
        "meterid": repeat("00000000-0000-0000-0000-000000000001", n), "metername": repeat("D4s v5", n),
        "servicefamily": repeat("Compute", n), "productid": repeat("DZH318Z0BQ4L", n),
        "meterregion": pa.array(c["region"]), "resourcelocation": pa.array(c["region"]),
        "resourcegroup": pa.array(c["group"]), "resourceid": pa.array(c["rid"]), "resourcename": pa.array(c["rname"]),
        "quantity": pc.cast(pa.array(c["quantity"]), pa.string()),
        "effectiveprice": price, "unitprice": price, "paygprice": price,
        "costinbillingcurrency": money(cost), "paygcostinbillingcurrency": money(payg),
        "publishertype": repeat("Azure", n), "publishername": repeat("Microsoft", n),
        "chargetype": pa.array(c["charge"]), "frequency": repeat("UsageBased", n), "pricingmodel": pa.array(c["models"]),
        "benefitid": pa.array(c["benefit"]), "benefitname": pa.array(c["benefit_name"]),
    }


def _tags_and_ea_values(c: dict) -> dict:
    n, accounts = c["n"], c["accounts"]
    values = {name: repeat("", n) for name in ("additionalinfo", "serviceinfo1", "serviceinfo2")}
    return values | {
        "tags": pa.array(_tags(False)[c["tag_pair"]]),
        "billingaccountid": pa.array(accounts[:, 0]), "billingaccountname": pa.array(accounts[:, 1]),
        "billingprofileid": pa.array(accounts[:, 0]), "accountownerid": repeat("owner@contoso.com", n),
        "accountname": repeat("Engineering", n), "partnumber": repeat("AAA-00000", n), "costcenter": repeat("CC-42", n),
        "offerid": repeat("MS-AZR-0017P", n),
    }


def _tags_and_mca_values(c: dict) -> dict:
    n, accounts = c["n"], c["accounts"]
    return {
        "tags": pa.array(_tags(True)[c["tag_pair"]]),
        "invoiceid": repeat(f"G{c['period'].replace('-', '')}0001", n),
        "billingaccountid": repeat("1234abcd-mca:5678_2019-05-31", n), "billingaccountname": repeat("Contoso MCA", n),
        "billingprofileid": pa.array(np.array(["BP-" + a for a in accounts[:, 0]], dtype=object)),
        "invoicesectionid": repeat("IS-0001", n), "invoicesectionname": repeat("Engineering", n),
        # MCA's names for columns EA names otherwise
        "productname": pa.array(c["meters"][:, 2]), "resourcegroupname": pa.array(c["group"]),
        "billingcurrency": pa.array(accounts[:, 2]),
    }
