"""Server-side set-up the deployments need: the process work pool. Idempotent.

    python -m deployments.bootstrap
"""

from __future__ import annotations

import asyncio
import os

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists

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
    return created


if __name__ == "__main__":
    done = asyncio.run(bootstrap())
    print("created: " + (", ".join(done) or "nothing (all present)"))
