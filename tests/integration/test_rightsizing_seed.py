"""The seeded rightsizing market (multicloud.testing.rightsizing_seed and _market) answers every reader a
run uses, without the flow: each price reader returns the seeded prices (AWS Pricing, the spot
interposer in front of moto, Azure Retail Prices, the Cloud Billing Catalog), each advice reader the
seeded advice with the inventories' own ids, the FOCUS dataset the seeded resources' costs under the
ids their inventories give, and the engine's judgement of the seeded metrics gives every oversized VM
the target the rules' headroom allows, on which the cloud's advice agrees."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.clouds.aws import compute_optimizer, pricing, spot
from multicloud.clouds.aws import shapes as aws_shapes
from multicloud.clouds.azure import advisor, retail_prices
from multicloud.clouds.azure import shapes as azure_shapes
from multicloud.clouds.gcp import recommender, vm_prices
from multicloud.clouds.gcp import shapes as gcp_shapes
from multicloud.config import Connection
from multicloud.config.rightsizing import AwsScan, AzureScan, GcpScan, RightsizingScope, load_rule_sets
from multicloud.config.rightsizing_commitments import DEFAULT_RATES, load_commitment_rates
from multicloud.core.rightsizing import commitments, required_series, runs
from multicloud.core.rightsizing.advice import AGREES, DIFFERS, compare_advice
from multicloud.core.rightsizing.savings import cost_key, price_findings
from multicloud.core.rightsizing.targets import choose_targets
from multicloud.engine import rightsizing_scan
from multicloud.engine.rightsizing_costs import on_demand_usage, resource_costs
from multicloud.testing import rightsizing_market as market
from multicloud.testing import rightsizing_seed as seed
from tests.support import unique_name

REGION = "sa-east-1"  # a region of the shared moto with little metric data (get_metric_data scans it all)
SUB = "00000000-aaaa-4bbb-8ccc-0000000000e5"
PROJECT = "rightsizing-seed"
NOW = seed.floor(datetime.now(timezone.utc), timedelta(hours=1))
AZURE, GCP = market.ARBITRAGE_REGIONS["azure"], market.ARBITRAGE_REGIONS["gcp"]
AZURE_CONN = Connection(name="azure-seed", cloud="azure", credentials="emulator")
GCP_CONN = Connection(name="gcp-seed", cloud="gcp", credentials="emulator", account=PROJECT)
# Every VM rule judges every cloud's VMs; these are each cloud's own rules.
IDLE = {"aws": "ta-low-utilization-ec2", "azure": "azure-advisor-shutdown", "gcp": "gcp-idle-vm"}
OVERSIZED = {"aws": "co-ec2-over-provisioned", "azure": "azure-advisor-resize", "gcp": "gcp-machine-type"}


@pytest.fixture(scope="module")
def world(local_profile):
    """Every fake seeded as the flow test and the demo seed them, served; the FOCUS dataset written."""
    aws = local_profile.connection_for("aws").model_copy(update={"region": REGION})
    run = unique_name("rsseed")
    fakes = seed.LocalFakes.create(SUB, PROJECT, aws.endpoint, aws_region=REGION)
    ids = seed.seed_scenario(fakes, run, NOW, REGION, aws=aws)
    bucket = unique_name("rsfocus")
    create_bucket(local_profile.connection_for("aws"), bucket)
    store = open_store(f"s3://{bucket}/focus", profile=local_profile)
    rows = market.seed_focus(store, ids, {"aws": REGION, "azure": AZURE, "gcp": GCP}, NOW)
    with fakes:
        yield {"aws": aws, "run": run, "ids": ids, "fakes": fakes, "store": store, "rows": rows}
    seed.remove_aws(aws, run)


def via(conn: Connection, url: str) -> Connection:
    return conn.model_copy(update={"endpoint": url})


def catalogs(world) -> dict[str, list]:
    """Each cloud's shapes as the shape readers give them (AWS: moto's, through the interposer)."""
    fakes = world["fakes"]
    return {"aws": aws_shapes.read_shapes(via(world["aws"], fakes.spot.url)).shapes,
            "azure": azure_shapes.read_shapes(AZURE_CONN, SUB, AZURE, base_url=fakes.arm.url).shapes,
            "gcp": gcp_shapes.read_shapes(GCP_CONN, GCP, endpoint=fakes.gce.url).shapes}


def list_prices(world, shapes: dict[str, list]) -> list:
    """The list prices of the seed's families (AWS in the seed's region), as the price readers read them."""
    families = {"m5", "t3"}
    aws = [(REGION, s) for s in shapes["aws"] if s.family in families]
    fakes = world["fakes"]
    return (pricing.read_prices(world["aws"], aws, endpoint=fakes.pricing.url).prices
            + retail_prices.read_prices([(AZURE, s) for s in shapes["azure"]], base_url=fakes.prices.url).prices
            + vm_prices.read_vm_prices([(GCP, s) for s in shapes["gcp"]], endpoint=fakes.billing.url).prices)


def test_aws_list_and_spot_prices_are_the_seeded_ones_in_both_regions(world):
    fakes, conn = world["fakes"], world["aws"]
    shapes = {s.type: s for s in aws_shapes.read_shapes(via(conn, fakes.spot.url)).shapes}
    types = ["m5.large", "m5.xlarge", "m5.2xlarge", "t3.micro", "t3.small", "m6i.large", "t3a.large"]
    for region in (REGION, "us-east-1"):
        reading = pricing.read_prices(conn, [(region, shapes[t]) for t in types], disks=[(region, "gp3")],
                                      ip_regions=[region], endpoint=fakes.pricing.url)
        assert {p.shape.type: p.on_demand_hourly for p in reading.prices} == {
            t: market.aws_price(t, region) for t in types}
        assert [(u.kind, u.price) for u in reading.unit_prices] == [
            ("disk", market.aws_price_ebs("gp3", region)), ("ip", Decimal("0.005"))]
        spots = spot.read_spot_prices(via(conn, fakes.spot.url).model_copy(update={"region": region}),
                                      [shapes[t] for t in types], NOW)
        for p in spots.prices:  # the lowest zone's price in effect at NOW, not the older dearer one
            assert p.spot_hourly == market.aws_spot_price(p.shape.type, region, "a") < market.aws_price(
                p.shape.type, region)
            assert p.spot_effective == NOW - timedelta(hours=6) and f"{region}a" in p.note
    assert market.aws_price("m5.large", "us-east-1") == Decimal("0.096")


def test_azure_and_gcp_prices_are_the_seeded_ones_with_spot_and_commitments(world):
    shapes = catalogs(world)
    assert {s.type for s in shapes["azure"]} == set(market.AZURE_SIZES)
    assert {s.type for s in shapes["gcp"]} == set(market.GCP_TYPES)
    fakes = world["fakes"]
    azure = retail_prices.read_prices([(AZURE, s) for s in shapes["azure"]], disks=[(AZURE, "E10 LRS")],
                                      ip_regions=[AZURE], base_url=fakes.prices.url)
    for p in azure.prices:  # the Linux meters, never the Windows one beside them
        size = market.AZURE_SIZES[p.shape.type]
        assert (p.on_demand_hourly, p.spot_hourly) == (size.price, size.spot), p.shape.type
        assert p.shape.architecture == "x86_64"
    assert "no Linux spot hourly meter" in azure.price(AZURE, "Standard_B2s").note
    assert [u.price for u in azure.unit_prices] == [Decimal("9.60"), Decimal("0.005")]
    gcp = vm_prices.read_vm_prices([(GCP, s) for s in shapes["gcp"]], endpoint=fakes.billing.url)
    for p in gcp.prices:
        assert p.on_demand_hourly == market.gcp_price(p.shape.type), p.shape.type
        assert p.spot_hourly == market.gcp_price(p.shape.type, "Preemptible")
    assert gcp.price(GCP, "e2-standard-2").on_demand_hourly == Decimal("0.067006")  # the published price
    assert {(c.shape.type, c.term_years) for c in gcp.commitments if c.hourly} == {
        (t, y) for t in market.GCP_TYPES for y in (1, 3)}


def test_each_clouds_advice_names_the_seeded_resources_by_their_inventory_ids(world):
    fakes, ids = world["fakes"], world["ids"]
    aws = compute_optimizer.read_advice(via(world["aws"], fakes.optimizer.url))
    assert {(a.resource_id, a.finding, a.target_type) for a in aws.advice} == {
        (ids["aws"]["oversized"], "oversized", "m5.xlarge"), (ids["aws"]["idle"], "idle", ""),
        (ids["aws"]["disk"], "idle", "")}
    azure = advisor.read_advice(AZURE_CONN, SUB, base_url=fakes.arm.url)
    assert {(a.resource_id, a.finding, a.target_type) for a in azure.advice} == {
        (ids["azure"]["idle"], "idle", ""), (ids["azure"]["oversized"], "oversized", "Standard_D4s_v3"),
        (ids["azure"]["disk"], "waste", ""), (ids["azure"]["ip"], "waste", "")}
    gcp = recommender.read_advice(GCP_CONN, PROJECT, endpoint=fakes.recommender.url, compute_endpoint=fakes.gce.url)
    assert {(a.resource_id, a.finding, a.target_type) for a in gcp.advice} == {
        (ids["gcp"]["idle"], "idle", ""), (ids["gcp"]["kept"], "idle", ""),
        (ids["gcp"]["oversized"], "oversized", "n2-standard-4"), (ids["gcp"]["disk"], "waste", ""),
        (ids["gcp"]["ip"], "waste", "")}
    assert all(a.monthly_savings and a.monthly_savings > 0 for r in (aws, azure, gcp) for a in r.advice)


def scope(world) -> RightsizingScope:
    fakes = world["fakes"]
    return RightsizingScope(
        aws=AwsScan(regions=[REGION]), azure=AzureScan(subscription_id=SUB, arm_base_url=fakes.arm.url,
                                                       bandwidth_mbps={s: 1000 for s in market.AZURE_SIZES}),
        gcp=GcpScan(project=PROJECT, compute_endpoint=fakes.gce.url, monitoring_endpoint=fakes.gce.url),
        select_tags={seed.RUN_TAG: world["run"]}, output="s3://unused/runs")


@pytest.fixture(scope="module")
def judgement(world, local_profile) -> tuple[list, runs.Judgement]:
    """The rules and the engine's judgement of the seeded resources, as the flow's tasks make them."""
    rules = load_rule_sets(scope(world).rule_files())
    scans = []
    for target in scope(world).targets():
        scan = rightsizing_scan.read_inventory(target, local_profile, {seed.RUN_TAG: world["run"]})
        metrics = rightsizing_scan.read_metrics(target, local_profile, scan, required_series(rules), NOW)
        scans.append(replace(scan, metrics=metrics))
    return rules, runs.judge(rules, scans, NOW)


def test_focus_costs_match_every_inventory_id_and_commitments_have_usage_to_size(world, judgement):
    inventory = {cost_key(o.cloud, o.resource) for o in judgement[1].outcomes}
    costs = resource_costs(world["store"], NOW)
    regions = {"aws": REGION, "azure": AZURE, "gcp": GCP}
    seeded = {(cloud, rid): role for cloud, roles in world["ids"].items() for role, rid in roles.items()}
    assert {cost_key(c, r) for c, r in seeded} <= inventory  # the rows name resources as the inventories do
    for (cloud, rid), role in seeded.items():
        cost = costs[cost_key(cloud, rid)]
        assert cost.rows == 720 and cost.committed_effective == 0
        assert cost.on_demand_effective == 720 * market.hourly_costs(cloud, regions[cloud])[role], (cloud, role)
    plan = commitments.recommend_commitments(on_demand_usage(world["store"], NOW),
                                             load_commitment_rates(DEFAULT_RATES).programs)
    advised = {(r.provider, r.region) for r in plan.recommendations if r.best is not None}
    assert advised >= {("aws", REGION), ("aws", "us-east-1"), ("azure", AZURE), ("gcp", GCP)}


def test_every_oversized_vm_gets_its_target_and_the_clouds_agree(world, judgement):
    rules, judgement = judgement
    prices = list_prices(world, catalogs(world))
    targeted = choose_targets(judgement.findings, rules, prices)
    ids = world["ids"]
    resized = {f.resource.cloud: f for f in targeted
               if (f.resource.id, f.outcome.rule) == (ids[f.resource.cloud]["oversized"], OVERSIZED[f.resource.cloud])}
    assert {c: f.target_type for c, f in resized.items()} == market.TARGETS, {c: f.target_note
                                                                               for c, f in resized.items()}
    priced = price_findings(targeted, resource_costs(world["store"], NOW), prices)
    fakes = world["fakes"]
    advice = [a for r in (compute_optimizer.read_advice(via(world["aws"], fakes.optimizer.url)),
                          advisor.read_advice(AZURE_CONN, SUB, base_url=fakes.arm.url),
                          recommender.read_advice(GCP_CONN, PROJECT, endpoint=fakes.recommender.url,
                                                  compute_endpoint=fakes.gce.url)) for a in r.advice]
    compared, cloud_only = compare_advice(priced, advice, outcomes=judgement.outcomes)
    verdicts = {(f.resource.id, f.outcome.rule): f for f in compared}
    for cloud in ("aws", "azure", "gcp"):
        idle = verdicts[(ids[cloud]["idle"], IDLE[cloud])]
        assert idle.advice == AGREES and idle.monthly_effective_savings > 0 and idle.monthly_list_savings > 0
        # stop saves all of it: 30 days of the FOCUS rows, and 730 h at the list price
        hourly = market.hourly_costs(cloud, REGION)  # the region matters to AWS only
        assert idle.monthly_effective_savings == (720 * hourly["idle"]).quantize(Decimal("0.01"))
        oversized = verdicts[(ids[cloud]["oversized"], OVERSIZED[cloud])]
        assert oversized.advice == AGREES, oversized.advice_note
        assert f"also resizes it to {market.TARGETS[cloud]}" in oversized.advice_note
        assert 0 < oversized.monthly_effective_savings < 720 * hourly["oversized"]
    assert verdicts[(ids["aws"]["disk"], "unattached-disk")].advice == DIFFERS
    # what only the cloud says: the kept VM (our rules exclude it by its label), and the volume it calls idle
    assert sorted((o.advice.resource_id, o.status) for o in cloud_only) == sorted(
        [(ids["gcp"]["kept"], "excluded"), (ids["aws"]["disk"], "finding")])
