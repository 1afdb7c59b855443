"""Cross-cloud arbitrage on a fixed price table (the golden test): the equivalent shape per cloud
(same architecture, ≥ vCPUs and memory, the smallest, the cheapest of equal size), on-demand and spot
side by side with their dates, per vCPU-hour and per GiB-hour, the ranking and the cheapest placement
on demand and on spot, and the value score from performance scores. On-demand and spot records come
from different readers and are merged first."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from multicloud.core.rightsizing import Resource
from multicloud.core.rightsizing.arbitrage import compare, merge_prices, shapes_in_use, table
from multicloud.core.rightsizing.catalogs import SpotRecord, latest_by_zone, region_spot
from multicloud.core.rightsizing.prices import Shape, ShapePrice

OD_DATE = datetime(2026, 11, 1, tzinfo=timezone.utc)
SPOT_DATE = datetime(2026, 11, 30, 10, tzinfo=timezone.utc)
REGIONS = {"aws": "us-east-1", "azure": "eastus", "gcp": "us-central1"}
# cloud, type, vCPU, MiB, architecture, family, on demand, spot ("" = no spot offer)
TABLE = [
    ("aws", "m5.large", 2, 8192, "x86_64", "m5", "0.096", "0.0356"),
    ("aws", "m5.xlarge", 4, 16384, "x86_64", "m5", "0.192", "0.0712"),
    ("aws", "m5a.xlarge", 4, 16384, "x86_64", "m5a", "0.172", "0.0690"),
    ("aws", "c5.xlarge", 4, 8192, "x86_64", "c5", "0.17", "0.0650"),
    ("aws", "m6g.large", 2, 8192, "arm64", "m6g", "0.077", "0.0300"),
    ("aws", "x1e.32xlarge", 128, 3997696, "x86_64", "x1e", "26.688", ""),
    ("azure", "Standard_D2s_v5", 2, 8192, "x86_64", "DSv5", "0.096", "0.0192"),
    ("azure", "Standard_D4s_v5", 4, 16384, "x86_64", "DSv5", "0.192", "0.0384"),
    ("azure", "Standard_D4as_v5", 4, 16384, "x86_64", "DASv5", "0.172", "0.0344"),
    ("azure", "Standard_E4s_v5", 4, 32768, "x86_64", "ESv5", "0.252", "0.0504"),
    ("azure", "Standard_D2ps_v5", 2, 8192, "arm64", "DPSv5", "0.077", "0.0154"),
    ("gcp", "e2-standard-2", 2, 8192, "x86_64", "e2", "0.067006", "0.020102"),
    ("gcp", "e2-standard-4", 4, 16384, "x86_64", "e2", "0.134012", "0.040204"),
    ("gcp", "n2-standard-4", 4, 16384, "x86_64", "n2", "0.194236", "0.047"),
    ("gcp", "e2-highcpu-4", 4, 4096, "x86_64", "e2", "0.098952", "0.0297"),
    ("gcp", "t2a-standard-2", 2, 8192, "arm64", "t2a", "0.077", ""),
]
SHAPES = {(c, t): Shape(c, t, v, m, a, f) for c, t, v, m, a, f, _, _ in TABLE}
CATALOGS = {cloud: [s for (c, _), s in SHAPES.items() if c == cloud] for cloud in REGIONS}
SCORES = {("aws", "m5.xlarge"): 1000.0, ("azure", "Standard_D4as_v5"): 950.0, ("gcp", "e2-standard-4"): 800.0}


def readers() -> list[ShapePrice]:
    """On-demand prices as the price catalogs give them, spot prices as the spot readers give them:
    two records per shape, the spot reader's shape knowing only the type."""
    od = [ShapePrice(SHAPES[(c, t)], REGIONS[c], on_demand_hourly=Decimal(o), on_demand_effective=OD_DATE,
                     source=f"{c} list prices") for c, t, *_, o, _ in TABLE]
    spot = [ShapePrice(Shape(c, t, 0, 0), REGIONS[c], spot_hourly=Decimal(s) if s else None,
                       spot_effective=SPOT_DATE if s else None, source=f"{c} spot",
                       note="" if s else f"no spot offer for {t}") for c, t, *_, s in TABLE]
    return od + spot


def row(r: dict) -> tuple:
    return (r["cloud"], r["type"], r["on demand/h"], r["on demand since"], r["spot/h"], r["spot since"],
            r["OD per vCPU-h"], r["OD per GiB-h"], r["value (score per OD $/h)"], r["cheapest"])


def test_golden_ranking_spot_and_on_demand_side_by_side():
    in_use = Counter({SHAPES[("aws", "m5.xlarge")]: 3, SHAPES[("gcp", "e2-standard-2")]: 1,
                      SHAPES[("azure", "Standard_D2ps_v5")]: 1})
    result = {c.shape.type: c for c in compare(in_use, CATALOGS, readers(), SCORES)}
    assert [row(r) for r in table([result["m5.xlarge"]])] == [
        ("gcp", "e2-standard-4", "0.134012", "2026-11-01 00:00", "0.040204", "2026-11-30 10:00",
         "0.033503", "0.008376", "5969.61", "on demand"),
        ("azure", "Standard_D4as_v5", "0.172", "2026-11-01 00:00", "0.0344", "2026-11-30 10:00",
         "0.043", "0.01075", "5523.26", "spot"),
        ("aws", "m5.xlarge", "0.192", "2026-11-01 00:00", "0.0712", "2026-11-30 10:00",
         "0.048", "0.012", "5208.33", ""),
    ]
    assert table([result["m5.xlarge"]])[0]["in use"] == "aws m5.xlarge ×3"
    # equal size and price on two clouds: both listed, the cheapest named by cloud order; spot is Azure's
    small = result["e2-standard-2"]
    assert [(p.shape.cloud, p.shape.type, p.on_demand_hourly) for p in small.placements] == [
        ("gcp", "e2-standard-2", Decimal("0.067006")), ("aws", "m5.large", Decimal("0.096")),
        ("azure", "Standard_D2s_v5", Decimal("0.096"))]
    assert small.cheapest_on_demand.shape.type == "e2-standard-2"
    assert small.cheapest_spot.shape.type == "Standard_D2s_v5"
    # arm64 stays arm64; a shape without a spot offer is ranked on demand and says why it has no spot
    arm = result["Standard_D2ps_v5"]
    assert [p.shape.type for p in arm.placements] == ["m6g.large", "Standard_D2ps_v5", "t2a-standard-2"]
    t2a = arm.placements[2]
    assert t2a.spot_hourly is None and "no spot offer for t2a-standard-2" in t2a.note
    assert arm.cheapest_spot.shape.type == "Standard_D2ps_v5"


def test_no_equivalent_is_said():
    [big] = compare([SHAPES[("aws", "x1e.32xlarge")]], CATALOGS, readers())
    assert [p.shape.type for p in big.placements] == ["x1e.32xlarge"]
    assert "azure: no x86_64 shape with ≥ 128 vCPU" in big.note and "gcp: no x86_64 shape" in big.note
    assert big.cheapest_spot is None and big.cheapest_on_demand.shape.type == "x1e.32xlarge"


def test_merge_takes_each_price_from_its_reader_and_the_latest_of_two():
    merged = {p.shape.type: p for p in merge_prices(readers())}
    m5 = merged["m5.xlarge"]
    assert (m5.on_demand_hourly, m5.spot_hourly, m5.shape.vcpus) == (Decimal("0.192"), Decimal("0.0712"), 4)
    assert m5.source == "aws list prices + aws spot"
    later = ShapePrice(SHAPES[("aws", "m5.xlarge")], "US-EAST-1", on_demand_hourly=Decimal("0.2"),
                       on_demand_effective=datetime(2026, 11, 15, tzinfo=timezone.utc), source="newer list")
    [again] = [p for p in merge_prices([*readers(), later]) if p.shape.type == "m5.xlarge"]
    assert again.on_demand_hourly == Decimal("0.2")
    assert "on-demand 0.2 from newer list (the latest) over 0.192 from aws list prices" in again.note
    euro = ShapePrice(SHAPES[("aws", "m5.xlarge")], "us-east-1", currency="EUR", spot_hourly=Decimal("0.06"))
    with pytest.raises(ValueError, match="aws m5.xlarge in us-east-1 come in several currencies: EUR, USD"):
        merge_prices([*readers(), euro])


def test_shapes_in_use_counts_vms_by_catalog_shape():
    vms = [Resource(cloud="aws", id=f"i-{n}", kind="vm", type="m5.xlarge") for n in range(3)]
    odd = Resource(cloud="gcp", id="x", kind="vm", type="n2-custom-4-8192", vcpus=4, memory_mib=8192,
                   architecture="x86_64")
    disk = Resource(cloud="aws", id="vol-1", kind="disk", type="gp3")
    used = shapes_in_use([*vms, odd, disk], CATALOGS)
    assert used == Counter({SHAPES[("aws", "m5.xlarge")]: 3, Shape("gcp", "n2-custom-4-8192", 4, 8192, "x86_64"): 1})


def test_region_spot_figure_is_the_lowest_zones_latest_price():
    t0, t1 = SPOT_DATE - timedelta(hours=5), SPOT_DATE - timedelta(hours=1)
    rows = [SpotRecord("m5.large", "a", Decimal("0.01"), t0), SpotRecord("m5.large", "a", Decimal("0.05"), t1),
            SpotRecord("m5.large", "b", Decimal("0.04"), t0), SpotRecord("m5.large", "b", Decimal("0.045"), t0)]
    latest = latest_by_zone(rows)
    # zone a's old low price is superseded; zone b's two rows at one time keep the lower
    assert {z: r.price for (_, z), r in latest.items()} == {"a": Decimal("0.05"), "b": Decimal("0.04")}
    shape = Shape("aws", "m5.large", 2, 8192, "x86_64", "m5")
    price = region_spot(shape, "us-east-1", latest, "test")
    assert (price.spot_hourly, price.spot_effective) == (Decimal("0.04"), t0)
    assert price.note == "spot from b, the lowest latest price of 2 zone(s) (0.04-0.05; highest in a)"
    assert region_spot(Shape("aws", "c5.large", 2, 4096), "us-east-1", latest, "test").spot_hourly is None
