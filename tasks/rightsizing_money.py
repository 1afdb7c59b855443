"""Prefect tasks of the rightsizing flow that put money on it: the savings of each finding from the
FOCUS dataset and the price catalogs, and commitment recommendations from the dataset's on-demand
spend. Thin over multicloud.engine.rightsizing_costs and multicloud.core.rightsizing."""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds import open_store
from multicloud.config import Profile
from multicloud.config.rightsizing_commitments import DEFAULT_RATES, load_commitment_rates
from multicloud.core.rightsizing import commitments, savings
from multicloud.core.rightsizing.findings import Finding
from multicloud.core.rightsizing.price_catalogs import UnitPrice
from multicloud.core.rightsizing.prices import ShapePrice
from multicloud.engine.rightsizing_costs import on_demand_usage, resource_costs
from tasks.storage import retry_transient

_RETRIES = dict(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
                cache_policy=NO_CACHE, tags=["rightsizing"])


@task(**_RETRIES)
def price_findings_task(findings: list[Finding], dataset: str | None, profile: Profile,
                        list_prices: list[ShapePrice], unit_prices: list[UnitPrice], now: datetime,
                        days: int = 30) -> list[Finding]:
    """Each finding with its monthly effective savings (trailing `days` of the resource's
    on-demand EffectiveCost in the FOCUS dataset at `dataset`) and list savings (catalog prices)."""
    costs = resource_costs(open_store(dataset, profile=profile), now, days) if dataset else None
    priced = savings.price_findings(findings, costs, list_prices, unit_prices)
    unpriced = sum(1 for f in priced if f.monthly_effective_savings is None)
    get_run_logger().info("%d finding(s) priced from %s; %d without effective savings (see notes)", len(priced),
                          f"{len(costs)} resources' costs" if costs is not None else "no FOCUS dataset", unpriced)
    return priced


@task(**_RETRIES)
def recommend_commitments(dataset: str | None, profile: Profile, now: datetime, days: int = 30,
                          rates: str = str(DEFAULT_RATES)) -> commitments.CommitmentPlan | None:
    """Commitment advice per provider, service and region from the trailing `days` of on-demand
    spend, with the discount rates of `rates`; a table artifact shows it. None without a dataset."""
    if not dataset:
        get_run_logger().info("no FOCUS dataset in the scope: no commitment advice")
        return None
    programs = load_commitment_rates(rates).programs
    plan = commitments.recommend_commitments(on_demand_usage(open_store(dataset, profile=profile), now, days), programs)
    create_table_artifact(key="rightsizing-commitments", table=commitments.commitment_rows(plan),
                          description=f"Commitments from {days} days of on-demand spend ({commitments.METHOD})")
    get_run_logger().info("%d series advised, %d not covered by any commitment program", len(plan.recommendations),
                          len(plan.not_eligible))
    return plan
