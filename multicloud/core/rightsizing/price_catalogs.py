"""Reading the clouds' price catalogs, pure: which catalog entry is a shape's on-demand, spot or
commitment price (AWS Pricing products, Azure Retail Prices items, GCP Billing Catalog SKUs), how a
GCP VM's price is made from its vCPU and memory SKUs, and what a price reader returns. A shape the
catalog does not price still gets its `ShapePrice`, with no price and a note saying why."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Iterable

from multicloud.core.rightsizing.prices import Shape, ShapePrice

AWS_SOURCE = "aws pricing GetProducts"
AZURE_SOURCE = "azure retail prices"
GCP_SOURCE = "gcp billing catalog"
_MIB_PER_GIB = Decimal(1024)


@dataclass(frozen=True)
class UnitPrice:
    """The list price of one unit of a non-VM resource the waste rules find: a disk's GB-month (AWS
    EBS), a disk tier's month (Azure managed disks are priced per tier, e.g. "P10 LRS"), or an
    address's hour. `price` None: the catalog has no such entry, and `note` says why."""

    cloud: str
    region: str
    kind: str  # "disk" | "ip"
    type: str  # e.g. "gp3", "P10 LRS", "public-ipv4-idle"
    unit: str  # "GB-month" | "month" | "hour"
    price: Decimal | None = None
    currency: str = "USD"
    effective: datetime | None = None
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class CommitmentPrice:
    """The hourly price of one shape under a `term_years` commitment (GCP resource-based committed
    use), for commitment sizing; None with a note when the catalog has no such rate."""

    shape: Shape
    region: str
    term_years: int
    hourly: Decimal | None = None
    currency: str = "USD"
    effective: datetime | None = None
    source: str = ""
    note: str = ""


@dataclass
class PriceReading:
    """What one price reader returns: a `ShapePrice` for every shape asked for (priced or not),
    unit prices of disks and addresses, commitment rates where the catalog has them, the API
    requests per operation, and the seconds waited before retrying throttled requests."""

    prices: list[ShapePrice] = field(default_factory=list)
    unit_prices: list[UnitPrice] = field(default_factory=list)
    commitments: list[CommitmentPrice] = field(default_factory=list)
    requests: Counter = field(default_factory=Counter)
    throttle_waits: list[float] = field(default_factory=list)

    @property
    def waited_seconds(self) -> float:
        return sum(self.throttle_waits)

    def price(self, region: str, type_name: str) -> ShapePrice | None:
        return next((p for p in self.prices if p.region == region and p.shape.type == type_name), None)


def unpriced(shape: Shape, region: str, source: str, note: str) -> ShapePrice:
    """A shape the catalog does not price, kept with the reason."""
    return ShapePrice(shape=shape, region=region, source=source, note=note)


def utc(text: str | None) -> datetime | None:
    """An ISO 8601 time of a catalog ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00.000+00:00") in UTC."""
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value).replace(",", ""))
    except (InvalidOperation, ValueError):
        return None


# ---- AWS Pricing GetProducts -------------------------------------------------------------------

def aws_shape(type_name: str, attributes: dict) -> Shape:
    """The shape a product's attributes describe: `vcpu` ("4"), `memory` ("16 GiB", "1,952 GiB"),
    Graviton processors as arm64. Unknown vCPUs or memory stay 0."""
    vcpus = _decimal(attributes.get("vcpu", ""))
    memory = _decimal(str(attributes.get("memory", "")).removesuffix("GiB").strip())
    processor = str(attributes.get("physicalProcessor", ""))
    return Shape(cloud="aws", type=type_name, vcpus=int(vcpus) if vcpus is not None else 0,
                 memory_mib=int(memory * _MIB_PER_GIB) if memory is not None else 0,
                 architecture="arm64" if "graviton" in processor.lower() else "x86_64",
                 family=type_name.split(".", 1)[0])


def aws_on_demand(product: dict, unit: str = "Hrs") -> tuple[Decimal | None, datetime | None, str]:
    """The USD price per `unit` of a product's OnDemand terms, with the term's effective date, and a
    note when there is none or the terms disagree (several different prices)."""
    found: set[tuple[Decimal, datetime | None]] = set()
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            price = _decimal(dimension.get("pricePerUnit", {}).get("USD"))
            first_tier = str(dimension.get("beginRange", "0")) == "0"
            if dimension.get("unit") == unit and price is not None and first_tier:
                found.add((price, utc(term.get("effectiveDate"))))
    if not found:
        return None, None, f"the product has no OnDemand price per {unit!r} in USD"
    prices = sorted(found, key=lambda p: (p[1] or datetime.min.replace(tzinfo=timezone.utc)))
    if len({p for p, _ in prices}) > 1:
        return prices[-1][0], prices[-1][1], (f"{len(prices)} OnDemand prices per {unit}: the latest effective "
                                              "one is used")
    return prices[-1][0], prices[-1][1], ""


def aws_shape_price(shape: Shape, region: str, products: list[dict]) -> ShapePrice:
    """The on-demand price of `shape` from the products GetProducts returned for its filters. The
    Pricing API has no spot prices (those come from DescribeSpotPriceHistory), so spot stays empty."""
    spot_note = "spot prices are not in AWS Pricing (DescribeSpotPriceHistory has them)"
    if not products:
        return unpriced(shape, region, AWS_SOURCE, f"AWS Pricing has no Linux shared-tenancy on-demand product for "
                        f"{shape.type} in {region}; {spot_note}")
    priced = [(aws_on_demand(p), p) for p in products]
    usable = [(price, p) for price, p in priced if price[0] is not None]
    if not usable:
        return unpriced(shape, region, AWS_SOURCE, f"{priced[0][0][2]}; {spot_note}")
    (price, effective, note), product = usable[0]
    if len({u[0][0] for u in usable}) > 1:
        note = f"{len(usable)} products matched with different prices: the first is used"
    attrs = product.get("product", {}).get("attributes", {})
    described = aws_shape(shape.type, attrs)
    shape = replace(shape, vcpus=shape.vcpus or described.vcpus, memory_mib=shape.memory_mib or described.memory_mib,
                    architecture=shape.architecture or described.architecture, family=shape.family or described.family)
    return ShapePrice(shape=shape, region=region, on_demand_hourly=price, on_demand_effective=effective,
                      source=AWS_SOURCE, note="; ".join(n for n in (note, spot_note) if n))


def aws_unit_price(region: str, kind: str, type_name: str, unit: str, products: list[dict],
                   catalog_unit: str) -> UnitPrice:
    """A disk's or address's price per `catalog_unit` ("GB-Mo", "Hrs") from the matched products."""
    for product in products:
        price, effective, note = aws_on_demand(product, catalog_unit)
        if price is not None:
            return UnitPrice("aws", region, kind, type_name, unit, price, effective=effective, source=AWS_SOURCE,
                             note=note)
    return UnitPrice("aws", region, kind, type_name, unit, source=AWS_SOURCE,
                     note=f"AWS Pricing has no on-demand {catalog_unit} price for {type_name} in {region}")


# ---- Azure Retail Prices -----------------------------------------------------------------------

def azure_vm_filter(region: str, sku: str) -> str:
    """The OData filter of one VM size's consumption prices in a region (Linux, Windows, Spot and
    Low Priority meters alike: `azure_meter_kind` tells them apart, so one query gives both prices)."""
    return (f"serviceName eq 'Virtual Machines' and armRegionName eq '{_odata(region)}' and "
            f"armSkuName eq '{_odata(sku)}' and priceType eq 'Consumption'")


def azure_disk_filter(region: str, tier: str) -> str:
    """The OData filter of a managed disk tier's ("P10 LRS") consumption prices in a region."""
    return (f"serviceName eq 'Storage' and armRegionName eq '{_odata(region)}' and skuName eq '{_odata(tier)}' "
            "and priceType eq 'Consumption' and contains(productName,'Managed Disks')")


def azure_ip_filter(region: str) -> str:
    """The OData filter of the Standard public IP address prices in a region."""
    return (f"serviceName eq 'Virtual Network' and armRegionName eq '{_odata(region)}' and "
            "productName eq 'IP Addresses' and skuName eq 'Standard' and priceType eq 'Consumption'")


def _odata(value: str) -> str:
    return value.replace("'", "''")


def azure_meter_kind(item: dict) -> str:
    """"spot", "low priority", "windows" or "on demand" (plain Linux pay-as-you-go) for a price item,
    by the Retail Prices conventions: Spot and Low Priority in skuName, Windows in productName."""
    sku_name, product = str(item.get("skuName", "")), str(item.get("productName", ""))
    if "Windows" in product:
        return "windows"
    if "Low Priority" in sku_name:
        return "low priority"
    if "Spot" in sku_name:
        return "spot"
    return "on demand"


def _latest(items: list[dict]) -> dict | None:
    """The hourly, first-tier item that took effect last (a primary meter region first on a tie)."""
    hourly = [i for i in items if str(i.get("unitOfMeasure", "")) == "1 Hour" and not i.get("tierMinimumUnits")]
    if not hourly:
        return None
    return max(hourly, key=lambda i: (utc(i.get("effectiveStartDate")) or datetime.min.replace(tzinfo=timezone.utc),
                                      bool(i.get("isPrimaryMeterRegion"))))


def azure_shape_price(shape: Shape, region: str, items: list[dict]) -> ShapePrice:
    """The Linux on-demand and spot hourly prices of `shape` from a VM size's price items."""
    if not items:
        return unpriced(shape, region, AZURE_SOURCE, f"Azure Retail Prices has no consumption price for "
                        f"{shape.type} in {region}")
    on_demand = _latest([i for i in items if azure_meter_kind(i) == "on demand"])
    spot = _latest([i for i in items if azure_meter_kind(i) == "spot"])
    notes = []
    if on_demand is None:
        notes.append(f"no Linux pay-as-you-go hourly meter for {shape.type} in {region}")
    if spot is None:
        notes.append(f"no Linux spot hourly meter for {shape.type} in {region}")
    currencies = {str(i.get("currencyCode")) for i in (on_demand, spot) if i is not None}
    return ShapePrice(
        shape=shape, region=region, currency=currencies.pop() if len(currencies) == 1 else "USD",
        on_demand_hourly=_decimal(on_demand["retailPrice"]) if on_demand else None,
        spot_hourly=_decimal(spot["retailPrice"]) if spot else None,
        on_demand_effective=utc(on_demand.get("effectiveStartDate")) if on_demand else None,
        spot_effective=utc(spot.get("effectiveStartDate")) if spot else None,
        source=AZURE_SOURCE, note="; ".join(notes))


def azure_unit_price(region: str, kind: str, type_name: str, unit: str, items: list[dict],
                     unit_of_measure: str) -> UnitPrice:
    """A managed disk tier's month or a public IP's hour from the matched items (latest effective)."""
    wanted = [i for i in items if str(i.get("unitOfMeasure")) == unit_of_measure and not i.get("tierMinimumUnits")]
    if not wanted:
        return UnitPrice("azure", region, kind, type_name, unit, source=AZURE_SOURCE,
                         note=f"Azure Retail Prices has no {unit_of_measure!r} price for {type_name} in {region}")
    item = max(wanted, key=lambda i: utc(i.get("effectiveStartDate")) or datetime.min.replace(tzinfo=timezone.utc))
    return UnitPrice("azure", region, kind, type_name, unit, _decimal(item["retailPrice"]),
                     str(item.get("currencyCode", "USD")), utc(item.get("effectiveStartDate")), AZURE_SOURCE)


# ---- GCP Billing Catalog -----------------------------------------------------------------------

_GCP_SKU = re.compile(
    r"^(?:(?P<spot>Spot Preemptible) )?(?P<family>[A-Z][A-Z0-9]*)(?: (?:AMD|Arm|Intel))?(?: Predefined)? "
    r"Instance (?P<resource>Core|Ram) running in (?P<where>.+)$")
_GCP_COMMIT = re.compile(
    r"^Commitment v1: (?P<family>[A-Z][A-Z0-9]*)(?: (?:AMD|Arm|Intel))? (?P<resource>Cpu|Ram) in (?P<where>.+) "
    r"for (?P<years>[13]) Years?$")
_SHARED_CORE = re.compile(r"^(?:e2-(?:micro|small|medium)|f1-micro|g1-small)$")


@dataclass(frozen=True)
class GcpRate:
    """One vCPU or GiB hourly rate of a Billing Catalog SKU: which family, resource ("core" or
    "ram"), pricing ("on demand", "spot", "commit 1", "commit 3"), in which regions."""

    family: str
    resource: str
    pricing: str
    regions: frozenset[str]
    price: Decimal
    currency: str
    effective: datetime | None
    sku_id: str


def gcp_rate(sku_id: str, description: str, usage_type: str, regions: Iterable[str], price: Decimal | None,
             currency: str, effective: datetime | None) -> GcpRate | None:
    """The rate a Compute Engine SKU is, or None when it is not a predefined vCPU or memory rate
    (custom, sole-tenant, GPU, licence and network SKUs are not)."""
    if price is None:
        return None
    found = _GCP_SKU.match(description)
    if found and usage_type in ("OnDemand", "Preemptible"):
        pricing = "spot" if found["spot"] or usage_type == "Preemptible" else "on demand"
        resource = "core" if found["resource"] == "Core" else "ram"
    else:
        found = _GCP_COMMIT.match(description)
        if not found or not usage_type.startswith("Commit"):
            return None
        pricing, resource = f"commit {found['years']}", "core" if found["resource"] == "Cpu" else "ram"
    return GcpRate(found["family"], resource, pricing, frozenset(regions), price, currency, effective, sku_id)


def gcp_family(machine_type: str) -> str:
    """The SKU family of a machine type: n2-standard-4 -> N2, n2d-highmem-8 -> N2D, e2-standard-2 -> E2."""
    return machine_type.split("-", 1)[0].upper()


def _rate(rates: list[GcpRate], family: str, resource: str, pricing: str, region: str) -> GcpRate | None:
    matched = [r for r in rates if (r.family, r.resource, r.pricing) == (family, resource, pricing)
               and region in r.regions]
    return max(matched, key=lambda r: r.effective or datetime.min.replace(tzinfo=timezone.utc)) if matched else None


_PRICING_WORDS = {"on demand": "on-demand", "spot": "spot", "commit 1": "1-year commitment",
                  "commit 3": "3-year commitment"}


def _composed(shape: Shape, rates: list[GcpRate], pricing: str, region: str) -> tuple[Decimal | None, datetime | None, str]:
    """vCPUs x the family's core rate + GiB x its ram rate, the later effective time, or why not."""
    family = shape.family.upper() or gcp_family(shape.type)
    core, ram = (_rate(rates, family, res, pricing, region) for res in ("core", "ram"))
    missing = [res for res, rate in (("vCPU", core), ("memory", ram)) if rate is None]
    if missing:
        return None, None, (f"the catalog has no {_PRICING_WORDS[pricing]} {family} {' or '.join(missing)} SKU "
                            f"for {region}")
    price = core.price * shape.vcpus + ram.price * Decimal(shape.memory_mib) / _MIB_PER_GIB
    times = [t for t in (core.effective, ram.effective) if t is not None]
    return price, max(times) if times else None, ""


def _not_composable(shape: Shape) -> str:
    """Why a machine type's price cannot be composed from per-vCPU and per-GiB SKUs, or ""."""
    if _SHARED_CORE.match(shape.type):
        return (f"{shape.type} is a shared-core type, billed as a fraction of a vCPU that the catalog's per-vCPU "
                "SKUs do not give")
    if "-custom-" in shape.type:
        return f"{shape.type} is a custom type, priced by the Custom SKUs, which are not read"
    if shape.vcpus <= 0 or shape.memory_mib <= 0:
        return f"the vCPUs and memory of {shape.type} are not known, and a Compute Engine price is composed from them"
    return ""


def gcp_shape_price(shape: Shape, region: str, rates: list[GcpRate]) -> ShapePrice:
    """On-demand and spot hourly prices of a predefined machine type: vCPUs x core + GiB x ram."""
    why_not = _not_composable(shape)
    if why_not:
        return unpriced(shape, region, GCP_SOURCE, why_not)
    on_demand, od_time, od_note = _composed(shape, rates, "on demand", region)
    spot, spot_time, spot_note = _composed(shape, rates, "spot", region)
    currencies = {r.currency for r in rates}
    return ShapePrice(shape=shape, region=region, currency=currencies.pop() if len(currencies) == 1 else "USD",
                      on_demand_hourly=on_demand, spot_hourly=spot, on_demand_effective=od_time,
                      spot_effective=spot_time, source=GCP_SOURCE, note="; ".join(n for n in (od_note, spot_note) if n))


def gcp_commitments(shape: Shape, region: str, rates: list[GcpRate]) -> list[CommitmentPrice]:
    """The 1- and 3-year resource-based commitment hourly prices of a predefined machine type."""
    out = []
    for years in (1, 3):
        why_not = _not_composable(shape)
        price, effective, note = (None, None, why_not) if why_not else _composed(shape, rates, f"commit {years}", region)
        out.append(CommitmentPrice(shape, region, years, price, effective=effective, source=GCP_SOURCE, note=note))
    return out
