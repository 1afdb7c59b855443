"""The Google Cloud side of rightsizing actions, over Compute Engine REST (`rest.py`): read one instance,
disk or address again as the inventory reads it, stop an instance, snapshot a disk and delete it,
release (delete) a static address. Each change is a zone or region operation, polled until DONE; an
operation's error and every error answer are raised as the taxonomy, a resource that is gone reads as None."""

from __future__ import annotations

import time

from multicloud.clouds.gcp.inventory import DEFAULT_ENDPOINT, GLOBAL, _address, _disk, _instance
from multicloud.clouds.gcp.rest import WRITE_SCOPES, GoogleApi, GoogleRetry, google_api
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, NotFound, PreconditionFailed, StoreError, Throttled, Transient
from multicloud.core.rightsizing import Resource

BEFORE_DELETE_LABEL = "multicloud-before-delete-of"  # label keys may not hold ':'
_COLLECTIONS = {"vm": "instances", "disk": "disks", "ip": "addresses"}
_OPERATION_ERRORS = {"RESOURCE_NOT_FOUND": NotFound, "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE": PreconditionFailed,
                     "RATE_LIMIT_EXCEEDED": Throttled, "QUOTA_EXCEEDED": Throttled, "RESOURCE_NOT_READY": Transient,
                     "INTERNAL_ERROR": Transient}


def parse_id(resource_id: str) -> tuple[str, str, str]:
    """(project, scope (zones/Z or regions/R), numeric id) of the inventory's global resource name."""
    parts = resource_id.removeprefix(GLOBAL).split("/")
    if not resource_id.startswith(GLOBAL) or len(parts) != 6 or parts[0] != "projects" or \
            parts[2] not in ("zones", "regions"):
        raise InvalidInput("not a Compute Engine resource name (//compute.googleapis.com/projects/P/zones/Z/...)",
                           target=resource_id)
    return parts[1], f"{parts[2]}/{parts[3]}", parts[5]


class GcpActions:
    """Actions on Compute Engine resources through `conn` ('default': application default credentials
    with the compute scope; 'emulator': a local server at `endpoint`). `poll_seconds` is the wait between
    polls of an operation, `max_wait_seconds` bounds each one."""

    def __init__(self, conn: Connection, endpoint: str | None = None, retry: GoogleRetry = GoogleRetry(),
                 poll_seconds: float = 2, max_wait_seconds: float = 1800):
        self.api: GoogleApi = google_api(conn, endpoint or DEFAULT_ENDPOINT, "Compute Engine", retry,
                                         scopes=WRITE_SCOPES)
        self.poll_seconds, self.max_wait_seconds = poll_seconds, max_wait_seconds

    def _path(self, resource: Resource, name: str | None = None) -> str:
        project, scope, rid = parse_id(resource.id)
        # Compute Engine takes the numeric id in place of the name in a resource's path
        return f"/compute/v1/projects/{project}/{scope}/{_COLLECTIONS[resource.kind]}/{name or rid}"

    def _get(self, resource: Resource) -> dict | None:
        try:
            return self.api.get(self._path(resource), {})
        except NotFound:
            return None

    def read(self, resource: Resource) -> Resource | None:
        """The resource as it is now (the inventory's record), or None when it no longer exists."""
        found = self._get(resource)
        if found is None:
            return None
        return {"vm": lambda: _instance(found, {}), "disk": lambda: _disk(found, {}),
                "ip": lambda: _address(found, {})}[resource.kind]()

    def _named(self, resource: Resource) -> str:
        """The path by name: changes are addressed by name, as the API documents them."""
        found = self._get(resource)
        if found is None:
            raise NotFound("Compute Engine: the resource no longer exists", target=resource.id)
        return self._path(resource, found["name"])

    def _wait(self, operation: dict, target: str) -> dict:
        """Poll the zone or region operation until DONE; raise its error as the taxonomy."""
        path = operation["selfLink"][operation["selfLink"].index("/compute/v1/"):]
        deadline = time.monotonic() + self.max_wait_seconds
        while operation.get("status") != "DONE":
            if time.monotonic() > deadline:
                raise Transient(f"Compute Engine operation {operation['name']} still running after "
                                f"{self.max_wait_seconds:g} s", target=target)
            time.sleep(self.poll_seconds)
            operation = self.api.get(path, {})
        errors = (operation.get("error") or {}).get("errors") or []
        if errors:
            first = errors[0]
            cls: type[StoreError] = _OPERATION_ERRORS.get(first.get("code", ""), InvalidInput)
            raise cls(f"Compute Engine operation {operation['name']} failed: {first.get('code')}: "
                      f"{first.get('message', '')}", target=target)
        return operation

    def stop(self, resource: Resource) -> dict:
        path = self._named(resource)
        done = self._wait(self.api.send("POST", f"{path}/stop", {}), resource.id)
        return {"operation": done["name"]}

    def snapshot(self, resource: Resource, name: str) -> str:
        """Snapshot the disk under `name`; the snapshot's global resource name once the operation is DONE."""
        path = self._named(resource)
        _, _, disk_id = parse_id(resource.id)
        body = {"name": name, "labels": {BEFORE_DELETE_LABEL: disk_id}}
        self._wait(self.api.send("POST", f"{path}/createSnapshot", {}, body), resource.id)
        project = path.split("/")[4]
        made = self.api.get(f"/compute/v1/projects/{project}/global/snapshots/{name}", {})
        return f"{GLOBAL}projects/{project}/global/snapshots/{made['id']}"

    def delete_disk(self, resource: Resource) -> dict:
        done = self._wait(self.api.send("DELETE", self._named(resource), {}), resource.id)
        return {"operation": done["name"]}

    def release(self, resource: Resource) -> dict:
        done = self._wait(self.api.send("DELETE", self._named(resource), {}), resource.id)
        return {"operation": done["name"]}
