"""Prefect tasks over object stores: listing buckets, summarizing their contents, publishing the inventory."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from multicloud.clouds import bucket_store, list_buckets
from multicloud.config import Connection
from multicloud.core.errors import StoreError, is_retryable
from multicloud.core.inventory import BucketSummary, count_objects, summary_markdown, unreadable_bucket


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
    """Count objects and bytes in one bucket by streaming its listing; a lasting read error becomes the row's error."""
    try:
        objects, total = count_objects(bucket_store(conn, bucket).list())
    except StoreError as exc:
        row = unreadable_bucket(conn.name, conn.cloud, bucket, exc)
        if row is None:
            raise
        get_run_logger().warning("%s/%s: %s", conn.name, bucket, exc)
        return row
    return BucketSummary(conn.name, conn.cloud, bucket, objects, total)


@task(tags=["storage"])
def publish_inventory(rows: list[BucketSummary], profile_name: str) -> None:
    """The inventory table and its markdown summary as artifacts, the summary also in the log."""
    create_table_artifact(key="inventory", table=[r.row() for r in rows],
                          description=f"Buckets of profile {profile_name!r}: objects and bytes")
    report = summary_markdown(rows)
    create_markdown_artifact(key="inventory-summary", markdown=report, description="Inventory totals")
    get_run_logger().info("\n%s", report)
