"""Server-side set-up the deployments need: the process work pool, the failover single-flight
global concurrency limit (one slot) and the automation that marks a flow run crashed when its
heartbeats stop (its worker's machine is gone). Idempotent.

    python -m deployments.bootstrap
"""

from __future__ import annotations

import asyncio
import os

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists

from multicloud.core.failover import SINGLE_FLIGHT_LIMIT as FAILOVER_LIMIT

WORK_POOL = os.environ.get("MULTICLOUD_WORK_POOL", "multicloud-pool")
CRASH_AUTOMATION = "crash-flow-runs-without-heartbeat"
# Three missed heartbeats mean the process is gone, while a busy machine that delays one beat is
# not mistaken for a dead one. The workers must beat at the frequency this process is set to
# (PREFECT_FLOWS_HEARTBEAT_FREQUENCY: Prefect's default 180 s, the demo's 30 s).
MISSED_BEATS = 3
# Any of these after a heartbeat ends the wait: the run ended, or left its process on purpose.
_RUN_ENDED = ("prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
              "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed", "prefect.flow-run.Suspended")


def crash_after_seconds() -> int:
    from prefect.settings import get_current_settings

    return MISSED_BEATS * get_current_settings().flows.heartbeat_frequency


def crash_automation():
    """Prefect's zombie-run recipe: a proactive trigger per flow run, expecting another heartbeat
    (or an end) within three heartbeat periods of the last one; when none comes the run is set
    Crashed, which also gives back its deployment concurrency slot."""
    from datetime import timedelta

    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    after = crash_after_seconds()
    return AutomationCore(
        name=CRASH_AUTOMATION, description="A flow run whose heartbeats stopped is crashed.",
        trigger=EventTrigger(match={"prefect.resource.id": "prefect.flow-run.*"},
                             after={"prefect.flow-run.heartbeat"}, expect=set(_RUN_ENDED),
                             for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                             within=timedelta(seconds=after)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"No heartbeat for {after} s: the run's process is gone.")])


async def bootstrap() -> list[str]:
    """Create what is missing; returns what was created."""
    created = []
    async with get_client() as client:
        try:
            await client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
            created.append(f"work pool {WORK_POOL}")
        except ObjectAlreadyExists:
            pass
        try:
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=FAILOVER_LIMIT, limit=1))
            created.append(f"global concurrency limit {FAILOVER_LIMIT} (1 slot)")
        except ObjectAlreadyExists:
            pass
        if not await client.read_automations_by_name(CRASH_AUTOMATION):
            await client.create_automation(crash_automation())
            created.append(f"automation {CRASH_AUTOMATION}")
    return created


if __name__ == "__main__":
    done = asyncio.run(bootstrap())
    print("created: " + (", ".join(done) or "nothing (all present)"))
