"""From Alertmanager to a failover run, end to end on a real Prefect server: the receiver, the
event, and the failover deployment's own trigger from prefect.yaml. Fifty deliveries of one
alert (repeats, two senders at once, a receiver restart) make exactly one run."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
import yaml

from deployments.paths import REPO_ROOT
from tests.support import ALERT_PLAN as PLAN, Receiver, alert_group, expected_incident


@pytest.fixture(scope="module")
def failover_deployment(prefect_api: str):
    """The failover deployment with the trigger exactly as prefect.yaml declares it (no worker: runs wait)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.events import DeploymentEventTrigger
    from prefect.exceptions import ObjectAlreadyExists

    from flows.failover import failover

    spec = next(d for d in yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())["deployments"]
                if d["entrypoint"] == "flows/failover.py:failover" and d["parameters"]["plan"] == PLAN)
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=spec["work_pool"]["name"], type="process"))
        except ObjectAlreadyExists:
            pass
    triggers = [DeploymentEventTrigger(**{k: v for k, v in t.items() if k != "type"}) for t in spec["triggers"]]
    return failover.to_deployment(name=spec["name"], parameters=spec["parameters"],
                                  work_pool_name=spec["work_pool"]["name"], triggers=triggers).apply()


def runs_of(deployment_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def test_fifty_deliveries_of_one_alert_start_exactly_one_failover_run(receiver: Receiver, failover_deployment):
    payload = alert_group("one-run", fingerprints=("ee00000000000001",))
    incident = expected_incident(payload)
    statuses: list[int] = []
    lock = threading.Lock()

    def sender(count: int) -> None:
        with httpx.Client(timeout=30) as client:
            for _ in range(count):
                r = client.post(f"{receiver.url}/alerts", json=payload,
                                headers={"Authorization": f"Bearer {receiver.token}"})
                with lock:
                    statuses.append(r.status_code)

    pair = [threading.Thread(target=sender, args=(10,)) for _ in range(2)]  # an HA pair of Alertmanagers
    for t in pair:
        t.start()
    for t in pair:
        t.join()
    sender(15)
    receiver.restart()
    sender(15)
    assert len(statuses) == 50 and all(200 <= s < 300 for s in statuses)

    deadline = time.monotonic() + 60
    mine: list[Any] = []
    while time.monotonic() < deadline and not mine:
        mine = [r for r in runs_of(failover_deployment) if r.parameters.get("failover_id") == incident]
        time.sleep(1)
    time.sleep(10)  # a second run, if any were coming, would have been created by now
    mine = [r for r in runs_of(failover_deployment) if r.parameters.get("failover_id") == incident]
    assert len(mine) == 1
    params = mine[0].parameters
    assert params["plan"] == PLAN and params["approval"] == "auto" and params["triggered_at"]
