"""The Azure inventory of idle and rightsizing detection: virtual machines (with their size's vCPUs,
memory and architecture from the resource SKUs), managed disks, public IP addresses, snapshots and
Azure SQL databases of one subscription, as the cloud-neutral `Resource` records the rules judge.
Every listing follows ARM's nextLink pages through the SDK's pagers, each page counted as a request."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial
from typing import Any, Iterable

from multicloud.clouds.azure.management import Arm, ArmRetry, arm
from multicloud.clouds.azure.shapes import OPERATION as SKUS, location_shapes
from multicloud.config import Connection
from multicloud.core.rightsizing import Inventory, Resource
from multicloud.core.rightsizing.prices import Shape

# Power states as the neutral vocabulary says them. A VM in PowerState/stopped still pays for its
# compute, a deallocated one only for its disks; both are stopped as far as the guest goes.
_POWER_STATES = {"running": "running", "deallocated": "stopped", "stopped": "stopped",
                 "starting": "pending", "deallocating": "stopping", "stopping": "stopping"}


def read_inventory(conn: Connection, subscription_id: str, *, base_url: str | None = None,
                   retry: ArmRetry = ArmRetry(), databases: bool = True) -> Inventory:
    """Every VM, managed disk, public IP, snapshot and (with `databases`) Azure SQL database of the
    subscription. `base_url` overrides ARM's endpoint (a local fake with 'emulator' credentials).
    Raises the taxonomy error of the first request that fails after the retry policy's retries."""
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.network import NetworkManagementClient

    inv = Inventory()
    api = arm(conn, subscription_id, base_url, retry, inv.throttle_waits)
    with api.client(ComputeManagementClient) as compute, api.client(NetworkManagementClient) as network:
        disks = [_disk(d) for d in _list(api, inv, "disks.list", compute.disks.list)]
        vms = list(_list(api, inv, "virtual_machines.list_all",
                         partial(compute.virtual_machines.list_all, status_only="true")))
        skus = _vm_skus(api, inv, compute, {vm.location for vm in vms})
        inv.resources += [_vm(vm, skus.get((vm.location.lower(), _size(vm).lower()))) for vm in vms]
        inv.resources += disks
        inv.resources += [_public_ip(ip) for ip in _list(api, inv, "public_ip_addresses.list_all",
                                                         network.public_ip_addresses.list_all)]
        existing = {d.id.lower() for d in disks}
        inv.resources += [_snapshot(s, existing) for s in _list(api, inv, "snapshots.list", compute.snapshots.list)]
    if databases:
        inv.resources += _sql_databases(api, inv)
    return inv


def _list(api: Arm, inv: Inventory, operation: str, listing) -> Iterable[Any]:
    return api.pages(listing, f"azure:{operation}", lambda: inv.requests.update([operation]))


def _vm_skus(api: Arm, inv: Inventory, compute, locations: set[str]) -> dict[tuple[str, str], Shape]:
    """(location, size) -> the size's shape, from one filtered resource SKU listing per location."""
    count = partial(inv.requests.update, [SKUS])
    return {(location, name): shape for location in sorted({loc.lower() for loc in locations})
            for name, shape in location_shapes(api, compute, location, count, offered_only=False).items()}


def _sql_databases(api: Arm, inv: Inventory) -> list[Resource]:
    from azure.mgmt.sql import SqlManagementClient

    out = []
    with api.client(SqlManagementClient) as sql:
        for server in _list(api, inv, "servers.list", sql.servers.list):
            listing = partial(sql.databases.list_by_server, _resource_group(server.id), server.name)
            # master is the server's own system database, billed with the server
            out += [_database(db) for db in _list(api, inv, "databases.list_by_server", listing) if db.name != "master"]
    return out


# ---- records ------------------------------------------------------------------------------------

def _value(x) -> str:
    """The SDK gives known names as enums and unknown ones as str."""
    return str(getattr(x, "value", x) or "")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _resource_group(resource_id: str) -> str:
    parts = resource_id.split("/")
    return next(parts[i + 1] for i, p in enumerate(parts) if p.lower() == "resourcegroups")


def _size(vm) -> str:
    return _value(vm.properties.hardware_profile.vm_size) if vm.properties.hardware_profile else ""


def _power(vm) -> tuple[str, datetime | None]:
    """The VM's state, and when its last operation (e.g. the stop) finished: statusOnly's instance view
    gives the power state without a time, and the provisioning state with one."""
    statuses = (vm.properties.instance_view.statuses or []) if vm.properties.instance_view else []
    codes = {s.code.split("/", 1)[0]: s for s in statuses if s.code and "/" in s.code}
    power = codes.get("PowerState")
    state = power.code.split("/", 1)[1].lower() if power else ""
    provisioned = codes.get("ProvisioningState")
    return _POWER_STATES.get(state, state), _utc(provisioned.time) if provisioned else None


def _vm(vm, shape: Shape | None) -> Resource:
    props = vm.properties
    state, since = _power(vm)
    storage = props.storage_profile
    disks = (1 if storage and storage.os_disk else 0) + len(storage.data_disks or []) if storage else None
    return Resource(
        cloud="azure", id=vm.id, kind="vm", region=vm.location, type=_size(vm), state=state,
        tags=dict(vm.tags or {}), created=_utc(props.time_created),
        architecture=shape.architecture if shape else "",
        vcpus=(shape.vcpus or None) if shape else None, memory_mib=(shape.memory_mib or None) if shape else None,
        attached_disks=disks, stopped_since=since if state == "stopped" else None)


def _disk(d) -> Resource:
    props = d.properties
    state = _value(props.disk_state)
    # managedBy names the VM; diskState also says Reserved/ActiveSAS for a disk held by no VM
    attached = bool(d.managed_by) or state.lower() == "attached"
    return Resource(
        cloud="azure", id=d.id, kind="disk", region=d.location, type=_value(d.sku.name) if d.sku else "",
        state=state, tags=dict(d.tags or {}), created=_utc(props.time_created), size_gb=props.disk_size_gb,
        attached=attached, attached_to=d.managed_by or "")


def _public_ip(ip) -> Resource:
    props = ip.properties
    config = props.ip_configuration.id if props and props.ip_configuration else ""
    nat = props.nat_gateway.id if props and props.nat_gateway else ""
    return Resource(
        cloud="azure", id=ip.id, kind="ip", region=ip.location, type=_value(ip.sku.name) if ip.sku else "",
        tags=dict(ip.tags or {}), associated=bool(config or nat), attached_to=config or nat)


def _snapshot(s, disks: set[str]) -> Resource:
    props = s.properties
    source = (props.creation_data.source_resource_id or "") if props.creation_data else ""
    # a snapshot of a disk names it; one imported from a blob or copied from a snapshot has no disk
    from_disk = "/providers/microsoft.compute/disks/" in source.lower()
    return Resource(
        cloud="azure", id=s.id, kind="snapshot", region=s.location, state=_value(props.provisioning_state),
        tags=dict(s.tags or {}), created=_utc(props.time_created), size_gb=props.disk_size_gb,
        attached_to=source, source_exists=(source.lower() in disks) if from_disk else None)


def _database(db) -> Resource:
    props = db.properties
    return Resource(
        cloud="azure", id=db.id, kind="database", region=db.location, type=db.sku.name if db.sku else "",
        state=_value(props.status) if props else "", tags=dict(db.tags or {}),
        created=_utc(props.creation_date) if props else None,
        size_gb=props.max_size_bytes / 2**30 if props and props.max_size_bytes else None)
