"""Prefect tasks of the rightsizing run's shape stage: choose the rightsizing targets of resize findings,
and build the cross-cloud arbitrage table (an artifact) from the markets read. The decisions live in multicloud.core.rightsizing.targets
and .arbitrage; these tasks do the I/O, retries, logs and artifacts."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.core.rightsizing import Resource
from multicloud.core.rightsizing.arbitrage import Comparison, compare, shapes_in_use, table
from multicloud.core.rightsizing.catalogs import ShapeCatalog
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.prices import Shape, ShapePrice
from multicloud.core.rightsizing.targets import choose_targets
from tasks.storage import retry_transient

_RETRIES = dict(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
                cache_policy=NO_CACHE, tags=["rightsizing"])


@task(**_RETRIES)
def choose_rightsizing_targets(findings: list[Finding], rules: list, prices: list[ShapePrice]) -> list[Finding]:
    """Target types for the resize findings; each one left without says why."""
    chosen = choose_targets(findings, rules, prices)
    resized = [f for f in chosen if f.outcome.action == "resize"]
    get_run_logger().info("rightsizing targets: %d of %d resize finding(s) have a target",
                          sum(bool(f.target_type) for f in resized), len(resized))
    return chosen


@task(**_RETRIES)
def arbitrage_table(resources: list[Resource], catalogs: list[ShapeCatalog], prices: list[ShapePrice],
                    scores: dict[tuple[str, str], float] | None = None) -> list[Comparison]:
    """Where each VM shape in use would run on every cloud, priced; published as the
    `rightsizing-arbitrage` table artifact."""
    by_cloud: dict[str, list[Shape]] = {}
    for catalog in catalogs:
        by_cloud.setdefault(catalog.cloud, []).extend(catalog.shapes)
    comparisons = compare(shapes_in_use(resources, by_cloud), by_cloud, prices, scores)
    create_table_artifact(table(comparisons), key="rightsizing-arbitrage",
                          description="Each VM shape in use and its equivalents on every cloud: on-demand and spot "
                          "prices with their effective dates, per vCPU-hour and per GiB-hour, cheapest marked")
    get_run_logger().info("arbitrage: %d shape(s) in use compared", len(comparisons))
    return comparisons
