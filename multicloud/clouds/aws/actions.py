"""The AWS side of rightsizing actions: read one instance, volume or Elastic IP again as the inventory
reads it, stop an instance, snapshot a volume (waiting until the snapshot completes) and delete it,
release an address. Errors are raised as the taxonomy; a resource that is gone reads as None."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.inventory import _address, _instance, _volume
from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.core.errors import Transient
from multicloud.core.rightsizing import Resource

_GONE = {"InvalidInstanceID.NotFound", "InvalidVolume.NotFound", "InvalidAllocationID.NotFound"}
BEFORE_DELETE_TAG = "multicloud:before-delete-of"
# kind -> (describe call, its id parameter, the items of its answer, the inventory's record of one)
_READS = {
    "vm": ("describe_instances", "InstanceIds", lambda a: [i for r in a.get("Reservations", []) for i in r["Instances"]
                                                           if i["State"]["Name"] != "terminated"],
           lambda i, region: _instance(i, region, {})),
    "disk": ("describe_volumes", "VolumeIds", lambda a: a.get("Volumes", []), _volume),
    "ip": ("describe_addresses", "AllocationIds", lambda a: a.get("Addresses", []), _address),
}


class AwsActions:
    """Actions in the region each resource names, through `conn`'s credentials and endpoint."""

    def __init__(self, conn: Connection, snapshot_wait_seconds: int = 15, snapshot_wait_attempts: int = 240):
        self.conn = conn
        self._wait = {"Delay": snapshot_wait_seconds, "MaxAttempts": snapshot_wait_attempts}

    def _ec2(self, resource: Resource):
        return client(self.conn.model_copy(update={"region": resource.region or self.conn.region}), "ec2")

    def _call(self, resource: Resource, operation: str, **params) -> dict | None:
        """One EC2 call; None when the resource is gone, else the taxonomy error."""
        try:
            return getattr(self._ec2(resource), operation)(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _GONE:
                return None
            raise map_error(exc, target=f"ec2:{operation} {resource.id}", service="EC2") from exc
        except BotoCoreError as exc:
            raise map_error(exc, target=f"ec2:{operation} {resource.id}", service="EC2") from exc

    def read(self, resource: Resource) -> Resource | None:
        """The resource as it is now (the inventory's record), or None when it no longer exists."""
        region = resource.region or self.conn.region or ""
        operation, key, items, record = _READS[resource.kind]
        found = self._call(resource, operation, **{key: [resource.id]})
        live = items(found or {})
        return record(live[0], region) if live else None

    def stop(self, resource: Resource) -> dict:
        answer = self._call(resource, "stop_instances", InstanceIds=[resource.id]) or {}
        change = (answer.get("StoppingInstances") or [{}])[0]
        return {"previous_state": change.get("PreviousState", {}).get("Name", ""),
                "current_state": change.get("CurrentState", {}).get("Name", "")}

    def snapshot(self, resource: Resource, name: str) -> str:
        """Snapshot the volume and wait until the snapshot is complete; its id."""
        tags = [{"Key": "Name", "Value": name}, {"Key": BEFORE_DELETE_TAG, "Value": resource.id}]
        made = self._call(resource, "create_snapshot", VolumeId=resource.id, Description=name,
                          TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}])
        if made is None:
            raise Transient(f"EC2 volume {resource.id} vanished while being snapshotted", target=resource.id)
        try:
            self._ec2(resource).get_waiter("snapshot_completed").wait(SnapshotIds=[made["SnapshotId"]],
                                                                      WaiterConfig=self._wait)
        except WaiterError as exc:
            raise Transient(f"EC2 snapshot {made['SnapshotId']} of {resource.id} did not complete: {exc}",
                            target=made["SnapshotId"]) from exc
        return made["SnapshotId"]

    def delete_disk(self, resource: Resource) -> dict:
        self._call(resource, "delete_volume", VolumeId=resource.id)
        return {"deleted": resource.id}

    def release(self, resource: Resource) -> dict:
        self._call(resource, "release_address", AllocationId=resource.id)
        return {"released": resource.id}
