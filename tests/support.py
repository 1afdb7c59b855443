"""Helpers shared by the test modules (tests never import each other)."""

from __future__ import annotations

import io
import socket
import sqlite3
import time
import uuid
from pathlib import Path

import httpx

from multicloud.clouds import open_store


def unique_name(prefix: str = "t") -> str:
    """A bucket/container name valid on every cloud: lowercase, digits, dashes, 3-63 chars."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def upload(local: Path, url: str, profile) -> None:
    """Copy every file under the folder `local` to the store at `url`, keys relative to the folder."""
    store = open_store(url, profile=profile)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            store.write(path.relative_to(local).as_posix(), f, size=path.stat().st_size)


# ---- failover plans (tests/flows/test_failover.py, tests/flows/test_scale.py) ----------------------

def failover_plan_data(tag: str, primary_port: int, secondary_port: int) -> dict:
    """A failover plan on its own buckets and DNS zone (named by `tag`), with stand-in sites on loopback."""
    return {"plans": [{
        "name": "test-plan", "primary": "primary", "secondary": "secondary",
        "sites": [
            {"name": "primary", "cloud": "aws", "dns_value": "primary.test.internal",
             "health_urls": [f"http://127.0.0.1:{primary_port}/health"],
             "write_switch": {"kind": "http", "url": f"http://127.0.0.1:{primary_port}/admin"}},
            {"name": "secondary", "cloud": "azure", "dns_value": "secondary.test.internal",
             "health_urls": [f"http://127.0.0.1:{secondary_port}/health"],
             "write_switch": {"kind": "http", "url": f"http://127.0.0.1:{secondary_port}/admin"}},
        ],
        "datasets": [{"name": "orders", "urls": {"primary": f"s3://{tag}-p", "secondary": f"az://{tag}-s"}}],
        "dns": {"zone": f"{tag}.internal.", "record": f"app.{tag}.internal."},
        "rpo_seconds": 3600, "rto_seconds": 60, "approval": "auto", "approval_timeout_seconds": 30,
        "journal": f"s3://{tag}-journal/", "probe_timeout_seconds": 2, "probe_attempts": 1,
    }]}



def write_failover_plan(data: dict, path: Path, profile):
    """Write the plans file, create what its one plan points at, put 5 orders at the primary;
    returns (path, plan)."""
    import yaml

    from multicloud.config import load_plans
    from multicloud.testing.failover_setup import prepare

    path.write_text(yaml.safe_dump(data))
    plan = load_plans(path).plans[0]
    prepare(plan, profile)
    src = open_store(plan.datasets[0].urls["primary"], profile)
    for i in range(5):
        src.write(f"order-{i}", io.BytesIO(b"o" * 10), size=10)
    return path, plan


def azure_through(local_profile, azurite_port: int, proxy_port: int, folder: Path) -> str:
    """A profile file like `local_profile` whose Azure connection goes through a proxy on `proxy_port`."""
    import yaml

    conns = [c.model_dump() for c in local_profile.connections]
    for c in conns:
        if c["cloud"] == "azure":
            c["endpoint"] = c["endpoint"].replace(f":{azurite_port}/", f":{proxy_port}/")
    path = folder / f"proxied-{proxy_port}.yaml"
    path.write_text(yaml.safe_dump({"name": "proxied", "connections": conns}))
    return str(path)


# ---- the alert receiver (tests/receiver, tests/unit/test_alerts_core.py) --------------------------

ALERT_PLAN = "demo-primary-to-secondary"
ALERT_TOKEN_ENV = "MULTICLOUD_TEST_ALERT_TOKEN"
ALERT_MAX_BODY_BYTES = 64 * 1024
T_EARLY = "2026-03-01T10:00:00.123456789Z"
T_LATE = "2026-03-01T10:05:00Z"
_SETTLE_SECONDS = 2.0  # several event-persister flushes: long enough for a stray second event to show


def alert_group(case: str, *, status: str = "firing", fingerprints: tuple[str, ...] = ("a1b2c3d4e5f60001",),
                starts: tuple[str, ...] = (T_EARLY,), labels: dict[str, str] | None = None) -> dict:
    """An Alertmanager v4 webhook body, with the fields newer versions add (to be ignored)."""
    common = labels or {"alertname": "PrimarySiteDown", "site": "primary", "severity": "critical"}
    alerts = [{
        "status": status, "labels": {**common, "instance": f"lb-{i}"}, "annotations": {"summary": "primary down"},
        "startsAt": start, "endsAt": "2026-03-01T11:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph", "fingerprint": fp,
    } for i, (fp, start) in enumerate(zip(fingerprints, starts))]
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="PrimarySiteDown", case="{case}"}}', "truncatedAlerts": 0,
        "status": status, "receiver": "multicloud-failover", "groupLabels": {"alertname": common["alertname"]},
        "commonLabels": common, "commonAnnotations": {"summary": "primary down"},
        "externalURL": "http://alertmanager.local", "notification_reason": "new_alert", "routeLabels": {},
        "alerts": alerts,
    }


def expected_key(payload: dict, status: str = "firing") -> str:
    """The contract's dedupe key, computed here independently of the receiver."""
    alerts = [a for a in payload["alerts"] if a["status"] == status]
    earliest = min(alerts, key=lambda a: a["startsAt"])["startsAt"]  # same-format times sort as strings
    return f"{payload['groupKey']}|{','.join(sorted(a['fingerprint'] for a in alerts))}|{earliest}"


def expected_incident(payload: dict, status: str = "firing") -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "multicloud-alert:" + expected_key(payload, status)))


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition -> {sample name with labels: value}."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


class Receiver:
    """The alert receiver as a real process on a free port (port 0), its config, its SQLite file
    and an HTTP client to talk to it."""

    def __init__(self, state_dir: Path, config: Path, database: Path, api_url: str, token: str):
        self.state_dir, self.config, self.database, self.api_url, self.token = (
            state_dir, config, database, api_url, token)
        self.process = None
        self.client = httpx.Client(timeout=30)

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logfile(self) -> Path:
        return self.state_dir / "logs" / "alert-receiver.log"

    def start(self, api_url: str | None = None) -> None:
        from deployments.alert_receiver import receiver_process

        env = {"PREFECT_API_URL": api_url or self.api_url, ALERT_TOKEN_ENV: self.token,
               "PREFECT_HOME": str(self.state_dir / "prefect-home")}
        self.process = receiver_process(self.state_dir, 0, env, self.config)
        self.process.ensure(timeout=60)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def restart(self, api_url: str | None = None) -> None:
        self.stop()
        self.start(api_url)

    def post(self, payload=None, *, token: str | None = "default", **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token if token == 'default' else token}")
        if payload is not None:
            kwargs["json"] = payload
        return self.client.post(f"{self.url}/alerts", headers=headers, **kwargs)

    def metrics(self) -> dict[str, float]:
        response = self.client.get(f"{self.url}/metrics")
        response.raise_for_status()
        return parse_metrics(response.text)

    def row(self, key: str) -> tuple[str, str, int] | None:
        """(plan, state, deliveries) of a dedupe row, read from the receiver's SQLite file."""
        with sqlite3.connect(self.database) as conn:
            return conn.execute("SELECT plan, state, deliveries FROM deliveries WHERE key = ?", (key,)).fetchone()


class PrefectEvents:
    """Reads events and variables back from the real Prefect server (POST /api/events/filter, paged)."""

    def __init__(self, api_url: str):
        self.api_url = api_url

    def read(self, event: str, plan: str = ALERT_PLAN) -> list[dict]:
        body = {"filter": {"event": {"name": [event]},
                           "resource": {"id": [f"multicloud.failover.plan.{plan}"]},
                           "order": "ASC"},
                "limit": 50}
        with httpx.Client(timeout=30) as client:
            page = client.post(f"{self.api_url}/events/filter", json=body).raise_for_status().json()
            events = list(page["events"])
            while page.get("next_page"):
                page = client.get(page["next_page"]).raise_for_status().json()
                events += page["events"]
        return events

    def for_group(self, event: str, group_key: str, *, expect: int, timeout: float = 30) -> list[dict]:
        """Events of `group_key`, once at least `expect` are stored and no more arrive in a settle time."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.read(event) if e["payload"].get("group_key") == group_key]
            if len(found) >= expect or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(_SETTLE_SECONDS)
        return [e for e in self.read(event) if e["payload"].get("group_key") == group_key]

    def variable(self, name: str):
        response = httpx.get(f"{self.api_url}/variables/name/{name}", timeout=30)
        return None if response.status_code == 404 else response.raise_for_status().json()["value"]


def drain_cost_explorer_queue(conn, limit: int = 10_000) -> int:
    """Take every result still queued in moto's Cost Explorer (results a reused server holds from
    earlier runs, whose request bodies it had already seen), so the next queued result answers the
    next new request. Returns how many were taken; safe because tests run one at a time."""
    import uuid as _uuid

    from multicloud.clouds.aws.session import client

    ce = client(conn, "ce")
    for taken in range(limit):
        answer = ce.get_cost_and_usage(
            TimePeriod={"Start": "2000-01-01", "End": "2000-01-02"}, Granularity="DAILY", Metrics=["UnblendedCost"],
            Filter={"Tags": {"Key": "multicloud-drain", "Values": [_uuid.uuid4().hex]}})
        if not answer.get("ResultsByTime") and not answer.get("NextPageToken"):
            return taken
    raise RuntimeError(f"moto's Cost Explorer queue still answers after {limit} requests")


def vm_summary(vm) -> tuple:
    """A rightsizing VM record's attributes in one tuple, for asserting an inventory reader's output:
    (kind, type, state, region, architecture, vcpus, memory_mib, created, attached_disks, stopped_since)."""
    return (vm.kind, vm.type, vm.state, vm.region, vm.architecture, vm.vcpus, vm.memory_mib, vm.created,
            vm.attached_disks, vm.stopped_since)


# What the waste rules (deployments/rightsizing/waste.yaml) must say about the resources every cloud's
# inventory test seeds under these names: rule -> seeded name -> outcome status.
WASTE_EXPECTED = {
    "stopped-vm-with-disks": {"stopped": "finding", "big": "clear"},
    "unattached-disk": {"free": "finding"},
    "unassociated-ip": {"stray": "finding", "bound": "clear"},
    "old-snapshot": {"old": "finding", "orphan": "clear", "recent": "clear"},
    "orphaned-snapshot": {"old": "clear", "orphan": "finding"},
}


def rule_statuses(outcomes, ids: dict[str, str], expected: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """rule -> seeded name -> the status evaluate() gave, for the (rule, name) pairs `expected` names;
    `ids` maps the seeded names to resource ids."""
    by_key = {(o.resource, o.rule): o.status for o in outcomes}
    return {rule: {name: by_key[(ids[name], rule)] for name in want} for rule, want in expected.items()}


def new_bucket(profile, scheme: str, prefix: str = "t") -> str:
    """A fresh, empty bucket (or container) on the emulated cloud of `scheme` (s3, az, gs), as a URL."""
    from multicloud.clouds import create_bucket

    name = unique_name(prefix)
    create_bucket(profile.connection_for({"s3": "aws", "az": "azure", "gs": "gcp"}[scheme]), name)
    return f"{scheme}://{name}"


def read_all(store, key: str) -> bytes:
    """Every byte of one object."""
    with store.open(key) as f:
        return f.read()


def replica(store):
    """A replication target's objects, without the reserved area where runs keep its manifest."""
    from multicloud.core.replication_manifest import RESERVED_PREFIX

    return [m for m in store.list() if not m.key.startswith(RESERVED_PREFIX)]


# ---- Prefect artifacts (tests/flows) --------------------------------------------------------------

async def latest_artifact(key: str):
    """The newest artifact with `key` on the test run's Prefect server, or None."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
        return found[0] if found else None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def http_get(url: str) -> tuple[bytes, str]:
    """(body, content type) of a plain GET as a browser sends it: no credentials, no SDK."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), response.headers.get_content_type()
