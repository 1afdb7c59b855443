"""The money tasks of the rightsizing flow on a real Prefect server: findings priced from a FOCUS
dataset, and the commitments table artifact a person reads."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from multicloud.clouds import open_store
from multicloud.config import Profile
from multicloud.core.rightsizing.evaluate import Outcome, Resource
from multicloud.core.rightsizing.findings import Finding
from multicloud.testing.rightsizing_costs import Charge, write_focus
from tasks.rightsizing_money import price_findings_task, recommend_commitments

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


@flow
def money(dataset: str, findings: list[Finding]):
    profile = Profile(name="test")
    return (price_findings_task(findings, dataset, profile, [], [], NOW),
            recommend_commitments(dataset, profile, NOW))


def test_findings_are_priced_and_commitments_shown(tmp_path):
    dataset = f"file://{tmp_path / 'dataset'}"
    (tmp_path / "dataset").mkdir()
    write_focus(open_store(dataset), [Charge("gcp", "//compute.googleapis.com/projects/p/zones/z/instances/7",
                                             NOW - timedelta(hours=h + 1), Decimal("0.05"), service="Compute Engine",
                                             region="us-central1") for h in range(720)])
    res = Resource("gcp", "//compute.googleapis.com/projects/p/zones/z/instances/7", "vm", "us-central1", "e2-small")
    found = Finding(Outcome("r", res.id, "gcp", "vm", "finding", "", "idle", "stop", "https://example.com"), res)
    [priced], plan = money(dataset, [found])
    assert priced.monthly_effective_savings == Decimal("36.00")
    assert "missing from the price catalog" in priced.savings_note
    assert plan.recommendations[0].best.hourly_commitment == Decimal("0.027")

    async def table():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(
                any_=["rightsizing-commitments"])), sort=ArtifactSort.CREATED_DESC, limit=1)

    [artifact] = asyncio.run(table())
    [row] = json.loads(artifact.data)
    assert (row["provider"], row["term_years"], row["hourly_commitment"], row["net_monthly_savings"]) == (
        "gcp", 3, "0.027 USD", "16.79 USD")
