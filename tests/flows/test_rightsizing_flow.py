"""The rightsizing flow end to end on a real Prefect server: AWS on the shared moto, Azure and Google
Cloud on their local fakes, each seeded by multicloud.testing.rightsizing_seed with one idle VM, one
oversized VM, one unattached disk, one stray IP, one old snapshot, one kept VM and one VM without data;
the price, spot and advice fakes and a FOCUS dataset seeded for the same resources
(multicloud.testing.rightsizing_market). The run judges as of 100 days after seeding, since moto cannot
backdate a snapshot, and sees only its own resources (a run tag) of the shared moto."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

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
from multicloud.testing import rightsizing_market as market
from multicloud.testing import rightsizing_seed as seed
from tests.support import unique_name

REGION = "ca-central-1"
SUB = "00000000-aaaa-4bbb-8ccc-000000000011"
PROJECT = "rightsizing-test"
NOW = seed.floor(datetime.now(timezone.utc) + timedelta(days=100), timedelta(hours=1))
BANDWIDTH = {"Standard_D2s_v3": 1000, "Standard_D8s_v3": 4000}
AZURE, GCP = market.ARBITRAGE_REGIONS["azure"], market.ARBITRAGE_REGIONS["gcp"]
CENT = Decimal("0.01")
# the VM rules that judge each cloud's VMs: its own rule set's and the cloud-neutral stopped-VM rule
VM_RULES = {"aws": ("ta-low-utilization-ec2", "co-ec2-over-provisioned", "stopped-vm-with-disks"),
            "azure": ("azure-advisor-shutdown", "azure-advisor-resize", "stopped-vm-with-disks"),
            "gcp": ("gcp-idle-vm", "gcp-machine-type", "stopped-vm-with-disks")}
EXPECTED = {  # role -> the rule every cloud's seeded resource of that role must fire
    "disk": "unattached-disk", "ip": "unassociated-ip", "snapshot": "old-snapshot"}
IDLE = {"aws": "ta-low-utilization-ec2", "azure": "azure-advisor-shutdown", "gcp": "gcp-idle-vm"}
OVERSIZED = {"aws": "co-ec2-over-provisioned", "azure": "azure-advisor-resize", "gcp": "gcp-machine-type"}


@pytest.fixture(scope="module")
def seeded(local_profile):
    """Every fake of the local scope seeded and served on a free port, the scope naming their URLs."""
    run = unique_name("rs")
    aws = local_profile.connection_for("aws").model_copy(update={"region": REGION})
    fakes = seed.LocalFakes.create(SUB, PROJECT, aws.endpoint, aws_region=REGION, arm_page_size=3)
    ids = seed.seed_scenario(fakes, run, NOW, REGION, aws=aws)
    bucket = unique_name("rightsizing")
    create_bucket(local_profile.connection_for("aws"), bucket)
    market.seed_focus(open_store(f"s3://{bucket}/focus", profile=local_profile), ids,
                      {"aws": REGION, "azure": AZURE, "gcp": GCP}, NOW)
    with fakes:
        scope = RightsizingScope(
            aws=AwsScan(regions=[REGION], pricing_endpoint=fakes.pricing.url, spot_endpoint=fakes.spot.url,
                        advice_endpoint=fakes.optimizer.url),
            azure=AzureScan(subscription_id=SUB, arm_base_url=fakes.arm.url, bandwidth_mbps=BANDWIDTH,
                            prices_url=fakes.prices.url),
            gcp=GcpScan(project=PROJECT, compute_endpoint=fakes.gce.url, monitoring_endpoint=fakes.gce.url,
                        billing_endpoint=fakes.billing.url, recommender_endpoint=fakes.recommender.url),
            select_tags={seed.RUN_TAG: run}, output=f"s3://{bucket}/runs", focus_dataset=f"s3://{bucket}/focus")
        yield ids, scope, fakes


@pytest.fixture(scope="module")
def result(seeded):
    _, scope, fakes = seeded
    # one throttled request of the Azure inventory, retried after its Retry-After (the advice and shape
    # readers share the ARM server, so the failure is for the VM listing only)
    fakes.arm.fail_next(1, 429, "1", path="/providers/Microsoft.Compute/virtualMachines")
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
    ids, _, _ = seeded
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
    ids, _, _ = seeded
    findings = read_table(result.files["findings.parquet"], local_profile).to_pylist()
    not_judged = read_table(result.files["not-judged.parquet"], local_profile).to_pylist()
    kept = {roles["kept"] for roles in ids.values()}
    assert not kept & {r["resource"] for r in findings + not_judged}
    # every VM rule of its cloud on each kept VM, and the unattached-disk rule on the kept EC2's root
    # volume, which inherits the instance's tags
    assert result.statuses["excluded"] == sum(map(len, VM_RULES.values())) + 1
    for cloud, roles in ids.items():
        rows = {r["rule"]: r for r in not_judged if r["resource"] == roles["nodata"]}
        assert rows[IDLE[cloud]]["status"] == "insufficient_data", cloud
        assert "no data points" in rows[IDLE[cloud]]["reason"]
        assert not any(r["resource"] == roles["nodata"] for r in findings)


def test_outputs_land_in_the_store_sorted_and_typed(result, local_profile):
    table = read_table(result.files["findings.parquet"], local_profile)
    # idle, oversized, disk, IP and old snapshot on each cloud, and the orphaned AWS snapshot
    assert table.num_rows == result.findings >= 16
    assert table.schema.field("monthly_effective_savings").type == pa.decimal128(38, 10)
    rows = table.to_pylist()
    # a figure left empty says why; sorted by savings, largest first
    assert all(r["monthly_effective_savings"] is not None or r["savings_note"] for r in rows)
    savings = [r["monthly_effective_savings"] or r["monthly_list_savings"] or 0 for r in rows]
    assert savings == sorted(savings, reverse=True) and savings[0] > 0
    resize = [r for r in rows if r["action"] == "resize"]
    assert resize and all(r["target_type"] or r["target_note"] for r in resize)
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
    for section in ("## Commitments\n\n", "## Cross-cloud arbitrage\n\n"):
        assert section in summary and section + "Not computed" not in summary
    assert f"[findings.parquet]({result.files['findings.parquet']})" in summary
    link = asyncio.run(artifact("rightsizing-findings-parquet")).data
    assert link == f"[findings.parquet]({result.files['findings.parquet']})"


def fired_rows(result, local_profile) -> dict[tuple[str, str], dict]:
    return {(r["resource"], r["rule"]): r for r in read_table(result.files["findings.parquet"], local_profile).to_pylist()}


def test_idle_vms_save_their_focus_cost_and_their_list_price(seeded, result, local_profile):
    ids, _, _ = seeded
    fired = fired_rows(result, local_profile)
    for cloud, roles in ids.items():
        row = fired[(roles["idle"], IDLE[cloud])]
        # stopping saves all of it: the trailing 30 days of FOCUS EffectiveCost, and 730 h of the list price
        hourly = market.hourly_costs(cloud, REGION)["idle"]
        listed = market.list_price(cloud, market.VM_TYPES[cloud]["idle"], REGION)
        assert row["monthly_effective_savings"] == (720 * hourly).quantize(CENT), cloud
        assert row["monthly_list_savings"] == (730 * listed).quantize(CENT), cloud
        assert row["currency"] == "USD"


def test_oversized_vms_get_the_target_their_rule_allows_and_save_the_price_difference(seeded, result,
                                                                                      local_profile):
    ids, _, _ = seeded
    fired = fired_rows(result, local_profile)
    for cloud, roles in ids.items():
        row = fired[(roles["oversized"], OVERSIZED[cloud])]
        assert row["target_type"] == market.TARGETS[cloud], (cloud, row["target_note"])
        current = market.list_price(cloud, market.VM_TYPES[cloud]["oversized"], REGION)
        factor = 1 - market.list_price(cloud, market.TARGETS[cloud], REGION) / current
        expected = 720 * market.hourly_costs(cloud, REGION)["oversized"] * factor
        assert row["monthly_effective_savings"] == expected.quantize(CENT), cloud
        assert row["monthly_list_savings"] == (730 * current * factor).quantize(CENT), cloud


def test_the_clouds_advice_agrees_differs_and_adds_what_only_it_saw(seeded, result, local_profile):
    ids, _, _ = seeded
    fired = fired_rows(result, local_profile)
    for cloud, roles in ids.items():
        assert fired[(roles["idle"], IDLE[cloud])]["advice"] == "agrees", cloud
        oversized = fired[(roles["oversized"], OVERSIZED[cloud])]
        assert oversized["advice"] == "agrees", (cloud, oversized["advice_note"])
        assert f"also resizes it to {market.TARGETS[cloud]}" in oversized["advice_note"]
    # Compute Optimizer calls the young free volume idle; our rule calls it unattached waste
    disk = fired[(ids["aws"]["disk"], "unattached-disk")]
    assert disk["advice"] == "differs" and "says idle" in disk["advice_note"]
    rows = json.loads(asyncio.run(artifact("rightsizing-advice")).data)
    cloud_only = {(r["resource"], r["advice"]) for r in rows if r["side"] == "cloud only"}
    assert (ids["gcp"]["kept"], "we: excluded") in cloud_only  # Recommender does not know our keep label


def test_the_arbitrage_table_prices_every_shape_in_use_on_all_three_clouds(seeded, result):
    ids, _, _ = seeded
    rows = json.loads(asyncio.run(artifact("rightsizing-arbitrage")).data)
    by_use: dict[str, dict[str, list]] = {}
    for r in rows:
        by_use.setdefault(r["in use"], {}).setdefault(r["cloud"], []).append(r)
    in_use = {f"{c} {t}" for c, types in market.VM_TYPES.items() for t in types.values()}
    assert {label.rsplit(" ×", 1)[0] for label in by_use} >= in_use
    for label, clouds in by_use.items():
        assert set(clouds) == {"aws", "azure", "gcp"}, label
        assert all(r["on demand/h"] and r["on demand since"] for placements in clouds.values()
                   for r in placements), label
        assert any("on demand" in r["cheapest"] for placements in clouds.values() for r in placements), label
    equivalents = {r["cloud"]: r["type"] for r in rows if r["in use"].startswith("aws m5.large ")}
    assert equivalents["azure"] == "Standard_D2s_v3" and equivalents["gcp"] == "e2-standard-2"
    aws_spot = [r for r in rows if r["cloud"] == "aws" and r["spot/h"]]
    assert aws_spot and all(r["spot since"] for r in aws_spot)  # from the interposer, dated


def test_the_commitments_table_recommends_a_commitment_per_cloud(result):
    rows = json.loads(asyncio.run(artifact("rightsizing-commitments")).data)
    advised = {(r["provider"], r["region"]) for r in rows if r["hourly_commitment"] and r["term_years"]}
    assert advised >= {("aws", REGION), ("aws", "us-east-1"), ("azure", AZURE), ("gcp", GCP)}
    assert all(r["net_monthly_savings"] and not r["net_monthly_savings"].startswith("-") for r in rows
               if r["hourly_commitment"])


def test_a_bad_rules_file_fails_the_run_naming_file_and_rule(seeded, tmp_path):
    _, scope, _ = seeded
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
