"""Azure Advisor's cost advice through azure-core's ARM pipeline against the local ARM server
(multicloud/testing/fakes/fake_azure_compute.py), two recommendations a page: the request ARM gets
(api-version, the Category filter, a bearer token), nextLink pages followed, SkuChange and Shutdown on
VMs and an unassociated public IP in our vocabulary, recommendations of other kinds left out and
counted, a 429 with Retry-After retried and its wait reported. Ids are checked against the Azure
inventory read from the same server, and the unassociated IP our waste rule finds agrees."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from multicloud.clouds.azure.advisor import read_advice
from multicloud.clouds.azure.dns import EMULATOR_TOKEN
from multicloud.clouds.azure.inventory import read_inventory
from multicloud.clouds.azure.management import ArmRetry
from multicloud.config import Connection
from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.errors import Throttled
from multicloud.core.rightsizing import evaluate
from multicloud.core.rightsizing.advice import AGREES, NO_ADVICE, compare_advice
from multicloud.core.rightsizing.findings import Finding
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute

SUB = "00000000-1111-2222-3333-555555555555"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
CONN = Connection(name="azure-advisor", cloud="azure", credentials="emulator")
RULES_DIR = Path(__file__).resolve().parents[2] / "deployments" / "rightsizing"
FAST = ArmRetry(attempts=2, backoff_seconds=0.01, backoff_max_seconds=0.02)


@pytest.fixture(scope="module")
def fake():
    with FakeAzureCompute(SUB, page_size=2) as server:
        created = NOW - timedelta(days=100)
        server.add_sku("eastus", "Standard_D4s_v3", vcpus=4, memory_gb=16)
        ids = {"big": server.add_vm("rg-App", "vm-big", "Standard_D4s_v3", created=created),
               "idle": server.add_vm("rg-App", "vm-idle", "Standard_D4s_v3", created=created),
               "stray": server.add_public_ip("rg-App", "ip-stray", address="20.0.0.9"),
               "bound": server.add_public_ip("rg-App", "ip-bound", address="20.0.0.8",
                                             ip_configuration=f"/subscriptions/{SUB}/resourceGroups/rg-App/providers/"
                                                              "Microsoft.Network/networkInterfaces/n/ipConfigurations/c")}
        server.add_advisor_recommendation(ids["big"], "SkuChange", savings=70.08, current_sku="Standard_D4s_v3",
                                          target_sku="Standard_D2s_v3")
        # Advisor writes resource groups in lower case where Compute keeps the case they were made with
        server.add_advisor_recommendation(ids["idle"].lower(), "Shutdown", savings=140.16,
                                          current_sku="Standard_D4s_v3")
        server.add_advisor_recommendation(ids["stray"], "", savings=3.65,
                                          impacted_field="Microsoft.Network/publicIPAddresses")
        server.add_advisor_recommendation(ids["big"], "SkuChange", savings=None, category="HighAvailability")
        server.add_advisor_recommendation(f"/subscriptions/{SUB}", "ReservedInstance", savings=500.0,
                                          impacted_field="Microsoft.Subscriptions/subscriptions")
        server.ids = ids
        yield server


def test_advisor_is_read_across_its_pages_with_the_cost_filter(fake):
    before = len(fake.requests)
    got = read_advice(CONN, SUB, base_url=fake.url)
    pages = [r for r in fake.requests[before:] if r.path.lower().endswith("/microsoft.advisor/recommendations")]
    assert [r.query.get("$skiptoken") for r in pages] == [None, ["2"]]
    assert all(r.query["api-version"] == ["2020-01-01"] and r.query["$filter"] == ["Category eq 'Cost'"]
               for r in pages)
    assert {r.authorization for r in pages} == {f"Bearer {EMULATOR_TOKEN}"}
    assert got.requests == {"recommendations.list": 2}
    assert got.throttle_waits == []


def test_recommendations_come_back_in_our_vocabulary(fake):
    got = read_advice(CONN, SUB, base_url=fake.url)
    found = {(a.resource_id, a.finding): a for a in got.advice}
    ids = fake.ids
    assert set(found) == {(ids["big"], "oversized"), (ids["idle"].lower(), "idle"), (ids["stray"], "waste")}
    resize = found[(ids["big"], "oversized")]
    assert (resize.action, resize.target_type, resize.monthly_savings, resize.currency, resize.source) == (
        "resize", "Standard_D2s_v3", Decimal("70.08"), "USD", "Azure Advisor")
    assert "current SKU Standard_D4s_v3" in resize.detail
    shutdown = found[(ids["idle"].lower(), "idle")]
    assert (shutdown.action, shutdown.target_type, shutdown.monthly_savings) == ("stop", "", Decimal("140.16"))
    assert found[(ids["stray"], "waste")].action == "release"
    assert got.left_out == {"Microsoft.Subscriptions/subscriptions ReservedInstance": 1}


def test_a_429_is_retried_after_its_retry_after_and_the_wait_reported(fake):
    fake.fail_next(1, status=429, retry_after="1")
    got = read_advice(CONN, SUB, base_url=fake.url, retry=FAST)
    assert got.throttle_waits == [1.0] and len(got.advice) == 3


def test_throttling_past_the_retries_is_raised_as_throttled(fake):
    fake.fail_next(FAST.attempts + 1, status=429, retry_after=None)
    with pytest.raises(Throttled, match="TooManyRequests"):
        read_advice(CONN, SUB, base_url=fake.url, retry=FAST)


def test_advice_ids_are_the_inventory_ids_and_the_waste_rule_agrees(fake):
    inv = read_inventory(CONN, SUB, base_url=fake.url, databases=False)
    advice = read_advice(CONN, SUB, base_url=fake.url).advice
    known = {r.id.lower() for r in inv.resources}
    assert {a.resource_id.lower() for a in advice} <= known
    ips = inv.of_kind("ip")
    rules = [r for r in load_rule_sets([RULES_DIR / "waste.yaml"]) if r.name == "unassociated-ip"]
    findings = [Finding(o, r) for o, r in zip(evaluate(rules, ips, {}, NOW), ips) if o.fired]
    compared, only = compare_advice(findings, advice, outcomes=evaluate(rules, ips, {}, NOW), read=["azure"])
    assert [(f.resource.id, f.advice) for f in compared] == [(fake.ids["stray"], AGREES)]
    # the VM advice is the cloud's alone here: no VM rule ran, so we did not judge them
    assert sorted(o.advice.finding for o in only) == ["idle", "oversized"]
    assert {o.status for o in only} == {"not judged"}
    assert NO_ADVICE not in {f.advice for f in compared}
