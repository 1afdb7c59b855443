"""Run like production: a Prefect server on PostgreSQL with every service, two process workers
(`prefect worker start` subprocesses) on the work pool, deployments made from prefect.yaml's own
entries; 20 replication rules started at once, twice each; single flight across workers; a
worker's machine killed mid-run; a crashed failover's slot given back by the server itself."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from deployments import cloudstack
from deployments.bootstrap import WORK_POOL
from deployments.paths import REPO_ROOT
from deployments.processes import (
    PREFECT_EXTENSIONS, ManagedProcess, alive, local_prefect_env, local_prefect_server, prefect_database_url,
)
from multicloud.clouds import create_bucket, open_store
from multicloud.core import failover as fo
from multicloud.engine.journal import Journal
from multicloud.testing.fakes.faulty_proxy import FaultyProxy
from multicloud.testing.postgres import LocalPostgres
from multicloud.testing.sites import SiteService
from tests.support import (
    azure_through, closed_port, failover_plan_data, replica, unique_name, write_failover_plan,
)

RULES = 20
TWICE = 4  # rules started twice at once: their deployment concurrency limit must keep the runs apart
OBJECTS_PER_RULE = 8
BIN = Path(sys.executable).parent
MACHINES = ("machine-1", "machine-2")
# Tuning for a test, not the mechanism: a run refused a deployment slot is retried after 2 s
# instead of 30 s, and workers poll every 2 s instead of 10 s.
SERVER_SETTINGS = {"PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
                   "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "0.5"}
WORKER_SETTINGS = {"PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "2"}
DEADLINE_SECONDS = 360


@dataclass
class Stack:
    state: Path
    api_url: str
    env: dict[str, str]
    workers: dict[str, ManagedProcess] = field(default_factory=dict)
    deployments: dict[str, uuid.UUID] = field(default_factory=dict)
    rules: dict[str, dict] = field(default_factory=dict)
    all_runs: list[uuid.UUID] = field(default_factory=list)

    @contextmanager
    def client(self):
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api_url}), get_client(sync_client=True) as client:
            yield client

    def worker(self, machine: str) -> ManagedProcess:
        command = [str(BIN / "prefect"), "worker", "start", "--pool", WORK_POOL, "--name", machine,
                   "--work-queue", "default", "--work-queue", machine, "--limit", "8"]
        return ManagedProcess(machine, command, None, self.state, env={**self.env, **WORKER_SETTINGS}, cwd=REPO_ROOT)

    def run(self, deployment: str, parameters: dict | None = None, queue: str | None = None) -> uuid.UUID:
        with self.client() as client:
            return client.create_flow_run_from_deployment(self.deployments[deployment], parameters=parameters or {},
                                                          work_queue_name=queue).id

    def read(self, run_id: uuid.UUID):
        with self.client() as client:
            return client.read_flow_run(run_id)

    def wait(self, run_ids, until=lambda run: run.state.is_final(), what="a final state") -> dict:
        """The flow runs once each satisfies `until`; fails past the deadline naming those that did not."""
        deadline, pending, done = time.monotonic() + DEADLINE_SECONDS, set(run_ids), {}
        while pending:
            for run_id in list(pending):
                run = self.read(run_id)
                if until(run):
                    done[run_id] = run
                    pending.discard(run_id)
            if pending and time.monotonic() > deadline:
                states = {str(r): self.read(r).state.name for r in pending}
                raise AssertionError(f"{len(pending)} run(s) never reached {what}: {states}")
            time.sleep(1)
        return done

    def running_count(self, run_id: uuid.UUID) -> int:
        with self.client() as client:
            return sum(s.type.value == "RUNNING" for s in client.read_flow_run_states(run_id))

    def single_flight_slots(self) -> int:
        with self.client() as client:
            return client.read_global_concurrency_limit_by_name(fo.SINGLE_FLIGHT_LIMIT).active_slots

    def artifact_keys(self, run_id: uuid.UUID) -> list[str]:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        with self.client() as client:
            arts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
        return [a.key for a in arts]


def prefect(stack: Stack, *args: str) -> str:
    done = subprocess.run([str(BIN / "prefect"), *args], env={**os.environ, **stack.env}, cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def prefect_file(state: Path, rules_file: Path, rule_names: list[str], plans_file: Path) -> Path:
    """The project's prefect.yaml with its own replication and failover entries copied: one deployment
    per rule (concurrency limit and pull step as shipped, no schedule) and one for the test plan."""
    project = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())
    entries = {d["name"]: d for d in project["deployments"]}
    rule_entry, failover_entry = entries["demo-to-azure-and-gcs"], entries["demo-primary-to-secondary"]
    assert rule_entry["concurrency_limit"] == 1
    deployments = [{**rule_entry, "name": name, "schedules": [],
                    "parameters": {"rules_file": str(rules_file), "rule_name": name}} for name in rule_names]
    deployments.append({**{k: v for k, v in failover_entry.items() if k != "triggers"}, "name": "scale-failover",
                        "parameters": {"plan": "test-plan", "plans_file": str(plans_file)}})
    path = state / "prefect.yaml"
    path.write_text(yaml.safe_dump({**project, "deployments": deployments}, sort_keys=False))
    return path


def seed_rules(local_profile, state: Path) -> tuple[Path, list[dict]]:
    """RULES small S3 buckets, each replicated to its own Azure or GCS bucket, plus `slow`: more
    objects to Azure, for the run that is killed."""
    rules = []
    for n in range(RULES + 1):
        tag = unique_name("sc")
        target = f"az://{tag}-t/" if n % 2 == 0 else f"gs://{tag}-t/"
        name = "slow" if n == RULES else f"rule-{n:02d}"
        count = 40 if name == "slow" else OBJECTS_PER_RULE
        if name == "slow":
            target = f"az://{tag}-t/"
        create_bucket(local_profile.connection_for("aws"), f"{tag}-s")
        create_bucket(local_profile.connection_for({"az": "azure", "gs": "gcp"}[target[:2]]), f"{tag}-t")
        source = open_store(f"s3://{tag}-s/", profile=local_profile)
        for i in range(count):
            body = f"{name} object {i}\n".encode() * (i + 1)
            source.write(f"data/{i:03d}.txt", io.BytesIO(body), size=len(body))
        rules.append({"name": name, "source": f"s3://{tag}-s/", "targets": [target], "concurrency": 4})
    path = state / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": rules}))
    return path, rules


@pytest.fixture(scope="module")
def sites():
    with SiteService("primary") as primary, SiteService("secondary") as secondary:
        yield primary, secondary


@pytest.fixture(scope="module")
def plan(local_profile, sites, tmp_path_factory):
    data = failover_plan_data(unique_name("fs"), sites[0].port, sites[1].port)
    return write_failover_plan(data, tmp_path_factory.mktemp("scale-plan") / "plans.yaml", local_profile)


@pytest.fixture(scope="module")
def stack(local_profile, plan, tmp_path_factory):
    """PostgreSQL, the Prefect server on it, bootstrap, the deployments and two workers; stopped after."""
    state = tmp_path_factory.mktemp("scale")
    port = closed_port()
    env = {**local_prefect_env(state, port), "PWD": str(REPO_ROOT)}
    rules_file, rules = seed_rules(local_profile, state)
    with LocalPostgres(extensions=PREFECT_EXTENSIONS) as postgres:
        server = local_prefect_server(state, port, database_url=prefect_database_url(postgres),
                                      settings=SERVER_SETTINGS)
        stack = Stack(state, env["PREFECT_API_URL"], env)
        server.ensure(timeout=180)
        try:
            subprocess.run([sys.executable, "-m", "deployments.bootstrap"], env={**os.environ, **env}, cwd=REPO_ROOT,
                           check=True, capture_output=True)
            with stack.client() as client:
                for machine in MACHINES:
                    client.create_work_queue(name=machine, work_pool_name=WORK_POOL)
            prefect(stack, "--no-prompt", "deploy", "--all", "--prefect-file",
                    str(prefect_file(state, rules_file, [r["name"] for r in rules], plan[0])))
            with stack.client() as client:
                stack.deployments = {d.name: d.id for d in client.read_deployments()}
            for machine in MACHINES:
                stack.workers[machine] = stack.worker(machine)
                stack.workers[machine].ensure()
            stack.rules = {r["name"]: r for r in rules}
            yield stack
        finally:
            for worker in stack.workers.values():
                worker.stop()
            server.stop()


def keys(url: str, profile) -> list[str]:
    """The object keys at `url`, without the replication's own state (its manifests)."""
    return [m.key for m in replica(open_store(url, profile=profile))]


def ran_on(stack: Stack) -> dict[str, set[str]]:
    """Flow run ids each worker ran: a run's own process logs "View at …/flow-run/<id>" into the log
    of the worker that started it (a worker that tried to submit a run and was told to wait by the
    deployment's concurrency limit names it only in its own "submitting" lines)."""
    found = {}
    for machine in MACHINES:
        log = (stack.state / "logs" / f"{machine}.log").read_text(errors="replace")
        found[machine] = {str(run_id) for run_id in stack.all_runs if f"/flow-run/{run_id}" in log}
    return found


def test_twenty_rules_at_once_on_two_workers(stack, local_profile):
    names = [f"rule-{n:02d}" for n in range(RULES)]
    # Every run is created before any starts.
    runs = {name: [stack.run(name) for _ in range(2 if n < TWICE else 1)] for n, name in enumerate(names)}
    stack.all_runs = [r for pair in runs.values() for r in pair]
    final = stack.wait(stack.all_runs)

    assert {str(r): f"{final[r].state.name}: {final[r].state.message}" for r in stack.all_runs
            if not final[r].state.is_completed()} == {}
    assert {str(r): n for r in stack.all_runs if (n := stack.running_count(r)) != 1} == {}  # ran exactly once
    for name, pair in runs.items():
        ordered = sorted((final[r] for r in pair), key=lambda run: run.start_time)
        assert all(b.start_time >= a.end_time for a, b in zip(ordered, ordered[1:])), f"two runs of {name} overlapped"
        rule = stack.rules[name]
        assert keys(rule["targets"][0], local_profile) == keys(rule["source"], local_profile)
    by_worker = ran_on(stack)
    assert all(by_worker.values()), f"a worker ran nothing: {by_worker}"
    assert not set.intersection(*by_worker.values()), "a run ran on both workers"
    assert set.union(*by_worker.values()) == {str(r) for r in stack.all_runs}


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (flow runs start in sessions of their own, so not in its group)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def lose_machine(worker: ManagedProcess) -> None:
    """SIGKILL the worker and every flow run it started, as when its machine dies."""
    pid = worker.pid()
    for victim in [pid, *descendants(pid)]:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.stop()  # clears its PID file


def journal_steps(plan, profile, failover_id: str) -> list[tuple[str, str]]:
    return [(e.step, e.outcome) for e in Journal(open_store(plan.journal, profile), failover_id).entries()]


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.5)


def test_lost_machine_crashed_runs_and_single_flight_across_workers(stack, plan, local_profile, tmp_path):
    plan_file, chosen = plan
    azurite = [s for s in cloudstack.services() if s.name == "azurite"][0]
    gate = threading.Event()

    def hold_writes(method: str, path: str):
        if method == "PUT":  # every Azure write waits (below the SDK's 60 s read timeout): runs are mid-copy
            gate.wait(50)
        return None

    with FaultyProxy(azurite.port, answer=hold_writes) as proxy:
        slow_profile = azure_through(local_profile, azurite.port, proxy.port, tmp_path)
        holder_id, rival_id = str(uuid.uuid4()), str(uuid.uuid4())
        holder = stack.run("scale-failover", {"failover_id": holder_id, "profile": slow_profile}, "machine-1")
        wait_for(lambda: ("primary-read-only", "completed") in journal_steps(chosen, local_profile, holder_id),
                 "the failover on machine-1 made the primary read-only")
        rival = stack.run("scale-failover", {"failover_id": rival_id, "profile": "local"}, "machine-2")
        slow = stack.run("slow", {"profile": slow_profile}, "machine-1")
        refused = stack.wait([rival])[rival]
        assert refused.state.is_failed() and "failover-refused" in stack.artifact_keys(rival)
        assert ("single-flight", "acquired") not in journal_steps(chosen, local_profile, rival_id)
        wait_for(lambda: stack.read(slow).state.is_running() and any(m == "PUT" for m, _ in proxy.requests),
                 "the slow rule copying on machine-1")
        assert stack.single_flight_slots() == 1
        lose_machine(stack.workers["machine-1"])
        gate.set()

    crashed = stack.wait([slow, holder], until=lambda run: run.state.is_crashed(), what="Crashed")
    assert all(run.state.is_crashed() for run in crashed.values())
    wait_for(lambda: stack.single_flight_slots() == 0, "the server reclaimed the crashed failover's slot")

    slow_rule = stack.rules["slow"]
    assert keys(slow_rule["targets"][0], local_profile) != keys(slow_rule["source"], local_profile)
    again = stack.run("slow", {"profile": "local"})  # the next run, on the surviving worker
    assert stack.wait([again])[again].state.is_completed()
    assert keys(slow_rule["targets"][0], local_profile) == keys(slow_rule["source"], local_profile)

    next_id = str(uuid.uuid4())  # a new incident: its failover gets the slot with no operator step
    after = stack.run("scale-failover", {"failover_id": next_id, "practice": True, "profile": "local"}, "machine-2")
    assert stack.wait([after])[after].state.is_completed()
    assert ("single-flight", "acquired") in journal_steps(chosen, local_profile, next_id)
