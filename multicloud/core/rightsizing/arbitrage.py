"""Cross-cloud arbitrage (the seed's pattern 3): for each VM shape in use, the equivalent shape on
every cloud (same architecture, at least the vCPUs and memory, the smallest such, the cheapest of equal
size), its on-demand and spot prices side by side with the dates they took effect, the price per
vCPU-hour and per GiB-hour, and the cheapest placement on demand and on spot. Optional performance
scores per shape give the value score (score per price-hour). Price records of one shape read by
several readers (on-demand from the price catalogs, spot from DescribeSpotPriceHistory) are merged
first with `merge_prices`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Iterable, Mapping

from multicloud.core.rightsizing.evaluate import Resource
from multicloud.core.rightsizing.prices import Shape, ShapePrice

CLOUDS = ("aws", "azure", "gcp")
_UNIT = Decimal("0.000001")  # per vCPU-hour and per GiB-hour figures, to a millionth


@dataclass(frozen=True)
class Placement:
    """One shape in one region of one cloud, priced; None where there is no such price."""

    shape: Shape
    region: str
    currency: str
    on_demand_hourly: Decimal | None
    spot_hourly: Decimal | None
    on_demand_effective: datetime | None
    spot_effective: datetime | None
    on_demand_per_vcpu_hour: Decimal | None
    on_demand_per_gib_hour: Decimal | None
    spot_per_vcpu_hour: Decimal | None
    spot_per_gib_hour: Decimal | None
    score: float | None = None
    on_demand_value: Decimal | None = None
    spot_value: Decimal | None = None
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """A shape in use (by `count` VMs) and where the same workload could run, cheapest on demand first."""

    shape: Shape
    count: int
    placements: tuple[Placement, ...]
    cheapest_on_demand: Placement | None
    cheapest_spot: Placement | None
    note: str = ""


def merge_prices(records: Iterable[ShapePrice]) -> list[ShapePrice]:
    """One record per (cloud, region, type): each price taken from the record that has it (of two, the
    later-dated one, the other named in the note), sources and notes joined, the shape with the most
    that is known. Raises ValueError naming the shape when the records' currencies disagree."""
    groups: dict[tuple[str, str, str], list[ShapePrice]] = {}
    for rec in records:
        groups.setdefault((rec.shape.cloud, rec.region.lower(), rec.shape.type), []).append(rec)
    return [_merge(key, recs) for key, recs in groups.items()]


def _merge(key: tuple[str, str, str], recs: list[ShapePrice]) -> ShapePrice:
    currencies = {r.currency for r in recs if r.on_demand_hourly is not None or r.spot_hourly is not None}
    if len(currencies) > 1:
        raise ValueError(f"prices of {key[0]} {key[2]} in {key[1]} come in several currencies: "
                         f"{', '.join(sorted(currencies))}")
    notes = [r.note for r in recs if r.note]
    od, od_note = _latest(recs, "on_demand_hourly", "on_demand_effective")
    spot, spot_note = _latest(recs, "spot_hourly", "spot_effective")
    shape = max((r.shape for r in recs), key=lambda s: (s.vcpus > 0, s.memory_mib > 0, bool(s.architecture),
                                                          bool(s.family)))
    return ShapePrice(
        shape=shape, region=recs[0].region, currency=currencies.pop() if currencies else recs[0].currency,
        on_demand_hourly=od.on_demand_hourly if od else None, spot_hourly=spot.spot_hourly if spot else None,
        on_demand_effective=od.on_demand_effective if od else None,
        spot_effective=spot.spot_effective if spot else None,
        source=" + ".join(dict.fromkeys(r.source for r in recs if r.source)),
        note="; ".join(dict.fromkeys(n for n in [*notes, od_note, spot_note] if n)))


def _latest(recs: list[ShapePrice], price: str, date: str) -> tuple[ShapePrice | None, str]:
    having = [r for r in recs if getattr(r, price) is not None]
    if not having:
        return None, ""
    best = max(having, key=lambda r: _when(getattr(r, date)))
    others = [r for r in having if getattr(r, price) != getattr(best, price)]
    if not others:
        return best, ""
    name = price.replace("_hourly", "").replace("_", "-")
    over = ", ".join(f"{getattr(r, price)} from {r.source or 'a reader'}" for r in others)
    return best, f"{name} {getattr(best, price)} from {best.source or 'a reader'} (the latest) over {over}"


def _when(value: datetime | None) -> datetime:
    if value is None:
        return datetime.min
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def shapes_in_use(resources: Iterable[Resource], catalogs: Mapping[str, Iterable[Shape]]) -> Counter:
    """Shape -> how many running or stopped VMs have it; the catalog's shape where the type is listed,
    else the inventory's vCPUs, memory and architecture."""
    index = {(cloud, s.type): s for cloud, shapes in catalogs.items() for s in shapes}
    used: Counter = Counter()
    for r in resources:
        if r.kind == "vm" and r.type:
            used[index.get((r.cloud, r.type)) or Shape(r.cloud, r.type, r.vcpus or 0, r.memory_mib or 0,
                                                         r.architecture)] += 1
    return used


def compare(in_use: Mapping[Shape, int] | Iterable[Shape], catalogs: Mapping[str, Iterable[Shape]],
            prices: Iterable[ShapePrice], scores: Mapping[tuple[str, str], float] | None = None,
            currency: str = "USD") -> list[Comparison]:
    """For each shape in use (a Counter from `shapes_in_use`, or plain shapes), its own placement and
    the equivalent on each other cloud of `catalogs`, every region `prices` has it in. Only prices in
    `currency` are ranked; `scores` maps (cloud, type) to a performance score."""
    counts = in_use if isinstance(in_use, Mapping) else Counter(in_use)
    catalogs = {cloud: list(shapes) for cloud, shapes in catalogs.items()}
    by_shape: dict[tuple[str, str], list[ShapePrice]] = {}
    for p in merge_prices(prices):
        by_shape.setdefault((p.shape.cloud, p.shape.type), []).append(p)
    out = [_compare(shape, n, catalogs, by_shape, scores or {}, currency) for shape, n in counts.items()]
    return sorted(out, key=lambda c: (c.shape.cloud, c.shape.type))


def _compare(shape: Shape, count: int, catalogs, by_shape, scores, currency: str) -> Comparison:
    placements, notes = [], []
    for cloud in sorted(set(catalogs) | {shape.cloud}):
        match = shape if cloud == shape.cloud else _equivalent(shape, catalogs.get(cloud, []), by_shape)
        if match is None:
            notes.append(f"{cloud}: no {shape.architecture or '?'} shape with ≥ {shape.vcpus} vCPU and "
                         f"≥ {shape.memory_mib} MiB")
            continue
        priced = by_shape.get((cloud, match.type)) or [ShapePrice(match, "", currency, note="not priced")]
        placements += [_placement(match, p, scores.get((cloud, match.type))) for p in priced]
    ranked = tuple(sorted(placements, key=lambda p: (_rank(p.on_demand_hourly, p, currency), p.shape.cloud,
                                                     p.region, p.shape.type)))
    return Comparison(shape, count, ranked, _cheapest(ranked, "on_demand_hourly", currency),
                      _cheapest(ranked, "spot_hourly", currency), "; ".join(notes))


def _equivalent(shape: Shape, catalog: list[Shape], by_shape) -> Shape | None:
    """The smallest shape of `catalog` with the architecture and at least the vCPUs and memory; of
    equal size the cheapest on demand (priced ones before unpriced)."""
    fits = [s for s in catalog if s.architecture == shape.architecture and s.vcpus >= shape.vcpus
            and s.memory_mib >= shape.memory_mib]
    if not fits:
        return None

    def cheapest(s: Shape) -> tuple:
        od = [p.on_demand_hourly for p in by_shape.get((s.cloud, s.type), []) if p.on_demand_hourly is not None]
        return (0, min(od)) if od else (1, Decimal(0))

    return min(fits, key=lambda s: (s.vcpus, s.memory_mib, *cheapest(s), s.type))


def _per(price: Decimal | None, amount: float) -> Decimal | None:
    if price is None or not amount:
        return None
    return (price / Decimal(str(amount))).quantize(_UNIT, rounding=ROUND_HALF_EVEN)


def _value(score: float | None, price: Decimal | None) -> Decimal | None:
    if score is None or not price:
        return None
    return (Decimal(str(score)) / price).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def _placement(shape: Shape, price: ShapePrice, score: float | None) -> Placement:
    gib = shape.memory_mib / 1024
    od, spot = price.on_demand_hourly, price.spot_hourly
    return Placement(
        shape=shape, region=price.region, currency=price.currency, on_demand_hourly=od, spot_hourly=spot,
        on_demand_effective=price.on_demand_effective, spot_effective=price.spot_effective,
        on_demand_per_vcpu_hour=_per(od, shape.vcpus), on_demand_per_gib_hour=_per(od, gib),
        spot_per_vcpu_hour=_per(spot, shape.vcpus), spot_per_gib_hour=_per(spot, gib), score=score,
        on_demand_value=_value(score, od), spot_value=_value(score, spot), note=price.note)


def _rank(value: Decimal | None, p: Placement, currency: str) -> tuple:
    return (0, value) if value is not None and p.currency == currency else (1, Decimal(0))


def _cheapest(ranked: tuple[Placement, ...], field: str, currency: str) -> Placement | None:
    priced = [p for p in ranked if getattr(p, field) is not None and p.currency == currency]
    return min(priced, key=lambda p: (getattr(p, field), p.shape.cloud, p.region, p.shape.type)) if priced else None


def table(comparisons: Iterable[Comparison]) -> list[dict]:
    """One row per placement, for the arbitrage table artifact: prices and their dates side by side,
    the cheapest on demand and on spot marked."""
    rows = []
    for c in comparisons:
        for p in c.placements:
            rows.append({
                "in use": f"{c.shape.cloud} {c.shape.type} ×{c.count}",
                "cloud": p.shape.cloud, "type": p.shape.type, "region": p.region,
                "vCPU": p.shape.vcpus, "GiB": f"{p.shape.memory_mib / 1024:g}",
                "on demand/h": _money(p.on_demand_hourly), "on demand since": _date(p.on_demand_effective),
                "spot/h": _money(p.spot_hourly), "spot since": _date(p.spot_effective),
                "OD per vCPU-h": _money(p.on_demand_per_vcpu_hour), "OD per GiB-h": _money(p.on_demand_per_gib_hour),
                "spot per vCPU-h": _money(p.spot_per_vcpu_hour), "spot per GiB-h": _money(p.spot_per_gib_hour),
                "value (score per OD $/h)": "" if p.on_demand_value is None else str(p.on_demand_value),
                "cheapest": ", ".join(label for label, best in (("on demand", c.cheapest_on_demand),
                                                                ("spot", c.cheapest_spot)) if best is p),
                "note": p.note})
    return rows


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def _date(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")
