"""The three price readers over real HTTP against local fakes: AWS Pricing GetProducts through boto3's
`pricing` client and paginator (multicloud/testing/fakes/fake_aws_pricing.py), Azure Retail Prices
through the project's requests session (fake_azure_prices.py) and the GCP Billing Catalog through
google-cloud-billing (fake_cloud_billing.py). Each pages as the API does, keeps a type its catalog
does not list with a note, and retries throttled requests, reporting the waits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from multicloud.clouds.aws.pricing import read_prices as read_aws
from multicloud.clouds.azure.retail_prices import RetailRetry, read_prices as read_azure
from multicloud.clouds.gcp.vm_prices import read_vm_prices
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, Throttled
from multicloud.core.retry import RetryPolicy
from multicloud.core.rightsizing.prices import Shape
from multicloud.testing.fakes.fake_aws_pricing import FakeAwsPricing, ebs_product, ec2_product, ipv4_product
from multicloud.testing.fakes.fake_azure_prices import FakeAzurePrices, disk_item, ip_item, parse_filter, vm_item
from multicloud.testing.fakes.fake_cloud_billing import COMPUTE_ENGINE, FakeCloudBilling, sku, vm_skus

# The connection's own endpoint is moto's (which has no Pricing service): the pricing endpoint must win.
AWS = Connection(name="aws", cloud="aws", endpoint="http://127.0.0.1:9", credentials="emulator", region="eu-west-1")
FAST = RetryPolicy(attempts=3, base_seconds=0.01, cap_seconds=0.05)


# ---- AWS Pricing -------------------------------------------------------------------------------

@pytest.fixture
def aws():
    with FakeAwsPricing(page_size=1) as fake:
        fake.add_products(
            ec2_product("m5.xlarge", "us-east-1", "0.192", vcpu=4, memory_gib="16"),
            # what each filter keeps out: another region, OS, tenancy, software, capacity status
            ec2_product("m5.xlarge", "eu-west-1", "0.214", vcpu=4, memory_gib="16"),
            ec2_product("m5.xlarge", "us-east-1", "0.376", vcpu=4, memory_gib="16", operating_system="Windows"),
            ec2_product("m5.xlarge", "us-east-1", "0.211", vcpu=4, memory_gib="16", tenancy="Dedicated"),
            ec2_product("m5.xlarge", "us-east-1", "0.25", vcpu=4, memory_gib="16", pre_installed="SQL Web"),
            ec2_product("m5.xlarge", "us-east-1", "0.0", vcpu=4, memory_gib="16", capacity="AllocatedCapacityReservation"),
            ec2_product("m7g.large", "us-east-1", "0.0816", vcpu=2, memory_gib="8", processor="AWS Graviton3 Processor"),
            ebs_product("us-east-1", "gp3", "0.08"), ebs_product("us-east-1", "gp2", "0.10"),
            ipv4_product("us-east-1", "0.005", idle=False), ipv4_product("us-east-1", "0.005", idle=True))
        yield fake


def test_aws_on_demand_prices_with_shapes_from_the_catalog(aws):
    reading = read_aws(AWS, [("us-east-1", Shape("aws", "m5.xlarge", 0, 0)), ("us-east-1", Shape("aws", "m7g.large", 0, 0)),
                             ("us-east-1", Shape("aws", "zz9.huge", 0, 0))], endpoint=aws.url, retry=FAST)

    m5, m7g, unknown = reading.prices
    assert (m5.on_demand_hourly, m5.shape.vcpus, m5.shape.memory_mib, m5.shape.family) == (
        Decimal("0.192"), 4, 16384, "m5")
    assert m5.on_demand_effective.isoformat() == "2026-11-01T00:00:00+00:00" and m5.source == "aws pricing GetProducts"
    assert m5.spot_hourly is None and "DescribeSpotPriceHistory" in m5.note
    assert (m7g.on_demand_hourly, m7g.shape.architecture) == (Decimal("0.0816"), "arm64")
    assert unknown.on_demand_hourly is None and "no Linux shared-tenancy on-demand product for zz9.huge" in unknown.note

    first = aws.queries()[0]
    assert first["ServiceCode"] == "AmazonEC2" and first["FormatVersion"] == "aws_v1" and first["MaxResults"] == 100
    assert {f["Field"]: f["Value"] for f in first["Filters"]} == {
        "instanceType": "m5.xlarge", "regionCode": "us-east-1", "operatingSystem": "Linux", "tenancy": "Shared",
        "preInstalledSw": "NA", "capacitystatus": "Used"}
    assert all(f["Type"] == "TERM_MATCH" for f in first["Filters"])
    assert all(r.authorization.startswith("AWS4-HMAC-SHA256") and "/us-east-1/pricing/" in r.authorization
               for r in aws.requests)
    assert reading.requests["GetProducts"] == 3 and reading.throttle_waits == []


def test_aws_ebs_and_idle_ipv4_prices_follow_next_token(aws):
    reading = read_aws(AWS, [], disks=[("us-east-1", "gp3"), ("us-east-1", "io2")], ip_regions=["us-east-1"],
                       endpoint=aws.url, retry=FAST)

    gp3, io2, ipv4 = reading.unit_prices
    assert (gp3.type, gp3.unit, gp3.price) == ("gp3", "GB-month", Decimal("0.08"))
    assert io2.price is None and "no on-demand GB-Mo price for io2 in us-east-1" in io2.note
    assert (ipv4.kind, ipv4.unit, ipv4.price) == ("ip", "hour", Decimal("0.005"))
    ip_queries = [q for q in aws.queries() if q["ServiceCode"] == "AmazonVPC"]
    assert len(ip_queries) == 2 and "NextToken" not in ip_queries[0] and ip_queries[1]["NextToken"]


def test_aws_throttled_page_is_retried_from_its_own_token_with_retry_after(aws):
    aws.fail_next(1, after=1)  # the second page of the address query
    reading = read_aws(AWS, [], ip_regions=["us-east-1"], endpoint=aws.url, retry=FAST)

    assert reading.unit_prices[0].price == Decimal("0.005")
    assert reading.throttle_waits == [1.0]  # the Retry-After, over the policy's 0.01-0.05 s backoff
    tokens = [q.get("NextToken") for q in aws.queries()]
    assert tokens[0] is None and tokens[1] == tokens[2] is not None  # the throttled page, asked again
    assert reading.requests["GetProducts"] == 3


def test_aws_throttling_past_the_retries_or_a_refused_query_raises(aws):
    aws.fail_next(3, retry_after=None)
    with pytest.raises(Throttled):
        read_aws(AWS, [("us-east-1", Shape("aws", "m5.xlarge", 0, 0))], endpoint=aws.url, retry=FAST)
    aws.fail_next(1, retry_after="3600")
    with pytest.raises(Throttled, match="asked to wait 3600"):
        read_aws(AWS, [("us-east-1", Shape("aws", "m5.xlarge", 0, 0))], endpoint=aws.url, retry=FAST)
    aws.fail_next(1, status=400, code="InvalidParameterException", retry_after=None)
    with pytest.raises(InvalidInput, match="InvalidParameterException"):
        read_aws(AWS, [("us-east-1", Shape("aws", "m5.xlarge", 0, 0))], endpoint=aws.url, retry=FAST)


# ---- Azure Retail Prices -----------------------------------------------------------------------

@pytest.fixture
def azure():
    with FakeAzurePrices(page_size=2) as fake:
        fake.add_items(
            vm_item("eastus", "Standard_D4s_v5", "D4s v5", "0.192"),
            vm_item("eastus", "Standard_D4s_v5", "D4s v5", "0.0384", kind="spot"),
            vm_item("eastus", "Standard_D4s_v5", "D4s v5", "0.0384", kind="low priority"),
            vm_item("eastus", "Standard_D4s_v5", "D4s v5", "0.376", kind="windows"),
            vm_item("eastus", "Standard_D4s_v5", "D4s v5", "0.1", price_type="DevTestConsumption"),
            vm_item("westeurope", "Standard_D4s_v5", "D4s v5", "0.21"),
            vm_item("eastus", "Standard_B2s", "B2s", "0.0416", series="BS"),
            disk_item("eastus", "P10 LRS", "19.71"), disk_item("eastus", "P10 LRS", "1.2", product="Premium SSD v2"),
            ip_item("eastus", "0.005"), ip_item("eastus", "0.004", meter="Standard IPv6 Static Public IP"))
        yield fake


def test_azure_on_demand_and_spot_from_one_paged_query(azure):
    shapes = [("eastus", Shape("azure", "Standard_D4s_v5", 4, 16384)), ("eastus", Shape("azure", "Standard_B2s", 2, 4096)),
              ("eastus", Shape("azure", "Standard_Zz9", 4, 16384))]
    reading = read_azure(shapes, disks=[("eastus", "P10 LRS")], ip_regions=["eastus"], base_url=azure.url,
                         retry=RetailRetry(backoff_seconds=0.01))

    d4, b2, unknown = reading.prices
    assert (d4.on_demand_hourly, d4.spot_hourly, d4.currency, d4.note) == (Decimal("0.192"), Decimal("0.0384"), "USD", "")
    assert d4.on_demand_effective.isoformat() == "2026-10-01T00:00:00+00:00" and d4.source == "azure retail prices"
    assert (b2.on_demand_hourly, b2.spot_hourly) == (Decimal("0.0416"), None) and "no Linux spot" in b2.note
    assert unknown.on_demand_hourly is None and "no consumption price for Standard_Zz9 in eastus" in unknown.note
    disk, ip = reading.unit_prices
    assert (disk.type, disk.unit, disk.price) == ("P10 LRS", "month", Decimal("19.71"))
    assert (ip.type, ip.price) == ("standard-ipv4-static", Decimal("0.005"))

    first = azure.requests[0].query
    assert first["api-version"] == ["2023-01-01-preview"] and first["currencyCode"] == ["USD"]
    assert first["$filter"] == ["serviceName eq 'Virtual Machines' and armRegionName eq 'eastus' and "
                                "armSkuName eq 'Standard_D4s_v5' and priceType eq 'Consumption'"]
    assert azure.requests[1].query["$skip"] == ["2"]  # four consumption items of D4s v5: two pages
    assert all(r.authorization is None for r in azure.requests)
    assert reading.requests["retail prices"] == len(azure.requests) == 6


def test_azure_prices_in_another_currency(azure):
    reading = read_azure([("eastus", Shape("azure", "Standard_D4s_v5", 4, 16384))], base_url=azure.url, currency="EUR")
    assert (reading.prices[0].currency, reading.prices[0].on_demand_hourly) == ("EUR", Decimal("0.1728"))


def test_azure_429_is_retried_after_its_retry_after_and_the_wait_reported(azure):
    azure.fail_next(2, retry_after="1")
    reading = read_azure([("eastus", Shape("azure", "Standard_B2s", 2, 4096))], base_url=azure.url,
                         retry=RetailRetry(backoff_seconds=0.01))
    assert reading.prices[0].on_demand_hourly == Decimal("0.0416")
    assert reading.throttle_waits == [1.0, 1.0] and reading.waited_seconds == 2.0


def test_azure_429_past_the_retries_raises_throttled_and_a_bad_base_url_is_refused(azure):
    azure.fail_next(3, retry_after=None)
    with pytest.raises(Throttled, match="429"):
        read_azure([("eastus", Shape("azure", "Standard_B2s", 2, 4096))], base_url=azure.url,
                   retry=RetailRetry(attempts=2, backoff_seconds=0.01))
    with pytest.raises(InvalidInput, match="base_url"):
        read_azure([], base_url="prices.azure.com")


def test_the_fake_answers_the_odata_subset_the_docs_give():
    on_demand = parse_filter("serviceName eq 'Virtual Machines' and contains(skuName,'Spot') eq false and "
                             "contains(skuName,'Low Priority') eq false and contains(productName,'Windows') eq false")
    spot = parse_filter("contains(skuName, 'Spot')")
    items = {kind: vm_item("eastus", "Standard_D4s_v5", "D4s v5", "1", kind=kind)
             for kind in ("on demand", "spot", "low priority", "windows")}
    assert [k for k, i in items.items() if on_demand(i)] == ["on demand"]
    assert [k for k, i in items.items() if spot(i)] == ["spot"]
    with pytest.raises(ValueError, match="startswith"):
        parse_filter("startswith(skuName,'D4')")


# ---- GCP Billing Catalog -----------------------------------------------------------------------

@pytest.fixture
def gcp():
    with FakeCloudBilling(page_size=3) as fake:
        fake.add_service(COMPUTE_ENGINE, "Compute Engine", [
            *vm_skus("N2", "Americas", ("us-central1", "us-east1"), {
                "OnDemand": ("0.031611", "0.004237"), "Preemptible": ("0.0077", "0.00103"),
                "Commit1Yr": ("0.019915", "0.002669"), "Commit3Yr": ("0.014225", "0.001907")}),
            *vm_skus("N2", "Belgium", ("europe-west1",), {"OnDemand": ("0.034773", "0.004661")}),
            *vm_skus("E2", "Americas", ("us-central1",), {"OnDemand": ("0.021811", "0.002923"),
                                                          "Preemptible": ("0.006543", "0.000877")}),
            sku(COMPUTE_ENGINE, "Compute Engine", "AAAA-BBBB-CCCC", "N2 Custom Instance Core running in Americas",
                [(0, "0.033")], regions=("us-central1",)),
        ])
        yield fake


def test_gcp_vm_prices_compose_core_and_ram_skus_per_family_and_region(gcp):
    shapes = [("us-central1", Shape("gcp", "n2-standard-4", 4, 16384)), ("us-central1", Shape("gcp", "e2-standard-2", 2, 8192)),
              ("europe-west1", Shape("gcp", "n2-standard-4", 4, 16384)), ("us-central1", Shape("gcp", "c3-standard-4", 4, 16384)),
              ("us-central1", Shape("gcp", "e2-medium", 2, 4096))]
    reading = read_vm_prices(shapes, endpoint=gcp.url, retry=FAST)

    n2, e2, n2_eu, c3, shared = reading.prices
    assert (n2.on_demand_hourly, n2.spot_hourly) == (Decimal("0.194236"), Decimal("0.04728"))
    assert n2.on_demand_effective.isoformat() == "2026-10-01T00:00:00+00:00" and n2.source == "gcp billing catalog"
    assert (e2.on_demand_hourly, e2.spot_hourly) == (Decimal("0.067006"), Decimal("0.020102"))
    assert (n2_eu.on_demand_hourly, n2_eu.spot_hourly) == (Decimal("0.213668"), None)
    assert "no spot N2 vCPU or memory SKU for europe-west1" in n2_eu.note
    assert c3.on_demand_hourly is None and "no on-demand C3 vCPU or memory SKU" in c3.note
    assert shared.on_demand_hourly is None and "shared-core" in shared.note

    commitments = {(c.shape.type, c.region, c.term_years): c for c in reading.commitments}
    assert commitments[("n2-standard-4", "us-central1", 1)].hourly == Decimal("0.122364")
    assert commitments[("n2-standard-4", "us-central1", 3)].hourly == Decimal("0.087412")
    assert commitments[("n2-standard-4", "europe-west1", 1)].hourly is None
    assert reading.requests["list_skus"] == len(gcp.requests) == 5  # 15 SKUs, 3 a page


def test_gcp_throttled_catalog_page_is_retried_and_the_wait_reported(gcp):
    gcp.fail_next(429)
    reading = read_vm_prices([("us-central1", Shape("gcp", "n2-standard-2", 2, 8192))], endpoint=gcp.url, retry=FAST)
    assert reading.prices[0].on_demand_hourly == Decimal("0.097118")
    assert len(reading.throttle_waits) == 1 and 0 <= reading.waited_seconds <= 0.05
