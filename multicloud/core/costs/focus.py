"""The FinOps FOCUS 1.2 schema this project writes: every column with its Arrow type, whether the
spec makes it mandatory and whether it may be null, and the allowed values of the enumerated ones;
`validate` checks a table against those rules and says which rows break which rule."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

DECIMAL = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("us", tz="UTC")
STRING = pa.string()


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    mandatory: bool = False
    nullable: bool = True
    allowed: tuple[str, ...] = ()


CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_CLASSES = ("Correction",)
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")
COMMITMENT_STATUSES = ("Used", "Unused")
COMMITMENT_CATEGORIES = ("Spend", "Usage")
SERVICE_CATEGORIES = (
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
    "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
    "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
    "Storage", "Web", "Other",
)

COLUMNS: tuple[Column, ...] = (
    # The 21 mandatory columns. Mandatory is not never-null: the spec lets these five be null.
    Column("BilledCost", DECIMAL, True, False),
    Column("BillingAccountId", STRING, True, False),
    Column("BillingAccountName", STRING, True, True),
    Column("BillingCurrency", STRING, True, False),
    Column("BillingPeriodStart", TIMESTAMP, True, False),
    Column("BillingPeriodEnd", TIMESTAMP, True, False),
    Column("ChargeCategory", STRING, True, False, CHARGE_CATEGORIES),
    Column("ChargeClass", STRING, True, True, CHARGE_CLASSES),
    Column("ChargeDescription", STRING, True, True),
    Column("ChargePeriodStart", TIMESTAMP, True, False),
    Column("ChargePeriodEnd", TIMESTAMP, True, False),
    Column("ContractedCost", DECIMAL, True, False),
    Column("EffectiveCost", DECIMAL, True, False),
    Column("InvoiceIssuerName", STRING, True, False),
    Column("ListCost", DECIMAL, True, False),
    Column("PricingQuantity", DECIMAL, True, True),
    Column("PricingUnit", STRING, True, True),
    Column("ProviderName", STRING, True, False),
    Column("PublisherName", STRING, True, False),
    Column("ServiceCategory", STRING, True, False, SERVICE_CATEGORIES),
    Column("ServiceName", STRING, True, False),
    # Conditional columns carried when the source has them.
    Column("RegionId", STRING),
    Column("RegionName", STRING),
    Column("AvailabilityZone", STRING),
    Column("ResourceId", STRING),
    Column("ResourceName", STRING),
    Column("ResourceType", STRING),
    Column("SubAccountId", STRING),
    Column("SubAccountName", STRING),
    Column("Tags", STRING),
    Column("SkuId", STRING),
    Column("SkuPriceId", STRING),
    Column("ListUnitPrice", DECIMAL),
    Column("ContractedUnitPrice", DECIMAL),
    Column("PricingCategory", STRING, allowed=PRICING_CATEGORIES),
    Column("ConsumedQuantity", DECIMAL),
    Column("ConsumedUnit", STRING),
    Column("CommitmentDiscountId", STRING),
    Column("CommitmentDiscountName", STRING),
    Column("CommitmentDiscountType", STRING),
    Column("CommitmentDiscountCategory", STRING, allowed=COMMITMENT_CATEGORIES),
    Column("CommitmentDiscountStatus", STRING, allowed=COMMITMENT_STATUSES),
    Column("InvoiceId", STRING),
)
BY_NAME = {c.name: c for c in COLUMNS}
MANDATORY = tuple(c.name for c in COLUMNS if c.mandatory)
SCHEMA = pa.schema([pa.field(c.name, c.type) for c in COLUMNS])
EXTENSION_PREFIX = "x_"


@dataclass(frozen=True)
class Violation:
    column: str
    rule: str
    rows: int
    example: str = ""

    def __str__(self) -> str:
        example = f" (e.g. {self.example})" if self.example else ""
        return f"{self.column}: {self.rule}: {self.rows} row(s){example}"


def validate(table: pa.Table) -> list[Violation]:
    """Every FOCUS 1.2 rule `table` breaks: mandatory columns present with the spec's types, no
    nulls where the spec forbids them (also the conditional rules: pricing columns on usage and
    purchases but not on tax, commitment status, type and category with a commitment id and only
    then), enumerated values in their allowed sets, half-open periods (start before end), Tags a
    JSON object, currency a three-letter code, and any column outside the spec named with the `x_`
    prefix. An empty list means the table conforms."""
    found: list[Violation] = []
    names = set(table.column_names)
    for col in COLUMNS:
        if col.name not in names:
            if col.mandatory:
                found.append(Violation(col.name, "mandatory column missing", table.num_rows))
            continue
        values = table.column(col.name)
        if not values.type.equals(col.type):
            found.append(Violation(col.name, f"type {values.type}, expected {col.type}", table.num_rows))
            continue
        if not col.nullable and values.null_count:
            found.append(Violation(col.name, "null where the spec forbids it", values.null_count))
        if col.allowed:
            bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, pa.array(col.allowed))))
            _flag(found, table, col.name, bad, f"value outside {list(col.allowed)}")
    for other in names - set(BY_NAME):
        if not other.startswith(EXTENSION_PREFIX):
            found.append(Violation(other, "column outside the spec without the x_ prefix", table.num_rows))
    for start, end in (("ChargePeriodStart", "ChargePeriodEnd"), ("BillingPeriodStart", "BillingPeriodEnd")):
        if {start, end} <= names and table.column(start).type.equals(TIMESTAMP):
            _flag(found, table, start, pc.greater_equal(table.column(start), table.column(end)),
                  f"not before {end} (periods are half-open)")
    if "BillingCurrency" in names:
        _flag(found, table, "BillingCurrency",
              pc.invert(pc.match_substring_regex(table.column("BillingCurrency"), r"^[A-Z]{3}$")),
              "not an ISO 4217 code")
    for column, rule, mask in _conditional(table, names):
        _flag(found, table, column, mask, rule)
    if "Tags" in names:
        tags = table.column("Tags")
        _flag(found, table, "Tags", pc.and_(pc.is_valid(tags), pc.invert(
            pc.match_substring_regex(tags, r"^\{.*\}$"))), "not a JSON object")
    return found


def _conditional(table: pa.Table, names: set[str]):
    """FOCUS 1.2's nullability rules that depend on other columns, as (column, rule, mask)."""
    if not {"ChargeCategory", "ChargeClass"} <= names:
        return
    category, charge_class = table.column("ChargeCategory"), table.column("ChargeClass")
    regular = pc.and_(pc.is_in(category, pa.array(["Usage", "Purchase"])), pc.is_null(charge_class))
    tax = pc.equal(category, "Tax")
    for column in ("PricingQuantity", "PricingUnit", "PricingCategory"):
        if column in names:
            values = table.column(column)
            yield column, "null on a Usage or Purchase row that is not a correction", pc.and_(regular, pc.is_null(values))
            yield column, "not null on a Tax row", pc.and_(tax, pc.is_valid(values))
    if "CommitmentDiscountId" in names:
        committed = pc.is_valid(table.column("CommitmentDiscountId"))
        if "CommitmentDiscountStatus" in names:
            status = table.column("CommitmentDiscountStatus")
            yield ("CommitmentDiscountStatus", "null on a Usage row with a CommitmentDiscountId",
                   pc.and_(pc.and_(committed, pc.equal(category, "Usage")), pc.is_null(status)))
            yield "CommitmentDiscountStatus", "not null without a CommitmentDiscountId", pc.and_(
                pc.invert(committed), pc.is_valid(status))
        for column in ("CommitmentDiscountType", "CommitmentDiscountCategory"):
            if column in names:
                yield column, "null with a CommitmentDiscountId", pc.and_(committed, pc.is_null(table.column(column)))
                yield column, "not null without a CommitmentDiscountId", pc.and_(
                    pc.invert(committed), pc.is_valid(table.column(column)))


def _flag(found: list[Violation], table: pa.Table, column: str, mask, rule: str) -> None:
    mask = pc.fill_null(mask, False)
    count = pc.sum(mask).as_py() or 0
    if count:
        example = table.column(column).filter(mask)[0].as_py()
        found.append(Violation(column, rule, count, repr(example)))


def empty_table() -> pa.Table:
    return SCHEMA.empty_table()
