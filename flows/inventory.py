"""Inventory: every bucket and container of every configured connection, with object counts
and total bytes, as a table artifact and a markdown summary."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from multicloud.config import load_profile
from multicloud.core.inventory import choose_connections, unread_buckets_problem
from tasks.storage import list_connection_buckets, publish_inventory, summarize_bucket


@flow(name="inventory", log_prints=True)
def inventory(
    connections: Annotated[list[str] | None, Field(
        description="Connection names to inventory; empty means every connection of the profile.")] = None,
    profile: Annotated[str | None, Field(
        description="Profile: 'local', a profile file path, or empty for MULTICLOUD_PROFILE.")] = None,
) -> list[dict]:
    active = load_profile(profile)
    chosen = choose_connections(active.connections, connections)
    bucket_lists = [(conn, list_connection_buckets.submit(conn)) for conn in chosen]
    summaries = [summarize_bucket.submit(conn, bucket) for conn, names in bucket_lists for bucket in names.result()]
    rows = [s.result() for s in summaries]
    publish_inventory.submit(rows, active.name).result()
    problem = unread_buckets_problem(rows)
    if problem:
        raise RuntimeError(problem)
    return [r.row() for r in rows]


if __name__ == "__main__":
    for row in inventory():
        print(row)
