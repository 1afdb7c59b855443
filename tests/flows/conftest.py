"""Flow tests run against the session's real Prefect server."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_server(prefect_api):
    yield prefect_api
