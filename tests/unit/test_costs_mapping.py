"""Golden rows for every mapping table, the old converter's known mistakes done right, quarantine,
missing columns and reconciliation: pure, no clouds."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from multicloud.core.costs import focus, reconcile
from multicloud.core.costs.mapping import MappingError, normalize_chunk
from multicloud.core.costs.sources import (
    AWS_CUR, AWS_FOCUS, AZURE_COST_DETAILS, GCP_BILLING_EXPORT, invoice_month_bounds, snake_case,
)

UTC = timezone.utc
D = Decimal


def rows_of(result, *columns):
    out = []
    for row in result.focus.to_pylist():
        out.append({c: (row[c].normalize() if isinstance(row[c], Decimal) else row[c]) for c in columns})
    return out


def table(rows: list[dict]) -> pa.Table:
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names})


# ---------------------------------------------------------------------------------------------
# AWS CUR

def cur_row(kind: str, cost: str, **extra) -> dict:
    base = {
        "bill_payer_account_id": "111111111111", "bill_billing_period_start_date": "2026-10-01T00:00:00Z",
        "bill_billing_period_end_date": "2026-11-01T00:00:00Z", "line_item_usage_account_id": "222222222222",
        "line_item_line_item_type": kind, "line_item_usage_start_date": "2026-10-05T00:00:00Z",
        "line_item_usage_end_date": "2026-10-05T01:00:00Z", "line_item_product_code": "AmazonEC2",
        "line_item_currency_code": "USD", "line_item_unblended_cost": cost, "product_product_name": "Amazon Elastic Compute Cloud",
        "product_region_code": "us-east-1", "line_item_usage_amount": "1", "pricing_unit": "Hrs",
    }
    return base | extra


def test_cur_legacy_names_become_the_parquet_snake_case():
    assert snake_case("lineItem/UnblendedCost") == "line_item_unblended_cost"
    assert snake_case("savingsPlan/SavingsPlanARN") == "savings_plan_savings_plan_a_r_n"
    assert snake_case("resourceTags/user:cost-center") == "resource_tags_user_cost_center"


def test_cur_golden_rows_cover_every_line_item_type():
    sp = "arn:aws:savingsplans::111111111111:savingsplan/abc"
    ri = "arn:aws:ec2:us-east-1:111111111111:reserved-instances/xyz"
    rows = [
        cur_row("Usage", "1.25", line_item_usage_amount="10", line_item_unblended_rate="0.125",
                pricing_public_on_demand_cost="1.25", pricing_unit="Hrs", resource_tags_user_team="data",
                line_item_usage_type="BoxUsage:m5.large"),
        cur_row("Usage", "0.30", line_item_usage_type="USE1-SpotUsage:m5.large", line_item_usage_amount="1"),
        cur_row("SavingsPlanCoveredUsage", "2.00", savings_plan_savings_plan_a_r_n=sp,
                savings_plan_savings_plan_effective_cost="1.40", pricing_public_on_demand_cost="2.00"),
        cur_row("SavingsPlanNegation", "-2.00", savings_plan_savings_plan_a_r_n=sp),
        cur_row("SavingsPlanRecurringFee", "1.50", savings_plan_savings_plan_a_r_n=sp,
                savings_plan_total_commitment_to_date="1.50", savings_plan_used_commitment="1.40"),
        cur_row("DiscountedUsage", "0", reservation_reservation_a_r_n=ri, reservation_effective_cost="0.80",
                pricing_public_on_demand_cost="1.10"),
        cur_row("RIFee", "0.90", reservation_reservation_a_r_n=ri, reservation_unused_recurring_fee="0.10",
                reservation_unused_amortized_upfront_fee_for_billing_period="0"),
        cur_row("Tax", "0.40"),
        cur_row("Credit", "-0.50"),
        cur_row("Refund", "-0.20"),
    ]
    result = normalize_chunk(AWS_CUR, table(rows), "cur.csv.gz", 2)
    got = rows_of(result, "ChargeCategory", "ChargeClass", "BilledCost", "EffectiveCost", "PricingCategory",
                  "CommitmentDiscountType", "CommitmentDiscountStatus", "Tags")
    assert got == [
        {"ChargeCategory": "Usage", "ChargeClass": None, "BilledCost": D("1.25"), "EffectiveCost": D("1.25"),
         "PricingCategory": "Standard", "CommitmentDiscountType": None, "CommitmentDiscountStatus": None,
         "Tags": '{"team":"data"}'},
        {"ChargeCategory": "Usage", "ChargeClass": None, "BilledCost": D("0.3"), "EffectiveCost": D("0.3"),
         "PricingCategory": "Dynamic", "CommitmentDiscountType": None, "CommitmentDiscountStatus": None, "Tags": "{}"},
        {"ChargeCategory": "Usage", "ChargeClass": None, "BilledCost": D("2"), "EffectiveCost": D("1.4"),
         "PricingCategory": "Committed", "CommitmentDiscountType": "Savings Plan", "CommitmentDiscountStatus": "Used",
         "Tags": "{}"},
        {"ChargeCategory": "Usage", "ChargeClass": None, "BilledCost": D("-2"), "EffectiveCost": D("0"),
         "PricingCategory": "Committed", "CommitmentDiscountType": "Savings Plan", "CommitmentDiscountStatus": "Used",
         "Tags": "{}"},
        {"ChargeCategory": "Purchase", "ChargeClass": None, "BilledCost": D("1.5"), "EffectiveCost": D("0.1"),
         "PricingCategory": "Committed", "CommitmentDiscountType": "Savings Plan", "CommitmentDiscountStatus": None,
         "Tags": "{}"},
        {"ChargeCategory": "Usage", "ChargeClass": None, "BilledCost": D("0"), "EffectiveCost": D("0.8"),
         "PricingCategory": "Committed", "CommitmentDiscountType": "Reserved Instance",
         "CommitmentDiscountStatus": "Used", "Tags": "{}"},
        {"ChargeCategory": "Purchase", "ChargeClass": None, "BilledCost": D("0.9"), "EffectiveCost": D("0.1"),
         "PricingCategory": "Committed", "CommitmentDiscountType": "Reserved Instance", "CommitmentDiscountStatus": None,
         "Tags": "{}"},
        {"ChargeCategory": "Tax", "ChargeClass": None, "BilledCost": D("0.4"), "EffectiveCost": D("0.4"),
         "PricingCategory": None, "CommitmentDiscountType": None, "CommitmentDiscountStatus": None, "Tags": "{}"},
        {"ChargeCategory": "Credit", "ChargeClass": None, "BilledCost": D("-0.5"), "EffectiveCost": D("-0.5"),
         "PricingCategory": None, "CommitmentDiscountType": None, "CommitmentDiscountStatus": None, "Tags": "{}"},
        {"ChargeCategory": "Credit", "ChargeClass": "Correction", "BilledCost": D("-0.2"), "EffectiveCost": D("-0.2"),
         "PricingCategory": None, "CommitmentDiscountType": None, "CommitmentDiscountStatus": None, "Tags": "{}"},
    ]
    first = result.focus.slice(0, 1).to_pylist()[0]
    assert first["ProviderName"] == "AWS" and first["ServiceCategory"] == "Compute"
    assert first["RegionName"] == "US East (N. Virginia)" and first["ContractedCost"] == D("1.25")
    assert first["ChargePeriodStart"] == datetime(2026, 10, 5, tzinfo=UTC)
    assert first["x_SourceFile"] == "cur.csv.gz" and first["x_SourceLine"] == 2
    assert focus.validate(result.focus) == []
    # Billed and amortized totals agree once the commitment is fully used or its unused part billed.
    assert sum(r["BilledCost"] for r in got) == sum(r["EffectiveCost"] for r in got) == D("3.65")


def test_cur_net_unblended_cost_is_billed_when_present():
    rows = [cur_row("Usage", "1.00", line_item_net_unblended_cost="0.90")]
    got = rows_of(normalize_chunk(AWS_CUR, table(rows), "f", 2), "BilledCost", "EffectiveCost")
    assert got == [{"BilledCost": D("0.9"), "EffectiveCost": D("0.9")}]


# ---------------------------------------------------------------------------------------------
# Azure cost details

def az_row(dataset: str, charge: str, model: str, cost: str, **extra) -> dict:
    base = {"_dataset": dataset, "date": "10/05/2026", "billingperiodstartdate": "10/01/2026",
            "billingperiodenddate": "10/31/2026", "billingaccountid": "8611537", "billingaccountname": "Contoso EA",
            "subscriptionid": "sub-1", "subscriptionname": "prod", "metercategory": "Virtual Machines",
            "consumedservice": "Microsoft.Compute", "costinbillingcurrency": cost, "billingcurrencycode": "EUR",
            "chargetype": charge, "pricingmodel": model, "resourcelocation": "EastUS",
            "tags": '"env": "prod","team": "web"', "unitofmeasure": "10 Hours", "quantity": "2"}
    return base | extra


def test_azure_billed_cost_is_actual_and_effective_cost_is_amortized():
    # The old converter took both from one column with no amortized join.
    rows = [
        az_row("actual", "Usage", "OnDemand", "5.00"),
        az_row("actual", "Usage", "Reservation", "0", benefitid="/res/1"),
        az_row("actual", "Purchase", "Reservation", "30.00", benefitid="/res/1"),
        az_row("amortized", "Usage", "OnDemand", "5.00"),
        az_row("amortized", "Usage", "Reservation", "0.97", benefitid="/res/1"),
        az_row("amortized", "UnusedReservation", "Reservation", "0.03", benefitid="/res/1"),
    ]
    result = normalize_chunk(AZURE_COST_DETAILS, table(rows), "az.csv", 2)
    got = rows_of(result, "x_ChargeType", "BilledCost", "EffectiveCost", "ChargeCategory", "CommitmentDiscountStatus",
                  "PricingCategory")
    assert got == [
        {"x_ChargeType": "Purchase", "BilledCost": D("30"), "EffectiveCost": D("0"), "ChargeCategory": "Purchase",
         "CommitmentDiscountStatus": None, "PricingCategory": "Committed"},
        {"x_ChargeType": "Usage", "BilledCost": D("5"), "EffectiveCost": D("5"), "ChargeCategory": "Usage",
         "CommitmentDiscountStatus": None, "PricingCategory": "Standard"},
        {"x_ChargeType": "Usage", "BilledCost": D("0"), "EffectiveCost": D("0.97"), "ChargeCategory": "Usage",
         "CommitmentDiscountStatus": "Used", "PricingCategory": "Committed"},
        {"x_ChargeType": "UnusedReservation", "BilledCost": D("0"), "EffectiveCost": D("0.03"),
         "ChargeCategory": "Usage", "CommitmentDiscountStatus": "Unused", "PricingCategory": "Committed"},
    ]
    assert result.superseded == 2  # actual usage rows, represented by their amortized twins
    # The control total is the actual-cost export's own total.
    control = {r["part"]: r["amount_sum"] for r in result.control.to_pylist()}
    assert control == {"source": D("35")} and sum(r["BilledCost"] for r in got) == D("35")
    assert focus.validate(result.focus) == []


def test_azure_charge_period_is_the_usage_day_not_the_billing_period():
    # The old converter took ChargePeriodStart from BillingPeriodStartDate.
    result = normalize_chunk(AZURE_COST_DETAILS, table([az_row("amortized", "Usage", "OnDemand", "1")]), "az.csv", 2)
    row = result.focus.to_pylist()[0]
    assert row["ChargePeriodStart"] == datetime(2026, 10, 5, tzinfo=UTC)
    assert row["ChargePeriodEnd"] == datetime(2026, 10, 6, tzinfo=UTC)
    assert row["BillingPeriodStart"] == datetime(2026, 10, 1, tzinfo=UTC)
    assert row["BillingPeriodEnd"] == datetime(2026, 11, 1, tzinfo=UTC)
    assert json.loads(row["Tags"]) == {"env": "prod", "team": "web"}  # EA tags have no braces
    assert row["RegionId"] == "eastus" and row["RegionName"] == "East US"
    assert row["PricingUnit"] == "Hours" and row["BillingCurrency"] == "EUR"
    assert row["ServiceCategory"] == "Compute" and row["ProviderName"] == "Microsoft"


def test_azure_mca_bills_to_the_billing_profile():
    rows = [az_row("amortized", "Usage", "OnDemand", "1", invoicesectionid="IS-1", billingprofileid="BP-7",
                   billingprofilename="Contoso MCA", date="2026-10-05", tags='{"team":"web"}')]
    row = normalize_chunk(AZURE_COST_DETAILS, table(rows), "mca.csv", 2).focus.to_pylist()[0]
    assert row["BillingAccountId"] == "BP-7" and row["BillingAccountName"] == "Contoso MCA"
    assert row["Tags"] == '{"team":"web"}'


# ---------------------------------------------------------------------------------------------
# Google Cloud billing export

CREDIT = pa.struct([("name", pa.string()), ("amount", pa.float64()), ("full_name", pa.string()),
                    ("id", pa.string()), ("type", pa.string())])
PAIRS = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))


def gcp_table(rows: list[dict]) -> pa.Table:
    def col(name, type_=pa.string()):
        return pa.array([r.get(name) for r in rows], type_)
    return pa.table({
        "billing_account_id": col("account"), "service.description": col("service"),
        "usage_start_time": col("start"), "usage_end_time": col("end"), "cost": col("cost", pa.float64()),
        "currency": col("currency"), "invoice.month": col("month"), "cost_type": col("cost_type"),
        "credits": col("credits", pa.list_(CREDIT)), "labels": col("labels", PAIRS),
        "project.id": col("project"), "usage.amount_in_pricing_units": col("pricing_amount", pa.float64()),
        "usage.pricing_unit": col("pricing_unit"),
    })


def gcp_row(cost_type: str, cost: float, credits=(), **extra) -> dict:
    return {"account": "01A2B3-C4D5E6-F7A8B9", "service": "Compute Engine", "start": "2026-10-05T07:00:00Z",
            "end": "2026-10-05T08:00:00Z", "cost": cost, "currency": "USD", "month": "202610",
            "cost_type": cost_type, "credits": list(credits), "labels": [{"key": "team", "value": "ml"}],
            "project": "proj-a", "pricing_amount": 1.0, "pricing_unit": "hour"} | extra


def test_gcp_regular_is_usage_and_credits_are_in_billed_cost():
    # The old converter mapped `regular` to Purchase and put credits in BilledCost inconsistently.
    cud = {"name": "CUD", "amount": -0.3, "full_name": "Committed use discount", "id": "cud-123",
           "type": "COMMITTED_USAGE_DISCOUNT"}
    sud = {"name": "SUD", "amount": -0.1, "full_name": "Sustained use", "id": "", "type": "SUSTAINED_USAGE_DISCOUNT"}
    rows = [gcp_row("regular", 1.0, [cud, sud]), gcp_row("regular", 2.0), gcp_row("tax", 0.25),
            gcp_row("adjustment", -0.5), gcp_row("rounding_error", 0.01)]
    result = normalize_chunk(GCP_BILLING_EXPORT, gcp_table(rows), "gcp.parquet", 1)
    got = rows_of(result, "ChargeCategory", "ChargeClass", "BilledCost", "EffectiveCost", "ContractedCost",
                  "PricingCategory", "CommitmentDiscountId")
    assert got == [
        {"ChargeCategory": "Usage", "ChargeClass": None, "BilledCost": D("0.6"), "EffectiveCost": D("0.6"),
         "ContractedCost": D("1"), "PricingCategory": "Committed", "CommitmentDiscountId": "cud-123"},
        {"ChargeCategory": "Usage", "ChargeClass": None, "BilledCost": D("2"), "EffectiveCost": D("2"),
         "ContractedCost": D("2"), "PricingCategory": "Standard", "CommitmentDiscountId": None},
        {"ChargeCategory": "Tax", "ChargeClass": None, "BilledCost": D("0.25"), "EffectiveCost": D("0.25"),
         "ContractedCost": D("0.25"), "PricingCategory": None, "CommitmentDiscountId": None},
        {"ChargeCategory": "Credit", "ChargeClass": "Correction", "BilledCost": D("-0.5"), "EffectiveCost": D("-0.5"),
         "ContractedCost": D("-0.5"), "PricingCategory": None, "CommitmentDiscountId": None},
        {"ChargeCategory": "Adjustment", "ChargeClass": None, "BilledCost": D("0.01"), "EffectiveCost": D("0.01"),
         "ContractedCost": D("0.01"), "PricingCategory": None, "CommitmentDiscountId": None},
    ]
    row = result.focus.to_pylist()[0]
    assert row["Tags"] == '{"team":"ml"}' and row["SubAccountId"] == "proj-a" and row["ProviderName"] == "Google Cloud"
    # Invoice months are Pacific-time months.
    assert row["BillingPeriodStart"] == datetime(2026, 10, 1, 7, tzinfo=UTC)
    assert row["BillingPeriodEnd"] == datetime(2026, 11, 1, 7, tzinfo=UTC)
    assert focus.validate(result.focus) == []


def test_gcp_invoice_month_bounds_follow_daylight_saving():
    assert invoice_month_bounds("202612") == (datetime(2026, 12, 1, 8, tzinfo=UTC), datetime(2027, 1, 1, 8, tzinfo=UTC))
    assert invoice_month_bounds("2026-13") == (None, None)


# ---------------------------------------------------------------------------------------------
# Native FOCUS, quarantine, missing columns, reconciliation

def focus_row(**extra) -> dict:
    return {"BilledCost": "1.5", "BillingAccountId": "A", "BillingAccountName": None, "BillingCurrency": "USD",
            "BillingPeriodStart": "2026-10-01T00:00:00Z", "BillingPeriodEnd": "2026-11-01T00:00:00Z",
            "ChargeCategory": "Usage", "ChargeClass": None, "ChargeDescription": "d",
            "ChargePeriodStart": "2026-10-02T00:00:00Z", "ChargePeriodEnd": "2026-10-03T00:00:00Z",
            "ContractedCost": "1.5", "EffectiveCost": "1.2", "InvoiceIssuerName": "AWS", "ListCost": "2",
            "PricingQuantity": "3", "PricingUnit": "Hours", "ProviderName": "AWS", "PublisherName": "AWS",
            "ServiceCategory": "Compute", "ServiceName": "EC2", "PricingCategory": "Standard",
            "x_UsageType": "BoxUsage"} | extra


def test_native_focus_rows_are_carried_as_they_are():
    result = normalize_chunk(AWS_FOCUS, table([focus_row()]), "focus.parquet", 1)
    row = result.focus.to_pylist()[0]
    assert row["BilledCost"] == D("1.5") and row["EffectiveCost"] == D("1.2") and row["x_UsageType"] == "BoxUsage"
    assert focus.validate(result.focus) == []


def test_bad_rows_are_quarantined_with_file_line_and_reason_and_counted():
    rows = [cur_row("Usage", "1.00"), cur_row("Usage", "abc"), cur_row("Usage", "2.00", line_item_currency_code="usd$"),
            cur_row("Usage", "3.00", line_item_usage_start_date="05/10/2026 garbage"), cur_row("Bogus", "4.00")]
    result = normalize_chunk(AWS_CUR, table(rows), "s3://cur/report-1.csv.gz", 2)
    assert result.focus.num_rows == 1
    found = {(q["line"], q["reason"].split(":")[0]) for q in result.quarantine}
    assert found == {(3, "line_item_unblended_cost"), (4, "line_item_currency_code"),
                     (5, "line_item_usage_start_date"), (6, "line_item_line_item_type")}
    assert all(q["file"] == "s3://cur/report-1.csv.gz" for q in result.quarantine)
    assert "'abc'" in next(q["reason"] for q in result.quarantine if q["line"] == 3)
    assert json.loads(next(q["row"] for q in result.quarantine if q["line"] == 6))["line_item_line_item_type"] == "Bogus"
    # Quarantined money whose key parses is counted apart, so the totals still reconcile; rows
    # whose money or key cannot be read are counted as unreadable (their amount is unknown).
    parts = {(r["part"], r["BillingAccountId"]): (r["amount_sum"], r["amount_count_all"]) for r in result.control.to_pylist()}
    assert parts == {("source", "111111111111"): (D("8"), 3), ("quarantined", "111111111111"): (D("7"), 2),
                     ("unreadable", "111111111111"): (None, 1), ("unreadable", "(unreadable)"): (None, 1)}


def test_a_missing_required_column_names_the_file_and_the_column():
    rows = [cur_row("Usage", "1")]
    for r in rows:
        del r["line_item_currency_code"]
    with pytest.raises(MappingError) as err:
        normalize_chunk(AWS_CUR, table(rows), "s3://cur/report-1.csv.gz", 2)
    assert "s3://cur/report-1.csv.gz" in str(err.value) and "'line_item_currency_code'" in str(err.value)


def test_unreadable_money_makes_a_total_unproven():
    key = ("AWS", "111", "2026-10", "USD")
    source, stored, unreadable = reconcile.Totals.empty(), reconcile.Totals.empty(), reconcile.Totals.empty()
    source.add(key, D("1"), 1)
    stored.add(key, D("1"), 1)
    unreadable.add(key, D("0"), 1)
    table_ = reconcile.reconcile(source, reconcile.Totals.empty(), stored, unreadable)
    assert list(table_["status"]) == ["unproven"] and list(table_["unreadable_rows"]) == [1]


def test_reconciliation_is_exact_and_flags_a_cent():
    key = ("AWS", "111", "2026-10", "USD")
    source, quarantined, stored = reconcile.Totals.empty(), reconcile.Totals.empty(), reconcile.Totals.empty()
    for _ in range(10):
        source.add(key, D("0.1"), 1)
    stored.add(key, D("1.0"), 10)
    ok = reconcile.reconcile(source, quarantined, stored)
    assert list(ok["status"]) == ["ok"] and ok["difference"][0] == 0
    stored.add(key, D("0.01"), 1)
    bad = reconcile.reconcile(source, quarantined, stored)
    assert list(bad["status"]) == ["mismatch"] and bad["difference"][0] == D("-0.01")
    other = ("Microsoft", "9", "2026-10", "EUR")
    source.add(other, D("5"), 1)
    quarantined.add(other, D("5"), 1)
    table_ = reconcile.reconcile(source, quarantined, reconcile.Totals.empty())
    assert dict(zip(table_["provider"], table_["status"]))["Microsoft"] == "ok"


def with_values(focus_table: pa.Table, **values) -> pa.Table:
    """A FOCUS table with some columns overwritten (for checks the mapping itself would stop)."""
    for name, value in values.items():
        index = focus_table.column_names.index(name)
        type_ = focus_table.schema.field(name).type
        focus_table = focus_table.set_column(index, name, pa.array([value] * focus_table.num_rows, type_))
    return focus_table


def test_native_focus_values_outside_the_spec_are_quarantined():
    result = normalize_chunk(AWS_FOCUS, table([focus_row(ChargeClass="Oops"), focus_row(ServiceCategory="Bogus"),
                                               focus_row()]), "f.parquet", 1)
    assert result.focus.num_rows == 1
    assert [q["reason"].split(":")[0] for q in result.quarantine] == ["ChargeClass", "ServiceCategory"]


def test_validate_reports_broken_rules():
    good = normalize_chunk(AWS_FOCUS, table([focus_row()]), "f", 1).focus
    rules = {(v.column, v.rule.split(" ")[0]) for v in focus.validate(with_values(good, ChargeClass="Oops",
                                                                                   ServiceCategory="Bogus"))}
    assert ("ChargeClass", "value") in rules and ("ServiceCategory", "value") in rules


def test_validate_checks_the_conditional_rules():
    rows = [focus_row(ChargeCategory="Tax"), focus_row(PricingUnit=None, PricingCategory="Standard"),
            focus_row(PricingCategory="Standard", CommitmentDiscountId="c-1")]
    mapped = normalize_chunk(AWS_FOCUS, table(rows), "f", 1)
    assert mapped.focus.num_rows == 3  # conditional rules are checked, not quarantined
    found = {(v.column, v.rule, v.rows) for v in focus.validate(mapped.focus)}
    assert ("PricingQuantity", "not null on a Tax row", 1) in found
    assert ("PricingUnit", "null on a Usage or Purchase row that is not a correction", 1) in found
    assert ("CommitmentDiscountStatus", "null on a Usage row with a CommitmentDiscountId", 1) in found


def test_numbers_too_large_to_hold_and_missing_keys_are_quarantined_not_garbled():
    rows = [cur_row("Usage", "99999999999999999999999"), cur_row("Usage", "1e25"), cur_row("Usage", ""),
            cur_row("Usage", "1", bill_billing_period_start_date=""), cur_row("Usage", "2")]
    result = normalize_chunk(AWS_CUR, table(rows), "cur.csv", 2)
    assert result.focus.column("BilledCost").to_pylist() == [D("2")]
    reasons = {q["line"]: q["reason"] for q in result.quarantine}
    assert "10^20" in reasons[2] and "10^20" in reasons[3]
    assert reasons[4].startswith("BilledCost: missing") and reasons[5].startswith("BillingPeriodStart: missing")


def test_a_difference_is_a_mismatch_even_when_rows_were_unreadable():
    key = ("AWS", "111", "2026-10", "USD")
    source, stored, unreadable = reconcile.Totals.empty(), reconcile.Totals.empty(), reconcile.Totals.empty()
    source.add(key, D("1000"), 10)
    stored.add(key, D("400"), 4)
    unreadable.add(key, D("0"), 1)
    assert list(reconcile.reconcile(source, reconcile.Totals.empty(), stored, unreadable)["status"]) == ["mismatch"]


def test_provider_totals_agree_differ_or_are_unavailable():
    source, stored = reconcile.Totals.empty(), reconcile.Totals.empty()
    for account in ("A", "B", "C"):
        source.add(("AWS", account, "2026-10", "USD"), D("10"), 1)
        stored.add(("AWS", account, "2026-10", "USD"), D("10"), 1)
    table_ = reconcile.reconcile(source, reconcile.Totals.empty(), stored)
    compared = reconcile.compare_with_provider(
        table_, {("AWS", "A", "2026-10", "USD"): D("10.004"), ("AWS", "B", "2026-10", "USD"): D("10.01")},
        {("AWS", "C", "2026-10")})
    assert dict(zip(compared["billing_account"], compared["status"])) == {"A": "agrees", "B": "differs", "C": "unavailable"}


def test_cur_columns_that_collide_once_renamed_are_refused_naming_both(tmp_path):
    import io

    from multicloud.clouds import open_store
    from multicloud.engine.tabular import read_table_chunks
    from multicloud.core.errors import InvalidInput

    store = open_store(f"file://{tmp_path}")
    body = b"resourceTags/user:Team,resourceTags/user:team\n1,2\n"
    store.write("cur-1.csv", io.BytesIO(body), size=len(body))
    with pytest.raises(InvalidInput, match="'resourceTags/user:Team' and 'resourceTags/user:team' both become"):
        list(read_table_chunks(store, "cur-1.csv", rename=snake_case))
