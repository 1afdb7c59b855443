"""Reading one cloud's market for a rightsizing run: its shape catalogs in the regions the run needs,
the list prices (on demand, and spot where the cloud's price API has it) of the shapes the pure
selection names, and on AWS the spot prices from the EC2 spot price history. What cannot be read is
kept as a problem of the market, so the run reports it instead of losing the findings."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from multicloud.config import Connection, Profile
from multicloud.config.rightsizing import RightsizingScope
from multicloud.core.errors import StoreError
from multicloud.core.rightsizing import Resource
from multicloud.core.rightsizing import market as M
from multicloud.core.rightsizing.catalogs import ShapeCatalog
from multicloud.core.rightsizing.price_catalogs import PriceReading
from multicloud.core.rightsizing.prices import Shape


def read_market(cloud: str, scope: RightsizingScope, profile: Profile, resources: Sequence[Resource],
                rules: Sequence, now: datetime) -> M.Market:
    """`cloud`'s catalogs and prices for the run's resources (every cloud's: arbitrage prices this
    cloud's equivalents of the others' shapes). Each failed read is a problem of the market."""
    settings = getattr(scope, cloud)
    conn = profile.connection_for(cloud, settings.connection)
    market = M.Market(cloud)
    for region in M.catalog_regions(cloud, resources, scope.arbitrage_regions.get(cloud, "")):
        try:
            catalog = _catalog(cloud, conn, scope, region)
        except StoreError as exc:
            market.problems.append(f"{cloud} shape catalog in {region}: {exc}")
            catalog = ShapeCatalog(cloud, region)
        market.catalogs.append(catalog)
        market.add(catalog, "shapes")
    wanted = M.shapes_to_price(cloud, market.catalogs, resources, M.any_family(rules, cloud))
    try:
        reading = _prices(cloud, conn, scope, wanted, *M.units_to_price(cloud, resources))
    except StoreError as exc:
        market.problems.append(f"{cloud} list prices: {exc}")
        reading = PriceReading()
    market.prices += reading.prices
    market.unit_prices += reading.unit_prices
    market.add(reading, "prices")
    if cloud == "aws":
        _spot(market, conn, scope, wanted, now)
    return market


def _catalog(cloud: str, conn: Connection, scope: RightsizingScope, region: str) -> ShapeCatalog:
    if cloud == "aws":
        from multicloud.clouds.aws.shapes import read_shapes

        return read_shapes(conn.model_copy(update={"region": region}))
    if cloud == "azure":
        from multicloud.clouds.azure.shapes import read_shapes

        return read_shapes(conn, scope.azure.subscription_id, region, base_url=scope.azure.arm_base_url)
    from multicloud.clouds.gcp.shapes import read_shapes

    return read_shapes(conn, region, scope.gcp.project, endpoint=scope.gcp.compute_endpoint)


def _prices(cloud: str, conn: Connection, scope: RightsizingScope, wanted: list[tuple[str, Shape]],
            disks: list[tuple[str, str]], ips: list[str]) -> PriceReading:
    if not (wanted or disks or ips):
        return PriceReading()
    if cloud == "aws":
        from multicloud.clouds.aws.pricing import read_prices

        return read_prices(conn, wanted, disks=disks, ip_regions=ips, endpoint=scope.aws.pricing_endpoint)
    if cloud == "azure":
        from multicloud.clouds.azure.retail_prices import read_prices

        return read_prices(wanted, ip_regions=ips, base_url=scope.azure.prices_url)
    from multicloud.clouds.gcp.vm_prices import read_vm_prices

    return read_vm_prices(wanted, endpoint=scope.gcp.billing_endpoint)


def _spot(market: M.Market, conn: Connection, scope: RightsizingScope, wanted: list[tuple[str, Shape]],
          now: datetime) -> None:
    from multicloud.clouds.aws.spot import read_spot_prices

    for region in sorted({r for r, _ in wanted}):
        regional = conn.model_copy(update={"region": region, "endpoint": scope.aws.spot_endpoint or conn.endpoint})
        try:
            spot = read_spot_prices(regional, [s for r, s in wanted if r == region], now)
        except StoreError as exc:
            market.problems.append(f"aws spot prices in {region}: {exc}")
            continue
        market.prices += spot.prices
        market.add(spot, "spot")
