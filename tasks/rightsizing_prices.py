"""Prefect task of the rightsizing flow that reads list prices: the on-demand and spot hourly prices of the
(region, shape) pairs a run needs from one cloud's catalog (AWS Pricing, Azure Retail Prices, the GCP
Billing Catalog), with disk and address unit prices and commitment rates where the catalog has them. A
shape the catalog does not price comes back unpriced with its note; the choices live in
multicloud.core.rightsizing.price_catalogs."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds.aws import pricing as aws_pricing
from multicloud.clouds.azure import retail_prices
from multicloud.clouds.gcp import vm_prices
from multicloud.config import Profile
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing.price_catalogs import PriceReading
from multicloud.core.rightsizing.prices import Shape
from tasks.storage import retry_transient

_RETRIES = dict(retries=2, retry_delay_seconds=[10, 60], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
                cache_policy=NO_CACHE, tags=["rightsizing"])


@task(task_run_name="read-prices-{cloud}", **_RETRIES)
def read_prices(profile: Profile, cloud: str, shapes: list[tuple[str, Shape]], disks: list[tuple[str, str]] = (),
                ip_regions: list[str] = (), endpoint: str | None = None,
                connection: str | None = None) -> PriceReading:
    """List prices of `shapes` ((region, Shape) pairs of one cloud), of `disks` ((region, EBS volume type
    or Azure disk tier) pairs; GCP: none) and of a public address in each of `ip_regions` (GCP: none).
    `endpoint` is the price API's (a local fake, a proxy); empty: the cloud's public one. AWS signs with
    the profile's `connection` (or its first AWS connection); Azure's and GCP's catalogs need none."""
    logger = get_run_logger()
    if cloud == "aws":
        reading = aws_pricing.read_prices(profile.connection_for("aws", connection), shapes, disks=disks,
                                          ip_regions=ip_regions, endpoint=endpoint)
    elif cloud == "azure":
        reading = retail_prices.read_prices(shapes, disks=disks, ip_regions=ip_regions,
                                            base_url=endpoint or retail_prices.DEFAULT_BASE_URL)
    elif cloud == "gcp":
        reading = vm_prices.read_vm_prices(shapes, endpoint=endpoint)
    else:
        raise InvalidInput(f"no price catalog for cloud {cloud!r}: aws, azure or gcp", target="cloud")
    unpriced = [p for p in reading.prices if p.on_demand_hourly is None]
    logger.info("%s: %d of %d shape(s) priced on demand, %d with spot; %d request(s), %.1f s waited on throttling",
                cloud, len(reading.prices) - len(unpriced), len(reading.prices),
                sum(p.spot_hourly is not None for p in reading.prices), sum(reading.requests.values()),
                reading.waited_seconds)
    for price in unpriced:
        logger.warning("%s %s in %s: no list price (%s)", cloud, price.shape.type, price.region, price.note)
    create_table_artifact(_rows(reading), key=f"rightsizing-prices-{cloud}",
                          description=f"{cloud} list prices per shape: hourly, with the dates they took effect")
    return reading


def _rows(reading: PriceReading) -> list[dict]:
    def text(value) -> str:
        return "" if value is None else str(value)

    return [{"type": p.shape.type, "region": p.region, "vcpus": p.shape.vcpus, "memory_mib": p.shape.memory_mib,
             "currency": p.currency, "on_demand_hourly": text(p.on_demand_hourly),
             "on_demand_effective": text(p.on_demand_effective), "spot_hourly": text(p.spot_hourly),
             "spot_effective": text(p.spot_effective), "source": p.source, "note": p.note} for p in reading.prices]
