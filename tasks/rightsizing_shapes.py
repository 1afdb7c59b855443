"""Prefect tasks of the rightsizing run's shape stage: read each cloud's shape catalog and the AWS spot
prices of the shapes that matter, choose the rightsizing targets of resize findings, and build the
cross-cloud arbitrage table (an artifact). The decisions live in multicloud.core.rightsizing.targets
and .arbitrage; these tasks do the I/O, retries, logs and artifacts."""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds.aws import shapes as aws_shapes
from multicloud.clouds.aws import spot
from multicloud.clouds.azure import shapes as azure_shapes
from multicloud.clouds.gcp import shapes as gcp_shapes
from multicloud.config import Profile
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing import Resource
from multicloud.core.rightsizing.arbitrage import Comparison, compare, shapes_in_use, table
from multicloud.core.rightsizing.catalogs import ShapeCatalog, SpotPrices
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.prices import Shape, ShapePrice
from multicloud.core.rightsizing.targets import choose_targets
from tasks.storage import retry_transient

_RETRIES = dict(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
                cache_policy=NO_CACHE, tags=["rightsizing"])


@task(task_run_name="shape-catalog-{cloud}-{region}", **_RETRIES)
def read_shape_catalog(profile: Profile, cloud: str, region: str, connection: str | None = None,
                       subscription_id: str = "", endpoint: str | None = None) -> ShapeCatalog:
    """The VM shapes `cloud` offers in `region`: AWS through the connection's endpoint, Azure for
    `subscription_id` (ARM at `endpoint`, default the public ARM), GCP for the connection's project
    (Compute Engine at `endpoint`, default compute.googleapis.com)."""
    conn = profile.connection_for(cloud, connection)
    if cloud == "aws":
        catalog = aws_shapes.read_shapes(conn.model_copy(update={"region": region}))
    elif cloud == "azure":
        catalog = azure_shapes.read_shapes(conn, subscription_id, region, base_url=endpoint)
    elif cloud == "gcp":
        catalog = gcp_shapes.read_shapes(conn, region, endpoint=endpoint)
    else:
        raise InvalidInput(f"no shape catalog for cloud {cloud!r}", target="cloud")
    get_run_logger().info("%s %s: %d shapes in %d request(s); %.1f s waited on throttling", cloud, region,
                          len(catalog.shapes), sum(catalog.requests.values()), sum(catalog.throttle_waits))
    return catalog


@task(task_run_name="aws-spot-{region}", **_RETRIES)
def read_aws_spot_prices(profile: Profile, region: str, shapes: list[Shape], now: datetime,
                         connection: str | None = None) -> SpotPrices:
    """The spot figure of each AWS shape in `region` (the lowest zone's latest Linux/UNIX price)."""
    conn = profile.connection_for("aws", connection).model_copy(update={"region": region})
    result = spot.read_spot_prices(conn, shapes, now)
    offered = sum(p.spot_hourly is not None for p in result.prices)
    get_run_logger().info("aws %s: spot prices for %d of %d shape(s) in %d request(s)", region, offered,
                          len(shapes), sum(result.requests.values()))
    return result


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
