"""Prefect tasks over object stores: listing buckets and summarizing their contents."""

from __future__ import annotations

from prefect import get_run_logger, task

from multicloud.clouds import list_buckets, store_for
from multicloud.config import Connection
from multicloud.core.errors import StoreError, is_retryable
from multicloud.core.inventory import BucketSummary, count_objects
from multicloud.core.objects import StoreUrl

_SCHEME = {"aws": "s3", "azure": "az", "gcp": "gs"}


def retry_transient(task, task_run, state) -> bool:
    """Retry a task only when it failed with a retryable taxonomy error."""
    try:
        state.result()
    except Exception as exc:  # the failed state re-raises its exception
        return is_retryable(exc)
    return False


@task(retries=3, retry_delay_seconds=[2, 5, 10], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      tags=["storage"])
def list_connection_buckets(conn: Connection) -> list[str]:
    """Names of the buckets or containers a connection sees."""
    names = list_buckets(conn)
    get_run_logger().info("%s: %d bucket(s)", conn.name, len(names))
    return names


@task(retries=3, retry_delay_seconds=[2, 5, 10], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
      tags=["storage"], task_run_name="summarize-{conn.name}-{bucket}")
def summarize_bucket(conn: Connection, bucket: str) -> BucketSummary:
    """Count objects and bytes in one bucket by streaming its listing; a read error becomes the row's error."""
    store = store_for(conn, StoreUrl(_SCHEME[conn.cloud], bucket, ""))
    try:
        objects, total = count_objects(store.list())
    except StoreError as exc:
        if exc.retryable:
            raise
        get_run_logger().warning("%s/%s: %s", conn.name, bucket, exc)
        return BucketSummary(conn.name, conn.cloud, bucket, error=f"{type(exc).__name__}: {exc}")
    return BucketSummary(conn.name, conn.cloud, bucket, objects, total)
