"""The shape tasks in a flow on the real Prefect server: catalogs of the three clouds read (moto through the
spot interposer, the fake ARM, the fake GCE), AWS spot prices, targets for a resize finding, and the
arbitrage table artifact with on-demand and spot prices side by side."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from prefect import flow

from multicloud.clouds.aws import shapes as aws_shapes
from multicloud.clouds.aws.spot import read_spot_prices
from multicloud.clouds.azure import shapes as azure_shapes
from multicloud.clouds.gcp import shapes as gcp_shapes
from multicloud.config import Connection, Profile
from multicloud.config.rightsizing import Rule
from multicloud.core.rightsizing import FINDING, Evidence, Outcome, Resource
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.prices import Shape, ShapePrice
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_ec2_spot import FakeEc2Spot
from multicloud.testing.fakes.fake_gce import FakeGce
from tasks.rightsizing_shapes import arbitrage_table, choose_rightsizing_targets
from tests.support import latest_artifact

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
SUB = "00000000-1111-2222-3333-444444444444"
REGIONS = {"aws": "us-east-1", "azure": "eastus", "gcp": "us-central1"}
LIST = {("aws", "m5.xlarge"): "0.192", ("aws", "m5.large"): "0.096", ("azure", "Standard_D4s_v5"): "0.192",
        ("gcp", "e2-standard-4"): "0.134012"}


@flow
def shapes_stage(profile: Profile, arm: str, gce: str, resources: list[Resource], findings: list[Finding],
                 rules: list) -> tuple[list, list]:
    catalogs = [aws_shapes.read_shapes(profile.connection_for("aws")),
                azure_shapes.read_shapes(profile.connection_for("azure"), SUB, REGIONS["azure"], base_url=arm),
                gcp_shapes.read_shapes(profile.connection_for("gcp"), REGIONS["gcp"], endpoint=gce)]
    aws = {s.type: s for s in catalogs[0].shapes}
    spot = read_spot_prices(profile.connection_for("aws"), [aws["m5.xlarge"], aws["m5.large"]], NOW)
    on_demand = [ShapePrice(Shape(c, t, 0, 0), REGIONS[c], on_demand_hourly=Decimal(p), source="list")
                 for (c, t), p in LIST.items()]
    priced = [ShapePrice(aws[t], REGIONS["aws"], on_demand_hourly=Decimal(LIST[("aws", t)]))
              for t in ("m5.xlarge", "m5.large")]
    targets = choose_rightsizing_targets(findings, rules, priced)
    return targets, arbitrage_table(resources, catalogs, [*on_demand, *spot.prices])


@pytest.fixture
def servers(local_profile):
    with FakeEc2Spot(local_profile.connection_for("aws").endpoint) as spot, FakeAzureCompute(SUB) as arm, \
            FakeGce("shapes-flow") as gce:
        for zone, price in (("a", "0.0712"), ("b", "0.0690")):
            spot.add_price("m5.xlarge", f"us-east-1{zone}", price, NOW - timedelta(hours=1))
        arm.add_sku("eastus", "Standard_D4s_v5", vcpus=4, memory_gb=16, family="standardDSv5Family")
        gce.add_machine_type("us-central1-a", "e2-standard-4", vcpus=4, memory_mb=16384)
        yield spot, arm, gce


def test_shape_tasks_publish_the_arbitrage_table(servers):
    spot, arm, gce = servers
    profile = Profile(name="shapes", connections=[
        Connection(name="aws", cloud="aws", endpoint=spot.url, region="us-east-1", credentials="emulator"),
        Connection(name="azure", cloud="azure", credentials="emulator"),
        Connection(name="gcp", cloud="gcp", credentials="emulator", account="shapes-flow")])
    vm = Resource(cloud="aws", id="i-1", kind="vm", region="us-east-1", type="m5.xlarge", architecture="x86_64",
                  vcpus=4, memory_mib=16384)
    rule = Rule.model_validate({"name": "resize", "kind": "vm", "finding": "oversized", "action": "resize",
                                "source": "https://example.com/rule", "headroom_percent": {"cpu_utilization": 20,
                                                                                          "memory_utilization": 20},
                                "when": [{"metric": "cpu_utilization", "op": "le", "threshold": 40}]})
    evidence = tuple(Evidence(m, 30.0, True, metric=m) for m in ("cpu_utilization", "memory_utilization"))
    finding = Finding(Outcome("resize", "i-1", "aws", "vm", FINDING, "", "oversized", "resize", "", evidence), vm)
    targets, comparisons = shapes_stage(profile, arm.url, gce.url, [vm], [finding], [rule])
    assert targets[0].target_type == "m5.large"
    [row] = comparisons
    assert row.cheapest_on_demand.shape.type == "e2-standard-4" and row.cheapest_spot.shape.type == "m5.xlarge"
    published = json.loads(asyncio.run(latest_artifact("rightsizing-arbitrage")).data)
    assert [(r["cloud"], r["type"], r["on demand/h"], r["spot/h"], r["spot since"], r["cheapest"])
            for r in published] == [("gcp", "e2-standard-4", "0.134012", "", "", "on demand"),
                                    ("aws", "m5.xlarge", "0.192", "0.069", "2026-11-30 11:00", "spot"),
                                    ("azure", "Standard_D4s_v5", "0.192", "", "", "")]
