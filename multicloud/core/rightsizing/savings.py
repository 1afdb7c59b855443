"""Monthly savings of each finding in money: the effective figure from the resource's trailing
on-demand EffectiveCost in the FOCUS dataset (committed cost is paid anyway, so never counted as
saved), the list figure from the price catalogs' on-demand hourly prices; both scaled by what the
action saves. A figure that cannot be given is None, and `savings_note` says why."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Mapping

from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.price_catalogs import UnitPrice
from multicloud.core.rightsizing.prices import ShapePrice

HOURS_PER_MONTH = Decimal(730)
DAYS_PER_MONTH = Decimal(30)
CENT = Decimal("0.01")
ZERO = Decimal(0)

# What each action removes of the resource's cost: all of it, or (resize) the price difference.
WHOLE = ("stop", "delete", "snapshot_and_delete", "release")
RESIZE = "resize"

_ARN = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:(?P<resource>.+)$")


def cost_key(cloud: str, resource_id: str) -> tuple[str, str]:
    """The one form a resource id takes on both sides of the match: the FOCUS ResourceId of a
    billing row and `Resource.id` of an inventory. AWS: the CUR names a resource by its id
    (i-…, vol-…, eipalloc-…) or by its ARN (…:instance/i-…, …:db:name); both become the bare id.
    Azure: ARM ids, compared without case (the exports and the SDKs differ in case). GCP: the
    billing export's global name (//compute.googleapis.com/projects/P/zones/Z/instances/ID),
    which the inventory also uses, compared without case."""
    cloud = cloud.strip().lower()
    value = (resource_id or "").strip()
    if cloud == "aws":
        found = _ARN.match(value)
        if found:
            value = re.split(r"[/:]", found.group("resource"))[-1]
        return cloud, value
    return cloud, value.rstrip("/").lower()


@dataclass(frozen=True)
class ResourceCost:
    """One resource's usage cost over the trailing `days`, split into the part a commitment
    (savings plan, reservation, CUD) covered and the rest (on demand, spot included)."""

    provider: str
    resource_id: str
    currency: str
    days: int
    on_demand_effective: Decimal = ZERO
    committed_effective: Decimal = ZERO
    on_demand_list: Decimal = ZERO
    committed_list: Decimal = ZERO
    rows: int = 0
    currencies: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return self.provider, self.resource_id


def price_findings(findings: Iterable[Finding], costs: Mapping[tuple[str, str], ResourceCost] | None,
                   list_prices: Iterable[ShapePrice], unit_prices: Iterable[UnitPrice] = ()) -> list[Finding]:
    """Each finding with its monthly effective and list savings filled in, and why (see the module
    docstring). `costs` is keyed by `cost_key` (None: no FOCUS dataset was given, so no effective
    figure); `list_prices` are the catalogs' shapes by region, one record per shape; `unit_prices`
    the catalogs' disk and address prices."""
    catalog = {(p.shape.cloud.lower(), p.shape.type, p.region.lower()): p for p in list_prices}
    units = list(unit_prices)
    return [_priced(f, costs, catalog, units) for f in findings]


def _priced(finding: Finding, costs, catalog, units: list[UnitPrice]) -> Finding:
    res = finding.resource
    factor, factor_note = _action_factor(finding, catalog)
    if costs is None:
        effective, effective_note, currency = None, "no FOCUS dataset given: no effective savings", ""
    else:
        effective, effective_note, currency = _effective(finding, costs.get(cost_key(res.cloud, res.id)), factor)
    if res.kind == "vm":
        listed, list_note, list_currency = _list(finding, catalog, factor, currency)
    else:
        listed, list_note, list_currency = _unit_list(finding, units, factor, currency)
    notes = [n for n in (factor_note, effective_note, list_note) if n]
    return replace(finding, monthly_effective_savings=effective, monthly_list_savings=listed,
                   currency=currency or list_currency or finding.currency, savings_note="; ".join(notes))


def _price(catalog, cloud: str, type_: str, region: str) -> ShapePrice | None:
    return catalog.get((cloud.lower(), type_, region.lower()))


def _action_factor(finding: Finding, catalog) -> tuple[Decimal | None, str]:
    """The share of the resource's cost the action saves, or None with the reason."""
    action = finding.outcome.action
    if action in WHOLE:
        return Decimal(1), ""
    if action != RESIZE:
        return None, f"action {action!r} saves nothing until a person decides what to do"
    return _resize_factor(finding, catalog)


def _resize_factor(finding: Finding, catalog) -> tuple[Decimal | None, str]:
    """1 - target price / current price, from the catalog's on-demand prices."""
    res = finding.resource
    if not finding.target_type:
        return None, "resize without a target type: no savings" + (
            f" ({finding.target_note})" if finding.target_note else "")
    current, target = (_price(catalog, res.cloud, t, res.region) for t in (res.type, finding.target_type))
    missing = [t for t, p in ((res.type, current), (finding.target_type, target))
               if p is None or p.on_demand_hourly is None]
    if missing:
        return None, f"no on-demand price for {', '.join(missing)} in {res.region} in the price catalog"
    if current.on_demand_hourly <= 0:
        return None, f"the catalog's on-demand price of {res.type} is {current.on_demand_hourly}: no ratio"
    factor = 1 - target.on_demand_hourly / current.on_demand_hourly
    if factor <= 0:
        return ZERO, f"{finding.target_type} is not cheaper than {res.type} on demand: no savings"
    return factor, ""


def _effective(finding: Finding, cost: ResourceCost | None, factor: Decimal | None):
    """(monthly effective savings, note, billing currency)."""
    res = finding.resource
    if cost is None:
        return None, f"no usage cost rows for {res.id} in the FOCUS dataset", ""
    if len(cost.currencies) > 1:
        return None, f"cost rows in several currencies ({', '.join(cost.currencies)})", ""
    notes = []
    if cost.committed_effective:
        notes.append(f"{_money(cost.committed_effective)} {cost.currency} of {cost.days} days' cost was covered "
                     "by a commitment, paid anyway: not counted as saved")
    if factor is None:
        return None, "; ".join(notes), cost.currency
    monthly = cost.on_demand_effective * DAYS_PER_MONTH / cost.days
    return _money(max(ZERO, monthly * factor)), "; ".join(notes), cost.currency


def _list(finding: Finding, catalog, factor: Decimal | None, currency: str):
    """(monthly list savings, note, the catalog's currency)."""
    res = finding.resource
    if factor is None:
        return None, "", ""
    price = _price(catalog, res.cloud, res.type, res.region)
    if price is None or price.on_demand_hourly is None:
        why = f" ({price.note})" if price is not None and price.note else ""
        return None, f"{res.type} in {res.region} is missing from the price catalog{why}: no list savings", ""
    if currency and price.currency != currency:
        return None, (f"the catalog prices {res.type} in {price.currency}, the bill is in {currency}: "
                      "no list savings"), ""
    return _money(max(ZERO, price.on_demand_hourly * HOURS_PER_MONTH * factor)), "", price.currency


def _unit_list(finding: Finding, units: list[UnitPrice], factor: Decimal | None, currency: str):
    """(monthly list savings of a disk or address from its unit price, note, the catalog's currency)."""
    res = finding.resource
    if factor is None:
        return None, "", ""
    unit = next((u for u in units if u.cloud == res.cloud and u.kind == res.kind
                 and u.region.lower() == res.region.lower() and (res.kind == "ip" or u.type == res.type)), None)
    if unit is None or unit.price is None:
        why = f" ({unit.note})" if unit is not None and unit.note else ""
        return None, f"no list price for a {res.cloud} {res.kind} {res.type} in {res.region} in the catalogs read{why}", ""
    if unit.unit == "GB-month" and res.size_gb is None:
        return None, f"{res.id}'s size is not known: its GB-month list price cannot be applied", ""
    quantity = {"GB-month": Decimal(str(res.size_gb or 0)), "month": Decimal(1), "hour": HOURS_PER_MONTH}[unit.unit]
    if currency and unit.currency != currency:
        return None, f"the catalog prices a {res.kind} in {unit.currency}, the bill is in {currency}: no list savings", ""
    return _money(max(ZERO, unit.price * quantity * factor)), "", unit.currency


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
