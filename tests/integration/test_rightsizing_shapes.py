"""Shape catalogs and spot prices against the emulated clouds: the EC2 catalog from moto through the
spot interposer (multicloud/testing/fakes/fake_ec2_spot.py, which forwards everything but
DescribeSpotPriceHistory to moto), DescribeInstanceTypes paging on the paging fake (moto serves one
page), spot prices over several nextToken pages, the Azure resource SKUs over nextLink pages of the
fake ARM, and Compute Engine's aggregated machine types over nextPageToken pages of the fake GCE;
then the three catalogs and the read prices feed the rightsizing target and the arbitrage table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from multicloud.clouds.aws.session import client
from multicloud.clouds.aws.shapes import read_shapes as aws_shapes
from multicloud.clouds.aws.spot import read_spot_prices
from multicloud.clouds.azure.management import ArmRetry
from multicloud.clouds.azure.shapes import read_shapes as azure_shapes
from multicloud.clouds.gcp.shapes import read_shapes as gcp_shapes
from multicloud.config import Connection
from multicloud.core.errors import Throttled
from multicloud.core.rightsizing.arbitrage import compare, merge_prices
from multicloud.core.rightsizing.prices import Shape, ShapePrice
from multicloud.testing.fakes.fake_aws_paging import FakeAwsPaging
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_ec2_spot import FakeEc2Spot
from multicloud.testing.fakes.fake_gce import FakeGce

REGION = "us-east-1"
NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
SUB = "00000000-1111-2222-3333-444444444444"
PROJECT = "shapes-project"
ZONES = ("a", "b", "c")
SPOT = {"m5.large": ("0.0356", "0.0340", "0.0400"), "m5.xlarge": ("0.0712", "0.0690", "0.0801"),
        "c5.large": ("0.0300", "0.0310", "0.0290"), "m6g.large": ("0.0290", "0.0300", "0.0310")}


@pytest.fixture(scope="module")
def spot_server(local_profile):
    moto = local_profile.connection_for("aws").endpoint
    with FakeEc2Spot(moto) as fake:
        for itype, prices in SPOT.items():
            for zone, price in zip(ZONES, prices):
                fake.add_price(itype, f"{REGION}{zone}", price, NOW - timedelta(hours=2))
                fake.add_price(itype, f"{REGION}{zone}", "0.5", NOW - timedelta(hours=30))   # superseded
                fake.add_price(itype, f"{REGION}{zone}", "0.9", NOW - timedelta(hours=2), product="Windows")
        yield fake


@pytest.fixture(scope="module")
def aws_catalog(spot_server):
    """moto's catalog read once through the interposer (1,395 types take moto a few seconds)."""
    before = spot_server.forwarded
    catalog = aws_shapes(aws_conn(spot_server.url))
    return catalog, spot_server.forwarded - before, list(spot_server.requests)


@pytest.fixture
def interposer(spot_server):
    spot_server.reset()
    return spot_server


def aws_conn(endpoint: str) -> Connection:
    return Connection(name="aws-spot", cloud="aws", endpoint=endpoint, region=REGION, credentials="emulator")


def test_aws_catalog_is_moto_through_the_interposer(aws_catalog):
    catalog, forwarded, spot_requests = aws_catalog
    types = catalog.by_type()
    assert len(types) == 1395 and catalog.requests == {"describe_instance_types": 1}   # moto: one page
    assert forwarded == 1 and spot_requests == []
    assert types["m5.xlarge"] == Shape("aws", "m5.xlarge", 4, 16384, "x86_64", "m5")
    assert types["a1.2xlarge"].architecture == "arm64"
    assert types["t2.micro"].architecture == "x86_64"          # i386 and x86_64: the x86_64 one


def test_aws_catalog_pages_as_the_api_does():
    with FakeAwsPaging(instance_types=250) as fake:
        catalog = aws_shapes(aws_conn(fake.url))
    assert catalog.requests == {"describe_instance_types": 3}
    assert [p.get("MaxResults") for p in fake.actions("DescribeInstanceTypes")] == ["100"] * 3
    assert len(catalog.shapes) == 250 and catalog.shapes[-1] == Shape("aws", "x0249.large", 250, 1024000, "arm64",
                                                                       "x0249")


def test_spot_prices_follow_next_token_and_keep_the_latest_per_zone(interposer, aws_catalog):
    conn = aws_conn(interposer.url)
    types = aws_catalog[0].by_type()
    wanted = [types[t] for t in (*SPOT, "t3.nano")]
    spot = read_spot_prices(conn, wanted, NOW, page_size=5)
    # 4 types × 3 zones in effect at NOW (Linux/UNIX only), 5 rows a page: 3 pages
    assert spot.requests == {"describe_spot_price_history": 3}
    assert len(interposer.requests) == 3 and [r.get("NextToken") for r in interposer.requests] == [None, "5", "10"]
    assert {r["ProductDescription.1"] for r in interposer.requests} == {"Linux/UNIX"}
    assert interposer.requests[0]["StartTime"].startswith("2026-11-30T12:00:00")
    assert len(spot.latest) == 12 and spot.latest[("m5.xlarge", "us-east-1c")].price == Decimal("0.0801")
    prices = {p.shape.type: p for p in spot.prices}
    assert prices["m5.xlarge"].spot_hourly == Decimal("0.0690")        # us-east-1b, the lowest zone
    assert prices["m5.xlarge"].spot_effective == NOW - timedelta(hours=2)
    assert prices["m5.xlarge"].note.startswith("spot from us-east-1b")
    assert prices["c5.large"].spot_hourly == Decimal("0.0290") and "us-east-1c" in prices["c5.large"].note
    assert prices["t3.nano"].spot_hourly is None and prices["t3.nano"].note == "no spot offer for t3.nano in us-east-1"
    assert prices["m5.large"].shape == types["m5.large"] and prices["m5.large"].on_demand_hourly is None


def test_interposer_forwards_other_requests_to_moto_unchanged(local_profile, interposer):
    through = client(aws_conn(interposer.url), "ec2")
    made = through.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="m5.large",
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "test", "Value": "spot-interposer"}]}])
    instance = made["Instances"][0]["InstanceId"]
    direct = client(local_profile.connection_for("aws").model_copy(update={"region": REGION}), "ec2")
    seen = direct.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert seen["InstanceType"] == "m5.large"
    with pytest.raises(ClientError) as err:          # moto's own error, status and XML come back as they are
        through.describe_instance_types(InstanceTypes=["zz9.huge"])
    assert err.value.response["Error"]["Code"] == "InvalidInstanceType"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    direct.terminate_instances(InstanceIds=[instance])


def test_spot_throttling_is_the_taxonomy(interposer):
    conn = aws_conn(interposer.url)
    interposer.fail_next(10)   # more than the client's own retries
    with pytest.raises(Throttled, match="Request limit exceeded"):
        read_spot_prices(conn, [Shape("aws", "m5.large", 2, 8192, "x86_64", "m5")], NOW)


@pytest.fixture
def arm():
    with FakeAzureCompute(SUB, page_size=2) as fake:
        fake.add_sku("eastus", "Standard_D2s_v5", vcpus=2, memory_gb=8, family="standardDSv5Family")
        fake.add_sku("eastus", "Standard_D4s_v5", vcpus=4, memory_gb=16, family="standardDSv5Family")
        fake.add_sku("eastus", "Standard_D4as_v5", vcpus=4, memory_gb=16, family="standardDASv5Family")
        fake.add_sku("eastus", "Standard_D2ps_v5", vcpus=2, memory_gb=8, architecture="Arm64",
                     family="standardDPSv5Family")
        fake.add_sku("eastus", "Standard_M8ms", vcpus=8, memory_gb=218.75, family="standardMSFamily", restricted=True)
        fake.add_sku("eastus", "Premium_LRS", vcpus=0, memory_gb=0, resource_type="disks")
        fake.add_sku("westeurope", "Standard_D8s_v5", vcpus=8, memory_gb=32, family="standardDSv5Family")
        yield fake


def test_azure_catalog_reads_vm_skus_across_pages(arm):
    conn = Connection(name="azure-arm", cloud="azure", credentials="emulator")
    catalog = azure_shapes(conn, SUB, "eastus", base_url=arm.url)
    # 6 SKUs in eastus, two a page; the disk SKU and the restricted size are not VM shapes offered here
    assert catalog.requests == {"resource_skus.list": 3}
    assert [r.query["$filter"][0] for r in arm.gets("/providers/Microsoft.Compute/skus")] == \
        ["location eq 'eastus'"] * 3
    assert sorted(catalog.by_type()) == ["Standard_D2ps_v5", "Standard_D2s_v5", "Standard_D4as_v5",
                                         "Standard_D4s_v5"]
    assert catalog.by_type()["Standard_D2ps_v5"] == Shape("azure", "Standard_D2ps_v5", 2, 8192, "arm64",
                                                          "standardDPSv5Family")
    arm.fail_next(1, 429, "1")
    again = azure_shapes(conn, SUB, "eastus", base_url=arm.url, retry=ArmRetry(backoff_seconds=0.01))
    assert again.throttle_waits == [1.0] and len(again.shapes) == 4


@pytest.fixture
def gce():
    with FakeGce(PROJECT) as fake:
        for zone in ("us-central1-a", "us-central1-b"):
            fake.add_machine_type(zone, "e2-standard-2", vcpus=2, memory_mb=8192)
            fake.add_machine_type(zone, "e2-standard-4", vcpus=4, memory_mb=16384)
        fake.add_machine_type("us-central1-a", "t2a-standard-2", vcpus=2, memory_mb=8192, architecture="ARM64")
        fake.add_machine_type("europe-west4-a", "n2-standard-8", vcpus=8, memory_mb=32768)
        yield fake


def test_gcp_catalog_reads_the_aggregated_list_across_pages(gce):
    conn = Connection(name="gcp-fake", cloud="gcp", credentials="emulator", account=PROJECT)
    catalog = gcp_shapes(conn, "us-central1", endpoint=gce.url, page_size=2)
    assert catalog.requests == {"machineTypes.aggregatedList": 3}      # 6 machine types, two a page
    assert [s.type for s in catalog.shapes] == ["e2-standard-2", "e2-standard-4", "t2a-standard-2"]
    assert catalog.by_type()["t2a-standard-2"] == Shape("gcp", "t2a-standard-2", 2, 8192, "arm64", "t2a")
    every = gcp_shapes(conn, endpoint=gce.url)
    assert every.requests == {"machineTypes.aggregatedList": 1} and len(every.shapes) == 4


def test_catalogs_and_spot_feed_the_arbitrage_table(interposer, aws_catalog, arm, gce):
    """The read catalogs and spot prices, with on-demand prices as the price readers give them."""
    conn = aws_conn(interposer.url)
    catalogs = {"aws": aws_catalog[0].shapes,
                "azure": azure_shapes(Connection(name="az", cloud="azure", credentials="emulator"), SUB, "eastus",
                                      base_url=arm.url).shapes,
                "gcp": gcp_shapes(Connection(name="g", cloud="gcp", credentials="emulator", account=PROJECT),
                                  "us-central1", endpoint=gce.url).shapes}
    aws = {s.type: s for s in catalogs["aws"]}
    spot = read_spot_prices(conn, [aws[t] for t in SPOT], NOW).prices
    listed = {("aws", "m5.xlarge"): "0.192", ("aws", "m5.large"): "0.096", ("azure", "Standard_D4as_v5"): "0.172",
              ("azure", "Standard_D4s_v5"): "0.192", ("gcp", "e2-standard-4"): "0.134012"}
    regions = {"aws": REGION, "azure": "eastus", "gcp": "us-central1"}
    on_demand = [ShapePrice(Shape(c, t, 0, 0), regions[c], on_demand_hourly=Decimal(p), source="list")
                 for (c, t), p in listed.items()]
    merged = {p.shape.type: p for p in merge_prices([*on_demand, *spot])}
    assert (merged["m5.xlarge"].on_demand_hourly, merged["m5.xlarge"].spot_hourly) == (Decimal("0.192"),
                                                                                      Decimal("0.0690"))
    [row] = compare([aws["m5.xlarge"]], catalogs, [*on_demand, *spot])
    assert [(p.shape.cloud, p.shape.type) for p in row.placements] == [
        ("gcp", "e2-standard-4"), ("azure", "Standard_D4as_v5"), ("aws", "m5.xlarge")]
    assert row.cheapest_on_demand.shape.type == "e2-standard-4"
    assert row.cheapest_spot.shape.type == "m5.xlarge"        # the only spot price read here
