"""The alert receiver as a real uvicorn process on a free port, posting to the session's Prefect
server (the `prefect_api` harness), and a reader of what reached that server."""

from __future__ import annotations

import secrets

import pytest
import yaml

from tests.support import ALERT_MAX_BODY_BYTES, ALERT_PLAN, ALERT_TOKEN_ENV, PrefectEvents, Receiver


@pytest.fixture(scope="session")
def receiver(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Receiver:
    state = tmp_path_factory.mktemp("alert-receiver")
    database = state / "receiver.sqlite3"
    config = state / "alerts.yaml"
    config.write_text(yaml.safe_dump({
        "token_env": ALERT_TOKEN_ENV,
        "max_body_bytes": ALERT_MAX_BODY_BYTES,
        "database": str(database),
        "cancel_on_resolved": True,
        "prefect_timeout_seconds": 5,
        "routes": [{"match": {"alertname": "PrimarySiteDown", "site": "primary"}, "plan": ALERT_PLAN}],
    }))
    receiver = Receiver(state, config, database, prefect_api, token=secrets.token_urlsafe(24))
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
        receiver.client.close()


@pytest.fixture(scope="session")
def prefect_events(prefect_api: str) -> PrefectEvents:
    return PrefectEvents(prefect_api)
