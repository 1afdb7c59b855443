"""Carrying out one planned rightsizing action on its cloud, journaled step by step in the output store:
read the resource again, refuse when it changed since the scan, in practice mode stop there, else act
(a disk is snapshotted first, and the snapshot's id is journaled before the delete)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

from multicloud.config import Profile
from multicloud.config.rightsizing_actions import ActionTargets
from multicloud.core.errors import StoreError
from multicloud.core.rightsizing import Resource
from multicloud.core.rightsizing import actions as A
from multicloud.engine.journal import Journal


class CloudActions(Protocol):
    """What each cloud's actions module offers (multicloud/clouds/<cloud>/actions.py)."""

    def read(self, resource: Resource) -> Resource | None: ...
    def stop(self, resource: Resource) -> dict: ...
    def snapshot(self, resource: Resource, name: str) -> str: ...
    def delete_disk(self, resource: Resource) -> dict: ...
    def release(self, resource: Resource) -> dict: ...


def cloud_actions(cloud: str, profile: Profile, targets: ActionTargets) -> CloudActions:
    """The actions of `cloud` through the profile's connection that `targets` names."""
    conn = profile.connection_for(cloud, targets.connections.get(cloud))
    if cloud == "aws":
        from multicloud.clouds.aws.actions import AwsActions

        return AwsActions(conn, snapshot_wait_seconds=max(1, round(targets.poll_seconds)),
                          snapshot_wait_attempts=max(1, int(targets.max_wait_seconds / max(1, targets.poll_seconds))))
    if cloud == "azure":
        from multicloud.clouds.azure.actions import AzureActions

        return AzureActions(conn, targets.azure_arm_url, poll_seconds=targets.poll_seconds,
                            max_wait_seconds=targets.max_wait_seconds)
    from multicloud.clouds.gcp.actions import GcpActions

    return GcpActions(conn, targets.gcp_compute_url, poll_seconds=targets.poll_seconds,
                      max_wait_seconds=targets.max_wait_seconds)


def step_name(planned: A.PlannedAction) -> str:
    return f"action-{planned.finding_id}"


def _record(journal: Journal, planned: A.PlannedAction, outcome: str, **observed) -> dict:
    base = {"finding_id": planned.finding_id, "cloud": planned.cloud, "resource": planned.resource.id,
            "rule": planned.rule, "action": planned.do, "approver": planned.approver}
    entry = journal.append(step_name(planned), outcome, datetime.now(timezone.utc), {**base, **observed},
                           planned.practice)
    return {**entry.observed, "outcome": outcome}


def execute(planned: A.PlannedAction, cloud: CloudActions, journal: Journal) -> dict:
    """Carry out `planned` (an act or practice decision) and journal each step; the last entry's
    observations with its `outcome` (done, would_do, skipped, failed) and `why`. A cloud error is
    journaled as failed, never raised: the other actions go on."""
    try:
        current = cloud.read(planned.resource)
    except StoreError as exc:
        return _record(journal, planned, A.FAILED, why=f"could not read the resource: {exc}",
                       error=type(exc).__name__)
    why_not = A.recheck(planned, current)
    if why_not:
        return _record(journal, planned, A.SKIPPED, why=why_not)
    if not planned.will_change:
        return _record(journal, planned, A.WOULD_DO, why=planned.why)
    _record(journal, planned, "started", why=planned.why)
    try:
        return _act(planned, cloud, current, journal)
    except StoreError as exc:
        return _record(journal, planned, A.FAILED, why=str(exc), error=type(exc).__name__)


def _act(planned: A.PlannedAction, cloud: CloudActions, current: Resource, journal: Journal) -> dict:
    if planned.do == "stop":
        return _record(journal, planned, A.DONE, why="stopped", **cloud.stop(current))
    if planned.do == "release":
        return _record(journal, planned, A.DONE, why="released", **cloud.release(current))
    snapshot_id = cloud.snapshot(current, A.snapshot_name(planned))
    # journaled before the delete: should the delete fail or the run die, the copy is on record
    _record(journal, planned, "snapshotted", why="snapshot made before the delete", snapshot_id=snapshot_id)
    return _record(journal, planned, A.DONE, why=f"deleted after snapshot {snapshot_id}", snapshot_id=snapshot_id,
                   **cloud.delete_disk(current))
