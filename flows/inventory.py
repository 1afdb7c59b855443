"""Inventory: every bucket and container of every configured connection, with object counts
and total bytes, as a table artifact and a markdown summary."""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import Field

from multicloud.config import load_profile
from multicloud.core.errors import InvalidInput
from multicloud.core.inventory import BucketSummary, summary_markdown
from tasks.storage import list_connection_buckets, summarize_bucket


@flow(name="inventory", log_prints=True)
def inventory(
    connections: Annotated[list[str] | None, Field(
        description="Connection names to inventory; empty means every connection of the profile.")] = None,
    profile: Annotated[str | None, Field(
        description="Profile: 'local', a profile file path, or empty for MULTICLOUD_PROFILE.")] = None,
) -> list[dict]:
    logger = get_run_logger()
    active = load_profile(profile)
    chosen = active.connections
    if connections:
        known = {c.name for c in active.connections}
        unknown = [name for name in connections if name not in known]
        if unknown:
            raise InvalidInput(f"unknown connection(s) {unknown}; profile has {sorted(known)}", target="connections")
        chosen = [c for c in active.connections if c.name in connections]

    bucket_lists = {conn.name: list_connection_buckets.submit(conn) for conn in chosen}
    futures = [
        summarize_bucket.submit(conn, bucket)
        for conn in chosen
        for bucket in bucket_lists[conn.name].result()
    ]
    rows: list[BucketSummary] = [f.result() for f in futures]

    create_table_artifact(
        key="inventory", table=[r.row() for r in rows],
        description=f"Buckets of profile {active.name!r}: objects and bytes",
    )
    report = summary_markdown(rows)
    create_markdown_artifact(key="inventory-summary", markdown=report, description="Inventory totals")
    logger.info("\n%s", report)
    failed = [r for r in rows if r.error]
    if failed:
        raise RuntimeError(f"{len(failed)} bucket(s) could not be read: "
                           + ", ".join(f"{r.connection}/{r.bucket}" for r in failed))
    return [r.row() for r in rows]


if __name__ == "__main__":
    for row in inventory():
        print(row)
