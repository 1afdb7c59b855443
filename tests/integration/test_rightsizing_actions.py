"""Rightsizing actions at the cloud level, on the local Azure Resource Manager and Compute Engine fakes
and moto: what the cloud refuses (a disk attached, an IP in use, a throttled change) comes back as the
taxonomy and is journaled as failed, never raised past the action; a resource gone since the scan is
skipped; the zone operation and ARM's long-running operation are polled to their end."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from multicloud.clouds import open_store
from multicloud.clouds.azure.actions import AzureActions, parse_id
from multicloud.clouds.gcp.actions import GcpActions
from multicloud.config import Connection
from multicloud.core.errors import AlreadyExists, InvalidInput, NotFound
from multicloud.core.rightsizing import FINDING, Outcome, Resource
from multicloud.core.rightsizing import actions as A
from multicloud.core.rightsizing.findings import Finding
from multicloud.engine.journal import Journal
from multicloud.engine.rightsizing_actions import execute
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_gce import FakeGce
from tests.support import unique_name

NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
SUB, PROJECT, ZONE = "00000000-aaaa-bbbb-cccc-000000000002", "proj-act-int", "us-central1-a"
AZ = Connection(name="arm", cloud="azure", credentials="emulator")
GCP = Connection(name="gce", cloud="gcp", account=PROJECT, credentials="emulator")


def planned(resource: Resource, action: str) -> A.PlannedAction:
    outcome = Outcome("r", resource.id, resource.cloud, resource.kind, FINDING, "", "waste", action,
                      "https://example.test/")
    f = Finding(outcome, resource)
    [p] = A.plan_actions([f], [A.finding_id(f)], False, NOW, "ops")
    return p


def journal() -> Journal:
    return Journal(open_store(f"mem://{unique_name('j')}/"), "run")


@pytest.fixture
def azure():
    with FakeAzureCompute(SUB, lro_polls=3) as fake:
        yield fake, AzureActions(AZ, fake.url, poll_seconds=0.1)


@pytest.fixture
def gce():
    with FakeGce(PROJECT, op_polls=3) as fake:
        yield fake, GcpActions(GCP, fake.url, poll_seconds=0.05)


def test_azure_refuses_deleting_an_attached_disk_and_the_refusal_is_journaled(azure):
    fake, actions = azure
    vm = fake.add_vm("rg", "vm", "Standard_D2s_v3", created=NOW)
    disk = fake.add_disk("rg", "held", size_gb=4, created=NOW, managed_by=vm)
    with pytest.raises(AlreadyExists, match="attached"):
        actions.delete_disk(Resource("azure", disk, "disk"))
    # the inventory said free, the cloud says attached by the time we act: journaled, not raised
    deletes = len(fake.calls("DELETE"))
    free_then = planned(Resource("azure", disk, "disk", region="eastus", attached=False), "snapshot_and_delete")
    j = journal()
    out = execute(free_then, actions, j)
    assert out["outcome"] == A.SKIPPED and "attached to" in out["why"]
    assert fake.find(disk) is not None and len(fake.calls("DELETE")) == deletes


def test_azure_long_running_operations_are_polled_until_they_succeed(azure):
    fake, actions = azure
    vm = fake.add_vm("rg", "vm", "Standard_D2s_v3", created=NOW)
    actions.stop(Resource("azure", vm, "vm"))
    polls = [r for r in fake.calls("GET", "/operations/") if "monitor" not in r.query]
    assert len(polls) == 3 and actions.read(Resource("azure", vm, "vm")).state == "stopped"


def test_azure_ip_in_use_and_gone_resources(azure):
    fake, actions = azure
    ip = fake.add_public_ip("rg", "bound", address="20.0.0.1", ip_configuration="/subscriptions/x/nic/ipconfig1")
    with pytest.raises(InvalidInput, match="PublicIPAddressInUse"):
        actions.release(Resource("azure", ip, "ip"))
    gone = fake.resource_id("rg", "Microsoft.Compute", "virtualMachines/never")
    assert actions.read(Resource("azure", gone, "vm")) is None
    out = execute(planned(Resource("azure", gone, "vm", state="running"), "stop"), actions, journal())
    assert out["outcome"] == A.SKIPPED and "no longer exists" in out["why"]
    with pytest.raises(InvalidInput, match="not an Azure resource id"):
        parse_id("vm-1")


def test_gcp_refuses_deleting_a_disk_in_use(gce):
    fake, actions = gce
    disk = fake.add_disk(ZONE, "held", size_gb=4, created=NOW)
    inst = fake.add_instance(ZONE, "vm", "e2-small", created=NOW)
    fake.attach(disk, inst)
    rid = f"//compute.googleapis.com/projects/{PROJECT}/zones/{ZONE}/disks/{disk['id']}"
    with pytest.raises(InvalidInput, match="already being used"):
        actions.delete_disk(Resource("gcp", rid, "disk"))
    assert actions.read(Resource("gcp", rid, "disk")).attached is True


def test_gcp_throttled_change_is_journaled_as_failed_and_nothing_changes(gce):
    fake, actions = gce
    ip = fake.add_address("us-central1", "stray", address="34.0.0.1")
    rid = f"//compute.googleapis.com/projects/{PROJECT}/regions/us-central1/addresses/{ip['id']}"
    p = planned(Resource("gcp", rid, "ip", region="us-central1", associated=False), "release")
    j = journal()
    fake.fail_next(1, status=429, retry_after="0", method="DELETE")  # a change is never retried blindly
    out = execute(p, actions, j)
    assert out["outcome"] == A.FAILED and out["error"] == "Throttled"
    assert [e.outcome for e in j.entries()] == ["started", A.FAILED]
    assert fake.find("addresses", "stray") is not None and len(fake.calls("DELETE")) == 1


def test_gcp_snapshot_then_delete_polls_the_zone_operations(gce):
    fake, actions = gce
    disk = fake.add_disk(ZONE, "free", size_gb=4, created=NOW)
    rid = f"//compute.googleapis.com/projects/{PROJECT}/zones/{ZONE}/disks/{disk['id']}"
    j = journal()
    out = execute(planned(actions.read(Resource("gcp", rid, "disk")), "snapshot_and_delete"), actions, j)
    assert out["outcome"] == A.DONE and fake.find("disks", "free") is None
    snap = fake.find("snapshots", out["snapshot_id"].rsplit("/", 1)[1])
    assert snap["sourceDiskId"] == disk["id"] and snap["labels"] == {"multicloud-before-delete-of": disk["id"]}
    assert [e.outcome for e in j.entries()] == ["started", "snapshotted", A.DONE]
    assert len(fake.calls("GET", "/zones/.*/operations/")) == 6  # three polls for each of two operations
    with pytest.raises(NotFound):
        actions.delete_disk(Resource("gcp", rid, "disk"))
