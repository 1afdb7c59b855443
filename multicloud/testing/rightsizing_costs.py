"""FOCUS rows for known resources, written into a dataset through the project's own dataset code
(spool, stage, publish), so tests, the demo and benchmarks can give rightsizing findings real
costs to match and commitment recommendations real usage to simulate."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from multicloud.core.costs.mapping import OUTPUT_SCHEMA
from multicloud.core.objects import ObjectStore
from multicloud.engine.dataset import Published, Spool, publish, stage

PROVIDER_NAMES = {"aws": "AWS", "azure": "Microsoft", "gcp": "Google Cloud"}
SERVICE_CATEGORY = "Compute"


@dataclass(frozen=True)
class Charge:
    """One usage row: `hours` long from `start`, at `effective` (and `listed`, default the same),
    covered by commitment `commitment` when given; `pricing` Standard, Committed or Dynamic."""

    cloud: str
    resource_id: str | None
    start: datetime
    effective: Decimal
    service: str = "Amazon Elastic Compute Cloud"
    region: str = "us-east-1"
    hours: int = 1
    listed: Decimal | None = None
    commitment: str | None = None
    pricing: str | None = None
    currency: str = "USD"
    category: str = "Usage"


def _period(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=32)).replace(day=1)


def focus_table(charges: list[Charge]) -> pa.Table:
    """The charges as FOCUS rows of the dataset's schema (mandatory columns filled plausibly)."""
    rows = []
    for c in charges:
        period_start, period_end = _period(c.start)
        committed = c.commitment is not None
        pricing = c.pricing or ("Committed" if committed else "Standard")
        rows.append({
            "BilledCost": c.effective, "BillingAccountId": "acct-1", "BillingCurrency": c.currency,
            "BillingPeriodStart": period_start, "BillingPeriodEnd": period_end, "ChargeCategory": c.category,
            "ChargeDescription": c.service, "ChargePeriodStart": c.start,
            "ChargePeriodEnd": c.start + timedelta(hours=c.hours), "ContractedCost": c.effective,
            "EffectiveCost": c.effective, "InvoiceIssuerName": PROVIDER_NAMES[c.cloud],
            "ListCost": c.effective if c.listed is None else c.listed, "PricingQuantity": Decimal(c.hours),
            "PricingUnit": "Hours", "ProviderName": PROVIDER_NAMES[c.cloud], "PublisherName": PROVIDER_NAMES[c.cloud],
            "ServiceCategory": SERVICE_CATEGORY, "ServiceName": c.service, "RegionId": c.region,
            "ResourceId": c.resource_id, "SubAccountId": "sub-1", "Tags": "{}", "PricingCategory": pricing,
            "CommitmentDiscountId": c.commitment, "CommitmentDiscountType": "Savings Plan" if committed else None,
            "CommitmentDiscountCategory": "Spend" if committed else None,
            "CommitmentDiscountStatus": "Used" if committed else None,
        })
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA)


def write_focus(store: ObjectStore, charges: list[Charge], run: str = "run-1",
                source: str = "rightsizing-sample") -> list[Published]:
    """Publishes the charges into the dataset in `store`, one partition per provider and month."""
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp), producer="0")
        spool.write(focus_table(charges))
        spool.close()
        return publish(store, stage(store, spool, run, source), run)
