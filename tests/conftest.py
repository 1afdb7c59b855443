"""Shared fixtures: the local cloud stack, started once per test run (or reused) and
stopped only if this run started it."""

from __future__ import annotations

import os
import uuid

import pytest

# No telemetry from the test servers: nothing leaves this machine.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from deployments import cloudstack


@pytest.fixture(scope="session")
def local_profile():
    started = cloudstack.up()
    os.environ["MULTICLOUD_PROFILE"] = "local"
    try:
        yield cloudstack.local_profile()
    finally:
        if started:
            cloudstack.down(started)


def unique_name(prefix: str = "t") -> str:
    """A bucket/container name valid on every cloud: lowercase, digits, dashes, 3-63 chars."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"
