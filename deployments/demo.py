"""`make demo`: local clouds, a local Prefect server (SQLite), a process work pool with one
worker, every deployment of prefect.yaml, a little seeded data, then the inventory run.

    python -m deployments.demo up | down
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time

from deployments import cloudstack
from deployments.processes import ManagedProcess
from multicloud.clouds import create_bucket, open_store
from multicloud.config import REPO_ROOT, local_state_dir

HOST = "127.0.0.1"
PORT = int(os.environ.get("MULTICLOUD_PREFECT_PORT", 4200))
API_URL = f"http://{HOST}:{PORT}/api"
STATE = REPO_ROOT / ".local" / "demo"
BIN = os.path.dirname(sys.executable)


def prefect_env() -> dict[str, str]:
    return {
        "PREFECT_HOME": str(STATE / "prefect-home"),
        "PREFECT_API_URL": API_URL,
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(PORT),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "MULTICLOUD_PROFILE": "local",
        "MULTICLOUD_LOCAL_DIR": str(local_state_dir()),
        "PWD": str(REPO_ROOT),
    }


def server() -> ManagedProcess:
    return ManagedProcess("prefect-server", [f"{BIN}/prefect", "server", "start"],
                          f"{API_URL}/health", STATE, env=prefect_env(), cwd=REPO_ROOT, port=PORT)


def worker() -> ManagedProcess:
    from deployments.bootstrap import WORK_POOL

    return ManagedProcess("prefect-worker", [f"{BIN}/prefect", "worker", "start", "--pool", WORK_POOL],
                          None, STATE, env=prefect_env(), cwd=REPO_ROOT)


def seed() -> None:
    """A few objects in each cloud so the inventory has something to count."""
    profile = cloudstack.local_profile()
    for cloud, scheme, bucket, count in (("aws", "s3", "demo-aws", 120), ("azure", "az", "demo-azure", 40),
                                         ("gcp", "gs", "demo-gcp", 25)):
        create_bucket(profile.connection_for(cloud), bucket)
        store = open_store(f"{scheme}://{bucket}", profile=profile)
        existing = {m.key for m in store.list()}
        for i in range(count):
            key = f"reports/2026/{i:04d}.csv"
            if key not in existing:
                body = f"id,value\n{i},{i * 7}\n".encode() * (i + 1)
                store.write(key, io.BytesIO(body), size=len(body), content_type="text/csv")


def seed_replication_source(count: int = 300) -> None:
    """The source bucket of the demo replication rule, and its empty targets."""
    profile = cloudstack.local_profile()
    create_bucket(profile.connection_for("aws"), "demo-replication-src")
    create_bucket(profile.connection_for("azure"), "demo-replica")
    create_bucket(profile.connection_for("gcp"), "demo-replica")
    store = open_store("s3://demo-replication-src", profile=profile)
    existing = {m.key for m in store.list()}
    for i in range(count):
        key = f"logs/2026/11/{i % 30 + 1:02d}/app-{i:04d}.json"
        if key not in existing:
            body = (f'{{"event": {i}, "status": "ok"}}\n' * (i % 50 + 1)).encode()
            store.write(key, io.BytesIO(body), size=len(body), content_type="application/json",
                        cache_control="max-age=3600", metadata={"pipeline": "demo"})


def run(cmd: list[str]) -> None:
    env = {**os.environ, **prefect_env()}
    subprocess.run(cmd, check=True, env=env, cwd=REPO_ROOT)


async def run_and_report(deployment: str) -> None:
    """Run a deployment, wait for it, print its artifacts and the UI address of the run."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.deployments import run_deployment

    started = time.monotonic()
    flow_run = await run_deployment(deployment, timeout=600, poll_interval=2)
    print(f"\n== {deployment}: run {flow_run.name} {flow_run.state.name} in {time.monotonic() - started:.0f}s")
    async with get_client() as client:
        arts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])))
    for art in arts:
        if art.type == "markdown":
            print(art.data)
        elif art.type == "table":
            rows = json.loads(art.data) if isinstance(art.data, str) else art.data
            if not rows:
                continue
            cols = list(rows[0])[:9]
            width = max(len(str(r[cols[0]])) for r in rows[:30]) + 1
            print(f"{cols[0]:<{width}}" + " ".join(f"{c[:14]:>14}" for c in cols[1:]))
            for r in rows[:30]:
                print(f"{str(r[cols[0]]):<{width}}" + " ".join(f"{str(r[c])[-14:]:>14}" for c in cols[1:]))
            if len(rows) > 30:
                print(f"... and {len(rows) - 30} more rows in the UI's {art.key} artifact")
    print(f"UI: http://{HOST}:{PORT}/runs/flow-run/{flow_run.id}")
    if not flow_run.state.is_completed():
        raise SystemExit(f"{deployment} ended {flow_run.state.name}; see the UI and {STATE / 'logs'}")


def up() -> None:
    os.environ.update(prefect_env())
    print("local clouds:", ", ".join(cloudstack.up()) or "already running")
    STATE.mkdir(parents=True, exist_ok=True)
    print("prefect server:", "started" if server().ensure(timeout=120) else "already running", API_URL)
    seed()
    seed_replication_source()
    run([f"{BIN}/python", "-m", "deployments.bootstrap"])
    run([f"{BIN}/prefect", "--no-prompt", "deploy", "--all"])
    print("worker:", "started" if worker().ensure() else "already running")
    asyncio.run(run_and_report("inventory/inventory"))
    # Replication S3 -> Azure + GCS, then again: the second run copies nothing.
    asyncio.run(run_and_report("replicate/demo-to-azure-and-gcs"))
    asyncio.run(run_and_report("replicate/demo-to-azure-and-gcs"))
    print("Stop everything with: make demo-down")


def down() -> None:
    for proc in (worker(), server()):
        print(f"{proc.name}: {'stopped' if proc.stop() else 'not running'}")
    print("local clouds stopped:", ", ".join(cloudstack.down()) or "nothing was running")


if __name__ == "__main__":
    {"up": up, "down": down}.get(sys.argv[1] if len(sys.argv) > 1 else "", lambda: sys.exit(__doc__))()
