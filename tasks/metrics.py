"""The one publishing task every pipeline calls at its end: its runs' metrics reports folded into the
metrics store (`MULTICLOUD_METRICS_URL`), where the exporter serves them to Prometheus."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from multicloud.clouds import open_store
from multicloud.config import Profile
from multicloud.core.errors import StoreError
from multicloud.core.metrics import MetricsReport, store_key
from multicloud.core.redact import redact_url
from multicloud.engine.metrics import METRICS_URL_ENV, metrics_url, publish


@task(task_run_name="publish-metrics", cache_policy=NO_CACHE)  # untagged: see tasks/replication.py (_RETRY)
def publish_metrics(reports: list[MetricsReport], profile: Profile) -> list[str]:
    """Write each report; returns the keys written. A store that cannot be written is logged, not
    raised: the pipeline's own work is done, and the staleness alert says its metrics are not."""
    logger, url = get_run_logger(), metrics_url()
    if url is None:
        logger.info("%s is not set: no metrics published", METRICS_URL_ENV)
        return []
    written = []
    try:
        store = open_store(url, profile)
        for report in reports:
            publish(store, report)
            written.append(store_key(report.pipeline, report.unit))
            logger.info("metrics of %s published (%d samples)", report.why, len(report.samples))
    except StoreError as exc:
        logger.error("metrics not published to %s after %d of %d report(s): %s", redact_url(url), len(written), len(reports),
                     exc)
    return written
