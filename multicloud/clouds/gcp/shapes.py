"""The Compute Engine shape catalog: machine types from the aggregated list across every zone
(`maxResults` 500 a page, following nextPageToken, each page counted), as `Shape` records with their
vCPUs, memory, architecture and family (the series, e2 of e2-standard-4). A type is the same in every
zone that offers it, so a region's catalog lists each name once."""

from __future__ import annotations

from multicloud.clouds.gcp.rest import GoogleApi, GoogleRetry, google_api
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing.catalogs import ShapeCatalog
from multicloud.core.rightsizing.prices import Shape

DEFAULT_ENDPOINT = "https://compute.googleapis.com"
PAGE_SIZE = 500  # the API's largest maxResults
OPERATION = "machineTypes.aggregatedList"


def read_shapes(conn: Connection, region: str = "", project: str | None = None, *, endpoint: str | None = None,
                retry: GoogleRetry = GoogleRetry(), page_size: int = PAGE_SIZE) -> ShapeCatalog:
    """Every machine type offered in a zone of `region` (every region when empty) of `project`
    (default: the connection's account). Raises InvalidInput for a missing project, else the taxonomy
    error of the first request that fails after the retry policy's retries."""
    project = project or conn.account
    if not project:
        raise InvalidInput("a Compute Engine reader needs a project id (the connection's account)", target=conn.name)
    catalog = ShapeCatalog(cloud="gcp", region=region)
    api = google_api(conn, endpoint or DEFAULT_ENDPOINT, "Compute Engine", retry, catalog.throttle_waits)
    found: dict[str, Shape] = {}
    for mtype in machine_types(api, project, page_size, lambda: catalog.requests.update([OPERATION])):
        if not region or zone_region(mtype.get("zone", "")) == region:
            found.setdefault(mtype["name"], shape_of(mtype))
    catalog.shapes = sorted(found.values(), key=lambda s: s.type)
    return catalog


def machine_types(api: GoogleApi, project: str, page_size: int, count) -> list[dict]:
    return list(api.aggregated(f"/compute/v1/projects/{project}/aggregated/machineTypes", "machineTypes",
                               {"maxResults": page_size}, count))


def zone_region(zone: str) -> str:
    """us-central1 of us-central1-a (or of its URL)."""
    return zone.rstrip("/").rsplit("/", 1)[-1].rsplit("-", 1)[0]


def shape_of(mtype: dict) -> Shape:
    """One machineTypes item as a Shape (memoryMb is MiB)."""
    name = mtype["name"]
    return Shape(cloud="gcp", type=name, vcpus=int(mtype.get("guestCpus", 0)), memory_mib=int(mtype.get("memoryMb", 0)),
                 architecture=str(mtype.get("architecture", "")).lower(), family=name.split("-", 1)[0])
