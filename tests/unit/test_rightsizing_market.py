"""Which shapes a run prices on each cloud: the catalog regions, the shapes in use, the resize
candidates (same family unless a rule allows any, never larger), and the other clouds' equivalents."""

from __future__ import annotations

from decimal import Decimal

from multicloud.core.rightsizing import Resource
from multicloud.core.rightsizing.catalogs import ShapeCatalog
from multicloud.core.rightsizing.market import (
    MAX_CANDIDATES, Market, any_family, candidates, catalog_regions, market_rows, merged_markets, shapes_to_price,
    smallest_fits, units_to_price,
)
from multicloud.core.rightsizing.prices import Shape, ShapePrice


def shape(cloud, type_, vcpus, gib, family, arch="x86_64"):
    return Shape(cloud, type_, vcpus, int(gib * 1024), arch, family)


AWS = [shape("aws", "m5.large", 2, 8, "m5"), shape("aws", "m5.xlarge", 4, 16, "m5"),
       shape("aws", "m5.2xlarge", 8, 32, "m5"), shape("aws", "c5.large", 2, 4, "c5"),
       shape("aws", "m6g.large", 2, 8, "m6g", "arm64"), shape("aws", "r5.large", 2, 16, "r5")]
AZURE = [shape("azure", "Standard_D2s_v5", 2, 8, "DSv5"), shape("azure", "Standard_D4s_v5", 4, 16, "DSv5"),
         shape("azure", "Standard_E4s_v5", 4, 32, "ESv5")]


def vm(cloud, type_, region, vcpus, gib, arch="x86_64"):
    return Resource(cloud, f"{cloud}-{type_}", "vm", region=region, type=type_, vcpus=vcpus,
                    memory_mib=int(gib * 1024), architecture=arch)


def test_catalogs_are_read_where_the_cloud_runs_vms_else_in_the_arbitrage_region():
    resources = [vm("aws", "m5.xlarge", "eu-west-1", 4, 16), vm("aws", "m5.large", "us-east-1", 2, 8),
                 Resource("aws", "vol-1", "disk", region="ap-south-1")]
    assert catalog_regions("aws", resources, "us-east-1") == ["eu-west-1", "us-east-1"]
    assert catalog_regions("azure", resources, "eastus") == ["eastus"]
    assert catalog_regions("gcp", resources, "") == []


def test_resize_candidates_are_smaller_of_the_same_architecture_and_family_unless_any():
    current = AWS[2]  # m5.2xlarge
    assert [s.type for s in candidates(current, AWS, any_family=False)] == ["m5.xlarge", "m5.large"]
    # any family: its own family first, then r5.large (16 GiB ≤ 32) and c5.large; never the arm64 type,
    # never a larger one
    assert [s.type for s in candidates(current, AWS, any_family=True)] == [
        "m5.xlarge", "m5.large", "r5.large", "c5.large"]
    assert candidates(AWS[3], AWS, any_family=True) == []  # nothing smaller than c5.large
    assert candidates(shape("aws", "x", 0, 0, "m5"), AWS, True) == []  # size unknown: nothing to compare


def test_other_families_leave_room_for_every_size():
    big = shape("azure", "Standard_D8s_v3", 8, 32, "DSv3")
    same_size = [shape("azure", f"Standard_X{i}", 8, 32, f"X{i}") for i in range(60)]
    smaller = [shape("azure", "Standard_D4s_v3", 4, 16, "DSv3"), shape("azure", "Standard_E2s_v5", 2, 16, "ESv5")]
    found = [s.type for s in candidates(big, same_size + smaller, any_family=True)]
    assert found[0] == "Standard_D4s_v3" and "Standard_E2s_v5" in found
    assert sum(t.startswith("Standard_X") for t in found) == 4  # PER_SIZE of the 8-vCPU crowd


def test_candidates_are_capped_closest_size_first():
    many = [shape("aws", f"m9.s{i}", 1 + i % 8, 1 + i % 30, "m9") for i in range(100)]
    big = shape("aws", "m9.huge", 64, 256, "m9")
    found = candidates(big, many, any_family=False)
    assert len(found) == MAX_CANDIDATES and found[0].vcpus == 8


def test_equivalents_are_the_smallest_fitting_shapes_of_the_architecture():
    assert [s.type for s in smallest_fits(shape("aws", "m5.xlarge", 4, 16, "m5"), AZURE)] == ["Standard_D4s_v5"]
    assert smallest_fits(shape("aws", "m6g.large", 2, 8, "m6g", "arm64"), AZURE) == []
    assert smallest_fits(shape("aws", "x1", 96, 2048, "x1"), AZURE) == []


def test_shapes_to_price_cover_use_candidates_and_the_other_clouds_equivalents():
    resources = [vm("aws", "m5.2xlarge", "us-east-1", 8, 32), vm("azure", "Standard_D4s_v5", "eastus", 4, 16)]
    aws = shapes_to_price("aws", [ShapeCatalog("aws", "us-east-1", AWS)], resources, any_family=False)
    assert aws == [("us-east-1", AWS[2]), ("us-east-1", AWS[0]), ("us-east-1", AWS[1])]  # sorted by type
    azure = shapes_to_price("azure", [ShapeCatalog("azure", "eastus", AZURE)], resources, any_family=False)
    # its own D4s_v5 (and the smaller D2s_v5), and no Azure shape fits AWS's 8 vCPU/32 GiB
    assert [s.type for _, s in azure] == ["Standard_D2s_v5", "Standard_D4s_v5"]
    gcp = shapes_to_price("gcp", [ShapeCatalog("gcp", "us-central1", [shape("gcp", "n2-standard-8", 8, 32, "n2"),
                                                                      shape("gcp", "n2-standard-4", 4, 16, "n2")])],
                          resources, any_family=False)
    assert [s.type for _, s in gcp] == ["n2-standard-4", "n2-standard-8"]  # equivalents of both


def test_a_type_missing_from_the_catalog_is_still_priced_from_the_inventory():
    resources = [vm("aws", "m7.unknown", "us-east-1", 4, 16)]
    [(region, found)] = shapes_to_price("aws", [ShapeCatalog("aws", "us-east-1", [])], resources, any_family=True)
    assert (region, found.type, found.vcpus) == ("us-east-1", "m7.unknown", 4)


def test_any_family_only_for_resize_rules_that_allow_it():
    class R:
        def __init__(self, action, families):
            self.action, self.target_families = action, families

    assert any_family([R("resize", "same"), R("resize", "any")])
    assert not any_family([R("stop", "any"), R("resize", "same")])
    azure_only = R("resize", "any")
    azure_only.clouds = ["azure"]
    assert any_family([azure_only], "azure") and any_family([azure_only])
    assert not any_family([azure_only, R("resize", "same")], "aws")  # another cloud's rule does not widen AWS's


def test_markets_merge_on_demand_and_spot_of_one_shape_and_report_their_requests():
    m5 = AWS[1]
    market = Market("aws", [ShapeCatalog("aws", "us-east-1", AWS)],
                    [ShapePrice(m5, "us-east-1", on_demand_hourly=Decimal("0.192"), source="pricing"),
                     ShapePrice(m5, "us-east-1", spot_hourly=Decimal("0.07"), source="spot")], [],
                    {"prices GetProducts": 3}, [1.5], ["aws spot prices in eu-west-1: Throttled"])
    catalogs, prices, units = merged_markets([market])
    [price] = prices
    assert (price.on_demand_hourly, price.spot_hourly) == (Decimal("0.192"), Decimal("0.07"))
    assert len(catalogs) == 1 and units == []
    [row] = market_rows([market])
    assert row["shapes priced"] == 1 and row["requests"] == 3 and row["seconds waited"] == 1.5
    assert "Throttled" in row["problems"]


def test_waste_findings_ask_for_disk_and_address_unit_prices_where_the_catalogs_have_them():
    resources = [Resource("aws", "vol-1", "disk", region="us-east-1", type="gp3"),
                 Resource("aws", "vol-2", "disk", region="us-east-1", type="gp3"),
                 Resource("aws", "eip-1", "ip", region="eu-west-1"),
                 Resource("azure", "d-1", "disk", region="eastus", type="Premium_LRS"),
                 Resource("azure", "ip-1", "ip", region="eastus"), Resource("gcp", "ip-2", "ip", region="us-central1")]
    assert units_to_price("aws", resources) == ([("us-east-1", "gp3")], ["eu-west-1"])
    assert units_to_price("azure", resources) == ([], ["eastus"])
    assert units_to_price("gcp", resources) == ([], [])
