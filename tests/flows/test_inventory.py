"""The inventory flow against the emulated clouds and a real Prefect server."""

from __future__ import annotations

import io
import json

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


def _row(connection: str, cloud: str, bucket: str, objects: int, size: int) -> dict:
    return {"connection": connection, "cloud": cloud, "bucket": bucket, "objects": objects, "bytes": size, "error": ""}


def test_inventory_counts_every_cloud_and_publishes_table(seeded):
    rows = inventory(profile="local")
    by_bucket = {(r["connection"], r["bucket"]): r for r in rows}
    assert by_bucket[("aws-local", seeded["aws-local"])] == _row("aws-local", "aws", seeded["aws-local"], 5, 500)
    assert by_bucket[("azure-local", seeded["azure-local"])] == \
        _row("azure-local", "azure", seeded["azure-local"], 3, 30)
    assert by_bucket[("gcp-local", seeded["gcp-local"])] == _row("gcp-local", "gcp", seeded["gcp-local"], 2, 14)
    assert len(by_bucket) == len(rows)  # one row per bucket, none repeated
    import asyncio

    table = asyncio.run(_artifact("inventory"))
    assert table is not None
    data = json.loads(table.data) if isinstance(table.data, str) else table.data
    published = {(r["connection"], r["bucket"]): r for r in data}
    assert published[("gcp-local", seeded["gcp-local"])] == by_bucket[("gcp-local", seeded["gcp-local"])]
    assert len(published) == len(rows)
    summary = asyncio.run(_artifact("inventory-summary"))
    objects = sum(r["objects"] for r in rows)
    assert f"| **all** | {len(rows)} | {objects:,} |" in summary.data


def test_inventory_of_one_connection(seeded):
    rows = inventory(profile="local", connections=["gcp-local"])
    assert {r["connection"] for r in rows} == {"gcp-local"}
    assert _row("gcp-local", "gcp", seeded["gcp-local"], 2, 14) in rows


def test_unknown_connection_is_named_in_the_error(local_profile):
    with pytest.raises(InvalidInput, match="nope") as info:
        inventory(profile="local", connections=["gcp-local", "nope"])
    assert info.value.target == "connections"
    assert "gcp-local" not in str(info.value).split(";")[0]  # only the unknown name is reported as unknown
