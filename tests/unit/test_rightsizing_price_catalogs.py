"""The pure readings of the price catalogs: AWS products' attributes and OnDemand terms, Azure meter
kinds and the latest hourly item, GCP SKU descriptions and a VM price composed from vCPU and GiB
rates, and the notes of whatever a catalog does not price."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from multicloud.core.rightsizing.price_catalogs import (
    GcpRate, aws_on_demand, aws_shape, aws_shape_price, azure_meter_kind, azure_shape_price, azure_vm_filter,
    gcp_commitments, gcp_family, gcp_rate, gcp_shape_price,
)
from multicloud.core.rightsizing.prices import Shape

OCT = datetime(2026, 10, 1, tzinfo=timezone.utc)
NOV = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _dimension(unit: str, usd: str, begin: str = "0") -> dict:
    return {"unit": unit, "beginRange": begin, "pricePerUnit": {"USD": usd}}


def _product(*terms: tuple[str, list[dict]], **attributes) -> dict:
    return {"product": {"attributes": attributes},
            "terms": {"OnDemand": {f"T{i}": {"effectiveDate": date, "priceDimensions": {
                f"D{j}": d for j, d in enumerate(dims)}} for i, (date, dims) in enumerate(terms)},
                      "Reserved": {"R": {"priceDimensions": {"D": _dimension("Hrs", "0.01")}}}}}


@pytest.mark.parametrize("memory, mib", [("16 GiB", 16384), ("0.5 GiB", 512), ("1,952 GiB", 1998848), ("NA", 0)])
def test_aws_memory_attribute_in_mib(memory, mib):
    assert aws_shape("x1.32xlarge", {"vcpu": "128", "memory": memory}).memory_mib == mib


def test_aws_graviton_is_arm64_and_family_is_the_type_prefix():
    shape = aws_shape("m7g.large", {"vcpu": "2", "memory": "8 GiB", "physicalProcessor": "AWS Graviton3 Processor"})
    assert (shape.vcpus, shape.architecture, shape.family) == (2, "arm64", "m7g")
    assert aws_shape("m5.large", {"physicalProcessor": "Intel Xeon"}).architecture == "x86_64"


def test_aws_on_demand_reads_hourly_first_tier_and_never_the_reserved_term():
    product = _product(("2026-11-01T00:00:00Z", [_dimension("Hrs", "0.1920000000"), _dimension("Quantity", "9")]))
    assert aws_on_demand(product) == (Decimal("0.192"), NOV, "")
    assert aws_on_demand(product, "GB-Mo") == (None, None, "the product has no OnDemand price per 'GB-Mo' in USD")


def test_aws_on_demand_prices_that_disagree_take_the_latest_and_say_so():
    product = _product(("2026-10-01T00:00:00Z", [_dimension("Hrs", "0.20")]),
                       ("2026-11-01T00:00:00Z", [_dimension("Hrs", "0.19")]))
    price, effective, note = aws_on_demand(product)
    assert (price, effective) == (Decimal("0.19"), NOV) and "latest effective" in note


def test_aws_shape_missing_from_the_catalog_keeps_its_shape_price_with_a_note():
    shape = Shape("aws", "zz9.huge", 0, 0)
    price = aws_shape_price(shape, "us-east-1", [])
    assert price.shape == shape and price.on_demand_hourly is None and price.spot_hourly is None
    assert "no Linux shared-tenancy on-demand product for zz9.huge in us-east-1" in price.note
    assert price.source == "aws pricing GetProducts"


def test_aws_shape_price_fills_vcpus_and_memory_from_the_attributes():
    product = _product(("2026-11-01T00:00:00Z", [_dimension("Hrs", "0.192")]), vcpu="4", memory="16 GiB")
    price = aws_shape_price(Shape("aws", "m5.xlarge", 0, 0), "us-east-1", [product])
    assert (price.shape.vcpus, price.shape.memory_mib, price.on_demand_hourly) == (4, 16384, Decimal("0.192"))
    assert "DescribeSpotPriceHistory" in price.note  # why spot is empty


@pytest.mark.parametrize("sku_name, product, kind", [
    ("D4s v5", "Virtual Machines DSv5 Series", "on demand"),
    ("D4s v5 Spot", "Virtual Machines DSv5 Series", "spot"),
    ("D4s v5 Low Priority", "Virtual Machines DSv5 Series", "low priority"),
    ("D4s v5", "Virtual Machines DSv5 Series Windows", "windows"),
    ("D4s v5 Spot", "Virtual Machines DSv5 Series Windows", "windows"),
])
def test_azure_meter_kinds(sku_name, product, kind):
    assert azure_meter_kind({"skuName": sku_name, "productName": product}) == kind


def _azure(sku_name: str, price: str, effective: str = "2026-10-01T00:00:00Z", product: str = "Virtual Machines",
           unit: str = "1 Hour") -> dict:
    return {"skuName": sku_name, "productName": product, "retailPrice": Decimal(price), "unitOfMeasure": unit,
            "effectiveStartDate": effective, "tierMinimumUnits": 0.0, "currencyCode": "USD"}


def test_azure_shape_price_takes_the_latest_linux_and_spot_hourly_meters():
    items = [_azure("D4s v5", "0.20"), _azure("D4s v5", "0.192", "2026-11-01T00:00:00Z"),
             _azure("D4s v5 Spot", "0.0384"), _azure("D4s v5 Low Priority", "0.03"),
             _azure("D4s v5", "0.38", product="Virtual Machines Windows"), _azure("D4s v5", "140", unit="1/Month")]
    price = azure_shape_price(Shape("azure", "Standard_D4s_v5", 4, 16384), "eastus", items)
    assert (price.on_demand_hourly, price.on_demand_effective) == (Decimal("0.192"), NOV)
    assert (price.spot_hourly, price.spot_effective, price.note) == (Decimal("0.0384"), OCT, "")


def test_azure_size_without_spot_says_so_and_unknown_size_is_kept():
    shape = Shape("azure", "Standard_B2s", 2, 4096)
    assert azure_shape_price(shape, "eastus", [_azure("B2s", "0.0416")]).note == \
        "no Linux spot hourly meter for Standard_B2s in eastus"
    missing = azure_shape_price(shape, "eastus", [])
    assert missing.on_demand_hourly is None and "no consumption price for Standard_B2s in eastus" in missing.note


def test_azure_filter_quotes_values():
    assert azure_vm_filter("east'us", "Standard_D4s_v5") == (
        "serviceName eq 'Virtual Machines' and armRegionName eq 'east''us' and armSkuName eq 'Standard_D4s_v5' "
        "and priceType eq 'Consumption'")


@pytest.mark.parametrize("description, usage, expected", [
    ("N2 Instance Core running in Americas", "OnDemand", ("N2", "core", "on demand")),
    ("N2 Instance Ram running in Americas", "OnDemand", ("N2", "ram", "on demand")),
    ("N2D AMD Instance Core running in Belgium", "OnDemand", ("N2D", "core", "on demand")),
    ("N1 Predefined Instance Core running in Americas", "OnDemand", ("N1", "core", "on demand")),
    ("Spot Preemptible E2 Instance Ram running in Americas", "Preemptible", ("E2", "ram", "spot")),
    ("Commitment v1: N2 Cpu in Americas for 1 Year", "Commit1Yr", ("N2", "core", "commit 1")),
    ("Commitment v1: N2 Ram in Americas for 3 Years", "Commit3Yr", ("N2", "ram", "commit 3")),
    ("N2 Custom Instance Core running in Americas", "OnDemand", None),
    ("Nvidia Tesla T4 GPU running in Americas", "OnDemand", None),
    ("N2 Sole Tenancy Instance Core running in Americas", "OnDemand", None),
])
def test_gcp_sku_descriptions(description, usage, expected):
    rate = gcp_rate("S", description, usage, ["us-central1"], Decimal("0.01"), "USD", OCT)
    assert (None if rate is None else (rate.family, rate.resource, rate.pricing)) == expected


def _rates(pricing: str, core: str, ram: str, region: str = "us-central1", family: str = "N2") -> list[GcpRate]:
    return [GcpRate(family, "core", pricing, frozenset({region}), Decimal(core), "USD", OCT, "C"),
            GcpRate(family, "ram", pricing, frozenset({region}), Decimal(ram), "USD", NOV, "R")]


def test_gcp_price_is_vcpus_times_core_plus_gib_times_ram_exactly():
    rates = _rates("on demand", "0.031611", "0.004237") + _rates("spot", "0.0077", "0.00103") + \
        _rates("commit 1", "0.019915", "0.002669")
    shape = Shape("gcp", "n2-standard-4", 4, 16384)
    price = gcp_shape_price(shape, "us-central1", rates)
    assert price.on_demand_hourly == Decimal("4") * Decimal("0.031611") + 16 * Decimal("0.004237") == Decimal("0.194236")
    assert price.spot_hourly == Decimal("0.04728") and price.on_demand_effective == NOV and price.note == ""
    one, three = gcp_commitments(shape, "us-central1", rates)
    assert (one.term_years, one.hourly) == (1, Decimal("0.122364"))
    assert three.hourly is None and three.note == "the catalog has no 3-year commitment N2 vCPU or memory SKU for us-central1"


def test_gcp_memory_in_fractions_of_a_gib_and_a_region_without_skus():
    rates = _rates("on demand", "0.03", "0.004")
    assert gcp_shape_price(Shape("gcp", "n2-highcpu-2", 2, 1536), "us-central1", rates).on_demand_hourly == \
        Decimal("0.066")  # 2 x 0.03 + 1.5 GiB x 0.004
    price = gcp_shape_price(Shape("gcp", "n2-highcpu-2", 2, 1536), "europe-west1", rates)
    assert price.on_demand_hourly is None and "for europe-west1" in price.note


@pytest.mark.parametrize("machine_type, vcpus, memory_mib, why", [
    ("e2-medium", 2, 4096, "shared-core"), ("n2-custom-4-16384", 4, 16384, "custom type"),
    ("n2-standard-4", 0, 0, "are not known"),
])
def test_gcp_types_not_composable_keep_a_note(machine_type, vcpus, memory_mib, why):
    shape = Shape("gcp", machine_type, vcpus, memory_mib)
    price = gcp_shape_price(shape, "us-central1", _rates("on demand", "0.03", "0.004"))
    assert price.on_demand_hourly is None and why in price.note
    assert all(c.hourly is None and why in c.note for c in gcp_commitments(shape, "us-central1", []))


def test_gcp_family_of_machine_types():
    assert [gcp_family(t) for t in ("n2-standard-4", "n2d-highmem-8", "e2-standard-2", "c3-highcpu-4")] == \
        ["N2", "N2D", "E2", "C3"]
