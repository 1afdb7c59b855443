"""The mapping tables: one `SourceSpec` per native export kind, each saying, column by column, how
that export becomes FOCUS 1.2. What cannot be said as a table (tags to JSON, GCP credit sums,
invoice months in Pacific time) is a small `prepare` function beside its table."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multicloud.core.costs import focus, lookups
from multicloud.core.costs.mapping import (
    Add, All, AnyOf, Case, Coalesce, Col, Const, Contains, In, Lookup, Mul, Negative, Not, PlusDays,
    READER_ERROR, Present, SourceSpec, Sub, map_distinct,
)

ZERO = Const(0)

# --------------------------------------------------------------------------------------------
# Tags as one JSON object per row.


def tags_json(pairs: dict[str, object]) -> str | None:
    clean = {str(k): str(v) for k, v in pairs.items() if v not in (None, "")}
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _tag_columns_json(table: pa.Table, columns: dict[str, str]):
    """JSON objects from one column per tag key ({key: column}), built from the distinct
    combinations so the cost follows the number of distinct tag sets, not rows."""
    n = table.num_rows
    if not columns:
        return pa.repeat(pa.scalar("{}"), n)
    keys = list(columns)
    parts = []
    for key in keys:
        values = table.column(columns[key])
        values = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
        parts.append(pc.fill_null(values, ""))
    sep = "\x1f"
    joined = pc.binary_join_element_wise(*parts, sep) if len(parts) > 1 else parts[0]
    return map_distinct(joined, lambda text: tags_json(dict(zip(keys, text.split(sep)))))


def _loose_json_tags(text: str | None) -> str:
    """Azure tags: MCA writes a JSON object, EA the object's inside without braces."""
    if text is None or not text.strip():
        return "{}"
    body = text.strip()
    if not body.startswith("{"):
        body = "{" + body + "}"
    try:
        value = json.loads(body)
    except ValueError:
        return tags_json({"x_unparsed": text})
    return tags_json(value if isinstance(value, dict) else {"x_unparsed": text})


# --------------------------------------------------------------------------------------------
# AWS Cost and Usage Report (legacy CSV and Parquet, CUR 2.0): columns in snake_case, which the
# reader derives from legacy CSV names (`lineItem/UnblendedCost` → `line_item_unblended_cost`).

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    """AWS's rule for CUR column names in Parquet: camelCase split, lowercase, non-alphanumerics
    to underscores (`savingsPlan/SavingsPlanARN` → `savings_plan_savings_plan_a_r_n`)."""
    return re.sub(r"[^0-9a-z]+", "_", "_".join(_SNAKE.sub("_", part) for part in name.split("/")).lower())


def _aws_prepare(table: pa.Table) -> pa.Table:
    tag_cols = {}
    for name in table.column_names:
        if name.startswith("resource_tags_"):
            key = name[len("resource_tags_"):]
            tag_cols[key[5:] if key.startswith("user_") else key] = name
    if "resource_tags" in table.column_names and not pa.types.is_null(table.column("resource_tags").type):
        tags = pairs_json(table, [("resource_tags", "")], strip="user_")
    else:
        tags = _tag_columns_json(table, tag_cols)
    return table.append_column("_tags", tags)


_AWS_TYPE = "line_item_line_item_type"
_AWS_COST = Coalesce((Col("line_item_net_unblended_cost"), Col("line_item_unblended_cost")))
_AWS_SP = "savings_plan_savings_plan_a_r_n"
_AWS_RI = "reservation_reservation_a_r_n"
_AWS_USAGE = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")
_AWS_PURCHASES = ("Fee", "RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee")

AWS_CUR = SourceSpec(
    name="aws-cur",
    provider="aws",
    required=("bill_payer_account_id", "bill_billing_period_start_date", "bill_billing_period_end_date",
              "line_item_usage_account_id", _AWS_TYPE, "line_item_usage_start_date", "line_item_usage_end_date",
              "line_item_product_code", "line_item_currency_code", "line_item_unblended_cost"),
    optional=("bill_payer_account_name", "bill_invoicing_entity", "bill_invoice_id", "line_item_usage_account_name",
              "line_item_net_unblended_cost", "line_item_usage_type", "line_item_operation",
              "line_item_availability_zone", "line_item_resource_id", "line_item_usage_amount",
              "line_item_unblended_rate", "line_item_line_item_description", "product_product_name",
              "product_region_code", "product_region", "product_sku", "pricing_unit", "pricing_public_on_demand_cost",
              "pricing_public_on_demand_rate", "reservation_effective_cost",
              "reservation_unused_amortized_upfront_fee_for_billing_period", "reservation_unused_recurring_fee",
              _AWS_RI, _AWS_SP, "savings_plan_savings_plan_effective_cost",
              "savings_plan_total_commitment_to_date", "savings_plan_used_commitment"),
    decimals=("line_item_unblended_cost", "line_item_net_unblended_cost", "line_item_usage_amount",
              "line_item_unblended_rate", "pricing_public_on_demand_cost", "pricing_public_on_demand_rate",
              "reservation_effective_cost", "reservation_unused_amortized_upfront_fee_for_billing_period",
              "reservation_unused_recurring_fee", "savings_plan_savings_plan_effective_cost",
              "savings_plan_total_commitment_to_date", "savings_plan_used_commitment"),
    timestamps={c: ("iso",) for c in ("bill_billing_period_start_date", "bill_billing_period_end_date",
                                      "line_item_usage_start_date", "line_item_usage_end_date")},
    currencies=("line_item_currency_code",),
    strict={_AWS_TYPE: tuple(lookups.AWS_CHARGE_CATEGORY)},
    prepare=_aws_prepare,
    control=_AWS_COST,
    columns={
        "BilledCost": _AWS_COST,
        "BillingAccountId": Col("bill_payer_account_id"),
        "BillingAccountName": Col("bill_payer_account_name"),
        "BillingCurrency": Col("line_item_currency_code"),
        "BillingPeriodStart": Col("bill_billing_period_start_date"),
        "BillingPeriodEnd": Col("bill_billing_period_end_date"),
        "ChargeCategory": Lookup(_AWS_TYPE, lookups.AWS_CHARGE_CATEGORY),
        "ChargeClass": Case(((In(_AWS_TYPE, ("Refund",)), Const("Correction")),)),
        "ChargeDescription": Col("line_item_line_item_description"),
        "ChargePeriodStart": Col("line_item_usage_start_date"),
        "ChargePeriodEnd": Col("line_item_usage_end_date"),
        "ContractedCost": Case(((All((In(_AWS_TYPE, ("Usage",)), Present("line_item_unblended_rate"),
                                      Present("line_item_usage_amount"))),
                                 Mul(Col("line_item_unblended_rate"), Col("line_item_usage_amount"))),
                                (In(_AWS_TYPE, ("DiscountedUsage",)),
                                 Coalesce((Col("pricing_public_on_demand_cost"), ZERO))),
                                (In(_AWS_TYPE, ("SavingsPlanNegation",)), ZERO)), _AWS_COST),
        "EffectiveCost": Case((
            (In(_AWS_TYPE, ("SavingsPlanCoveredUsage",)), Coalesce((Col("savings_plan_savings_plan_effective_cost"), ZERO))),
            (In(_AWS_TYPE, ("DiscountedUsage",)), Coalesce((Col("reservation_effective_cost"), ZERO))),
            (In(_AWS_TYPE, ("RIFee",)), Add(Coalesce((Col("reservation_unused_amortized_upfront_fee_for_billing_period"), ZERO)),
                                            Coalesce((Col("reservation_unused_recurring_fee"), ZERO)))),
            (In(_AWS_TYPE, ("SavingsPlanRecurringFee",)), Sub(Coalesce((Col("savings_plan_total_commitment_to_date"), ZERO)),
                                                              Coalesce((Col("savings_plan_used_commitment"), ZERO)))),
            (In(_AWS_TYPE, ("SavingsPlanUpfrontFee", "SavingsPlanNegation")), ZERO),
        ), _AWS_COST),
        "InvoiceIssuerName": Coalesce((Col("bill_invoicing_entity"), Const("Amazon Web Services, Inc."))),
        "ListCost": Case(((In(_AWS_TYPE, _AWS_USAGE), Coalesce((Col("pricing_public_on_demand_cost"), _AWS_COST))),), ZERO),
        # Tax rows carry no pricing; a purchase without a unit in the CUR is priced per unit.
        "PricingQuantity": Case(((In(_AWS_TYPE, ("Tax",)), Const(None)),
                                 (In(_AWS_TYPE, _AWS_PURCHASES), Coalesce((Col("line_item_usage_amount"), Const(1))))),
                                Col("line_item_usage_amount")),
        "PricingUnit": Case(((In(_AWS_TYPE, ("Tax",)), Const(None)),
                             (In(_AWS_TYPE, _AWS_PURCHASES), Coalesce((Col("pricing_unit"), Const("Units"))))),
                            Col("pricing_unit")),
        "ProviderName": Const("AWS"),
        "PublisherName": Const("AWS"),
        "ServiceCategory": Lookup("line_item_product_code", lookups.AWS_SERVICE_CATEGORY, "Other"),
        "ServiceName": Coalesce((Col("product_product_name"), Col("line_item_product_code"))),
        "RegionId": Coalesce((Col("product_region_code"), Col("product_region"))),
        "RegionName": Lookup("product_region_code", lookups.REGION_NAMES),
        "AvailabilityZone": Col("line_item_availability_zone"),
        "ResourceId": Col("line_item_resource_id"),
        "SubAccountId": Col("line_item_usage_account_id"),
        "SubAccountName": Col("line_item_usage_account_name"),
        "Tags": Col("_tags"),
        "SkuId": Col("product_sku"),
        "ListUnitPrice": Col("pricing_public_on_demand_rate"),
        "ContractedUnitPrice": Case(((In(_AWS_TYPE, ("Usage",)), Col("line_item_unblended_rate")),)),
        "PricingCategory": Case((
            (In(_AWS_TYPE, ("DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")), Const("Committed")),
            (All((In(_AWS_TYPE, ("Usage",)), Contains("line_item_usage_type", "SpotUsage"))), Const("Dynamic")),
            (In(_AWS_TYPE, ("Usage",)), Const("Standard")),
            (In(_AWS_TYPE, ("RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee")), Const("Committed")),
            (In(_AWS_TYPE, ("Fee",)), Const("Standard")),
        )),
        "ConsumedQuantity": Case(((In(_AWS_TYPE, _AWS_USAGE), Col("line_item_usage_amount")),)),
        "ConsumedUnit": Case(((In(_AWS_TYPE, _AWS_USAGE), Col("pricing_unit")),)),
        "CommitmentDiscountId": Case(((Present(_AWS_SP), Col(_AWS_SP)), (Present(_AWS_RI), Col(_AWS_RI)))),
        "CommitmentDiscountType": Case(((Present(_AWS_SP), Const("Savings Plan")),
                                        (Present(_AWS_RI), Const("Reserved Instance")))),
        "CommitmentDiscountCategory": Case(((Present(_AWS_SP), Const("Spend")), (Present(_AWS_RI), Const("Usage")))),
        "CommitmentDiscountStatus": Case(((In(_AWS_TYPE, ("DiscountedUsage", "SavingsPlanCoveredUsage",
                                                          "SavingsPlanNegation")), Const("Used")),)),
        "InvoiceId": Col("bill_invoice_id"),
    },
    extensions={"x_ChargeType": Col(_AWS_TYPE), "x_UsageType": Col("line_item_usage_type"),
                "x_ServiceCode": Col("line_item_product_code")},
)

# --------------------------------------------------------------------------------------------
# Azure cost details (EA and MCA, actual and amortized): the reader lower-cases column names and
# adds `_dataset` ("actual" or "amortized"). BilledCost comes from actual cost and EffectiveCost
# from amortized cost: amortized rows carry all usage, actual rows only the commitment purchases
# and refunds, which amortized data spreads over the usage instead.

_AZ_COST = Col("costinbillingcurrency")
_AZ_COMMIT = In("pricingmodel", ("Reservation", "SavingsPlan"))
_AZ_PURCHASE = In("chargetype", ("Purchase", "Refund"))
_AZ_ACTUAL = In("_dataset", ("actual",))
_AZ_AMORTIZED = In("_dataset", ("amortized",))
_AZ_MCA = Present("invoicesectionid")


def _azure_region(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.replace(" ", "").lower()
    return lookups.AZURE_REGION_ALIASES.get(key, key)


def _azure_prepare(table: pa.Table) -> pa.Table:
    table = table.append_column("_tags", map_distinct(table.column("tags"), _loose_json_tags))
    table = table.append_column("_region", map_distinct(table.column("resourcelocation"), _azure_region))
    unit = map_distinct(table.column("unitofmeasure"),
                        lambda u: re.sub(r"^\s*[\d.,]+\s+", "", u) if u else None)
    table = table.append_column("_unit", unit)
    rtype = map_distinct(table.column("resourceid"), _azure_resource_type)
    table = table.append_column("_resource_type", rtype)
    consumed = map_distinct(table.column("consumedservice"), lambda v: v.lower() if v else None)
    return table.append_column("_consumed", consumed)


def _azure_resource_type(resource_id: str | None) -> str | None:
    if not resource_id:
        return None
    match = re.search(r"/providers/([^/]+/[^/]+)", resource_id, re.IGNORECASE)
    return match.group(1).lower() if match else None


AZURE_COST_DETAILS = SourceSpec(
    name="azure-cost-details",
    provider="azure",
    aliases={"billingcurrencycode": "billingcurrency", "resourcegroupname": "resourcegroup"},
    required=("date", "billingperiodstartdate", "billingperiodenddate", "subscriptionid", "metercategory",
              "costinbillingcurrency", "billingcurrency", "chargetype", "_dataset"),
    optional=("billingaccountid", "billingaccountname", "billingprofileid", "billingprofilename", "invoicesectionid",
              "invoiceid", "subscriptionname", "consumedservice", "resourceid", "resourcename", "resourcelocation",
              "resourcegroup", "tags", "productid", "productname", "product", "meterid", "quantity", "unitprice",
              "unitofmeasure", "paygcostinbillingcurrency", "pricingmodel", "benefitid", "benefitname",
              "reservationid", "reservationname", "publishername", "partnername", "availabilityzone"),
    decimals=("costinbillingcurrency", "paygcostinbillingcurrency", "quantity", "unitprice"),
    timestamps={c: ("%m/%d/%Y", "iso") for c in ("date", "billingperiodstartdate", "billingperiodenddate")},
    currencies=("billingcurrency",),
    strict={"chargetype": tuple(lookups.AZURE_CHARGE_CATEGORY)},
    prepare=_azure_prepare,
    keep=AnyOf((All((_AZ_ACTUAL, _AZ_COMMIT, _AZ_PURCHASE)), All((_AZ_AMORTIZED, Not(All((_AZ_COMMIT, _AZ_PURCHASE))))))),
    control=Case(((_AZ_ACTUAL, _AZ_COST),), ZERO),
    columns={
        "BilledCost": Case(((All((_AZ_AMORTIZED, _AZ_COMMIT)), ZERO),), _AZ_COST),
        "BillingAccountId": Case(((_AZ_MCA, Col("billingprofileid")),), Col("billingaccountid")),
        "BillingAccountName": Case(((_AZ_MCA, Col("billingprofilename")),), Col("billingaccountname")),
        "BillingCurrency": Col("billingcurrency"),
        "BillingPeriodStart": Col("billingperiodstartdate"),
        "BillingPeriodEnd": PlusDays(Col("billingperiodenddate"), 1),
        "ChargeCategory": Lookup("chargetype", lookups.AZURE_CHARGE_CATEGORY),
        "ChargeClass": Case(((In("chargetype", ("Refund",)), Const("Correction")),)),
        "ChargeDescription": Coalesce((Col("productname"), Col("product"))),
        "ChargePeriodStart": Col("date"),
        "ChargePeriodEnd": PlusDays(Col("date"), 1),
        "ContractedCost": Case(((All((Present("unitprice"), Present("quantity"), Not(_AZ_PURCHASE))),
                                 Mul(Col("unitprice"), Col("quantity"))),), _AZ_COST),
        "EffectiveCost": Case(((_AZ_ACTUAL, ZERO),), _AZ_COST),
        "InvoiceIssuerName": Coalesce((Col("partnername"), Const("Microsoft"))),
        "ListCost": Coalesce((Col("paygcostinbillingcurrency"), _AZ_COST)),
        "PricingQuantity": Col("quantity"),
        "PricingUnit": Col("_unit"),
        "ProviderName": Const("Microsoft"),
        "PublisherName": Coalesce((Col("publishername"), Const("Microsoft"))),
        "ServiceCategory": Lookup("_consumed", lookups.AZURE_SERVICE_CATEGORY, "Other"),
        "ServiceName": Col("metercategory"),
        "RegionId": Col("_region"),
        "RegionName": Lookup("_region", lookups.REGION_NAMES),
        "AvailabilityZone": Col("availabilityzone"),
        "ResourceId": Col("resourceid"),
        "ResourceName": Col("resourcename"),
        "ResourceType": Col("_resource_type"),
        "SubAccountId": Col("subscriptionid"),
        "SubAccountName": Col("subscriptionname"),
        "Tags": Col("_tags"),
        "SkuId": Coalesce((Col("productid"), Col("meterid"))),
        "ContractedUnitPrice": Col("unitprice"),
        "PricingCategory": Lookup("pricingmodel", {"OnDemand": "Standard", "Reservation": "Committed",
                                                   "SavingsPlan": "Committed", "Spot": "Dynamic"}),
        "ConsumedQuantity": Case(((In("chargetype", ("Usage",)), Col("quantity")),)),
        "ConsumedUnit": Case(((In("chargetype", ("Usage",)), Col("_unit")),)),
        "CommitmentDiscountId": Case(((_AZ_COMMIT, Coalesce((Col("benefitid"), Col("reservationid")))),)),
        "CommitmentDiscountName": Case(((_AZ_COMMIT, Coalesce((Col("benefitname"), Col("reservationname")))),)),
        "CommitmentDiscountType": Lookup("pricingmodel", {"Reservation": "Reservation", "SavingsPlan": "Savings Plan"}),
        "CommitmentDiscountCategory": Lookup("pricingmodel", {"Reservation": "Usage", "SavingsPlan": "Spend"}),
        "CommitmentDiscountStatus": Case(((In("chargetype", ("UnusedReservation", "UnusedSavingsPlan")), Const("Unused")),
                                          (All((_AZ_COMMIT, In("chargetype", ("Usage",)))), Const("Used")))),
        "InvoiceId": Col("invoiceid"),
    },
    extensions={"x_ChargeType": Col("chargetype"), "x_ResourceGroupName": Col("resourcegroup"),
                "x_ServiceCode": Col("consumedservice")},
)


# --------------------------------------------------------------------------------------------
# Google Cloud billing export to BigQuery (standard and detailed), as read from extracts: the
# reader flattens records to dotted names (`service.description`) and keeps repeated fields
# (labels, credits) as lists. BilledCost is cost plus all credits.

_LA = ZoneInfo("America/Los_Angeles")
_CUD_TYPES = ("COMMITTED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE")


def invoice_month_bounds(month: str | None) -> tuple[datetime | None, datetime | None]:
    """`202610` → (2026-10-01 00:00 and 2026-11-01 00:00 in America/Los_Angeles, as UTC): Google
    bills by Pacific-time months."""
    if not month or not re.fullmatch(r"\d{6}", month.strip()):
        return None, None
    year, mon = int(month[:4]), int(month[4:6])
    if not 1 <= mon <= 12:
        return None, None
    start = datetime(year, mon, 1, tzinfo=_LA)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=_LA)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def _gcp_prepare(table: pa.Table) -> pa.Table:
    n = table.num_rows
    month = table.column("invoice.month")
    month = month if pa.types.is_string(month.type) else pc.cast(month, pa.string())
    starts = map_distinct(month, lambda m: invoice_month_bounds(m)[0], focus.TIMESTAMP)
    ends = map_distinct(month, lambda m: invoice_month_bounds(m)[1], focus.TIMESTAMP)
    credits, cud_id, cud_type = _credit_columns(table.column("credits"), n)
    if READER_ERROR in table.column_names:  # credits that could not be read are unknown, not zero
        credits = pc.if_else(pc.is_valid(table.column(READER_ERROR)), pa.scalar(None, focus.DECIMAL), credits)
    tags = _gcp_tags(table)
    for name, values in (("_bp_start", starts), ("_bp_end", ends), ("_credits", credits), ("_cud_id", cud_id),
                         ("_cud_type", cud_type), ("_tags", tags)):
        table = table.append_column(name, values)
    return table


def _credit_columns(credits, n: int):
    """(Σ credits.amount per row as exact decimals, first CUD credit id, its type)."""
    credits = credits.combine_chunks() if isinstance(credits, pa.ChunkedArray) else credits
    if (pa.types.is_null(credits.type) or not len(credits) or not pa.types.is_list(credits.type)
            or not pa.types.is_struct(credits.type.value_type)):
        zero = pa.repeat(pa.scalar(0, focus.DECIMAL), n)
        return zero, pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    parents = pc.list_parent_indices(credits)
    items = pc.list_flatten(credits)
    amounts = pc.cast(pc.cast(pc.struct_field(items, "amount"), pa.string()), focus.DECIMAL, safe=False)
    sums = pa.table({"row": parents, "amount": amounts}).group_by("row").aggregate([("amount", "sum")])
    total = pa.array(_scatter(sums.column("row"), sums.column("amount_sum"), n, focus.DECIMAL))
    total = pc.fill_null(total, pa.scalar(0, focus.DECIMAL))
    types = pc.struct_field(items, "type")
    is_cud = pc.fill_null(pc.is_in(types, pa.array(_CUD_TYPES)), False)
    cud_rows = pc.filter(parents, is_cud)
    cud_ids = pc.filter(pc.struct_field(items, "id"), is_cud)
    cud_types = pc.filter(types, is_cud)
    return (total, pa.array(_scatter(cud_rows, cud_ids, n, pa.string())),
            pa.array(_scatter(cud_rows, cud_types, n, pa.string())))


def _scatter(rows, values, n: int, type_: pa.DataType):
    """An n-long array with values[i] at rows[i] (first one wins), null elsewhere."""
    rows = rows.combine_chunks() if isinstance(rows, pa.ChunkedArray) else rows
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not len(rows):
        return pa.nulls(n, type_)
    index = np.full(n, -1, dtype=np.int64)
    r = rows.to_numpy(zero_copy_only=False).astype(np.int64)
    index[r[::-1]] = np.arange(len(r), dtype=np.int64)[::-1]
    mask = index < 0
    index[mask] = 0
    taken = values.take(pa.array(index))
    return pc.if_else(pa.array(mask), pa.scalar(None, type_), pc.cast(taken, type_))


def _gcp_tags(table: pa.Table):
    """labels and system_labels as they are, project labels as `project:<key>`."""
    return pairs_json(table, [("labels", ""), ("system_labels", ""), ("project.labels", "project:")])


def pairs_json(table: pa.Table, sources: list[tuple[str, str]], strip: str = ""):
    """Tags JSON from key/value list (or map) columns, each with a key prefix; a leading `strip`
    is removed from keys. Built per distinct tag set, not per row."""
    n = table.num_rows
    parts = []
    for name, prefix in sources:
        if name not in table.column_names:
            continue
        col = table.column(name)
        if not (pa.types.is_map(col.type) or (pa.types.is_list(col.type) and pa.types.is_struct(col.type.value_type))):
            continue  # absent from this export, or empty in every row of this chunk
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        # Offsets index the underlying values (not the flattened view) even in a sliced array.
        if pa.types.is_map(col.type):
            keys, values = col.keys, col.items
        else:
            keys, values = pc.struct_field(col.values, [0]), pc.struct_field(col.values, [1])
        values = pc.fill_null(values, "")
        pairs = pc.binary_join_element_wise(keys, values, "\x1e")
        if prefix:
            pairs = pc.binary_join_element_wise(pa.scalar(prefix), pairs, "")
        offsets = col.offsets
        listed = pa.ListArray.from_arrays(offsets, pairs, mask=col.is_null())
        parts.append(pc.fill_null(pc.binary_join(listed, "\x1f"), ""))
    if not parts:
        return pa.repeat(pa.scalar("{}"), n)
    joined = pc.binary_join_element_wise(*parts, "\x1f") if len(parts) > 1 else parts[0]

    def to_json(text: str | None) -> str:
        pairs = [p.split("\x1e", 1) for p in (text or "").split("\x1f") if p]
        return tags_json({(k[len(strip):] if strip and k.startswith(strip) else k): v for k, v in pairs})

    return map_distinct(joined, to_json)


_GCP_BILLED = Add(Col("cost"), Col("_credits"))

GCP_BILLING_EXPORT = SourceSpec(
    name="gcp-billing-export",
    provider="gcp",
    required=("billing_account_id", "service.description", "usage_start_time", "usage_end_time", "cost",
              "currency", "invoice.month", "cost_type", "credits"),
    optional=("service.id", "sku.id", "sku.description", "project.id", "project.name", "location.region",
              "location.zone", "location.location", "resource.name", "resource.global_name", "usage.amount",
              "usage.unit", "usage.amount_in_pricing_units", "usage.pricing_unit", "cost_at_list", "export_time",
              "labels", "system_labels", "project.labels", "seller_name"),
    decimals=("cost", "cost_at_list", "usage.amount", "usage.amount_in_pricing_units"),
    timestamps={c: ("iso",) for c in ("usage_start_time", "usage_end_time", "export_time")},
    currencies=("currency",),
    strict={"cost_type": lookups.GCP_COST_TYPES},
    prepare=_gcp_prepare,
    control=_GCP_BILLED,
    columns={
        "BilledCost": _GCP_BILLED,
        "BillingAccountId": Col("billing_account_id"),
        "BillingCurrency": Col("currency"),
        "BillingPeriodStart": Col("_bp_start"),
        "BillingPeriodEnd": Col("_bp_end"),
        "ChargeCategory": Case(((In("cost_type", ("regular",)), Const("Usage")),
                                (In("cost_type", ("tax",)), Const("Tax")),
                                (All((In("cost_type", ("adjustment",)), Negative(_GCP_BILLED))), Const("Credit"))),
                               Const("Adjustment")),
        "ChargeClass": Case(((In("cost_type", ("adjustment",)), Const("Correction")),)),
        "ChargeDescription": Col("sku.description"),
        "ChargePeriodStart": Col("usage_start_time"),
        "ChargePeriodEnd": Col("usage_end_time"),
        "ContractedCost": Col("cost"),
        "EffectiveCost": _GCP_BILLED,
        "InvoiceIssuerName": Const("Google"),
        "ListCost": Coalesce((Col("cost_at_list"), Col("cost"))),
        "PricingQuantity": Case(((In("cost_type", ("tax",)), Const(None)),), Col("usage.amount_in_pricing_units")),
        "PricingUnit": Case(((In("cost_type", ("tax",)), Const(None)),), Col("usage.pricing_unit")),
        "ProviderName": Const("Google Cloud"),
        "PublisherName": Coalesce((Col("seller_name"), Const("Google Cloud"))),
        "ServiceCategory": Lookup("service.description", lookups.GCP_SERVICE_CATEGORY, "Other"),
        "ServiceName": Col("service.description"),
        "RegionId": Col("location.region"),
        "RegionName": Lookup("location.region", lookups.REGION_NAMES),
        "AvailabilityZone": Col("location.zone"),
        "ResourceId": Col("resource.global_name"),
        "ResourceName": Col("resource.name"),
        "SubAccountId": Col("project.id"),
        "SubAccountName": Col("project.name"),
        "Tags": Col("_tags"),
        "SkuId": Col("sku.id"),
        "PricingCategory": Case(((Present("_cud_id"), Const("Committed")),
                                 (In("cost_type", ("regular",)), Const("Standard")))),
        "ConsumedQuantity": Case(((In("cost_type", ("regular",)), Col("usage.amount")),)),
        "ConsumedUnit": Case(((In("cost_type", ("regular",)), Col("usage.unit")),)),
        "CommitmentDiscountId": Col("_cud_id"),
        "CommitmentDiscountType": Case(((Present("_cud_id"), Const("Committed Use Discount")),)),
        "CommitmentDiscountCategory": Case(((In("_cud_type", ("COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE",)), Const("Spend")),
                                            (Present("_cud_id"), Const("Usage")))),
        "CommitmentDiscountStatus": Case(((Present("_cud_id"), Const("Used")),)),
    },
    extensions={"x_ChargeType": Col("cost_type"), "x_ServiceCode": Col("service.id"),
                "x_ExportTime": Col("export_time")},
)

# --------------------------------------------------------------------------------------------
# Native FOCUS exports (AWS "FOCUS 1.2 with AWS columns", Azure FocusCost, the GCP FOCUS view):
# the columns are already FOCUS; they are typed, checked and carried as they are.


def _focus_spec(name: str, provider: str, extensions: dict[str, str]) -> SourceSpec:
    money = tuple(c.name for c in focus.COLUMNS if c.type.equals(focus.DECIMAL))
    times = {c.name: ("iso",) for c in focus.COLUMNS if c.type.equals(focus.TIMESTAMP)}
    return SourceSpec(
        name=name,
        provider=provider,
        required=focus.MANDATORY,
        optional=tuple(c.name for c in focus.COLUMNS if not c.mandatory) + tuple(extensions.values()),
        decimals=money,
        timestamps={**times, **({"x_ExportTime": ("iso",)} if "x_ExportTime" in extensions.values() else {})},
        currencies=("BillingCurrency",),
        strict={"ChargeCategory": focus.CHARGE_CATEGORIES, "ServiceCategory": focus.SERVICE_CATEGORIES},
        allowed={c.name: c.allowed for c in focus.COLUMNS if c.allowed and c.nullable},
        control=Col("BilledCost"),
        columns={c.name: Col(c.name) for c in focus.COLUMNS},
        extensions={k: Col(v) for k, v in extensions.items()},
    )


AWS_FOCUS = _focus_spec("aws-focus", "aws", {"x_UsageType": "x_UsageType", "x_ServiceCode": "x_ServiceCode"})
AZURE_FOCUS = _focus_spec("azure-focus", "azure", {"x_ResourceGroupName": "x_ResourceGroupName"})
GCP_FOCUS = _focus_spec("gcp-focus", "gcp", {"x_ExportTime": "x_ExportTime"})

SOURCES = {s.name: s for s in (AWS_CUR, AZURE_COST_DETAILS, GCP_BILLING_EXPORT, AWS_FOCUS, AZURE_FOCUS, GCP_FOCUS)}
