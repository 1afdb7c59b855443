"""The rightsizing scene of `make demo`: moto seeded with an idle and an oversized EC2 instance (14 days of
CloudWatch metrics), a free volume, a stray Elastic IP and an orphaned snapshot; the local ARM and Compute
Engine servers started (stopped by `demo down`) with the same scenario for Azure and Google Cloud; then
the rightsizing deployment run, its findings and savings printed and its charts saved."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import Awaitable, Callable

from deployments import cloudstack
from deployments.paths import REPO_ROOT
from deployments.processes import ManagedProcess
from multicloud.clouds import create_bucket, open_store
from multicloud.config.rightsizing import load_scope
from multicloud.core.objects import StoreUrl
from multicloud.testing import rightsizing_seed as seed

STATE = REPO_ROOT / ".local" / "demo"
SCOPE = REPO_ROOT / "deployments" / "rightsizing" / "scopes" / "local.yaml"
# The scope file names these ports; change both together.
ARM_PORT = int(os.environ.get("MULTICLOUD_FAKE_ARM_PORT", 9110))
GCE_PORT = int(os.environ.get("MULTICLOUD_FAKE_GCE_PORT", 9111))


def fakes() -> ManagedProcess:
    """The seeded fake ARM and Compute Engine servers, one process (its seeding is as of its start)."""
    scope = load_scope(SCOPE)
    command = [sys.executable, "-m", "multicloud.testing.rightsizing_seed", "--azure-port", str(ARM_PORT),
               "--gce-port", str(GCE_PORT), "--run", _run_tag(scope), "--subscription", scope.azure.subscription_id,
               "--project", scope.gcp.project]
    health = f"http://127.0.0.1:{GCE_PORT}/compute/v1/projects/{scope.gcp.project}/global/snapshots"
    return ManagedProcess("rightsizing-fakes", command, health, STATE, cwd=REPO_ROOT, port=GCE_PORT)


def _run_tag(scope) -> str:
    return scope.select_tags[seed.RUN_TAG]


def seed_aws() -> None:
    """The AWS scenario in the scope's first region, after removing an earlier demo's."""
    scope = load_scope(SCOPE)
    profile = cloudstack.local_profile()
    conn = profile.connection_for("aws").model_copy(update={"region": scope.aws.regions[0]})
    removed = seed.remove_aws(conn, _run_tag(scope))
    ids = seed.seed_aws(conn, _run_tag(scope), datetime.now(timezone.utc))
    print(f"\nrightsizing: seeded {len(ids)} AWS resources in {conn.region} (removed {removed} of an earlier demo)")
    create_bucket(profile.connection_for("aws"), StoreUrl.parse(scope.output).bucket)


def save_charts() -> None:
    """The latest run's charts and CSV from the output store to .local/demo/rightsizing/, to open."""
    scope = load_scope(SCOPE)
    store = open_store(scope.output, profile=cloudstack.local_profile())
    keys = sorted(m.key for m in store.list())
    if not keys:
        return
    run = keys[-1].split("/", 1)[0]
    target = STATE / "rightsizing"
    target.mkdir(parents=True, exist_ok=True)
    for key in (k for k in keys if k.startswith(run + "/") and k.endswith((".png", ".csv"))):
        with store.open(key) as src:
            (target / key.split("/", 1)[1]).write_bytes(src.read())
        print("  saved", target / key.split("/", 1)[1])


def run(run_and_report: Callable[[str, dict], Awaitable[None]], asyncio_run) -> None:
    """The scene; `run_and_report` runs a deployment and prints its artifacts (findings, summary)."""
    seed_aws()
    servers = fakes()
    servers.stop()  # a fresh process: its metrics end now
    servers.ensure()
    print(f"rightsizing fakes: ARM http://127.0.0.1:{ARM_PORT}, Compute Engine http://127.0.0.1:{GCE_PORT}")
    asyncio_run(run_and_report("rightsizing/rightsizing", {"scope_file": str(SCOPE.relative_to(REPO_ROOT))}))
    save_charts()
