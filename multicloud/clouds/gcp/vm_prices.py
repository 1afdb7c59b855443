"""Compute Engine VM list prices from the Cloud Billing Catalog (`catalog.list_skus` of service
6F81-5844-456A): a predefined machine type costs vCPUs x its family's core SKU + GiB x its ram SKU in
the region, on demand and spot ("Spot Preemptible" SKUs), and under 1- and 3-year resource-based
commitments ("Commitment v1" SKUs) where the catalog has them. The waits before retried pages are
reported."""

from __future__ import annotations

from datetime import timezone
from typing import Any, Iterable

import pandas as pd

from multicloud.clouds.common import DEFAULT_RETRY
from multicloud.clouds.gcp.catalog import list_skus
from multicloud.core.retry import RetryPolicy
from multicloud.core.rightsizing.price_catalogs import (
    GcpRate, PriceReading, gcp_commitments, gcp_family, gcp_rate, gcp_shape_price,
)
from multicloud.core.rightsizing.prices import Shape

COMPUTE_ENGINE = "6F81-5844-456A"
#: The usage unit each rate must be in: a vCPU hour, a GiB hour.
_UNITS = {"core": "h", "ram": "GiBy.h"}


def read_vm_prices(shapes: Iterable[tuple[str, Shape]], *, endpoint: str | None = None, credentials: Any = None,
                   currency: str = "USD", retry: RetryPolicy = DEFAULT_RETRY,
                   timeout_seconds: float = 60.0) -> PriceReading:
    """A `ShapePrice` (on demand and spot) and the 1- and 3-year `CommitmentPrice`s for every (region,
    shape) in `shapes`; `shape.vcpus` and `shape.memory_mib` must be known (the machine type's), else
    the price stays empty with a note, as for a family or region the catalog has no SKUs for. Reads
    the Compute Engine SKUs once, page by page. Raises what `list_skus` raises."""
    wanted = list(dict.fromkeys(shapes))
    families = {s.family.upper() or gcp_family(s.type) for _, s in wanted}
    reading = PriceReading()
    rates: list[GcpRate] = []
    frames = list_skus(COMPUTE_ENGINE, endpoint=endpoint, credentials=credentials, currency=currency,
                       retry=retry, timeout_seconds=timeout_seconds, waits=reading.throttle_waits)
    for frame in frames:
        reading.requests["list_skus"] += 1
        rates += [r for r in _rates(frame) if r.family in families]
    for region, shape in wanted:
        reading.prices.append(gcp_shape_price(shape, region, rates))
        reading.commitments += gcp_commitments(shape, region, rates)
    return reading


def _rates(frame: pd.DataFrame) -> Iterable[GcpRate]:
    for row in frame.itertuples(index=False):
        effective = row.effective_time.to_pydatetime().astimezone(timezone.utc) if pd.notna(row.effective_time) else None
        rate = gcp_rate(row.sku_id, row.description, row.usage_type or "", (row.service_regions or "").split(","),
                        row.unit_price if pd.notna(row.unit_price) else None, row.currency or "", effective)
        if rate is not None and row.usage_unit == _UNITS[rate.resource]:
            yield rate
