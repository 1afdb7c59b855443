"""Rightsizing actions on a real Prefect server: the flow run pauses on the approval form, the test
answers it through the Prefect client, and the actions run against moto (the shared local stack) and
the local Azure Resource Manager and Compute Engine fakes. Practice mode changes nothing anywhere;
a real run stops the idle VMs, snapshots then deletes the free disks and releases the stray IPs, on
all three clouds, and the journal in the output store says who approved it, what was done and which
snapshot was made before each delete; a finding not approved, or a resource changed since the scan,
is left as it is."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from prefect import flow

from flows.rightsizing import act_on_findings
from multicloud.clouds.aws.actions import BEFORE_DELETE_TAG, AwsActions
from multicloud.clouds.aws.session import client
from multicloud.clouds.azure.actions import AzureActions
from multicloud.clouds.gcp.actions import GcpActions
from multicloud.config import load_profile
from multicloud.config.rightsizing import Condition, Rule
from multicloud.config.rightsizing_actions import ActionTargets
from multicloud.core.rightsizing import actions as A
from multicloud.core.rightsizing import Resource, evaluate
from multicloud.core.rightsizing.findings import Finding
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_gce import FakeGce
from tasks.rightsizing_actions import open_journal
from tests.support import unique_name

NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
SUB, PROJECT, ZONE = "00000000-aaaa-bbbb-cccc-000000000001", "proj-actions", "us-central1-a"
SOURCE = "https://docs.aws.amazon.com/awssupport/latest/user/cost-optimization-checks.html"
CASES: dict[str, dict] = {}  # case -> the findings and targets the flow acts on (findings stay in process)


def rule(name: str, kind: str, action: str, **when) -> Rule:
    return Rule(name=name, kind=kind, finding="waste", action=action, source=SOURCE, when=[Condition(op="eq", **when)])


# The shipped waste rules for disks and IPs; a VM "idle" by attribute alone, as the detection is not under test.
RULES = [rule("idle-vm", "vm", "stop", attribute="state", value="running"),
         rule("unattached-disk", "disk", "snapshot_and_delete", attribute="attached", value=False),
         rule("unassociated-ip", "ip", "release", attribute="associated", value=False)]


@flow(name="rightsizing-actions-test")
def scan_and_act(case: str, journal_url: str, timeout_seconds: int = 60) -> dict:
    """What the rightsizing flow does once it has findings: the one call to act_on_findings."""
    return act_on_findings(CASES[case]["findings"], load_profile("local"), journal_url, case, CASES[case]["targets"],
                           approval_timeout_seconds=timeout_seconds)


@pytest.fixture
def clouds(local_profile):
    """Seeded on all three clouds: an idle VM, a free disk and a stray IP each, plus on AWS a second free
    disk and a second IP; the findings from the real re-read records; the journal bucket."""
    aws = local_profile.connection_for("aws")
    ec2 = client(aws, "ec2")
    tag = [{"ResourceType": t, "Tags": [{"Key": "test", "Value": unique_name("act")}]}
           for t in ("instance", "volume", "elastic-ip")]
    ids = {"aws-vm": ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                       Placement={"AvailabilityZone": "us-east-1a"},
                                       TagSpecifications=[tag[0]])["Instances"][0]["InstanceId"]}
    for name in ("aws-disk", "aws-disk-2"):
        ids[name] = ec2.create_volume(AvailabilityZone="us-east-1a", Size=4, TagSpecifications=[tag[1]])["VolumeId"]
    for name in ("aws-ip", "aws-ip-2"):
        ids[name] = ec2.allocate_address(Domain="vpc", TagSpecifications=[tag[2]])["AllocationId"]
    journal = unique_name("actions-journal")
    client(aws, "s3").create_bucket(Bucket=journal)
    with FakeAzureCompute(SUB) as azure, FakeGce(PROJECT) as gce:
        ids["azure-vm"] = azure.add_vm("rg-act", "vm-idle", "Standard_D2s_v3", created=NOW)
        ids["azure-disk"] = azure.add_disk("rg-act", "disk-free", size_gb=8, created=NOW)
        ids["azure-ip"] = azure.add_public_ip("rg-act", "ip-stray", address="20.0.0.9")
        gce.add_machine_type(ZONE, "e2-small", vcpus=2, memory_mb=2048)
        vm = gce.add_instance(ZONE, "vm-idle", "e2-small", created=NOW)
        disk = gce.add_disk(ZONE, "disk-free", size_gb=8, created=NOW)
        ip = gce.add_address("us-central1", "ip-stray", address="34.0.0.9")
        gid = "//compute.googleapis.com/projects/" + PROJECT
        ids |= {"gcp-vm": f"{gid}/zones/{ZONE}/instances/{vm['id']}", "gcp-disk": f"{gid}/zones/{ZONE}/disks/{disk['id']}",
                "gcp-ip": f"{gid}/regions/us-central1/addresses/{ip['id']}"}
        targets = ActionTargets(azure_arm_url=azure.url, gcp_compute_url=gce.url, poll_seconds=0.2)
        readers = {"aws": AwsActions(aws), "azure": AzureActions(local_profile.connection_for("azure"), azure.url),
                   "gcp": GcpActions(local_profile.connection_for("gcp"), gce.url)}
        kinds = {"vm": "vm", "disk": "disk", "disk-2": "disk", "ip": "ip", "ip-2": "ip"}
        resources = []
        for name, rid in ids.items():
            cloud, kind = name.split("-", 1)
            resources.append(readers[cloud].read(Resource(cloud, rid, kinds[kind], region=_region(cloud))))
        findings = [Finding(o, next(r for r in resources if r.id == o.resource))
                    for o in evaluate(RULES, resources, {}, NOW) if o.fired]
        assert len(findings) == len(ids)  # every seeded resource is a finding
        yield {"ids": ids, "findings": findings, "targets": targets, "azure": azure, "gce": gce, "ec2": ec2,
               "journal": f"s3://{journal}/", "profile": local_profile}


def _region(cloud: str) -> str:
    return {"aws": "us-east-1", "azure": "eastus", "gcp": "us-central1"}[cloud]


def fid(clouds, name: str) -> str:
    return A.finding_id(next(f for f in clouds["findings"] if f.resource.id == clouds["ids"][name]))


def start(clouds) -> tuple[str, threading.Thread, dict]:
    case = unique_name("case")
    CASES[case] = {"findings": clouds["findings"], "targets": clouds["targets"]}
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(result=scan_and_act.with_options(flow_run_name=case)(
        case=case, journal_url=clouds["journal"])), daemon=True)
    worker.start()
    return case, worker, out


def paused_run(case: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.exceptions import PrefectHTTPStatusError

    deadline = time.monotonic() + 90
    with get_client(sync_client=True) as api:
        while time.monotonic() < deadline:
            runs = api.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[case])))
            if runs and runs[0].state.is_paused():
                keys = runs[0].state.state_details.run_input_keyset
                try:  # the run is paused a moment before its form is stored
                    form = api.read_flow_run_input(runs[0].id, keys["description"])
                    return runs[0], form, json.loads(api.read_flow_run_input(runs[0].id, keys["schema"]))
                except PrefectHTTPStatusError as exc:
                    if exc.response.status_code != 404:
                        raise
            time.sleep(0.3)
    raise AssertionError(f"flow run {case} never paused for approval")


def resume(run, answer: dict, worker: threading.Thread, out: dict) -> dict:
    from prefect.flow_runs import resume_flow_run

    resume_flow_run(run.id, run_input=answer)
    worker.join(180)
    assert "result" in out, "the flow run did not finish"
    return out["result"]


def journal(clouds, case: str):
    return open_journal(clouds["journal"], case, clouds["profile"]).entries()


def state(clouds) -> dict:
    """What each seeded resource is now, read straight from the clouds."""
    ec2, azure, gce, ids = clouds["ec2"], clouds["azure"], clouds["gce"], clouds["ids"]
    vm = ec2.describe_instances(InstanceIds=[ids["aws-vm"]])["Reservations"][0]["Instances"][0]
    volumes = {v["VolumeId"] for v in ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [
        ids["aws-disk"], ids["aws-disk-2"]]}])["Volumes"]}
    ips = {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]}
    statuses = azure.find(ids["azure-vm"])["properties"]["instanceView"]["statuses"]
    return {"aws-vm": vm["State"]["Name"], "aws-disk": ids["aws-disk"] in volumes,
            "aws-disk-2": ids["aws-disk-2"] in volumes, "aws-ip": ids["aws-ip"] in ips, "aws-ip-2": ids["aws-ip-2"] in ips,
            "azure-vm": [s["code"] for s in statuses if s["code"].startswith("PowerState/")][0],
            "azure-disk": azure.find(ids["azure-disk"]) is not None, "azure-ip": azure.find(ids["azure-ip"]) is not None,
            "gcp-vm": gce.find("instances", "vm-idle")["status"], "gcp-disk": gce.find("disks", "disk-free") is not None,
            "gcp-ip": gce.find("addresses", "ip-stray") is not None}


UNTOUCHED = {"aws-vm": "running", "aws-disk": True, "aws-disk-2": True, "aws-ip": True, "aws-ip-2": True,
             "azure-vm": "PowerState/running", "azure-disk": True, "azure-ip": True, "gcp-vm": "RUNNING",
             "gcp-disk": True, "gcp-ip": True}


def test_practice_mode_by_default_changes_nothing_and_says_what_would_be_done(clouds, prefect_server):
    case, worker, out = start(clouds)
    run, form, schema = paused_run(case)
    assert state(clouds) == UNTOUCHED  # nothing before approval
    for f in clouds["findings"]:
        assert A.finding_id(f) in form and f.resource.id in form and f.outcome.rule in form
    assert schema["properties"]["practice"]["default"] is True
    every = {f"approve_{A.finding_id(f)}": True for f in clouds["findings"]}
    result = resume(run, {"approver": "ops-lead", **every}, worker, out)  # practice left at its default
    assert result["practice"] is True and result["outcomes"] == {A.WOULD_DO: len(clouds["findings"])}
    assert state(clouds) == UNTOUCHED
    assert not [r for r in clouds["azure"].requests + clouds["gce"].requests if r.method != "GET"]
    entries = journal(clouds, case)
    assert entries[0].step == "approval" and entries[0].observed["approver"] == "ops-lead" and entries[0].practice
    assert sorted(e.observed["resource"] for e in entries if e.outcome == A.WOULD_DO) == sorted(clouds["ids"].values())
    summary = _artifact("rightsizing-actions-summary")
    assert "practice: nothing was changed" in summary and "would snapshot_and_delete" in summary


def test_approved_actions_run_on_all_three_clouds_and_the_rest_is_untouched(clouds, prefect_server):
    ids, ec2 = clouds["ids"], clouds["ec2"]
    case, worker, out = start(clouds)
    run, _, _ = paused_run(case)
    # changed since the scan: the second AWS disk is attached now
    ec2.attach_volume(VolumeId=ids["aws-disk-2"], InstanceId=ids["aws-vm"], Device="/dev/sdf")
    approve = {f"approve_{fid(clouds, n)}": True for n in ids if n != "aws-ip-2"}
    result = resume(run, {"approver": "ops-lead", "comment": "monthly cleanup", "practice": False, **approve},
                    worker, out)
    assert state(clouds) == {**UNTOUCHED, "aws-vm": "stopped", "aws-disk": False, "aws-ip": False,
                             "azure-vm": "PowerState/deallocated", "azure-disk": False, "azure-ip": False,
                             "gcp-vm": "TERMINATED", "gcp-disk": False, "gcp-ip": False}
    assert result["outcomes"] == {A.DONE: 9, A.SKIPPED: 1, "not run": 1}
    entries = journal(clouds, case)
    approval = entries[0]
    assert (approval.step, approval.observed["approver"], approval.observed["comment"], approval.practice) == (
        "approval", "ops-lead", "monthly cleanup", False)
    by_step = {}
    for e in entries:
        by_step.setdefault(e.observed.get("resource"), []).append(e)
    for name in ("aws-disk", "azure-disk", "gcp-disk"):
        steps = by_step[ids[name]]
        assert [e.outcome for e in steps] == ["started", "snapshotted", A.DONE]
        assert steps[1].observed["snapshot_id"] == steps[2].observed["snapshot_id"]
        assert steps[1].at <= steps[2].at and steps[2].observed["approver"] == "ops-lead"
    aws_snapshot = by_step[ids["aws-disk"]][1].observed["snapshot_id"]
    made = ec2.describe_snapshots(SnapshotIds=[aws_snapshot])["Snapshots"][0]
    assert made["VolumeId"] == ids["aws-disk"] and {"Key": BEFORE_DELETE_TAG, "Value": ids["aws-disk"]} in made["Tags"]
    assert clouds["azure"].find(by_step[ids["azure-disk"]][1].observed["snapshot_id"])["properties"][
        "creationData"]["sourceResourceId"] == ids["azure-disk"]
    assert clouds["gce"].find("snapshots", by_step[ids["gcp-disk"]][1].observed["snapshot_id"].rsplit("/", 1)[1])
    skipped = by_step[ids["aws-disk-2"]]
    assert [e.outcome for e in skipped] == [A.SKIPPED] and "since the scan" in skipped[0].observed["why"]
    assert ids["aws-ip-2"] not in by_step  # not approved: no action entry, only its line in the plan
    plan = next(e for e in entries if e.step == "plan").observed["actions"]
    assert next(r for r in plan if r["resource"] == ids["aws-ip-2"])["decision"] == A.NOT_APPROVED


def test_no_answer_in_time_does_nothing(clouds, prefect_server):
    case = unique_name("case")
    CASES[case] = {"findings": clouds["findings"], "targets": clouds["targets"]}
    result = scan_and_act.with_options(flow_run_name=case)(case=case, journal_url=clouds["journal"], timeout_seconds=2)
    assert set(result["outcomes"]) == {"not run"} and state(clouds) == UNTOUCHED
    entries = journal(clouds, case)
    assert (entries[0].step, entries[0].outcome) == ("approval", "failed") and "nothing was done" in \
        entries[0].observed["reason"]


def _artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as api:
        found = api.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                   sort="CREATED_DESC", limit=1)
    return found[0].data
