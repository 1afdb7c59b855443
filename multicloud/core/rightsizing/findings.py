"""A finding as the rightsizing run reports it: the rule's outcome on one resource, with the target
type chosen for it, its monthly savings (effective, from the FOCUS dataset, and list, from the price
catalogs) and whether the cloud's own advice agrees. Each stage fills its fields with
`dataclasses.replace`; a field left empty says why in its note."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from multicloud.core.rightsizing.evaluate import Outcome, Resource


@dataclass(frozen=True)
class Finding:
    outcome: Outcome
    resource: Resource
    target_type: str = ""
    target_note: str = ""
    monthly_effective_savings: Decimal | None = None
    monthly_list_savings: Decimal | None = None
    currency: str = "USD"
    savings_note: str = ""
    advice: str = ""
    advice_note: str = ""

    @property
    def savings(self) -> Decimal:
        """The figure findings are sorted by: effective savings, else list savings, else 0."""
        for value in (self.monthly_effective_savings, self.monthly_list_savings):
            if value is not None:
                return value
        return Decimal(0)
