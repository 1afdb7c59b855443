"""The failover runbook against the emulated clouds (Route 53, S3, Azure on the local stack),
stand-in site services on loopback and a real Prefect server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest
import yaml

from deployments import cloudstack
from multicloud.testing.failover_setup import prepare
from multicloud.testing.sites import SiteService
from flows.failover import Stopped, failover
from multicloud.clouds import open_store
from multicloud.clouds.aws.route53 import WeightedRecord
from multicloud.config import load_plans
from tests.support import unique_name
from tests.fakes.faulty_proxy import FaultyProxy

PRIMARY_PORT = int(os.environ.get("MULTICLOUD_TEST_PRIMARY_PORT", 9411))
SECONDARY_PORT = int(os.environ.get("MULTICLOUD_TEST_SECONDARY_PORT", 9412))
PROXY_PORT = int(os.environ.get("MULTICLOUD_TEST_PROXY_PORT", 9190))


@pytest.fixture(scope="module", autouse=True)
def single_flight_limit(prefect_server):
    import asyncio

    from deployments.bootstrap import bootstrap

    asyncio.run(bootstrap())


@pytest.fixture
def sites():
    with SiteService("primary", PRIMARY_PORT) as primary, SiteService("secondary", SECONDARY_PORT) as secondary:
        yield primary, secondary


@pytest.fixture
def plan_file(local_profile, tmp_path, sites):
    """A plan on its own buckets and DNS zone; returns (path, plan)."""
    tag = unique_name("fo")
    data = {"plans": [{
        "name": "test-plan", "primary": "primary", "secondary": "secondary",
        "sites": [
            {"name": "primary", "cloud": "aws", "dns_value": "primary.test.internal",
             "health_urls": [f"http://127.0.0.1:{PRIMARY_PORT}/health"],
             "write_switch": {"kind": "http", "url": f"http://127.0.0.1:{PRIMARY_PORT}/admin"}},
            {"name": "secondary", "cloud": "azure", "dns_value": "secondary.test.internal",
             "health_urls": [f"http://127.0.0.1:{SECONDARY_PORT}/health"],
             "write_switch": {"kind": "http", "url": f"http://127.0.0.1:{SECONDARY_PORT}/admin"}},
        ],
        "datasets": [{"name": "orders", "urls": {"primary": f"s3://{tag}-p", "secondary": f"az://{tag}-s"}}],
        "dns": {"zone": f"{tag}.internal.", "record": f"app.{tag}.internal."},
        "rpo_seconds": 3600, "rto_seconds": 60, "approval": "auto", "approval_timeout_seconds": 30,
        "journal": f"s3://{tag}-journal/", "probe_timeout_seconds": 2, "probe_attempts": 1,
    }]}
    path = tmp_path / "plans.yaml"
    path.write_text(yaml.safe_dump(data))
    plan = load_plans(path).plans[0]
    prepare(plan, local_profile)
    src = open_store(f"s3://{tag}-p", local_profile)
    for i in range(5):
        src.write(f"order-{i}", io.BytesIO(b"o" * 10), size=10)
    return path, plan


def run(plan_file, **kw):
    path, plan = plan_file
    return failover(plan="test-plan", plans_file=str(path), profile="local", **kw)


def weights(plan, local_profile):
    return WeightedRecord(local_profile.connection_for("aws"), plan.dns.zone, plan.dns.record, plan.dns.type).weights()


def control(port: int, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    req = urllib.request.Request(f"http://127.0.0.1:{port}/control?{query}", method="POST" if params else "GET",
                                 data=b"" if params else None)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def replica_keys(plan, local_profile) -> list[str]:
    return [m.key for m in open_store(plan.datasets[0].urls["secondary"], local_profile).list()]


def test_clean_failover_in_auto_mode_then_failback(plan_file, sites, local_profile):
    primary, secondary = sites
    result = run(plan_file)
    _, plan = plan_file
    assert result["completed"] and result["rto_seconds"] < 60 and result["rpo_seconds"] == 0
    assert [r["outcome"] for r in result["steps"]] == ["completed"] * 5  # preflight .. validate
    assert primary.state["mode"] == "read-only" and primary.state["calls"]["read-only"] == 1
    assert weights(plan, local_profile) == {"primary": 0, "secondary": 100}
    assert replica_keys(plan, local_profile) == [f"order-{i}" for i in range(5)]

    back = run(plan_file, direction="failback")
    assert back["completed"]
    assert secondary.state["mode"] == "read-only"
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_manual_approval_resumed_through_the_api(plan_file, sites, local_profile):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateName
    from prefect.flow_runs import resume_flow_run

    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(result=run(plan_file, approval="manual")))
    worker.start()
    paused = None
    deadline = time.monotonic() + 60
    while paused is None and time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"]))))
        paused = runs[0] if runs else None
        time.sleep(0.5)
    assert paused is not None, "the run never paused for approval"
    assert sites[0].state["calls"]["read-only"] == 0  # nothing mutated before approval
    resume_flow_run(paused.id, run_input={"approve": True, "approver": "on-call", "comment": "go"})
    worker.join(120)
    assert outcome["result"]["completed"]
    assert sites[0].state["mode"] == "read-only"


def test_denial_ends_safely(plan_file, sites, local_profile):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateName
    from prefect.flow_runs import resume_flow_run

    errors = {}

    def go():
        try:
            run(plan_file, approval="manual")
        except Stopped as exc:
            errors["stopped"] = str(exc)

    worker = threading.Thread(target=go)
    worker.start()
    for _ in range(120):
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"]))))
        if runs:
            resume_flow_run(runs[0].id, run_input={"approve": False, "approver": "lead", "comment": "false alarm"})
            break
        time.sleep(0.5)
    worker.join(120)
    assert "denied by lead" in errors["stopped"]
    _, plan = plan_file
    assert sites[0].state["calls"] == {"read-only": 0, "read-write": 0}
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_approval_timeout_ends_safely(plan_file, sites, local_profile, tmp_path):
    path, plan = plan_file
    data = yaml.safe_load(path.read_text())
    data["plans"][0]["approval_timeout_seconds"] = 3
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(Stopped, match="no decision within 3 s"):
        run(plan_file, approval="manual")
    assert sites[0].state["calls"]["read-only"] == 0
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_preflight_failure_touches_nothing(plan_file, sites, local_profile):
    control(SECONDARY_PORT, healthy=0)
    with pytest.raises(Stopped, match="preflight failed"):
        run(plan_file)
    _, plan = plan_file
    assert sites[0].state["calls"]["read-only"] == 0
    assert replica_keys(plan, local_profile) == []


def test_read_only_failure_needs_no_compensation(plan_file, sites, local_profile):
    control(PRIMARY_PORT, admin_fails=1)
    with pytest.raises(Exception, match="HTTP 500"):
        run(plan_file)
    _, plan = plan_file
    assert sites[0].state["mode"] == "read-write"
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def _proxied_profile(local_profile, tmp_path, port: int):
    """The local profile with Azure reached through a proxy on `port`."""
    conns = [c.model_dump() for c in local_profile.connections]
    azurite = [s for s in cloudstack.services() if s.name == "azurite"][0]
    for c in conns:
        if c["cloud"] == "azure":
            c["endpoint"] = c["endpoint"].replace(f":{azurite.port}/", f":{port}/")
    path = tmp_path / "proxied.yaml"
    path.write_text(yaml.safe_dump({"name": "proxied", "connections": conns}))
    return str(path), azurite.port


def journal_steps(plan, local_profile, fid):
    from multicloud.engine.journal import Journal

    return [(e.step, e.outcome) for e in Journal(open_store(plan.journal, local_profile), fid).entries()]


def test_final_sync_failure_returns_primary_to_read_write(plan_file, sites, local_profile, tmp_path):
    path, plan = plan_file
    profile, upstream = _proxied_profile(local_profile, tmp_path, PROXY_PORT)
    fid = str(uuid.uuid4())
    with FaultyProxy(upstream, PROXY_PORT, refuse="order-3"):
        with pytest.raises(Exception, match="object\\(s\\) failed"):
            failover(plan="test-plan", plans_file=str(path), profile=profile, failover_id=fid)
    assert sites[0].state["mode"] == "read-write"
    assert sites[0].state["calls"] == {"read-only": 1, "read-write": 1}
    steps = journal_steps(plan, local_profile, fid)
    assert ("final-sync", "failed") in steps and ("compensate-read-write", "completed") in steps
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_dns_switch_failure_returns_primary_to_read_write(plan_file, sites, local_profile):
    _, plan = plan_file
    control(SECONDARY_PORT, unhealthy_after=1)  # healthy for preflight, down when DNS would move to it
    with pytest.raises(Exception, match="no healthy site"):
        run(plan_file)
    assert sites[0].state["mode"] == "read-write" and sites[0].state["calls"]["read-write"] == 1
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_validate_failure_after_switch_does_not_roll_back(plan_file, sites, local_profile):
    _, plan = plan_file
    control(SECONDARY_PORT, unhealthy_after=2)  # preflight and the DNS switch see it up; validation does not
    with pytest.raises(Exception, match="not healthy through the new records"):
        run(plan_file)
    assert sites[0].state["mode"] == "read-only" and sites[0].state["calls"]["read-write"] == 0
    assert weights(plan, local_profile) == {"primary": 0, "secondary": 100}


def test_resume_after_kill_does_not_repeat_a_completed_mutating_step(plan_file, sites, local_profile, tmp_path):
    from prefect.settings import PREFECT_API_URL

    path, plan = plan_file
    profile, upstream = _proxied_profile(local_profile, tmp_path, PROXY_PORT)
    fid = str(uuid.uuid4())
    code = ("from flows.failover import failover\n"
            f"failover(plan='test-plan', plans_file={str(path)!r}, profile={profile!r}, failover_id={fid!r})")
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value())
    with FaultyProxy(upstream, PROXY_PORT, delay=4):  # the final sync's writes hang: time to kill it
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while ("primary-read-only", "completed") not in journal_steps(plan, local_profile, fid):
            assert time.monotonic() < deadline and proc.poll() is None, "the run never made the primary read-only"
            time.sleep(0.1)
        proc.kill()
        proc.wait()
    assert sites[0].state["calls"]["read-only"] == 1
    assert ("validate", "completed") not in journal_steps(plan, local_profile, fid)

    result = run(plan_file, failover_id=fid, take_over_stale_lease=True)
    assert result["completed"]
    assert sites[0].state["calls"]["read-only"] == 1  # not repeated
    assert weights(plan, local_profile) == {"primary": 0, "secondary": 100}
    assert journal_steps(plan, local_profile, fid).count(("primary-read-only", "completed")) == 1


def test_practice_mode_changes_nothing(plan_file, sites, local_profile):
    _, plan = plan_file
    before_keys = replica_keys(plan, local_profile)
    fid = str(uuid.uuid4())
    result = run(plan_file, practice=True, failover_id=fid)
    assert result["completed"] and result["practice"]
    assert sites[0].state["calls"] == {"read-only": 0, "read-write": 0}
    assert sites[0].state["mode"] == "read-write"
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}
    assert replica_keys(plan, local_profile) == before_keys == []
    steps = journal_steps(plan, local_profile, fid)
    assert ("dns-switch", "completed") in steps and ("report", "completed") in steps


def test_second_concurrent_failover_is_refused(plan_file, sites, local_profile):
    from multicloud.core.failover import SINGLE_FLIGHT_LIMIT
    from tasks.failover import single_flight

    with single_flight(SINGLE_FLIGHT_LIMIT):
        with pytest.raises(Stopped, match="refused: another failover holds"):
            run(plan_file)
    assert sites[0].state["calls"]["read-only"] == 0
    assert "refused" in artifact_text("failover-refused")
    assert run(plan_file)["completed"]  # the slot is free again


def test_resolved_alert_cancels_before_the_dns_switch(plan_file, sites, local_profile):
    from prefect.variables import Variable

    _, plan = plan_file
    fid = str(uuid.uuid4())
    Variable.set(f"failover-cancel-{fid}", "resolved", overwrite=True)
    with pytest.raises(Stopped, match="resolved before the DNS switch"):
        run(plan_file, failover_id=fid)
    # Resolved before the run started: stopped before the first mutating step, nothing touched.
    assert sites[0].state["calls"] == {"read-only": 0, "read-write": 0}
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_resolved_alert_during_the_run_is_compensated(plan_file, sites, local_profile, tmp_path):
    from prefect.variables import Variable

    _, plan = plan_file
    profile, upstream = _proxied_profile(local_profile, tmp_path, PROXY_PORT)
    fid = str(uuid.uuid4())
    failed = {}

    def go():
        try:
            failover(plan="test-plan", plans_file=str(plan_file[0]), profile=profile, failover_id=fid)
        except Stopped as exc:
            failed["stopped"] = str(exc)

    with FaultyProxy(upstream, PROXY_PORT, delay=2):  # a slow final sync: the alert resolves meanwhile
        worker = threading.Thread(target=go)
        worker.start()
        deadline = time.monotonic() + 60
        while ("primary-read-only", "completed") not in journal_steps(plan, local_profile, fid):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        Variable.set(f"failover-cancel-{fid}", "resolved", overwrite=True)
        worker.join(120)
    assert "resolved before the DNS switch" in failed["stopped"]
    assert sites[0].state["mode"] == "read-write" and sites[0].state["calls"] == {"read-only": 1, "read-write": 1}
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def artifact_text(key: str) -> str:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def fetch():
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                                sort=ArtifactSort.CREATED_DESC, limit=1)
            return str(found[0].data) if found else ""

    return asyncio.run(fetch())
