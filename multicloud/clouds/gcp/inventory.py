"""The Google Cloud inventory of idle and rightsizing detection: Compute Engine instances (with their
machine type's vCPUs, memory and architecture), disks, external static addresses and snapshots of one
project, as the cloud-neutral `Resource` records the rules judge. Read from the Compute Engine REST API
(aggregated lists across every zone and region), following nextPageToken, each page counted.

Resource ids are the billing export's `resource.global_name` (//compute.googleapis.com/projects/P/
zones/Z/instances/NUMERIC_ID), which is what FOCUS ResourceId holds for Google Cloud; labels are the
`tags`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from multicloud.clouds.gcp.rest import GoogleApi, GoogleRetry, google_api
from multicloud.clouds.gcp.shapes import shape_of
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing import Inventory, Resource
from multicloud.core.rightsizing.prices import Shape

DEFAULT_ENDPOINT = "https://compute.googleapis.com"
PAGE_SIZE = 500  # the API's largest maxResults
_STATES = {"RUNNING": "running", "TERMINATED": "stopped", "STOPPING": "stopping", "SUSPENDED": "suspended",
           "SUSPENDING": "stopping", "PROVISIONING": "pending", "STAGING": "pending", "REPAIRING": "pending"}
GLOBAL = "//compute.googleapis.com/"


def read_inventory(conn: Connection, project: str | None = None, *, endpoint: str | None = None,
                   retry: GoogleRetry = GoogleRetry(), page_size: int = PAGE_SIZE) -> Inventory:
    """Every instance, disk, external static address and snapshot of `project` (default: the
    connection's account). Raises InvalidInput for a missing project or unusable endpoint, else the
    taxonomy error of the first request that fails after the retry policy's retries."""
    project = project or conn.account
    if not project:
        raise InvalidInput("a Compute Engine reader needs a project id (the connection's account)", target=conn.name)
    inv = Inventory()
    api = google_api(conn, endpoint or DEFAULT_ENDPOINT, "Compute Engine", retry, inv.throttle_waits)
    base = f"/compute/v1/projects/{project}"
    instances = list(_aggregated(api, inv, base, "instances", page_size))
    by_link = {_relative(i["selfLink"]): _global(i) for i in instances}
    disks = list(_aggregated(api, inv, base, "disks", page_size))
    types = _machine_types(api, inv, base, {(_last(i["zone"]), _last(i["machineType"])) for i in instances})
    inv.resources += [_instance(i, types.get((_last(i["zone"]), _last(i["machineType"])))) for i in instances]
    inv.resources += [_disk(d, by_link) for d in disks]
    # internal static addresses are free; only external ones are billed while unused
    addresses = _aggregated(api, inv, base, "addresses", page_size)
    inv.resources += [_address(a, by_link) for a in addresses if a.get("addressType", "EXTERNAL") == "EXTERNAL"]
    by_disk = {str(d["id"]): _global(d) for d in disks}
    inv.resources += [_snapshot(s, by_disk) for s in _snapshots(api, inv, base, page_size)]
    return inv


def _snapshots(api: GoogleApi, inv: Inventory, base: str, page_size: int) -> Iterator[dict]:
    for page in api.pages(f"{base}/global/snapshots", {"maxResults": page_size},
                          lambda: inv.requests.update(["snapshots.list"])):
        yield from page.get("items", [])


def _aggregated(api: GoogleApi, inv: Inventory, base: str, collection: str, page_size: int) -> Iterator[dict]:
    return api.aggregated(f"{base}/aggregated/{collection}", collection, {"maxResults": page_size},
                          lambda: inv.requests.update([f"{collection}.aggregatedList"]))


def _machine_types(api: GoogleApi, inv: Inventory, base: str, wanted: set[tuple[str, str]]) -> dict[tuple, Shape]:
    """(zone, machine type) -> its shape, one GET each (custom types have no list entry)."""
    found = {}
    for zone, name in sorted(wanted):
        inv.requests["machineTypes.get"] += 1
        found[(zone, name)] = shape_of(api.get(f"{base}/zones/{zone}/machineTypes/{name}", {}))
    return found


# ---- records ------------------------------------------------------------------------------------

def _last(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _relative(url: str) -> str:
    """projects/P/zones/Z/instances/N from a full selfLink or source URL."""
    return url[url.index("projects/"):] if "projects/" in url else url


def _global(item: dict) -> str:
    """//compute.googleapis.com/projects/P/zones/Z/KIND/NUMERIC_ID: the billing export's global name."""
    parent, _ = _relative(item["selfLink"]).rsplit("/", 1)
    return f"{GLOBAL}{parent}/{item['id']}"


def _location(item: dict) -> str:
    """The region of a zonal or regional resource."""
    if item.get("zone"):
        return _last(item["zone"]).rsplit("-", 1)[0]
    return _last(item["region"]) if item.get("region") else "global"


def _time(text: str | None) -> datetime | None:
    """Compute Engine's RFC 3339 timestamps carry an offset (2026-01-05T02:00:00.000-08:00)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _labels(item: dict) -> dict[str, str]:
    return dict(item.get("labels") or {})


def _instance(i: dict, shape: Shape | None) -> Resource:
    state = _STATES.get(i.get("status", ""), i.get("status", "").lower())
    return Resource(
        cloud="gcp", id=_global(i), kind="vm", region=_location(i), type=_last(i["machineType"]), state=state,
        tags=_labels(i), created=_time(i.get("creationTimestamp")),
        architecture=shape.architecture if shape else "", vcpus=(shape.vcpus or None) if shape else None,
        memory_mib=(shape.memory_mib or None) if shape else None, attached_disks=len(i.get("disks", [])),
        stopped_since=_time(i.get("lastStopTimestamp")) if state == "stopped" else None)


def _disk(d: dict, instances: dict[str, str]) -> Resource:
    users = [_relative(u) for u in d.get("users", [])]
    return Resource(
        cloud="gcp", id=_global(d), kind="disk", region=_location(d), type=_last(d.get("type", "")),
        state=d.get("status", ""), tags=_labels(d), created=_time(d.get("creationTimestamp")),
        size_gb=float(d["sizeGb"]) if d.get("sizeGb") else None, attached=bool(users),
        attached_to=instances.get(users[0], users[0]) if users else "")


def _address(a: dict, instances: dict[str, str]) -> Resource:
    users = [_relative(u) for u in a.get("users", [])]
    return Resource(
        cloud="gcp", id=_global(a), kind="ip", region=_location(a), type=a.get("networkTier", ""),
        state=a.get("status", ""), tags=_labels(a), created=_time(a.get("creationTimestamp")),
        associated=a.get("status") == "IN_USE" or bool(users),
        attached_to=instances.get(users[0], users[0]) if users else "")


def _snapshot(s: dict, disks: dict[str, str]) -> Resource:
    # sourceDiskId, not the name: a disk deleted and made again under its name is another disk
    source = str(s.get("sourceDiskId") or "")
    return Resource(
        cloud="gcp", id=_global(s), kind="snapshot", region="global", state=s.get("status", ""), tags=_labels(s),
        created=_time(s.get("creationTimestamp")), size_gb=float(s["diskSizeGb"]) if s.get("diskSizeGb") else None,
        attached_to=disks.get(source, _relative(s.get("sourceDisk", ""))),
        source_exists=(source in disks) if source else None)
