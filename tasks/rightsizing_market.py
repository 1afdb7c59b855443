"""Prefect task of the rightsizing flow that reads one cloud's market: its shape catalogs where the run
needs them, and the on-demand and spot list prices of the shapes the pure selection names (those in
use, their cheaper candidates, the other clouds' equivalents). A shape the catalog does not price comes
back unpriced with its note; a read that fails is a problem the run reports, not a lost finding."""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.config import Profile
from multicloud.config.rightsizing import RightsizingScope
from multicloud.core.rightsizing import Resource
from multicloud.core.rightsizing.market import Market
from multicloud.engine import rightsizing_market
from tasks.storage import retry_transient

_RETRIES = dict(retries=2, retry_delay_seconds=[10, 60], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
                cache_policy=NO_CACHE, tags=["rightsizing"])


@task(task_run_name="market-{cloud}", **_RETRIES)
def read_market(cloud: str, scope: RightsizingScope, profile: Profile, resources: list[Resource], rules: list,
                now: datetime) -> Market:
    """`cloud`'s shapes and prices for the run, with a `rightsizing-prices-<cloud>` table artifact."""
    logger = get_run_logger()
    market = rightsizing_market.read_market(cloud, scope, profile, resources, rules, now)
    unpriced = [p for p in market.prices if p.on_demand_hourly is None]
    logger.info("%s: %d shape(s) in %d catalog(s), %d of %d asked priced on demand, %d with spot; %d request(s), "
                "%.1f s waited on throttling", cloud, sum(len(c.shapes) for c in market.catalogs),
                len(market.catalogs), len(market.prices) - len(unpriced), len(market.prices),
                sum(p.spot_hourly is not None for p in market.prices), sum(market.requests.values()),
                sum(market.throttle_waits))
    for price in unpriced[:20]:
        logger.warning("%s %s in %s: no on-demand list price (%s)", cloud, price.shape.type, price.region, price.note)
    for problem in market.problems:
        logger.error("%s", problem)
    create_table_artifact(_rows(market), key=f"rightsizing-prices-{cloud}",
                          description=f"{cloud} list prices per shape the run needed: hourly, with the dates they "
                          "took effect and the catalog read")
    return market


def _rows(market: Market) -> list[dict]:
    def text(value) -> str:
        return "" if value is None else str(value)

    return [{"type": p.shape.type, "region": p.region, "vcpus": p.shape.vcpus, "memory_mib": p.shape.memory_mib,
             "currency": p.currency, "on_demand_hourly": text(p.on_demand_hourly),
             "on_demand_effective": text(p.on_demand_effective), "spot_hourly": text(p.spot_hourly),
             "spot_effective": text(p.spot_effective), "source": p.source, "note": p.note} for p in market.prices]
