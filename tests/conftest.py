"""The one harness of the test run: the local cloud stack and a real Prefect server, each started
once per session (the stack is reused when running, and stopped only if this run started it)."""

from __future__ import annotations

import os

# Before Prefect reads its settings: no telemetry (nothing leaves this machine), and events reach
# the database within 0.5 s.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL", "0.5")

import pytest

from deployments import cloudstack
from deployments.paths import local_state_dir

os.environ.setdefault("MULTICLOUD_LOCAL_DIR", str(local_state_dir()))


@pytest.fixture(scope="session")
def local_profile():
    started = cloudstack.up()
    os.environ["MULTICLOUD_PROFILE"] = "local"
    try:
        yield cloudstack.local_profile()
    finally:
        if started:
            cloudstack.down(started)


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """A real Prefect server (Prefect's test harness), once for the whole run; its API URL (…/api)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield PREFECT_API_URL.value().rstrip("/")


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server of its own (multicloud.testing.postgres), once for the whole run."""
    from multicloud.testing.postgres import LocalPostgres

    with LocalPostgres() as server:
        yield server
