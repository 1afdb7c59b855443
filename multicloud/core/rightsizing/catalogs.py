"""What the shape catalogs and spot price readers return (the shapes or prices read, with the API
requests each operation took and the seconds waited on throttling), and the pure choice of a region's
spot figure from a price history: the latest price per type and zone, the lowest zone's stands."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from multicloud.core.rightsizing.prices import Shape, ShapePrice


@dataclass
class ShapeCatalog:
    """The VM shapes one cloud offers in `region` (or every region read, when empty)."""

    cloud: str
    region: str = ""
    shapes: list[Shape] = field(default_factory=list)
    requests: Counter = field(default_factory=Counter)
    throttle_waits: list[float] = field(default_factory=list)

    def by_type(self) -> dict[str, Shape]:
        return {s.type: s for s in self.shapes}


@dataclass(frozen=True)
class SpotRecord:
    """One row of a spot price history: a type's price in one zone from `timestamp` on."""

    type: str
    zone: str
    price: Decimal
    timestamp: datetime
    product: str = ""


@dataclass
class SpotPrices:
    """Per type the region's spot figure (`prices`), the latest record per (type, zone) it was chosen
    from, and the types asked for that had no spot offer (each priced with a note saying so)."""

    prices: list[ShapePrice] = field(default_factory=list)
    latest: dict[tuple[str, str], SpotRecord] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    throttle_waits: list[float] = field(default_factory=list)


def latest_by_zone(records: Iterable[SpotRecord]) -> dict[tuple[str, str], SpotRecord]:
    """The latest record of each (type, zone); of two at the same time, the lower price (an answer
    that repeats a row across pages must not change the figure)."""
    latest: dict[tuple[str, str], SpotRecord] = {}
    for rec in records:
        key = (rec.type, rec.zone)
        have = latest.get(key)
        if have is None or (rec.timestamp, -rec.price) > (have.timestamp, -have.price):
            latest[key] = rec
    return latest


def region_spot(shape: Shape, region: str, latest: dict[tuple[str, str], SpotRecord], source: str,
                currency: str = "USD") -> ShapePrice:
    """The region's spot figure of `shape`: the lowest of its zones' latest prices (where a spot
    request would be placed), dated when that price took effect; the note names the zone and the
    range over the zones. No zone offering it: no spot price, and the note says so."""
    zones = sorted((rec for (t, _), rec in latest.items() if t == shape.type), key=lambda r: (r.price, r.zone))
    if not zones:
        return ShapePrice(shape, region, currency, source=source, note=f"no spot offer for {shape.type} in {region}")
    best, worst = zones[0], max(zones, key=lambda r: r.price)
    note = f"spot from {best.zone}, the lowest latest price of {len(zones)} zone(s)"
    if worst.price != best.price:
        note += f" ({best.price}-{worst.price}; highest in {worst.zone})"
    return ShapePrice(shape, region, currency, spot_hourly=best.price, spot_effective=best.timestamp,
                      source=source, note=note)
