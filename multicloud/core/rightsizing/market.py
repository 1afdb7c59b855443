"""Which shapes a rightsizing run must price on each cloud, pure: the catalog regions to read (where the
cloud's VMs run, or the arbitrage region when it has none), and per region the shapes in use, the
cheaper candidates a resize rule could choose, and the smallest equivalents of the other clouds' shapes
for the arbitrage table. Reading every catalog entry would cost one price request per type."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from multicloud.core.rightsizing.arbitrage import merge_prices, shapes_in_use
from multicloud.core.rightsizing.catalogs import ShapeCatalog
from multicloud.core.rightsizing.evaluate import Resource
from multicloud.core.rightsizing.price_catalogs import PriceReading, UnitPrice
from multicloud.core.rightsizing.prices import Shape, ShapePrice

# Candidates per shape in use and region: the closest in size first (a resize steps down a size or
# two; a catalog of 1,400 types must not cost 1,400 price requests).
MAX_CANDIDATES = 24
PER_SIZE = 4  # other families' candidates per vCPU count


@dataclass
class Market:
    """One cloud's shapes and prices as read for a run: the catalogs per region, every shape asked
    for priced or not (on demand and spot merged later), the API requests per operation, the seconds
    waited on throttling, and what could not be read (the run goes on without it, saying so)."""

    cloud: str
    catalogs: list[ShapeCatalog] = field(default_factory=list)
    prices: list[ShapePrice] = field(default_factory=list)
    unit_prices: list[UnitPrice] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    throttle_waits: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, reading: PriceReading | ShapeCatalog, operation: str) -> None:
        for name, count in reading.requests.items():
            key = f"{operation} {name}".strip()
            self.requests[key] = self.requests.get(key, 0) + count
        self.throttle_waits += list(reading.throttle_waits)


def vms(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if r.kind == "vm" and r.type]


def catalog_regions(cloud: str, resources: Iterable[Resource], fallback: str) -> list[str]:
    """The regions whose shape catalog `cloud` is read in: those of its VMs, else `fallback` (where its
    equivalents of the other clouds' shapes are priced)."""
    regions = sorted({r.region for r in vms(resources) if r.cloud == cloud and r.region})
    return regions or ([fallback] if fallback else [])


def shapes_to_price(cloud: str, catalogs: Sequence[ShapeCatalog], resources: Iterable[Resource],
                    any_family: bool) -> list[tuple[str, Shape]]:
    """(region, shape) pairs of `cloud` to price: in each catalog region, the types its VMs there run,
    up to MAX_CANDIDATES smaller-or-equal types of the same architecture (and family, unless a resize
    rule allows `any_family`) per type, and the smallest shapes fitting each other cloud's shape."""
    resources = list(resources)
    wanted: dict[tuple[str, str], Shape] = {}
    for catalog in catalogs:
        by_type = catalog.by_type()
        own = [r for r in vms(resources) if r.cloud == cloud and r.region == catalog.region]
        for r in own:
            current = by_type.get(r.type) or Shape(cloud, r.type, r.vcpus or 0, r.memory_mib or 0, r.architecture)
            wanted[(catalog.region, current.type)] = current
            for s in candidates(current, catalog.shapes, any_family):
                wanted.setdefault((catalog.region, s.type), s)
        for other in shapes_in_use([r for r in resources if r.cloud != cloud], {}):
            for s in smallest_fits(other, catalog.shapes):
                wanted.setdefault((catalog.region, s.type), s)
    return [(region, shape) for (region, _), shape in sorted(wanted.items())]


def candidates(current: Shape, catalog: Iterable[Shape], any_family: bool) -> list[Shape]:
    """Types a resize of `current` could choose: the same architecture, no more vCPUs and memory; its
    own family's first (closest in size first, at most MAX_CANDIDATES), then, when `any_family`, up to
    MAX_CANDIDATES of other families with at most PER_SIZE of each vCPU count, so a catalog of hundreds
    of same-size types still leaves the smaller sizes priced."""
    if not current.vcpus or not current.memory_mib:
        return []
    fits = sorted((s for s in catalog if s.type != current.type and s.architecture == current.architecture
                   and 0 < s.vcpus <= current.vcpus and 0 < s.memory_mib <= current.memory_mib),
                  key=lambda s: (-s.vcpus, -s.memory_mib, s.type))
    own = [s for s in fits if s.family == current.family][:MAX_CANDIDATES]
    if not any_family:
        return own
    others, per_size = [], Counter()
    for s in fits:
        if s.family != current.family and per_size[s.vcpus] < PER_SIZE and len(others) < MAX_CANDIDATES:
            others.append(s)
            per_size[s.vcpus] += 1
    return own + others


def smallest_fits(shape: Shape, catalog: Iterable[Shape]) -> list[Shape]:
    """The catalog's shapes of `shape`'s architecture with at least its vCPUs and memory and the
    smallest such size (the arbitrage table's equivalents; of equal size it takes the cheapest)."""
    fits = [s for s in catalog if s.architecture == shape.architecture and s.vcpus >= shape.vcpus
            and s.memory_mib >= shape.memory_mib]
    if not fits:
        return []
    least = min((s.vcpus, s.memory_mib) for s in fits)
    return [s for s in fits if (s.vcpus, s.memory_mib) == least]


def any_family(rules: Iterable, cloud: str | None = None) -> bool:
    """True when a resize rule (of those judging `cloud`, when given) lets its target leave the family, so
    other families are priced too. Another cloud's rule must not: its candidates of the current size
    would fill the MAX_CANDIDATES and leave the same family's smaller types unpriced."""
    return any(getattr(r, "action", "") == "resize" and getattr(r, "target_families", "same") == "any"
               and (cloud is None or not getattr(r, "clouds", None) or cloud in r.clouds) for r in rules)


def merged_markets(markets: Sequence[Market]) -> tuple[list[ShapeCatalog], list[ShapePrice], list[UnitPrice]]:
    """Every catalog of the markets read, one price record per (cloud, region, type) (on demand and
    spot come from different readers on AWS), and every disk and address unit price."""
    return ([c for m in markets for c in m.catalogs], merge_prices(p for m in markets for p in m.prices),
            [u for m in markets for u in m.unit_prices])


def units_to_price(cloud: str, resources: Iterable[Resource]) -> tuple[list[tuple[str, str]], list[str]]:
    """The (region, disk type) pairs and the address regions of `cloud` whose unit prices the waste
    findings need: AWS EBS volume types (priced per GB-month) and public IPv4 addresses on AWS and
    Azure. Azure disks are priced per performance tier, which the inventory does not give; GCP's
    catalog reader prices VMs only."""
    mine = [r for r in resources if r.cloud == cloud]
    disks = sorted({(r.region, r.type) for r in mine if r.kind == "disk" and r.type}) if cloud == "aws" else []
    ips = sorted({r.region for r in mine if r.kind == "ip" and r.region}) if cloud in ("aws", "azure") else []
    return disks, ips


def market_rows(markets: Sequence[Market]) -> list[dict]:
    """One row per cloud for the run's request table: shapes, priced shapes, requests, waits, problems."""
    return [{"cloud": m.cloud, "catalog regions": ", ".join(c.region for c in m.catalogs),
             "shapes priced": sum(p.on_demand_hourly is not None for p in m.prices),
             "shapes asked": len({(p.region, p.shape.type) for p in m.prices}),
             "requests": sum(m.requests.values()), "seconds waited": round(sum(m.throttle_waits), 1),
             "problems": "; ".join(m.problems)} for m in markets]
