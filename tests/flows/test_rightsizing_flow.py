"""The rightsizing flow end to end on a real Prefect server: AWS on the shared moto, Azure and Google
Cloud on their local fakes, each seeded by multicloud.testing.rightsizing_seed with one idle VM, one
oversized VM, one unattached disk, one stray IP, one old snapshot, one kept VM and one VM without data.
The run judges as of 100 days after seeding, since moto cannot backdate a snapshot, and sees only its
own resources (a run tag) of the shared moto."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from flows.rightsizing import rightsizing
from multicloud.clouds import create_bucket, open_store
from multicloud.config.rightsizing import AwsScan, AzureScan, GcpScan, RightsizingScope
from multicloud.core.errors import InvalidInput
from multicloud.testing import rightsizing_seed as seed
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_gce import FakeGce
from tests.support import unique_name

REGION = "ca-central-1"
SUB = "00000000-aaaa-4bbb-8ccc-000000000011"
PROJECT = "rightsizing-test"
NOW = seed.floor(datetime.now(timezone.utc) + timedelta(days=100), timedelta(hours=1))
BANDWIDTH = {"Standard_D2s_v3": 1000, "Standard_D8s_v3": 4000}
VM_RULES = ("ta-low-utilization-ec2", "co-ec2-over-provisioned", "azure-advisor-shutdown", "azure-advisor-resize",
            "gcp-idle-vm", "gcp-machine-type", "stopped-vm-with-disks")
EXPECTED = {  # role -> the rule every cloud's seeded resource of that role must fire
    "disk": "unattached-disk", "ip": "unassociated-ip", "snapshot": "old-snapshot"}
IDLE = {"aws": "ta-low-utilization-ec2", "azure": "azure-advisor-shutdown", "gcp": "gcp-idle-vm"}
OVERSIZED = {"aws": "co-ec2-over-provisioned", "azure": "azure-advisor-resize", "gcp": "gcp-machine-type"}


@pytest.fixture(scope="module")
def fakes():
    with FakeAzureCompute(SUB, page_size=3) as arm, FakeGce(PROJECT) as gce:
        yield arm, gce


@pytest.fixture(scope="module")
def seeded(local_profile, fakes):
    arm, gce = fakes
    run = unique_name("rs")
    aws = local_profile.connection_for("aws").model_copy(update={"region": REGION})
    ids = {"aws": seed.seed_aws(aws, run, NOW), "azure": seed.seed_azure(arm, run, NOW),
           "gcp": seed.seed_gcp(gce, run, NOW)}
    bucket = unique_name("rightsizing")
    create_bucket(local_profile.connection_for("aws"), bucket)
    scope = RightsizingScope(
        aws=AwsScan(regions=[REGION]),
        azure=AzureScan(subscription_id=SUB, arm_base_url=arm.url, bandwidth_mbps=BANDWIDTH),
        gcp=GcpScan(project=PROJECT, compute_endpoint=gce.url, monitoring_endpoint=gce.url),
        select_tags={seed.RUN_TAG: run}, output=f"s3://{bucket}/runs")
    return ids, scope


@pytest.fixture(scope="module")
def result(seeded, fakes):
    _, scope = seeded
    fakes[0].fail_next(1, 429, "1")  # one throttled ARM request, retried after its Retry-After
    return rightsizing(scope=scope, profile="local", now=NOW)


def read_table(url: str, profile) -> pa.Table:
    base, key = url.rsplit("/runs/", 1)
    with open_store(f"{base}/runs", profile=profile).open(key) as f:
        body = f.read()
    return pq.read_table(io.BytesIO(body)) if key.endswith(".parquet") else pacsv.read_csv(io.BytesIO(body))


async def artifact(key: str):
    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
        return found[0] if found else None


def test_seeded_idle_oversized_and_waste_are_found_on_every_cloud_with_evidence(seeded, result, local_profile):
    ids, _ = seeded
    findings = read_table(result.files["findings.parquet"], local_profile).to_pylist()
    fired = {(r["resource"], r["rule"]): r for r in findings}
    for cloud, roles in ids.items():
        assert (roles["idle"], IDLE[cloud]) in fired, cloud
        assert (roles["oversized"], OVERSIZED[cloud]) in fired, cloud
        for role, rule in EXPECTED.items():
            assert (roles[role], rule) in fired, (cloud, role)
    assert (ids["aws"]["snapshot"], "orphaned-snapshot") in fired      # its source volume was deleted
    # The evidence is the observed values: CPU cycles 12..24 % and memory 22..26 % on the oversized EC2.
    co = fired[(ids["aws"]["oversized"], "co-ec2-over-provisioned")]
    assert "p99.5 of 5-min max cpu_utilization ≤ 40 over 14 days: 24" in co["observed"]
    assert "max of 5-min max memory_utilization ≤ 40 over 14 days: 26" in co["observed"]
    assert co["source"].startswith("https://docs.aws.amazon.com/compute-optimizer/")
    assert (co["cloud"], co["region"], co["type"], co["action"], co["finding"]) == (
        "aws", REGION, "m5.2xlarge", "resize", "oversized")
    ta = fired[(ids["aws"]["idle"], "ta-low-utilization-ec2")]
    assert ta["observed"].startswith("days on which every metric condition held ≥ 4 of 14: 14")
    gcp = fired[(ids["gcp"]["idle"], "gcp-idle-vm")]
    assert "p97 of 5-min average cpu_vcpus_used < 0.03 over 14 days: 0.012" in gcp["observed"]
    # Nothing judged that the run did not seed: every resource carries the run's tag.
    mine = {i for roles in ids.values() for i in roles.values()}
    assert {r["resource"] for r in findings} <= mine


def test_a_kept_resource_is_excluded_and_one_without_data_is_insufficient(seeded, result, local_profile):
    ids, _ = seeded
    findings = read_table(result.files["findings.parquet"], local_profile).to_pylist()
    not_judged = read_table(result.files["not-judged.parquet"], local_profile).to_pylist()
    kept = {roles["kept"] for roles in ids.values()}
    assert not kept & {r["resource"] for r in findings + not_judged}
    # every VM rule on the three kept VMs, and the unattached-disk rule on the kept EC2's root volume,
    # which inherits the instance's tags
    assert result.statuses["excluded"] == len(VM_RULES) * 3 + 1
    for cloud, roles in ids.items():
        rows = {r["rule"]: r for r in not_judged if r["resource"] == roles["nodata"]}
        assert rows[IDLE[cloud]]["status"] == "insufficient_data", cloud
        assert "no data points" in rows[IDLE[cloud]]["reason"]
        assert not any(r["resource"] == roles["nodata"] for r in findings)


def test_outputs_land_in_the_store_sorted_and_typed(result, local_profile):
    table = read_table(result.files["findings.parquet"], local_profile)
    assert table.num_rows == result.findings >= 17
    assert table.schema.field("monthly_effective_savings").type == pa.decimal128(38, 10)
    rows = table.to_pylist()
    # no stage of this run prices findings: every figure is empty and says so
    assert all(r["monthly_effective_savings"] is None and r["savings_note"] == "savings not computed in this run"
               for r in rows)
    keys = [(r["cloud"], r["resource"], r["rule"]) for r in rows]
    assert keys == sorted(keys)
    resize = [r for r in rows if r["action"] == "resize"]
    assert resize and all(r["target_note"] == "target type not computed in this run" for r in resize)
    csv = read_table(result.files["findings.csv"], local_profile)
    assert csv.num_rows == table.num_rows and csv.column("resource").to_pylist() == table.column("resource").to_pylist()
    for name in ("savings-by-cloud.png", "utilisation.png"):
        base, key = result.files[name].rsplit("/runs/", 1)
        with open_store(f"{base}/runs", profile=local_profile).open(key) as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert {(t["cloud"], t["kind"]) for t in result.savings} >= {(c, k) for c in ("aws", "azure", "gcp")
                                                                   for k in ("idle", "oversized", "waste")}
    assert result.failures == []


def test_artifacts_show_findings_requests_and_throttling(result):
    findings = json.loads(asyncio.run(artifact("rightsizing-findings")).data)
    assert len(findings) == result.findings
    assert {"resource", "cloud", "rule", "source", "observed", "monthly_effective_savings", "monthly_list_savings",
            "action", "target_type", "advice"} <= set(findings[0])
    requests = {r["target"]: r for r in json.loads(asyncio.run(artifact("rightsizing-requests")).data)}
    assert set(requests) == {f"aws-{REGION}", "azure", "gcp"}
    assert all(r["metric requests"] >= 1 and r["inventory requests"] >= 1 for r in requests.values())
    assert requests["azure"]["throttled waits"] == 1 and requests["azure"]["seconds waited"] == 1.0
    summary = asyncio.run(artifact("rightsizing-summary")).data
    assert "## Totals by cloud and kind" in summary and "## Top 10 by monthly savings" in summary
    assert "## Commitments\n\nNot computed: no stage of this run computes it yet." in summary
    assert "## Cross-cloud arbitrage\n\nNot computed" in summary
    assert f"[findings.parquet]({result.files['findings.parquet']})" in summary
    link = asyncio.run(artifact("rightsizing-findings-parquet")).data
    assert link == f"[findings.parquet]({result.files['findings.parquet']})"


def test_a_bad_rules_file_fails_the_run_naming_file_and_rule(seeded, tmp_path):
    _, scope = seeded
    bad = tmp_path / "bad-rules.yaml"
    bad.write_text("name: bad\nrules:\n  - name: cpu-typo\n    kind: vm\n    finding: idle\n    action: stop\n"
                   "    source: https://example.com/rule\n    when:\n"
                   "      - {metric: cpu_utilisation, op: lt, threshold: 5}\n")
    with pytest.raises(InvalidInput) as err:
        rightsizing(scope=scope.model_copy(update={"rules": [str(bad)]}), profile="local", now=NOW)
    assert str(bad) in str(err.value) and "rule 'cpu-typo' (rules[0]) when.0.metric" in str(err.value)
    with pytest.raises(InvalidInput, match="matches no file"):
        rightsizing(scope=scope.model_copy(update={"rules": [str(tmp_path / "none-*.yaml")]}), profile="local", now=NOW)


def test_a_bad_scope_file_is_refused_naming_file_and_field(tmp_path):
    path = tmp_path / "scope.yaml"
    path.write_text("azure: {subscription_id: not-a-guid}\noutput: s3://bucket/runs\n")
    with pytest.raises(InvalidInput) as err:
        rightsizing(scope_file=str(path), profile="local")
    assert str(path) in str(err.value) and "azure.subscription_id" in str(err.value)
