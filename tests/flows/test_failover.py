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
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from deployments import cloudstack
from flows.failover import Stopped, failover
from multicloud.clouds import open_store
from multicloud.clouds.aws.dns import WeightedRecord
from multicloud.core import failover as fo
from multicloud.engine.journal import Journal
from multicloud.engine.transfer import SyncOptions
from multicloud.testing.sites import SiteService
from multicloud.testing.fakes.faulty_proxy import FaultyProxy
from tests.support import azure_through, failover_plan_data, unique_name, write_failover_plan

AUTO_STEPS = ["preflight", "primary-read-only", "final-sync", "dns-switch", "validate"]
SECRET, TOKEN = "s3cr3t-pw", "tok-0123456789"


@pytest.fixture(scope="module", autouse=True)
def single_flight_limit(prefect_server):
    import asyncio

    from deployments.bootstrap import bootstrap

    asyncio.run(bootstrap())


@pytest.fixture
def sites():
    with SiteService("primary") as primary, SiteService("secondary") as secondary:
        yield primary, secondary


def plan_data(tag: str, primary: SiteService, secondary: SiteService) -> dict:
    return failover_plan_data(tag, primary.port, secondary.port)


@pytest.fixture
def plan_factory(local_profile, tmp_path, sites):
    """Writes a plan on its own buckets and DNS zone, changed by `change(plan dict)`; returns (path, plan)."""

    def make(change=lambda plan: None):
        tag = unique_name("fo")
        data = plan_data(tag, *sites)
        change(data["plans"][0])
        return write_failover_plan(data, tmp_path / f"{tag}.yaml", local_profile)

    return make


@pytest.fixture
def plan_file(plan_factory):
    return plan_factory()


def run(plan_file, **kw):
    path, plan = plan_file
    return failover(plan="test-plan", plans_file=str(path), profile="local", **kw)


def weights(plan, local_profile):
    return WeightedRecord(local_profile.connection_for("aws"), plan.dns.zone, plan.dns.record, plan.dns.type).weights()


def control(site: SiteService, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    req = urllib.request.Request(f"http://127.0.0.1:{site.port}/control?{query}", method="POST" if params else "GET",
                                 data=b"" if params else None)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def replica_keys(plan, local_profile) -> list[str]:
    return [m.key for m in open_store(plan.datasets[0].urls["secondary"], local_profile).list()]


def journal(plan, local_profile, fid) -> list[fo.JournalEntry]:
    return Journal(open_store(plan.journal, local_profile), fid).entries()


def journal_steps(plan, local_profile, fid):
    return [(e.step, e.outcome) for e in journal(plan, local_profile, fid)]


def entry(plan, local_profile, fid, step, outcome) -> fo.JournalEntry:
    return [e for e in journal(plan, local_profile, fid) if (e.step, e.outcome) == (step, outcome)][-1]


def azure_proxy(local_profile, tmp_path, **faults) -> tuple[FaultyProxy, str]:
    """A faulty proxy in front of Azurite, and a profile file whose Azure connection goes through it."""
    azurite = [s for s in cloudstack.services() if s.name == "azurite"][0]
    proxy = FaultyProxy(azurite.port, **faults)
    return proxy, azure_through(local_profile, azurite.port, proxy.port, tmp_path)


def in_thread(fn, **kw) -> tuple[threading.Thread, dict]:
    """Run fn(**kw) in a thread; the result or the Stopped message lands in the returned dict."""
    out: dict = {}

    def go():
        try:
            out["result"] = fn(**kw)
        except Stopped as exc:
            out["stopped"] = str(exc)

    worker = threading.Thread(target=go)
    worker.start()
    return worker, out


def own_paused_run(plan, local_profile, fid):
    """The flow run of failover `fid` (named in its journal), once it is paused for approval."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        held = [e for e in journal(plan, local_profile, fid) if (e.step, e.outcome) == ("single-flight", "acquired")]
        if held:
            with get_client(sync_client=True) as client:
                flow_run = client.read_flow_run(uuid.UUID(held[-1].observed["flow_run_id"]))
            if flow_run.state.is_paused():
                return flow_run
        time.sleep(0.3)
    raise AssertionError(f"the run of failover {fid} never paused for approval")


def approval_form(flow_run) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run_input(flow_run.id, flow_run.state.state_details.run_input_keyset["description"])


def test_clean_failover_in_auto_mode_then_failback(plan_file, sites, local_profile):
    primary, secondary = sites
    _, plan = plan_file
    fid, trigger = str(uuid.uuid4()), datetime.now(timezone.utc) - timedelta(seconds=5)
    result = run(plan_file, failover_id=fid, triggered_at=trigger)
    assert result["completed"] and result["rpo_seconds"] == 0 and result["failed_lease_renewals"] == 0
    # The journal holds each step started then completed, in the runbook's order, then the report.
    assert journal_steps(plan, local_profile, fid) == [("single-flight", "acquired")] + [
        (s, o) for s in AUTO_STEPS for o in ("started", "completed")] + [("report", "completed")]
    validated = entry(plan, local_profile, fid, "validate", "completed")
    assert result["rto_seconds"] == pytest.approx((validated.at - trigger).total_seconds(), abs=1e-6)
    assert [r["step"] for r in result["steps"]] == AUTO_STEPS
    assert [r["outcome"] for r in result["steps"]] == ["completed"] * 5
    assert all(a["ended"] <= b["started"] for a, b in zip(result["steps"], result["steps"][1:]))
    assert primary.state["mode"] == "read-only" and primary.state["calls"]["read-only"] == 1
    assert weights(plan, local_profile) == {"primary": 0, "secondary": 100}
    assert replica_keys(plan, local_profile) == [f"order-{i}" for i in range(5)]
    timeline = artifact_text("failover-test-plan-timeline")
    assert all(step.why in timeline for step in fo.runbook("auto")[:-1])  # the report is the timeline itself

    back = run(plan_file, direction="failback")
    assert back["completed"]
    assert secondary.state["mode"] == "read-only"
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_rerun_of_a_finished_failover_changes_nothing(plan_file, sites, local_profile):
    _, plan = plan_file
    fid = str(uuid.uuid4())
    first = run(plan_file, failover_id=fid)
    again = run(plan_file, failover_id=fid)
    assert again["completed"] and again["rto_seconds"] == first["rto_seconds"]
    assert sites[0].state["calls"] == {"read-only": 1, "read-write": 0}
    second_attempt = journal_steps(plan, local_profile, fid)[len(first["steps"]) * 2 + 2:]
    assert second_attempt == [("single-flight", "acquired")] + [(s, "skipped") for s in AUTO_STEPS] + [
        ("report", "completed")]


def test_manual_approval_resumed_through_the_api(plan_file, sites, local_profile):
    from prefect.flow_runs import resume_flow_run

    _, plan = plan_file
    fid = str(uuid.uuid4())
    worker, outcome = in_thread(run, plan_file=plan_file, approval="manual", failover_id=fid)
    paused = own_paused_run(plan, local_profile, fid)
    assert sites[0].state["calls"]["read-only"] == 0  # nothing mutated before approval
    form = approval_form(paused)
    assert "1 of 1 healthy" in form and all(s.why in form for s in fo.runbook("manual")[2:])
    resume_flow_run(paused.id, run_input={"approve": True, "approver": "on-call", "comment": "go"})
    worker.join(120)
    assert outcome["result"]["completed"]
    assert sites[0].state["mode"] == "read-only"
    assert entry(plan, local_profile, fid, "approval", "completed").observed["approver"] == "on-call"


def test_denial_ends_safely(plan_file, sites, local_profile):
    from prefect.flow_runs import resume_flow_run

    _, plan = plan_file
    fid = str(uuid.uuid4())
    worker, outcome = in_thread(run, plan_file=plan_file, approval="manual", failover_id=fid)
    paused = own_paused_run(plan, local_profile, fid)
    resume_flow_run(paused.id, run_input={"approve": False, "approver": "lead", "comment": "false alarm"})
    worker.join(120)
    assert "stopped at approval: denied by lead: false alarm" in outcome["stopped"]
    assert sites[0].state["calls"] == {"read-only": 0, "read-write": 0}
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}
    assert entry(plan, local_profile, fid, "approval", "failed").observed["reason"] == "denied by lead: false alarm"


def test_approval_timeout_ends_safely(plan_factory, sites, local_profile):
    plan_file = plan_factory(lambda p: p.update(approval_timeout_seconds=3))
    _, plan = plan_file
    with pytest.raises(Stopped, match="no decision within 3 s"):
        run(plan_file, approval="manual")
    assert sites[0].state["calls"]["read-only"] == 0
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_preflight_failure_touches_nothing(plan_file, sites, local_profile):
    control(sites[1], healthy=0)
    with pytest.raises(Stopped, match="preflight failed"):
        run(plan_file)
    _, plan = plan_file
    assert sites[0].state["calls"]["read-only"] == 0
    assert replica_keys(plan, local_profile) == []


def test_read_only_failure_needs_no_compensation(plan_file, sites, local_profile):
    control(sites[0], admin_fails=1)
    with pytest.raises(Exception, match="HTTP 500"):
        run(plan_file)
    _, plan = plan_file
    assert sites[0].state["mode"] == "read-write"
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_final_sync_failure_returns_primary_to_read_write(plan_file, sites, local_profile, tmp_path):
    path, plan = plan_file
    proxy, profile = azure_proxy(local_profile, tmp_path, refuse="order-3")
    fid = str(uuid.uuid4())
    with proxy:
        with pytest.raises(Exception, match="object\\(s\\) failed"):
            failover(plan="test-plan", plans_file=str(path), profile=profile, failover_id=fid)
    assert sites[0].state["mode"] == "read-write"
    assert sites[0].state["calls"] == {"read-only": 1, "read-write": 1}
    steps = journal_steps(plan, local_profile, fid)
    assert steps[-3:] == [("final-sync", "failed"), ("compensate-read-write", "started"),
                          ("compensate-read-write", "completed")]
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_dns_switch_failure_returns_primary_to_read_write(plan_file, sites, local_profile):
    _, plan = plan_file
    control(sites[1], unhealthy_after=1)  # healthy for preflight, down when DNS would move to it
    with pytest.raises(Exception, match="no healthy site"):
        run(plan_file)
    assert sites[0].state["mode"] == "read-write" and sites[0].state["calls"]["read-write"] == 1
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_validate_failure_after_switch_does_not_roll_back(plan_file, sites, local_profile):
    _, plan = plan_file
    control(sites[1], unhealthy_after=2)  # preflight and the DNS switch see it up; validation does not
    with pytest.raises(Exception, match="not healthy through the new records"):
        run(plan_file)
    assert sites[0].state["mode"] == "read-only" and sites[0].state["calls"]["read-write"] == 0
    assert weights(plan, local_profile) == {"primary": 0, "secondary": 100}


def test_resume_after_kill_does_not_repeat_a_completed_mutating_step(plan_file, sites, local_profile, tmp_path):
    from prefect.settings import PREFECT_API_URL

    path, plan = plan_file
    proxy, profile = azure_proxy(local_profile, tmp_path, delay=4)  # the final sync's writes hang: time to kill
    fid = str(uuid.uuid4())
    code = ("from flows.failover import failover\n"
            f"failover(plan='test-plan', plans_file={str(path)!r}, profile={profile!r}, failover_id={fid!r})")
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value())
    with proxy:
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
    steps = journal_steps(plan, local_profile, fid)
    assert steps.count(("primary-read-only", "completed")) == 1 and ("primary-read-only", "skipped") in steps


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
    sync = entry(plan, local_profile, fid, "final-sync", "completed").observed
    assert sync["datasets"]["orders"]["left"] == 5 and sync["datasets"]["orders"]["copied"] == 0


def test_second_concurrent_failover_is_refused(plan_file, sites, local_profile):
    from tasks.failover import single_flight

    with single_flight(fo.SINGLE_FLIGHT_LIMIT):
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
    assert entry(plan, local_profile, fid, "primary-read-only", "failed").observed["reason"] == fo.ALERT_RESOLVED


def test_resolved_alert_during_the_run_is_compensated(plan_file, sites, local_profile, tmp_path):
    from prefect.variables import Variable

    path, plan = plan_file
    proxy, profile = azure_proxy(local_profile, tmp_path, delay=2)  # a slow final sync: the alert resolves meanwhile
    fid = str(uuid.uuid4())
    with proxy:
        worker, outcome = in_thread(failover, plan="test-plan", plans_file=str(path), profile=profile,
                                    failover_id=fid)
        deadline = time.monotonic() + 60
        while ("primary-read-only", "completed") not in journal_steps(plan, local_profile, fid):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        Variable.set(f"failover-cancel-{fid}", "resolved", overwrite=True)
        worker.join(120)
    assert "stopped at dns-switch: the alert resolved before the DNS switch" in outcome["stopped"]
    assert sites[0].state["mode"] == "read-write" and sites[0].state["calls"] == {"read-only": 1, "read-write": 1}
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_lost_lease_stops_the_run_before_its_next_mutating_step(plan_file, sites, local_profile):
    """Another run takes the slot over (the server no longer knows this run's lease): the renewer
    notices, journals it, and the approved run stops before making the primary read-only."""
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    _, plan = plan_file
    fid = str(uuid.uuid4())
    worker, outcome = in_thread(run, plan_file=plan_file, approval="manual", failover_id=fid,
                                lease_renewal_seconds=0.3)
    paused = own_paused_run(plan, local_profile, fid)
    lease_id = entry(plan, local_profile, fid, "single-flight", "acquired").observed["lease_id"]
    with get_client(sync_client=True) as client:
        client.release_concurrency_slots_with_lease(uuid.UUID(lease_id))
    deadline = time.monotonic() + 60
    while ("single-flight", "lost") not in journal_steps(plan, local_profile, fid):
        assert time.monotonic() < deadline, "the renewer never noticed the lost lease"
        time.sleep(0.2)
    resume_flow_run(paused.id, run_input={"approve": True, "approver": "on-call", "comment": "go"})
    worker.join(120)
    assert "stopped at primary-read-only: the single-flight lease was lost" in outcome["stopped"]
    lost = entry(plan, local_profile, fid, "single-flight", "lost").observed
    assert "renewal answered 410" in lost["reason"] and lost["failed_renewals"] == 1
    assert "lease was lost" in entry(plan, local_profile, fid, "primary-read-only", "failed").observed["reason"]
    assert sites[0].state["calls"] == {"read-only": 0, "read-write": 0}
    assert weights(plan, local_profile) == {"primary": 100, "secondary": 0}


def test_refused_renewals_are_logged_and_counted_while_the_lease_holds(prefect_server, caplog):
    from tasks.failover import single_flight

    proxy = FaultyProxy(urlsplit(prefect_server).port, refuse="/renew", refuse_methods=("POST",))
    with proxy, caplog.at_level("WARNING", logger="tasks.failover"):
        with single_flight(fo.SINGLE_FLIGHT_LIMIT, renew_every=0.1,
                           api_url=f"http://127.0.0.1:{proxy.port}/api") as lease:
            deadline = time.monotonic() + 30
            while len(proxy.refused) < 3:
                assert time.monotonic() < deadline, "no renewal reached the proxy"
                time.sleep(0.05)
    assert lease.failed_renewals == len(proxy.refused) >= 3
    assert lease.lost is None  # refused, but the 60 s lease has not run out
    warned = [r.getMessage() for r in caplog.records if "renewal" in r.getMessage()]
    assert warned[:2] == ["single-flight lease renewal 1 failed: HTTP 403",
                          "single-flight lease renewal 2 failed: HTTP 403"]


def test_credentials_in_urls_never_reach_journal_artifacts_or_the_form(plan_factory, sites, local_profile):
    from prefect.flow_runs import resume_flow_run

    primary, secondary = sites

    def with_credentials(p):
        p["sites"][1]["health_urls"] = [f"http://watch:{SECRET}@127.0.0.1:{secondary.port}/health?token={TOKEN}"]
        p["sites"][0]["write_switch"]["url"] = f"http://127.0.0.1:{primary.port}/admin?token={TOKEN}"

    plan_file = plan_factory(with_credentials)
    _, plan = plan_file
    fid = str(uuid.uuid4())
    worker, outcome = in_thread(run, plan_file=plan_file, approval="manual", failover_id=fid)
    paused = own_paused_run(plan, local_profile, fid)
    form = approval_form(paused)
    assert f"http://<redacted>@127.0.0.1:{secondary.port}/health?<redacted>: 200" in form
    resume_flow_run(paused.id, run_input={"approve": True, "approver": "on-call", "comment": "go"})
    worker.join(120)
    assert outcome["result"]["completed"] and primary.state["calls"]["read-only"] == 1
    store = open_store(plan.journal, local_profile)
    raw = "".join(store.open(m.key).read().decode() for m in store.list(f"{fid}/"))
    shown = [raw, form, json.dumps(outcome["result"]), artifact_text("failover-test-plan-timeline"),
             artifact_text("failover-test-plan-steps")]
    assert "<redacted>" in raw
    assert not [text for text in shown if SECRET in text or TOKEN in text]


def test_admin_endpoint_errors_name_the_url_redacted(plan_factory, sites, local_profile):
    primary = sites[0]
    plan_file = plan_factory(lambda p: p["sites"][0]["write_switch"].update(
        url=f"http://admin:{SECRET}@127.0.0.1:{primary.port}/admin?token={TOKEN}"))
    _, plan = plan_file
    control(primary, admin_fails=1)
    fid = str(uuid.uuid4())
    with pytest.raises(Exception, match="HTTP 500") as failed:
        run(plan_file, failover_id=fid)
    assert f"http://<redacted>@127.0.0.1:{primary.port}/admin/read-only?<redacted>" in str(failed.value)
    error = entry(plan, local_profile, fid, "primary-read-only", "failed").observed["error"]
    assert "<redacted>" in error and SECRET not in error and TOKEN not in error


def test_dataset_compare_mode_reaches_the_final_sync(plan_factory, sites, local_profile):
    plan_file = plan_factory(lambda p: p["datasets"][0].update(compare="size", tombstone_prefix=None))
    _, plan = plan_file
    replica = open_store(plan.datasets[0].urls["secondary"], local_profile)
    replica.write("order-0", io.BytesIO(b"x" * 10), size=10)  # same size, other bytes: equal by size
    fid = str(uuid.uuid4())
    assert run(plan_file, failover_id=fid)["completed"]
    assert entry(plan, local_profile, fid, "preflight", "completed").observed["lag"]["orders"]["pending"] == 4
    assert entry(plan, local_profile, fid, "final-sync", "completed").observed["datasets"]["orders"]["copied"] == 4
    assert replica.open("order-0").read() == b"x" * 10


def test_dataset_sync_options_from_the_plan(plan_factory):
    from tasks.failover import _sync_options

    _, plan = plan_factory(lambda p: p["datasets"][0].update(include=["order-*"]))
    assert _sync_options(plan.datasets[0]) == SyncOptions(compare="hash", include=("order-*",),
                                                          ignore_target_prefix=".tombstones/")
    for off in (None, ""):
        _, plan = plan_factory(lambda p: p["datasets"][0].update(tombstone_prefix=off))
        assert _sync_options(plan.datasets[0]).ignore_target_prefix is None


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
