"""Server-side set-up the deployments need: the process work pool and the failover
single-flight global concurrency limit (one slot). Idempotent.

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
    return created


if __name__ == "__main__":
    done = asyncio.run(bootstrap())
    print("created: " + (", ".join(done) or "nothing (all present)"))
