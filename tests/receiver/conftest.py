"""A real Prefect server (the test harness, once per session) and the alert receiver as a real
uvicorn process on 127.0.0.1:$MULTICLOUD_TEST_RECEIVER_PORT (default 9391), started and stopped
by PID; plus helpers that read back what reached the Prefect server."""

from __future__ import annotations

import os

import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deployments.alert_receiver import receiver_process
from deployments.processes import ManagedProcess

RECEIVER_PORT = int(os.environ.get("MULTICLOUD_TEST_RECEIVER_PORT", 9391))
TOKEN_ENV = "MULTICLOUD_TEST_ALERT_TOKEN"
MAX_BODY_BYTES = 64 * 1024
PLAN = "demo-primary-to-secondary"
SETTLE_SECONDS = 2.0  # several event-persister flushes: long enough for a stray second event to show


@dataclass
class Receiver:
    """The receiver process, its config, its SQLite file and an HTTP client to talk to it."""

    state_dir: Path
    config: Path
    database: Path
    api_url: str
    token: str
    port: int = RECEIVER_PORT
    process: ManagedProcess | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logfile(self) -> Path:
        return self.state_dir / "logs" / "alert-receiver.log"

    def start(self, api_url: str | None = None) -> None:
        env = {"PREFECT_API_URL": api_url or self.api_url, TOKEN_ENV: self.token,
               "PREFECT_HOME": str(self.state_dir / "prefect-home")}
        self.process = receiver_process(self.state_dir, self.port, env, self.config)
        self.process.ensure(timeout=60)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def restart(self, api_url: str | None = None) -> None:
        self.stop()
        self.start(api_url)

    def post(self, payload: Any = None, *, token: str | None = "default", **kwargs: Any) -> httpx.Response:
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


def parse_metrics(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


@pytest.fixture(scope="session")
def receiver(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Receiver:
    state = tmp_path_factory.mktemp("alert-receiver")
    database = state / "receiver.sqlite3"
    config = state / "alerts.yaml"
    config.write_text(yaml.safe_dump({
        "token_env": TOKEN_ENV,
        "max_body_bytes": MAX_BODY_BYTES,
        "database": str(database),
        "cancel_on_resolved": True,
        "prefect_timeout_seconds": 5,
        "routes": [{"match": {"alertname": "PrimarySiteDown", "site": "primary"}, "plan": PLAN}],
    }))
    receiver = Receiver(state, config, database, prefect_api, token=secrets.token_urlsafe(24))
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
        receiver.client.close()


@dataclass
class PrefectEvents:
    """Reads events back from the real Prefect server (POST /api/events/filter, paged)."""

    api_url: str

    def read(self, event: str, plan: str = PLAN) -> list[dict[str, Any]]:
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

    def for_group(self, event: str, group_key: str, *, expect: int, timeout: float = 30) -> list[dict[str, Any]]:
        """Events of `group_key`, once at least `expect` are stored and no more arrive in a settle time."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.read(event) if e["payload"].get("group_key") == group_key]
            if len(found) >= expect or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(SETTLE_SECONDS)
        return [e for e in self.read(event) if e["payload"].get("group_key") == group_key]

    def variable(self, name: str) -> Any:
        response = httpx.get(f"{self.api_url}/variables/name/{name}", timeout=30)
        return None if response.status_code == 404 else response.raise_for_status().json()["value"]


@pytest.fixture(scope="session")
def prefect_events(prefect_api: str) -> PrefectEvents:
    return PrefectEvents(prefect_api)
