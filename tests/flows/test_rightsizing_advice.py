"""The advice tasks on the real Prefect server: a flow reads the advice of every cloud of a profile
(one task each, against the local Compute Optimizer, ARM and Recommender servers), compares it with
findings, and publishes the `rightsizing-advice` table with our rows and the clouds' own."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from multicloud.config import Connection, Profile
from multicloud.core.rightsizing import CLEAR, FINDING, Outcome, Resource
from multicloud.core.rightsizing.findings import Finding
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_compute_optimizer import FakeComputeOptimizer
from multicloud.testing.fakes.fake_gce import FakeGce
from multicloud.testing.fakes.fake_recommender import FakeRecommender
from tasks.rightsizing_advice import compare_with_advice, read_cloud_advice

SUB = "00000000-1111-2222-3333-666666666666"
PROJECT = "advice-flow"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)


def outcome(cloud: str, resource: str, status: str, finding: str, rule: str, action: str) -> Outcome:
    return Outcome(rule, resource, cloud, "vm", status, "every condition held" if status == FINDING else "not met: "
                   "cpu (observed 55)", finding, action, "https://example.test")


@flow
def advice_flow(profile: Profile, urls: dict, findings: list[Finding], outcomes: list[Outcome]):
    settings = {"azure": {"subscription_id": SUB, "arm_base_url": urls["arm"]},
                "gcp": {"recommender_endpoint": urls["recommender"], "compute_endpoint": urls["gce"]}}
    futures = [read_cloud_advice.submit(profile, cloud, **settings.get(cloud, {})) for cloud in ("aws", "azure", "gcp")]
    return compare_with_advice(findings, [f.result() for f in futures], outcomes)


async def artifact(key: str):
    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
        return found[0] if found else None


def test_advice_of_three_clouds_is_compared_and_published():
    with FakeComputeOptimizer() as co, FakeAzureCompute(SUB) as arm, FakeGce(PROJECT) as gce, \
            FakeRecommender(PROJECT) as rec:
        co.add_instance("i-big", "m5.2xlarge", options=(("m5.large", 140.0),))
        vm = arm.add_vm("rg", "vm-1", "Standard_D4s_v3", created=NOW - timedelta(days=90))
        arm.add_advisor_recommendation(vm, "Shutdown", savings=120.0)
        gce.add_machine_type("us-central1-a", "e2-standard-4", vcpus=4, memory_mb=16384)
        inst = gce.add_instance("us-central1-a", "web-1", "e2-standard-4", created=NOW - timedelta(days=90))
        rec.add("us-central1-a", "google.compute.instance.MachineTypeRecommender",
                "zones/us-central1-a/instances/web-1", monthly_cost_change="-30", target_machine_type="e2-standard-2")
        gcp_id = f"//compute.googleapis.com/projects/{PROJECT}/zones/us-central1-a/instances/{inst['id']}"
        ours = [outcome("aws", "i-big", FINDING, "oversized", "co-ec2-over-provisioned", "resize"),
                outcome("azure", vm, FINDING, "oversized", "azure-advisor-resize", "resize")]
        judged = [outcome("gcp", gcp_id, CLEAR, "oversized", "gcp-machine-type", "resize")]
        findings = [Finding(ours[0], Resource("aws", "i-big", "vm"), target_type="m5.large"),
                    Finding(ours[1], Resource("azure", vm, "vm"), target_type="Standard_D2s_v3")]
        profile = Profile(name="advice", connections=[
            Connection(name="aws", cloud="aws", endpoint=co.url, region="us-east-1", credentials="emulator"),
            Connection(name="azure", cloud="azure", credentials="emulator"),
            Connection(name="gcp", cloud="gcp", credentials="emulator", account=PROJECT)])
        compared, cloud_only = advice_flow(profile, {"arm": arm.url, "recommender": rec.url, "gce": gce.url},
                                           findings, [*ours, *judged])
    assert [(f.resource.id, f.advice) for f in compared] == [("i-big", "agrees"), (vm, "differs")]
    assert compared[1].advice_note.startswith("Azure Advisor says idle: stop (saves 120.00 USD/month); we found it "
                                              "oversized under azure-advisor-resize")
    assert sorted((o.advice.cloud, o.status) for o in cloud_only) == [("azure", "finding"), ("gcp", CLEAR)]
    rows = json.loads(asyncio.run(artifact("rightsizing-advice")).data)
    assert [(r["side"], r["cloud"], r["advice"]) for r in rows] == [
        ("ours", "aws", "agrees"), ("ours", "azure", "differs"), ("cloud only", "azure", "we: finding"),
        ("cloud only", "gcp", "we: clear")]
    assert rows[-1]["cloud_target"] == "e2-standard-2" and "observed 55" in rows[-1]["why"]
