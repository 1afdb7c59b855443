"""`make demo`: local clouds, a local Prefect server (SQLite; PostgreSQL with
MULTICLOUD_PREFECT_DB=postgresql), a process work pool with one worker, every deployment of
prefect.yaml, a little seeded data, then the inventory, replication, costs, backup, failover and
rightsizing runs.

    python -m demo up | down
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime, timezone

from deployments import cloudstack
from deployments.processes import (
    ManagedProcess, local_prefect_env, local_prefect_postgres, local_prefect_server, prefect_database_kind,
    prefect_database_url,
)
from multicloud.clouds import create_bucket, open_store
from deployments.paths import REPO_ROOT

HOST = "127.0.0.1"
PORT = int(os.environ.get("MULTICLOUD_PREFECT_PORT", 4200))
API_URL = f"http://{HOST}:{PORT}/api"
STATE = REPO_ROOT / ".local" / "demo"
BIN = os.path.dirname(sys.executable)


def prefect_env() -> dict[str, str]:
    # PWD: prefect.yaml's pull step runs the flows from this checkout.
    return {**local_prefect_env(STATE, PORT, HOST), "PWD": str(REPO_ROOT)}


def server(database_url: str | None = None) -> ManagedProcess:
    return local_prefect_server(STATE, PORT, HOST, database_url)


def prefect_database() -> str | None:
    """With MULTICLOUD_PREFECT_DB=postgresql: the demo's PostgreSQL (kept under .local/demo/postgres,
    started unless running) and the URL of its `prefect` database; None for SQLite."""
    if prefect_database_kind() != "postgresql":
        return None
    postgres = local_prefect_postgres(STATE).start()
    print(f"postgresql: PostgreSQL {postgres.version} on 127.0.0.1:{postgres.port} ({postgres.root})")
    return prefect_database_url(postgres)


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


COSTS_STATE = STATE / "costs"


def seed_costs(rows: int = 20_000) -> date:
    """Billing exports where each provider writes them: an AWS CUR in S3, Azure actual and
    amortized cost details in Blob, Google's billing export extracts in GCS; last month in full
    and this month through yesterday, with one day of unusual EC2 spend. Returns yesterday."""
    import tempfile
    from datetime import timedelta
    from pathlib import Path

    from multicloud.testing import cost_samples as samples

    profile = cloudstack.local_profile()
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    this_month = f"{yesterday:%Y-%m}"
    last_month = f"{yesterday.replace(day=1) - timedelta(days=1):%Y-%m}"
    spike = (f"{yesterday - timedelta(days=1)}", 8.0) if yesterday.day > 3 else None
    buckets = {"aws": ("s3", "demo-billing-aws", "cur"), "azure": ("az", "demo-billing-azure", ""),
               "gcp": ("gs", "demo-billing-gcp", "export")}
    for cloud, (_, bucket, _) in buckets.items():
        create_bucket(profile.connection_for(cloud), bucket)
    create_bucket(profile.connection_for("aws"), "demo-focus")
    with tempfile.TemporaryDirectory() as tmp:
        for month, through in ((last_month, None), (this_month, f"{yesterday + timedelta(days=1)}")):
            for n, (kind, cloud) in enumerate((("aws-cur", "aws"), ("azure-ea", "azure"), ("gcp-standard", "gcp"))):
                samples.write_export(kind, rows, Path(tmp) / cloud, period=month, seed=n, through=through,
                                     spike=spike if kind == "aws-cur" and month == this_month else None)
        for cloud, (scheme, bucket, prefix) in buckets.items():
            store = open_store(f"{scheme}://{bucket}/{prefix}".rstrip("/"), profile=profile)
            root = Path(tmp) / cloud
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                with open(path, "rb") as f:
                    store.write(path.relative_to(root).as_posix(), f, size=path.stat().st_size)
    print(f"billing exports: {last_month} and {this_month} through {yesterday}, {rows:,} rows a month per cloud")
    return yesterday


def save_cost_charts() -> None:
    """The latest run's charts and CSV from the reports store to .local/demo/costs/, to open."""
    profile = cloudstack.local_profile()
    store = open_store("s3://demo-focus/reports", profile=profile)
    keys = sorted(m.key for m in store.list())
    if not keys:
        return
    run = keys[-1].split("/", 1)[0]
    COSTS_STATE.mkdir(parents=True, exist_ok=True)
    for key in (k for k in keys if k.startswith(run + "/")):
        target = COSTS_STATE / key.split("/", 1)[1]
        with store.open(key) as src:
            target.write_bytes(src.read())
        print("  saved", target)


def run(cmd: list[str]) -> str:
    """Run a command in the demo's Prefect environment; its output is shown only when it fails."""
    env = {**os.environ, **prefect_env()}
    done = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.stdout.write(done.stdout + done.stderr)
        raise SystemExit(f"{' '.join(cmd[:3])} failed with exit code {done.returncode}")
    return done.stdout


async def list_deployments() -> None:
    """One line per deployment: its name, schedule and work pool (instead of prefect deploy's banners)."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        deployments = await client.read_deployments()
        flows = {f.id: f.name for f in await client.read_flows()}
    rows = []
    for d in sorted(deployments, key=lambda d: (flows.get(d.flow_id, ""), d.name)):
        schedules = [s.schedule for s in d.schedules if s.active]
        when = ", ".join(getattr(s, "cron", None) or (f"every {s.interval.total_seconds():.0f} s"
                         if getattr(s, "interval", None) else str(s)) for s in schedules) or "on demand"
        triggers = f", {len(d.triggers)} trigger(s)" if getattr(d, "triggers", None) else ""
        rows.append({"deployment": f"{flows.get(d.flow_id, '?')}/{d.name}", "schedule": when + triggers,
                     "work pool": d.work_pool_name or ""})
    print(f"deployed {len(rows)} deployment(s):")
    print(render_table(rows, limit=100))


def render_table(rows: list[dict], limit: int = 30, max_columns: int = 10) -> str:
    """Rows as aligned text: every column as wide as its longest value, so no name is cut; numbers
    right-aligned; more rows than `limit` are counted, not shown."""
    columns = list(rows[0])[:max_columns]
    shown = rows[:limit]
    cells = [[_cell(r.get(c)) for c in columns] for r in shown]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(r.get(c)) for r in shown) for c in columns]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])] + [line(row) for row in cells]
    if len(rows) > limit:
        out.append(f"... and {len(rows) - limit} more rows in the UI")
    if len(rows[0]) > max_columns:
        out.append(f"(columns not shown here: {', '.join(list(rows[0])[max_columns:])})")
    return "\n".join(out)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _is_number(value) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    try:
        float(str(value).replace(",", ""))
        return value is not None and str(value) != ""
    except ValueError:
        return False


async def run_and_report(deployment: str, parameters: dict | None = None) -> None:
    """Run a deployment, wait for it, print its artifacts and the UI address of the run."""
    from prefect.deployments import run_deployment

    started = time.monotonic()
    flow_run = await run_deployment(deployment, parameters=parameters or {}, timeout=600, poll_interval=2)
    print(f"\n== {deployment}: run {flow_run.name} {flow_run.state.name} in {time.monotonic() - started:.0f}s")
    await show_artifacts(flow_run)
    if not flow_run.state.is_completed():
        raise SystemExit(f"{deployment} ended {flow_run.state.name}; see the UI and {STATE / 'logs'}")


async def show_artifacts(flow_run) -> None:
    """Print a run's markdown and table artifacts and its UI address."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        arts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])))
    for art in arts:
        if art.type == "markdown":
            print(art.data)
        elif art.type == "table":
            rows = json.loads(art.data) if isinstance(art.data, str) else art.data
            if rows:
                print(f"\n{art.key}:")
                print(render_table(rows))
    print(f"UI: http://{HOST}:{PORT}/runs/flow-run/{flow_run.id}")


PRIMARY_PORT, SECONDARY_PORT = 9401, 9402
ALERT_PORT = int(os.environ.get("MULTICLOUD_ALERT_PORT", 9300))
FAILOVER_PLAN = "demo-primary-to-secondary"


def site(name: str, port: int) -> ManagedProcess:
    return ManagedProcess(f"site-{name}", [f"{BIN}/python", "-m", "multicloud.testing.sites", "--name", name,
                                           "--port", str(port)], f"http://{HOST}:{port}/health", STATE,
                          cwd=REPO_ROOT, port=port)


def alert_token() -> str:
    path = STATE / "alert-token"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text()


def receiver() -> ManagedProcess:
    from deployments.alert_receiver import receiver_process

    return receiver_process(STATE, ALERT_PORT, {**prefect_env(), "MULTICLOUD_ALERT_TOKEN": alert_token()})


def prepare_failover() -> None:
    """Sites, DNS zone, buckets and a little data for the demo failover plan."""
    from multicloud.testing.failover_setup import prepare
    from multicloud.config import load_plans

    for proc in (site("primary", PRIMARY_PORT), site("secondary", SECONDARY_PORT)):
        if not proc.ensure():  # a previous demo's site: back to serving, writable
            urllib.request.urlopen(urllib.request.Request(
                f"http://{HOST}:{proc.port}/control?mode=read-write&healthy=1", method="POST", data=b""), timeout=5)
    profile = cloudstack.local_profile()
    plan = load_plans(REPO_ROOT / "deployments/failover/plans.yaml").plan(FAILOVER_PLAN, "plans.yaml")
    prepare(plan, profile)
    orders = open_store(plan.datasets[0].urls["primary"], profile=profile)
    for i in range(50):
        body = f'{{"order": {i}}}'.encode()
        orders.write(f"orders/{i:04d}.json", io.BytesIO(body), size=len(body), content_type="application/json")


async def fire_alert_and_follow() -> None:
    """POST an Alertmanager payload to the receiver, then follow the failover run it triggers."""
    import json
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName, FlowRunFilter
    from prefect.client.schemas.filters import FlowRunFilterExpectedStartTime
    from prefect.client.schemas.sorting import FlowRunSort

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = {"version": "4", "groupKey": f"{{}}:{{alertname=\"PrimarySiteDown\"}}-{uuid.uuid4().hex[:8]}",
               "truncatedAlerts": 0, "status": "firing", "receiver": "multicloud-failover",
               "groupLabels": {"alertname": "PrimarySiteDown"},
               "commonLabels": {"alertname": "PrimarySiteDown", "site": "primary", "severity": "critical"},
               "commonAnnotations": {"summary": "primary site health checks failing"},
               "externalURL": "http://alertmanager.local", "alerts": [{
                   "status": "firing", "labels": {"alertname": "PrimarySiteDown", "site": "primary"},
                   "annotations": {}, "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
                   "generatorURL": "http://prometheus.local", "fingerprint": uuid.uuid4().hex[:16]}]}
    posted = time.monotonic()
    since = datetime.now(timezone.utc)
    req = urllib.request.Request(f"http://{HOST}:{ALERT_PORT}/alerts", data=json.dumps(payload).encode(),
                                 method="POST", headers={"Authorization": f"Bearer {alert_token()}",
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
    print(f"\n== alert posted to the receiver: {resp.status} {answer}")
    async with get_client() as client:
        flow_run = None
        while flow_run is None or not flow_run.state.is_final():
            if time.monotonic() - posted > 600:
                raise SystemExit("the failover run did not finish within 10 minutes")
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[FAILOVER_PLAN])),
                flow_run_filter=FlowRunFilter(expected_start_time=FlowRunFilterExpectedStartTime(after_=since)),
                sort=FlowRunSort.START_TIME_DESC, limit=1)
            flow_run = runs[0] if runs else None
            await asyncio.sleep(1)
    elapsed = time.monotonic() - posted
    print(f"failover run {flow_run.name}: {flow_run.state.name}; alert POST to run end: {elapsed:.1f}s")
    await show_artifacts(flow_run)
    if not flow_run.state.is_completed():
        raise SystemExit(f"failover ended {flow_run.state.name}; see the UI and {STATE / 'logs'}")


def up() -> None:
    os.environ.update(prefect_env())
    print("local clouds:", ", ".join(cloudstack.up()) or "already running")
    STATE.mkdir(parents=True, exist_ok=True)
    database_url = prefect_database()
    print("prefect server:", "started" if server(database_url).ensure(timeout=120) else "already running", API_URL,
          "on PostgreSQL" if database_url else "on SQLite")
    seed()
    seed_replication_source()
    run([f"{BIN}/python", "-m", "deployments.bootstrap"])
    run([f"{BIN}/prefect", "--no-prompt", "deploy", "--all"])
    asyncio.run(list_deployments())
    print("worker:", "started" if worker().ensure() else "already running")
    asyncio.run(run_and_report("inventory/inventory"))
    # Replication S3 -> Azure + GCS, then again: the second run copies nothing.
    asyncio.run(run_and_report("replicate/demo-to-azure-and-gcs"))
    asyncio.run(run_and_report("replicate/demo-to-azure-and-gcs"))
    # Costs: three providers' exports -> one FOCUS dataset, reconciled to the cent, charts and CSV.
    yesterday = seed_costs()
    asyncio.run(run_and_report("costs/daily-costs", {"as_of": str(yesterday)}))
    save_cost_charts()
    # Backups: the demo bucket and a PostgreSQL database to Azure and GCS, again (listings only), a restore.
    from demo import backups

    backups.run(run_and_report, asyncio.run)
    # Failover: an Alertmanager alert -> receiver -> Prefect event -> automation -> failover run (auto mode).
    prepare_failover()
    print("alert receiver:", "started" if receiver().ensure() else "already running", f"http://{HOST}:{ALERT_PORT}")
    asyncio.run(fire_alert_and_follow())
    # Rightsizing: idle, oversized and wasted resources in the three clouds, with their evidence.
    from demo import rightsizing

    rightsizing.run(run_and_report, asyncio.run)
    print("Stop everything with: make demo-down")


def down() -> None:
    from demo import rightsizing

    for proc in (rightsizing.fakes(), receiver(), site("primary", PRIMARY_PORT), site("secondary", SECONDARY_PORT),
                 worker(), server()):
        print(f"{proc.name}: {'stopped' if proc.stop() else 'not running'}")
    print(f"postgresql: {'stopped' if local_prefect_postgres(STATE).stop() else 'not running'}")
    print("local clouds stopped:", ", ".join(cloudstack.down()) or "nothing was running")


if __name__ == "__main__":
    {"up": up, "down": down}.get(sys.argv[1] if len(sys.argv) > 1 else "", lambda: sys.exit(__doc__))()
