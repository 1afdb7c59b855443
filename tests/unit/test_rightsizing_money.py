"""Savings of findings and commitment recommendations, pure: hand-checked goldens on flat, diurnal and
spiky usage, the edges (no usage, one hour, all covered by commitments, daily exports), and the
matching of billing ResourceIds to inventory ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from multicloud.config.rightsizing_commitments import Program, Rate, load_commitment_rates
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing.commitments import UsageSeries, recommend, recommend_commitments
from multicloud.core.rightsizing.evaluate import Outcome, Resource
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.price_catalogs import UnitPrice
from multicloud.core.rightsizing.prices import Shape, ShapePrice
from multicloud.core.rightsizing.savings import ResourceCost, cost_key, price_findings

D = Decimal
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
PROGRAM = Program(provider="aws", program="Compute Savings Plans", services=["Amazon Elastic Compute Cloud"], rates=[
    Rate(term_years=1, discount=0.3, source="https://example.com/1y", basis="test rate"),
    Rate(term_years=3, discount=0.6, source="https://example.com/3y", basis="test rate")])


def series(points, period_hours=1, committed=D(0), service="Amazon Elastic Compute Cloud"):
    return UsageSeries("aws", service, "us-east-1", "USD", "hourly" if period_hours == 1 else "daily",
                       "test", START, period_hours, tuple(D(p) for p in points), committed)


def term(rec, years):
    return next(t for t in rec.terms if t.term_years == years)


# ---- commitments: goldens --------------------------------------------------------------------------

def test_flat_usage_commits_to_all_of_it_and_the_longer_term_wins():
    rec = recommend(series([1] * 720), PROGRAM)
    one, three = term(rec, 1).best, term(rec, 3).best
    # 1 year: 0.70/h covers 1.00/h; 720 h: 720 covered - 504 paid = 216 saved = 219.00 a month (730 h)
    assert (one.hourly_commitment, one.savings, one.monthly_net_savings) == (D("0.700"), D("216.00"), D("219.00"))
    assert (one.coverage, one.utilisation, one.break_even_months) == (D(1), D(1), D("8.4"))  # 12 × 0.7 / 1
    # 3 years: 0.40/h, 720 - 288 = 432 saved = 438.00 a month; break-even 36 × 0.4 = 14.4 months
    assert (three.hourly_commitment, three.monthly_net_savings, three.break_even_months) == (
        D("0.400"), D("438.00"), D("14.4"))
    assert rec.term_years == 3 and rec.best == three
    assert rec.monthly_on_demand == D("730.00")
    assert "commit 0.400 USD/hour for 3 year(s)" in rec.reason


def test_diurnal_usage_commits_to_the_trough_at_a_small_discount_and_the_peak_at_a_large_one():
    rec = recommend(series(([10] * 12 + [2] * 12) * 30), PROGRAM)
    one, three = term(rec, 1), term(rec, 3)
    # 30%: the peak's 7.00/h pays 5040 to cover 4320: a loss, dropped; the trough's 1.40/h covers
    # 1440 for 1008: 432 saved
    assert [c.hourly_commitment for c in one.candidates] == [D("1.400")]
    assert (one.best.monthly_net_savings, one.best.coverage, one.best.utilisation) == (D("438.00"), D("0.3333"), D(1))
    # 60%: the peak's 4.00/h covers all 4320 for 2880 (1440 saved), the trough's 0.80/h 1440 for 576 (864)
    assert [(c.hourly_commitment, c.savings) for c in three.candidates] == [(D("4.000"), D("1440.00")),
                                                                            (D("0.800"), D("864.00"))]
    assert (three.best.coverage, three.best.utilisation, three.best.break_even_months) == (D(1), D("0.6"), D("24.0"))
    assert rec.best.monthly_net_savings == D("1460.00")


def test_spiky_usage_ignores_the_spike():
    rec = recommend(series([1] * 719 + [100]), PROGRAM)
    one = term(rec, 1)
    assert [c.hourly_commitment for c in one.candidates] == [D("0.700")]  # 70.00/h would pay 50400 to cover 819
    assert (one.best.savings, one.best.coverage, one.best.utilisation) == (D("216.00"), D("0.8791"), D(1))


def test_at_most_ten_candidates_best_first():
    rates = Program(provider="aws", program="p", services=["Amazon Elastic Compute Cloud"],
                    rates=[Rate(term_years=1, discount=0.9, source="https://example.com", basis="b")])
    advice = recommend(series(range(1, 16)), rates).terms[0]
    assert len(advice.candidates) == 10
    assert [c.savings for c in advice.candidates] == sorted((c.savings for c in advice.candidates), reverse=True)


# ---- commitments: edges ----------------------------------------------------------------------------

def test_no_usage_recommends_nothing_and_says_why():
    rec = recommend(series([]), PROGRAM)
    assert rec.best is None and rec.term_years is None
    assert "no on-demand usage in the window" in rec.reason


def test_usage_all_under_commitments_recommends_nothing_more():
    rec = recommend(series([0] * 48, committed=D("30")), PROGRAM)
    assert rec.best is None
    assert "covered by commitments already" in rec.reason


def test_one_hour_is_simulated_but_flagged_as_indicative():
    rec = recommend(series([1]), PROGRAM)
    assert term(rec, 1).best.monthly_net_savings == D("219.00")  # 0.30 saved in 1 h, × 730
    assert "only 1 hours of usage" in rec.reason


def test_a_daily_export_gives_daily_candidates_and_says_so():
    rec = recommend(series([24, 24], period_hours=24), PROGRAM)
    best = term(rec, 1).best
    # 24.00 a day at 30% off: 0.70/h covers 24.00 a day; 48 covered - 33.60 paid = 14.40 in 48 h
    assert (best.hourly_commitment, best.savings, best.monthly_net_savings) == (D("0.700"), D("14.40"), D("219.00"))
    assert rec.granularity == "daily" and "simulated on daily points" in rec.reason


def test_a_service_no_program_covers_is_listed_not_dropped():
    plan = recommend_commitments([series([1] * 24), series([1] * 24, service="Amazon Simple Storage Service")],
                                 [PROGRAM])
    assert [r.service for r in plan.recommendations] == ["Amazon Elastic Compute Cloud"]
    assert plan.not_eligible == (("aws", "Amazon Simple Storage Service", "us-east-1",
                                  "no commitment program of aws covers 'Amazon Simple Storage Service'"),)


def test_aws_and_gcp_name_the_method_they_borrow():
    assert "used for Compute Savings Plans (not published)" in recommend(series([1]), PROGRAM).method


# ---- rates file ------------------------------------------------------------------------------------

def test_the_shipped_rates_load_with_a_source_per_rate():
    rates = load_commitment_rates()
    assert {p.provider for p in rates.programs} == {"aws", "azure", "gcp"}
    assert all(r.source.startswith("https://") and {1, 3} == {x.term_years for x in p.rates}
               for p in rates.programs for r in p.rates)


def test_a_bad_rates_file_is_refused_naming_the_file_and_field(tmp_path):
    path = tmp_path / "rates.yaml"
    path.write_text("programs:\n  - provider: aws\n    program: SP\n    services: [EC2]\n    rates:\n"
                    "      - {term_years: 1, discount: 1.5, source: 'https://x.example', basis: b}\n")
    with pytest.raises(InvalidInput) as err:
        load_commitment_rates(path)
    assert str(path) in str(err.value) and "programs.0.rates.0.discount" in str(err.value)


# ---- savings of findings ---------------------------------------------------------------------------

PRICES = [ShapePrice(Shape("aws", t, 4, 16384), "us-east-1", on_demand_hourly=D(p), source="test")
          for t, p in (("m5.xlarge", "0.192"), ("m5.large", "0.096"), ("m5.2xlarge", "0.384"))]


def finding(action="stop", kind="vm", rid="i-1", type_="m5.xlarge", target=""):
    res = Resource("aws", rid, kind, region="us-east-1", type=type_)
    outcome = Outcome("r", rid, "aws", kind, "finding", "why", "idle", action, "https://example.com")
    return Finding(outcome, res, target_type=target)


def cost(effective="100", committed="0", days=30, currencies=("USD",), rid="i-1"):
    return {("aws", rid): ResourceCost("aws", rid, "USD", days, D(effective), D(committed), D(effective), D(committed),
                                       10, currencies)}


def test_a_stopped_vm_saves_its_on_demand_cost_not_what_a_commitment_covered():
    [f] = price_findings([finding()], cost("100.004", committed="40"), PRICES)
    assert (f.monthly_effective_savings, f.monthly_list_savings, f.currency) == (D("100.00"), D("140.16"), "USD")
    assert "40.00 USD of 30 days' cost was covered by a commitment" in f.savings_note


def test_a_resize_saves_the_price_difference():
    [f] = price_findings([finding("resize", target="m5.large")], cost(), PRICES)
    assert (f.monthly_effective_savings, f.monthly_list_savings) == (D("50.00"), D("70.08"))  # 1 - 0.096/0.192


def test_a_resize_without_target_or_to_a_dearer_type_saves_nothing():
    [none] = price_findings([finding("resize", target="")], cost(), PRICES)
    assert none.monthly_effective_savings is None and none.monthly_list_savings is None
    assert "resize without a target type" in none.savings_note
    [dearer] = price_findings([finding("resize", target="m5.2xlarge")], cost(), PRICES)
    assert (dearer.monthly_effective_savings, dearer.monthly_list_savings) == (D("0.00"), D("0.00"))


def test_missing_cost_rows_or_catalog_entries_say_why():
    [no_cost] = price_findings([finding()], {}, PRICES)
    assert no_cost.monthly_effective_savings is None and no_cost.monthly_list_savings == D("140.16")
    assert "no usage cost rows for i-1" in no_cost.savings_note
    [no_price] = price_findings([finding(type_="zz9.huge")], cost(), PRICES)
    assert no_price.monthly_effective_savings == D("100.00") and no_price.monthly_list_savings is None
    assert "zz9.huge in us-east-1 is missing from the price catalog" in no_price.savings_note


def test_a_disk_without_a_unit_price_has_effective_savings_only_and_short_windows_scale_to_a_month():
    [f] = price_findings([finding("snapshot_and_delete", kind="disk", rid="vol-1", type_="gp3")],
                         cost("7", days=14, rid="vol-1"), PRICES)
    assert f.monthly_effective_savings == D("15.00") and f.monthly_list_savings is None  # 7 × 30 / 14
    assert "no list price for a aws disk gp3 in us-east-1" in f.savings_note


def test_disks_and_addresses_get_list_savings_from_their_unit_prices():
    units = [UnitPrice("aws", "us-east-1", "disk", "gp3", "GB-month", D("0.08")),
             UnitPrice("aws", "us-east-1", "ip", "public-ipv4-idle", "hour", D("0.005")),
             UnitPrice("azure", "eastus", "ip", "standard-ipv4-static", "hour", None, note="no meter")]
    disk = replace(finding("snapshot_and_delete", kind="disk", rid="vol-1", type_="gp3"), resource=Resource(
        "aws", "vol-1", "disk", region="us-east-1", type="gp3", size_gb=100))
    ip = finding("release", kind="ip", rid="eipalloc-1", type_="")
    az = replace(ip, resource=Resource("azure", "/subscriptions/s/ip-1", "ip", region="eastus"))
    unsized = replace(disk, resource=replace(disk.resource, size_gb=None))
    d, i, a, u = price_findings([disk, ip, az, unsized], {}, PRICES, units)
    assert d.monthly_list_savings == D("8.00")  # 100 GB × 0.08
    assert i.monthly_list_savings == D("3.65")  # 730 h × 0.005
    assert a.monthly_list_savings is None and "(no meter)" in a.savings_note
    assert u.monthly_list_savings is None and "size is not known" in u.savings_note


def test_costs_in_several_currencies_are_not_added_up():
    [f] = price_findings([finding()], cost(currencies=("EUR", "USD")), PRICES)
    assert f.monthly_effective_savings is None and "several currencies" in f.savings_note


@pytest.mark.parametrize("cloud, billed, inventory", [
    ("aws", "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", "i-0abc"),
    ("aws", "arn:aws:ec2:us-east-1:123456789012:volume/vol-9", "vol-9"),
    ("aws", "arn:aws:rds:us-east-1:123456789012:db:orders", "orders"),
    ("aws", "i-0abc", "i-0abc"),
    ("azure", "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM1",
     "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualMachines/vm1"),
    ("gcp", "//compute.googleapis.com/projects/p/zones/us-central1-a/instances/123",
     "//compute.googleapis.com/projects/p/zones/us-central1-a/instances/123"),
])
def test_billing_ids_match_inventory_ids(cloud, billed, inventory):
    assert cost_key(cloud, billed) == cost_key(cloud, inventory)
