"""EC2 spot prices of a region: DescribeSpotPriceHistory through boto3's paginator (1,000 rows a
page, each page a counted request) from `now`, so each type and zone gives the price in effect then;
per type the region's figure is the lowest zone's latest price, as `ShapePrice.spot_hourly` dated
`spot_effective`, the zone named in the note."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable

from multicloud.clouds.aws.paging import pages
from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.core.rightsizing.catalogs import SpotPrices, SpotRecord, latest_by_zone, region_spot
from multicloud.core.rightsizing.prices import Shape

SOURCE = "aws ec2 DescribeSpotPriceHistory"
PAGE_SIZE = 1000  # the API's largest MaxResults
_TYPES_PER_REQUEST = 100  # keeps each request's form small; the API states no limit


def read_spot_prices(conn: Connection, shapes: Iterable[Shape], now: datetime, *, product: str = "Linux/UNIX",
                     page_size: int = PAGE_SIZE) -> SpotPrices:
    """The spot figure of each of `shapes` in `conn`'s region for `product` (Linux/UNIX: the
    on-demand prices compared with are Linux ones too). A type without a spot offer gets a price
    without spot, saying so. Raises the taxonomy error of the first request that fails."""
    wanted = {s.type: s for s in shapes}
    region = conn.region or "us-east-1"
    result = SpotPrices()
    ec2 = client(conn, "ec2")
    names = sorted(wanted)
    records = []
    for i in range(0, len(names), _TYPES_PER_REQUEST):
        rows = pages(ec2, "describe_spot_price_history", "SpotPriceHistory", result.requests, page_size,
                     InstanceTypes=names[i:i + _TYPES_PER_REQUEST], ProductDescriptions=[product], StartTime=now)
        records += [_record(r) for r in rows if r.get("InstanceType") in wanted]
    result.latest = latest_by_zone(records)
    result.prices = [region_spot(wanted[name], region, result.latest, SOURCE) for name in names]
    return result


def _record(row: dict) -> SpotRecord:
    return SpotRecord(type=row["InstanceType"], zone=row.get("AvailabilityZone", ""),
                      price=Decimal(row["SpotPrice"]), timestamp=row["Timestamp"].astimezone(timezone.utc),
                      product=row.get("ProductDescription", ""))
