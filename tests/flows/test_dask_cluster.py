"""A sharded replication on an existing Dask cluster given by address: a `distributed` scheduler
and two workers started here as processes of their own on loopback, stopped afterwards."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from deployments.paths import REPO_ROOT
from deployments.processes import ManagedProcess
from flows.replicate import replicate
from multicloud.clouds import create_bucket, open_store
from multicloud.core.errors import InvalidInput
from tests.support import closed_port, replica, unique_name

DASK = str(Path(sys.executable).parent / "dask")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(scheduler address, {worker address: pid}) of a scheduler and two nanny-less workers (a task
    runs in the worker process itself, so its pid is the worker's)."""
    from distributed import Client

    state = tmp_path_factory.mktemp("dask")
    port = closed_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {"PYTHONPATH": str(REPO_ROOT)}
    processes = [ManagedProcess("dask-scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                                   "--no-dashboard"], None, state, env=env, cwd=REPO_ROOT)]
    processes += [ManagedProcess(f"dask-worker-{n}", [DASK, "worker", address, "--host", "127.0.0.1", "--no-nanny",
                                                      "--nthreads", "2", "--no-dashboard", "--name", f"worker-{n}"],
                                 None, state, env=env, cwd=REPO_ROOT) for n in (1, 2)]
    try:
        for proc in processes:
            proc.ensure()
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
            pids = client.run(os.getpid)
        assert set(pids.values()) == {p.pid() for p in processes[1:]}
        yield address, pids
    finally:
        for proc in reversed(processes):
            proc.stop()


def test_sharded_replication_runs_on_the_cluster_at_the_address(cluster, local_profile):
    address, worker_pids = cluster
    src_url, dst_url = f"s3://{unique_name('dk')}/", f"gs://{unique_name('dk')}/"
    create_bucket(local_profile.connection_for("aws"), src_url[5:-1])
    create_bucket(local_profile.connection_for("gcp"), dst_url[5:-1])
    src = open_store(src_url, local_profile)
    for prefix in "abcd":
        for i in range(6):
            body = f"{prefix}{i}".encode()
            src.write(f"{prefix}/{i}", io.BytesIO(body), size=len(body))
    rule = {"name": "on-dask", "source": src_url, "targets": [dst_url], "shards": ["a/", "b/", "c/", "d/"],
            "batch_objects": 3}
    result = replicate(rule=rule, profile="local", task_runner="dask", dask_address=address)
    row = result["targets"][0]
    assert (row["copied"], row["listed_source"]) == (24, 24)
    assert sorted(m.key for m in replica(open_store(dst_url, local_profile))) == sorted(
        f"{p}/{i}" for p in "abcd" for i in range(6))
    # Every plan and copy batch ran in one of the cluster's worker processes.
    ran_in = {int(w.rsplit(":", 1)[1]) for w in row["workers"].split(", ")}
    assert ran_in and ran_in <= set(worker_pids.values()), (ran_in, worker_pids)


def test_an_address_without_the_dask_runner_is_refused(local_profile):
    with pytest.raises(InvalidInput, match="dask_address"):
        replicate(rule={"name": "x", "source": "s3://nowhere/", "targets": ["gs://nowhere/"]}, profile="local",
                  dask_address="tcp://127.0.0.1:1")
