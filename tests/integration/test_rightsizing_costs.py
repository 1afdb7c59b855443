"""Rightsizing's reads of the FOCUS dataset on emulated S3 (moto): rows for known AWS, Azure and GCP
resources published through the project's dataset code, matched to inventory ids in both of AWS's
forms and Azure's other case, split into committed and on-demand, priced into findings to the cent,
and turned into hourly and daily on-demand series for commitment recommendations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.config.rightsizing_commitments import load_commitment_rates
from multicloud.core.rightsizing.commitments import recommend_commitments
from multicloud.core.rightsizing.evaluate import Outcome, Resource
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.prices import Shape, ShapePrice
from multicloud.core.rightsizing.savings import cost_key, price_findings
from multicloud.engine.rightsizing_costs import on_demand_usage, resource_costs
from multicloud.testing.rightsizing_costs import Charge, write_focus
from tests.support import unique_name

D = Decimal
NOW = datetime(2026, 12, 1, 0, 30, tzinfo=timezone.utc)
DAY0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
AZ_VM = "/subscriptions/S1/resourceGroups/RG-Web/providers/Microsoft.Compute/virtualMachines/Web-1"
GCE_VM = "//compute.googleapis.com/projects/demo/zones/us-central1-a/instances/4242"


def _charges() -> list[Charge]:
    hours = [DAY0 + timedelta(hours=h) for h in range(30 * 24)]
    arn = "arn:aws:ec2:us-east-1:123456789012:instance/i-0idle"
    rows = [Charge("aws", "i-0idle" if n % 2 else arn, t, D("0.0960")) for n, t in enumerate(hours)]
    # the oversized VM: the first 10 days under a savings plan, the rest on demand
    rows += [Charge("aws", "i-0big", t, D("0.1200") if n < 240 else D("0.1920"), listed=D("0.1920"),
                    commitment="arn:aws:savingsplans::123456789012:savingsplan/sp-1" if n < 240 else None)
             for n, t in enumerate(hours)]
    rows += [Charge("aws", "vol-0free", DAY0 + timedelta(days=d), D("0.2667"), service="Amazon Elastic Block Store",
                    hours=24) for d in range(30)]
    rows += [Charge("aws", "i-0spot", t, D("0.0300"), pricing="Dynamic") for t in hours[:24]]
    rows += [Charge("aws", "i-0old", DAY0 - timedelta(days=2), D("5"))]  # October: outside the window
    rows += [Charge("azure", AZ_VM.upper(), DAY0 + timedelta(days=d), D("2.3040"), service="Virtual Machines",
                    region="eastus", hours=24) for d in range(30)]
    rows += [Charge("gcp", GCE_VM, t, D("0.0500"), service="Compute Engine", region="us-central1") for t in hours]
    return rows


@pytest.fixture(scope="module")
def dataset(local_profile):
    bucket = unique_name("focus")
    create_bucket(local_profile.connection_for("aws"), bucket)
    store = open_store(f"s3://{bucket}/dataset", profile=local_profile)
    write_focus(store, _charges())
    return store


def test_resource_costs_match_inventory_ids_and_split_commitments(dataset):
    costs = resource_costs(dataset, NOW)
    idle = costs[cost_key("aws", "i-0idle")]  # ARN and bare id rows together
    assert (idle.on_demand_effective, idle.committed_effective, idle.rows) == (D("69.12"), D(0), 720)  # 720 × 0.096
    big = costs[cost_key("aws", "i-0big")]
    assert (big.committed_effective, big.on_demand_effective) == (D("28.80"), D("92.16"))  # 240 × 0.12, 480 × 0.192
    assert (big.committed_list, big.on_demand_list) == (D("46.08"), D("92.16"))
    assert costs[cost_key("azure", AZ_VM)].on_demand_effective == D("69.12")  # exported upper-case, matched anyway
    assert costs[cost_key("gcp", GCE_VM)].on_demand_effective == D("36.00")
    assert cost_key("aws", "i-0old") not in costs


def test_findings_are_priced_to_the_cent(dataset):
    prices = [ShapePrice(Shape("aws", t, v, m), "us-east-1", on_demand_hourly=D(p), source="test")
              for t, v, m, p in (("m5.xlarge", 4, 16384, "0.192"), ("m5.large", 2, 8192, "0.096"),
                                 ("t3.large", 2, 8192, "0.0832"))]

    def finding(rid, kind, type_, action, target=""):
        res = Resource("aws", rid, kind, region="us-east-1", type=type_)
        return Finding(Outcome("r", rid, "aws", kind, "finding", "", "idle", action, "https://example.com"), res,
                       target_type=target)

    idle, big, disk, unknown = price_findings([
        finding("i-0idle", "vm", "t3.large", "stop"), finding("i-0big", "vm", "m5.xlarge", "resize", "m5.large"),
        finding("vol-0free", "disk", "gp3", "snapshot_and_delete"), finding("i-0none", "vm", "m5.large", "stop"),
    ], resource_costs(dataset, NOW), prices)
    assert (idle.monthly_effective_savings, idle.monthly_list_savings) == (D("69.12"), D("60.74"))  # 0.0832 × 730
    assert (big.monthly_effective_savings, big.monthly_list_savings) == (D("46.08"), D("70.08"))  # half of 92.16
    assert "28.80 USD of 30 days' cost was covered by a commitment" in big.savings_note
    assert disk.monthly_effective_savings == D("8.00")  # 30 × 0.2667 = 8.001
    assert unknown.monthly_effective_savings is None and "no usage cost rows for i-0none" in unknown.savings_note


def test_on_demand_usage_is_hourly_or_daily_as_the_rows_are(dataset):
    found = {(s.provider, s.service): s for s in on_demand_usage(dataset, NOW)}
    ec2 = found[("aws", "Amazon Elastic Compute Cloud")]
    assert (ec2.granularity, ec2.period_hours, len(ec2.points), ec2.start) == ("hourly", 1, 720, DAY0)
    assert ec2.points[0] == D("0.0960") and ec2.points[-1] == D("0.2880")  # spot left out; sp-covered hours too
    assert ec2.total == D("161.28") and ec2.committed_total == D("28.80")
    ebs = found[("aws", "Amazon Elastic Block Store")]
    assert (ebs.granularity, ebs.period_hours, len(ebs.points)) == ("daily", 24, 30)
    azure = found[("azure", "Virtual Machines")]
    assert azure.granularity == "daily" and "charged by the day" in azure.granularity_note


def test_commitments_are_recommended_from_the_dataset(dataset):
    plan = recommend_commitments(on_demand_usage(dataset, NOW), load_commitment_rates().programs)
    by = {(r.provider, r.service): r for r in plan.recommendations}
    gce = by[("gcp", "Compute Engine")]
    # flat 0.05/h: 3-year flexible CUD at 46 %: 0.027/h covers 0.05; 720 h: 36.00 - 19.44 = 16.56 saved
    assert (gce.term_years, gce.best.hourly_commitment, gce.best.savings) == (3, D("0.027"), D("16.56"))
    ec2 = by[("aws", "Amazon Elastic Compute Cloud")]
    # 240 h of 0.096 then 480 h of 0.288 (i-0big's plan ended): at 56 % off, 0.126/h (0.288 × 0.44, rounded
    # down) covers 0.28636/h: 23.04 + 480 × 0.28636 = 160.49 covered for 90.72 paid
    assert (ec2.term_years, ec2.best.hourly_commitment, ec2.best.savings, ec2.best.coverage) == (
        3, D("0.126"), D("69.77"), D("0.9951"))
    assert ("aws", "Amazon Elastic Block Store", "us-east-1",
            "no commitment program of aws covers 'Amazon Elastic Block Store'") in plan.not_eligible
    assert by[("azure", "Virtual Machines")].granularity == "daily"
