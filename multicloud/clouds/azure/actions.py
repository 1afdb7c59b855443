"""The Azure side of rightsizing actions, through the ARM plumbing of `management.py`: read one VM
(with its power state), managed disk or public IP again as the inventory reads it, deallocate a VM,
snapshot a disk (a full copy) and delete it, delete a public IP. Every change is ARM's long-running
operation, polled to its end; errors are raised as the taxonomy, a resource that is gone reads as None."""

from __future__ import annotations

from typing import Callable

from multicloud.clouds.azure.inventory import _disk, _public_ip, _vm
from multicloud.clouds.azure.management import Arm, ArmRetry, arm
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, NotFound, Transient
from multicloud.core.rightsizing import Resource

BEFORE_DELETE_TAG = "multicloud:before-delete-of"


def parse_id(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of an ARM resource id; InvalidInput naming it otherwise."""
    parts = resource_id.strip("/").split("/")
    lower = [p.lower() for p in parts]
    if len(parts) < 8 or lower[0] != "subscriptions" or lower[2] != "resourcegroups":
        raise InvalidInput("not an Azure resource id (/subscriptions/S/resourceGroups/G/providers/...)",
                           target=resource_id)
    return parts[1], parts[3], parts[-1]


class AzureActions:
    """Actions on the resources of any subscription `conn` may reach. `base_url` overrides ARM's
    endpoint (a local fake with 'emulator' credentials); `poll_seconds` is the wait between polls of an
    operation when ARM sends no Retry-After; `max_wait_seconds` bounds each operation."""

    def __init__(self, conn: Connection, base_url: str | None = None, retry: ArmRetry = ArmRetry(),
                 poll_seconds: float = 15, max_wait_seconds: float = 1800):
        self.conn, self.base_url, self.retry = conn, base_url, retry
        self.poll_seconds, self.max_wait_seconds = poll_seconds, max_wait_seconds
        self.waits: list[float] = []

    def _api(self, resource: Resource) -> tuple[Arm, str, str]:
        subscription, group, name = parse_id(resource.id)
        return arm(self.conn, subscription, self.base_url, self.retry, self.waits), group, name

    def _compute(self, api: Arm):
        from azure.mgmt.compute import ComputeManagementClient

        return api.client(ComputeManagementClient)

    def _network(self, api: Arm):
        from azure.mgmt.network import NetworkManagementClient

        return api.client(NetworkManagementClient)

    def read(self, resource: Resource) -> Resource | None:
        """The resource as it is now (the inventory's record), or None when it no longer exists."""
        api, group, name = self._api(resource)
        target = f"azure:get {resource.id}"
        try:
            if resource.kind == "vm":
                with self._compute(api) as compute:
                    return _vm(api.call(lambda **o: compute.virtual_machines.get(group, name, expand="instanceView",
                                                                                 **o), target), {})
            if resource.kind == "disk":
                with self._compute(api) as compute:
                    return _disk(api.call(lambda **o: compute.disks.get(group, name, **o), target))
            with self._network(api) as network:
                return _public_ip(api.call(lambda **o: network.public_ip_addresses.get(group, name, **o), target))
        except NotFound:
            return None

    def _run(self, api: Arm, begin: Callable, target: str):
        """Start a long-running operation and poll it to its end; its result."""
        def go(**options):
            poller = begin(polling_interval=self.poll_seconds, **options)
            poller.wait(self.max_wait_seconds)
            if not poller.done():
                raise Transient(f"ARM operation still running after {self.max_wait_seconds:g} s", target=target)
            return poller.result()

        return api.call(go, target)

    def _change(self, resource: Resource, network: bool, operations: str, begin: str, verb: str) -> None:
        """One long-running change of `resource` by name: e.g. compute.virtual_machines.begin_deallocate."""
        api, group, name = self._api(resource)
        with (self._network(api) if network else self._compute(api)) as mgmt:
            method = getattr(getattr(mgmt, operations), begin)
            self._run(api, lambda **o: method(group, name, **o), f"azure:{verb} {resource.id}")

    def stop(self, resource: Resource) -> dict:
        """Deallocate: a VM merely stopped still pays for its compute."""
        self._change(resource, False, "virtual_machines", "begin_deallocate", "deallocate")
        return {"deallocated": resource.id}

    def snapshot(self, resource: Resource, name: str) -> str:
        """A full snapshot of the disk, in its resource group and location; the snapshot's id."""
        api, group, _ = self._api(resource)
        body = {"location": resource.region, "tags": {BEFORE_DELETE_TAG: resource.id},
                "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": resource.id},
                               "incremental": False}}
        with self._compute(api) as compute:
            made = self._run(api, lambda **o: compute.snapshots.begin_create_or_update(group, name, body, **o),
                             f"azure:snapshot {resource.id}")
        return made.id

    def delete_disk(self, resource: Resource) -> dict:
        self._change(resource, False, "disks", "begin_delete", "delete")
        return {"deleted": resource.id}

    def release(self, resource: Resource) -> dict:
        self._change(resource, True, "public_ip_addresses", "begin_delete", "delete")
        return {"released": resource.id}
