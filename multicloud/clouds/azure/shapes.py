"""The Azure VM shape catalog: the resource SKUs of type virtualMachines offered in a location
(`resource_skus.list` filtered by location, following nextLink pages, each counted), as `Shape` records
with their vCPUs, memory, CPU architecture and family. A size restricted in the location for the
subscription (NotAvailableForSubscription) is not offered there and is left out."""

from __future__ import annotations

from functools import partial
from typing import Callable, Iterator

from multicloud.clouds.azure.management import Arm, ArmRetry, arm
from multicloud.config import Connection
from multicloud.core.rightsizing.catalogs import ShapeCatalog
from multicloud.core.rightsizing.prices import Shape

_ARCHITECTURES = {"x64": "x86_64", "arm64": "arm64"}
OPERATION = "resource_skus.list"


def read_shapes(conn: Connection, subscription_id: str, location: str, *, base_url: str | None = None,
                retry: ArmRetry = ArmRetry()) -> ShapeCatalog:
    """Every VM size offered in `location`. `base_url` overrides ARM's endpoint (a local fake with
    'emulator' credentials). Raises the taxonomy error of the first request that fails after retries."""
    from azure.mgmt.compute import ComputeManagementClient

    catalog = ShapeCatalog(cloud="azure", region=location.lower())
    api = arm(conn, subscription_id, base_url, retry, catalog.throttle_waits)
    with api.client(ComputeManagementClient) as compute:
        count = partial(catalog.requests.update, [OPERATION])
        catalog.shapes = list(location_shapes(api, compute, location, count).values())
    return catalog


def location_shapes(api: Arm, compute, location: str, count: Callable[[], None],
                    offered_only: bool = True) -> dict[str, Shape]:
    """size name (lowercase) -> Shape of the VM sizes of `location`, one filtered listing; with
    `offered_only`, without the sizes the subscription may not deploy there (a VM already running
    one still has its size described)."""
    return {shape.type.lower(): shape for shape in _vm_skus(api, compute, location.lower(), count, offered_only)}


def _vm_skus(api: Arm, compute, location: str, count: Callable[[], None], offered_only: bool) -> Iterator[Shape]:
    listing = partial(compute.resource_skus.list, filter=f"location eq '{location}'")
    for sku in api.pages(listing, f"azure:{OPERATION}", count):
        if (sku.resource_type or "").lower() == "virtualmachines" and not (
                offered_only and _restricted(sku, location)):
            yield shape_of(sku)


def _restricted(sku, location: str) -> bool:
    return any(str(getattr(r.type, "value", r.type)).lower() == "location"
               and location in {v.lower() for v in r.values_property or ()} for r in sku.restrictions or ())


def shape_of(sku) -> Shape:
    """One resource SKU as a Shape (its capability values are strings; MemoryGB is GiB)."""
    caps = {c.name: c.value for c in sku.capabilities or ()}
    arch = caps.get("CpuArchitectureType", "")
    memory = caps.get("MemoryGB")
    return Shape(cloud="azure", type=sku.name, vcpus=int(caps.get("vCPUs", 0)),
                 memory_mib=round(float(memory) * 1024) if memory else 0,
                 architecture=_ARCHITECTURES.get(arch.lower(), arch), family=sku.family or "")
