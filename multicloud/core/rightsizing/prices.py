"""What every cloud's price and shape readers return for one VM shape in one region: its vCPUs,
memory and architecture, and its hourly on-demand and spot prices with the dates they took effect.
Rightsizing targets, list-price savings and cross-cloud arbitrage all read these records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class Shape:
    """A VM type as its cloud's catalog describes it (None: the catalog does not say)."""

    cloud: str
    type: str
    vcpus: int
    memory_mib: int
    architecture: str = ""
    family: str = ""


@dataclass(frozen=True)
class ShapePrice:
    """The hourly prices of one shape in one region, in `currency`; None where the catalog has no
    such price (e.g. no spot offer), with `note` saying why. `source` names the catalog read
    (e.g. "aws pricing GetProducts", "azure retail prices", "gcp billing catalog")."""

    shape: Shape
    region: str
    currency: str = "USD"
    on_demand_hourly: Decimal | None = None
    spot_hourly: Decimal | None = None
    on_demand_effective: datetime | None = None
    spot_effective: datetime | None = None
    source: str = ""
    note: str = ""
