"""A real Prefect server for flow tests, started once per session by Prefect's test harness."""

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    with prefect_test_harness(server_startup_timeout=90):
        yield
