"""The price task of the rightsizing flow on the real Prefect server: one `read_prices` run per cloud
against the local catalog fakes returns every shape asked for (the unknown one unpriced, with its note)
and leaves a table artifact of the prices."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from prefect import flow
from prefect.client.orchestration import get_client

from multicloud.config import Connection, Profile
from multicloud.core.rightsizing.prices import Shape
from multicloud.testing.fakes.fake_aws_pricing import FakeAwsPricing, ec2_product
from multicloud.testing.fakes.fake_azure_prices import FakeAzurePrices, vm_item
from multicloud.testing.fakes.fake_cloud_billing import COMPUTE_ENGINE, FakeCloudBilling, vm_skus
from tasks.rightsizing_prices import read_prices

PROFILE = Profile(name="prices", connections=[
    Connection(name="aws", cloud="aws", endpoint="http://127.0.0.1:9", credentials="emulator", region="us-east-1")])


@flow
def price_shapes(endpoints: dict[str, str], shapes: dict[str, list[tuple[str, Shape]]]) -> dict:
    futures = {cloud: read_prices.submit(PROFILE, cloud, shapes[cloud], endpoint=endpoints[cloud]) for cloud in shapes}
    return {cloud: future.result() for cloud, future in futures.items()}


async def _artifact_rows(key: str) -> str:
    async with get_client() as client:
        artifact = await client.read_latest_artifacts()
        return next(a.data for a in artifact if a.key == key)


def test_read_prices_task_per_cloud_against_the_catalog_fakes():
    shapes = {"aws": [("us-east-1", Shape("aws", "m5.xlarge", 0, 0)), ("us-east-1", Shape("aws", "zz9.huge", 0, 0))],
              "azure": [("eastus", Shape("azure", "Standard_D4s_v5", 4, 16384))],
              "gcp": [("us-central1", Shape("gcp", "n2-standard-4", 4, 16384))]}
    with FakeAwsPricing() as aws, FakeAzurePrices() as azure, FakeCloudBilling() as gcp:
        aws.add_products(ec2_product("m5.xlarge", "us-east-1", "0.192", vcpu=4, memory_gib="16"))
        azure.add_items(vm_item("eastus", "Standard_D4s_v5", "D4s v5", "0.192"),
                        vm_item("eastus", "Standard_D4s_v5", "D4s v5", "0.0384", kind="spot"))
        gcp.add_service(COMPUTE_ENGINE, "Compute Engine", vm_skus("N2", "Americas", ("us-central1",), {
            "OnDemand": ("0.031611", "0.004237"), "Preemptible": ("0.0077", "0.00103")}))
        readings = price_shapes({"aws": aws.url, "azure": azure.url, "gcp": gcp.url}, shapes)

    m5, unknown = readings["aws"].prices
    assert m5.on_demand_hourly == Decimal("0.192") and unknown.on_demand_hourly is None and unknown.note
    assert (readings["azure"].prices[0].on_demand_hourly, readings["azure"].prices[0].spot_hourly) == (
        Decimal("0.192"), Decimal("0.0384"))
    assert readings["gcp"].prices[0].spot_hourly == Decimal("0.04728")
    rows = asyncio.run(_artifact_rows("rightsizing-prices-aws"))
    assert "zz9.huge" in str(rows) and "0.192" in str(rows)
