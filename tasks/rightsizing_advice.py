"""Prefect tasks that read each cloud's own rightsizing advice (AWS Compute Optimizer, Azure Advisor,
GCP Recommender) and publish how it compares with our findings. Thin adapters: the readers live in
multicloud.clouds, the comparison in multicloud.core.rightsizing.advice."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds.aws import compute_optimizer
from multicloud.clouds.azure import advisor
from multicloud.clouds.gcp import recommender
from multicloud.config import Profile
from multicloud.core.rightsizing import Outcome
from multicloud.core.rightsizing.advice import AdviceResult, CloudOnly, agreement_rows, compare_advice
from multicloud.core.rightsizing.findings import Finding
from tasks.storage import retry_transient

_RETRIES = dict(retries=2, retry_delay_seconds=[10, 30], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
                cache_policy=NO_CACHE, tags=["rightsizing"])


@task(task_run_name="read-advice-{cloud}", **_RETRIES)
def read_cloud_advice(profile: Profile, cloud: str, connection: str | None = None, *, region: str = "",
                      endpoint: str | None = None, subscription_id: str | None = None, arm_base_url: str | None = None,
                      project: str | None = None, recommender_endpoint: str | None = None,
                      compute_endpoint: str | None = None) -> AdviceResult:
    """One cloud's advice through the profile's connection for it (or the one named). AWS reads
    `region` (default: the connection's) through `endpoint` (default: the connection's); Azure needs
    the subscription (and `arm_base_url` for a local ARM); GCP reads the project's (default: the
    connection's account) recommendations, naming resources through Compute Engine."""
    conn = profile.connection_for(cloud, connection)
    if cloud == "aws":
        update = {k: v for k, v in (("region", region), ("endpoint", endpoint)) if v}
        result = compute_optimizer.read_advice(conn.model_copy(update=update))
    elif cloud == "azure":
        result = advisor.read_advice(conn, subscription_id or "", base_url=arm_base_url)
    else:
        result = recommender.read_advice(conn, project, endpoint=recommender_endpoint,
                                         compute_endpoint=compute_endpoint)
    get_run_logger().info("%s: %d recommendation(s) in %d request(s), %d left out, %.1f s waited on throttling",
                          cloud, len(result.advice), sum(result.requests.values()), sum(result.left_out.values()),
                          result.waited_seconds)
    for error in result.errors[:20]:
        get_run_logger().warning("%s advisor reported: %s", cloud, error)
    return result


@task(cache_policy=NO_CACHE, tags=["rightsizing"])
def compare_with_advice(findings: list[Finding], results: list[AdviceResult],
                        outcomes: list[Outcome]) -> tuple[list[Finding], list[CloudOnly]]:
    """Our findings with the clouds' verdicts filled, and the clouds' recommendations we did not make;
    published as the `rightsizing-advice` table."""
    advice = [a for r in results for a in r.advice]
    compared, cloud_only = compare_advice(findings, advice, outcomes=outcomes, read=[r.cloud for r in results])
    create_table_artifact(agreement_rows(compared, cloud_only), key="rightsizing-advice",
                          description="Our findings against each cloud's own advice (Compute Optimizer, Azure "
                          "Advisor, GCP Recommender): agrees, differs and why, and what only the cloud recommends "
                          "with our verdict on that resource")
    return compared, cloud_only
