"""The inventory flow against the emulated clouds and a real Prefect server."""

from __future__ import annotations

import io

import pytest
from prefect.client.orchestration import get_client

from flows.inventory import inventory
from multicloud.clouds import create_bucket, open_store
from multicloud.core.errors import InvalidInput
from tests.support import unique_name


def _seed(profile, cloud: str, scheme: str, count: int, size: int) -> str:
    name = unique_name("inv")
    create_bucket(profile.connection_for(cloud), name)
    store = open_store(f"{scheme}://{name}", profile=profile)
    for i in range(count):
        store.write(f"k/{i}", io.BytesIO(b"x" * size), size=size)
    return name


@pytest.fixture(scope="module")
def seeded(local_profile):
    return {
        "aws-local": _seed(local_profile, "aws", "s3", 5, 100),
        "azure-local": _seed(local_profile, "azure", "az", 3, 10),
        "gcp-local": _seed(local_profile, "gcp", "gs", 2, 7),
    }


async def _artifact(key: str):
    async with get_client() as client:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        from prefect.client.schemas.sorting import ArtifactSort

        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
        return found[0] if found else None


def test_inventory_counts_every_cloud_and_publishes_table(seeded):
    rows = inventory(profile="local")
    by_bucket = {(r["connection"], r["bucket"]): r for r in rows}
    assert by_bucket[("aws-local", seeded["aws-local"])]["objects"] == 5
    assert by_bucket[("aws-local", seeded["aws-local"])]["bytes"] == 500
    assert by_bucket[("azure-local", seeded["azure-local"])]["bytes"] == 30
    assert by_bucket[("gcp-local", seeded["gcp-local"])]["objects"] == 2
    assert by_bucket[("gcp-local", seeded["gcp-local"])]["bytes"] == 14
    import asyncio

    table = asyncio.run(_artifact("inventory"))
    assert table is not None and seeded["gcp-local"] in str(table.data)
    summary = asyncio.run(_artifact("inventory-summary"))
    assert "| **all** |" in summary.data


def test_inventory_of_one_connection(seeded):
    rows = inventory(profile="local", connections=["gcp-local"])
    assert {r["connection"] for r in rows} == {"gcp-local"}


def test_unknown_connection_is_named_in_the_error(local_profile):
    with pytest.raises(InvalidInput, match="nope"):
        inventory(profile="local", connections=["nope"])
