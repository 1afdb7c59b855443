"""Google Cloud Recommender's own advice as cloud-neutral `Advice`: idle VMs, machine type changes
that save money, idle disks and idle addresses, read over Recommender REST v1 (ACTIVE recommendations,
nextPageToken pages) with the project's GCP REST plumbing. Recommendations name resources by name;
the ids returned are the Compute Engine inventory's (//compute.googleapis.com/projects/P/zones/Z/
instances/NUMERIC_ID), so the reader lists the project's instances, disks and addresses first, which
also tells which zones and regions to ask. A negative cost projection is a saving; it is given per
30 days, as Recommender's own projections are."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator

from multicloud.clouds.gcp.rest import GoogleApi, GoogleRetry, google_api
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput
from multicloud.core.rightsizing.advice import Advice, AdviceResult

DEFAULT_ENDPOINT = "https://recommender.googleapis.com"
COMPUTE_ENDPOINT = "https://compute.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
PAGE_SIZE = 500
GLOBAL = "//compute.googleapis.com/"
_MONTH_SECONDS = Decimal(30 * 86400)
# Recommender id -> (the Compute collection whose locations it is asked at, finding, action).
RECOMMENDERS = {
    "google.compute.instance.IdleResourceRecommender": ("instances", "idle", "stop"),
    "google.compute.instance.MachineTypeRecommender": ("instances", "oversized", "resize"),
    "google.compute.disk.IdleResourceRecommender": ("disks", "waste", "snapshot_and_delete"),
    "google.compute.address.IdleResourceRecommender": ("addresses", "waste", "release"),
}


@dataclass
class _Names:
    """Name paths (zones/Z/instances/NAME, below the project) -> inventory id, and the locations
    (zones, regions, "global") where each collection has resources."""

    ids: dict[str, str] = field(default_factory=dict)
    locations: dict[str, set[str]] = field(default_factory=dict)


def read_advice(conn: Connection, project: str | None = None, *, endpoint: str | None = None,
                compute_endpoint: str | None = None, retry: GoogleRetry = GoogleRetry(),
                page_size: int = PAGE_SIZE) -> AdviceResult:
    """The project's (default: the connection's account) ACTIVE cost recommendations of the four
    recommenders, at every zone and region where it has instances, disks or addresses. Raises
    InvalidInput for a missing project or unusable endpoint, else the taxonomy error of the first request
    that fails after the retries (a Recommender API not enabled is PermissionDenied)."""
    project = project or conn.account
    if not project:
        raise InvalidInput("a Recommender reader needs a project id (the connection's account)", target=conn.name)
    result = AdviceResult("gcp")
    compute = google_api(conn, compute_endpoint or COMPUTE_ENDPOINT, "Compute Engine", retry, result.throttle_waits)
    names = _names(compute, result, project, page_size)
    api = google_api(conn, endpoint or DEFAULT_ENDPOINT, "Recommender", retry, result.throttle_waits, SCOPES)
    for recommender, (collection, finding, action) in RECOMMENDERS.items():
        for location in sorted(names.locations.get(collection, ())):
            for rec in _recommendations(api, result, project, location, recommender, page_size):
                found = _advice(rec, names, finding, action, recommender)
                if isinstance(found, Advice):
                    result.advice.append(found)
                else:
                    result.left_out[found] += 1
    return result


def _names(api: GoogleApi, result: AdviceResult, project: str, page_size: int) -> _Names:
    names = _Names()
    for collection in ("instances", "disks", "addresses"):
        for page in api.pages(f"/compute/v1/projects/{project}/aggregated/{collection}", {"maxResults": page_size},
                              lambda c=collection: result.requests.update([f"{c}.aggregatedList"])):
            for scope, scoped in (page.get("items") or {}).items():
                for item in scoped.get(collection, []):
                    relative = _below_project(item["selfLink"])
                    names.ids[relative] = f"{GLOBAL}projects/{project}/{relative.rsplit('/', 1)[0]}/{item['id']}"
                    names.locations.setdefault(collection, set()).add(scope.rsplit("/", 1)[-1])
    return names


def _recommendations(api: GoogleApi, result: AdviceResult, project: str, location: str, recommender: str,
                     page_size: int) -> Iterator[dict]:
    path = f"/v1/projects/{project}/locations/{location}/recommenders/{recommender}/recommendations"
    params = {"filter": "stateInfo.state = ACTIVE", "pageSize": page_size}
    for page in api.pages(path, params, lambda: result.requests.update([f"{recommender}.list"])):
        yield from page.get("recommendations", [])


def _below_project(url: str) -> str:
    """zones/Z/instances/NAME of a selfLink or a //compute.googleapis.com/projects/P/… name: the project
    part is left out, as Recommender may name the project by number."""
    tail = url.split("projects/", 1)[-1]
    return tail.split("/", 1)[1] if "/" in tail else tail


def _operations(rec: dict) -> list[dict]:
    return [op for group in (rec.get("content") or {}).get("operationGroups", []) for op in group.get("operations", [])]


def _advice(rec: dict, names: _Names, finding: str, action: str, recommender: str) -> Advice | str:
    """The advice, or why it was left out."""
    ops = _operations(rec)
    resources = [op["resource"] for op in ops if op.get("resource")] + list(rec.get("targetResources", []))
    if not resources:
        return f"{recommender}: no resource named"
    resource = names.ids.get(_below_project(resources[0]))
    if resource is None:
        return f"{recommender}: resource not in the Compute Engine listing"
    saving, currency = _saving(rec)
    if finding == "oversized" and (saving is None or saving <= 0):
        return f"{recommender}: {rec.get('recommenderSubtype', 'change')} that costs more"  # an upsize
    target = _machine_type(ops) if action == "resize" else ""
    detail = f"{rec.get('recommenderSubtype', '')}: {rec.get('description', '')} ({rec.get('priority', '')})"
    return Advice("gcp", resource, finding, action, target, saving, currency, f"GCP Recommender {recommender}",
                  detail.strip())


def _machine_type(ops: list[dict]) -> str:
    """The new machine type of a change (zones/Z/machineTypes/NAME, or its full URL)."""
    changes = [op for op in ops if op.get("path") == "/machineType" and op.get("action") == "replace"]
    return str(changes[0].get("value", "")).rstrip("/").rsplit("/", 1)[-1] if changes else ""


def _saving(rec: dict) -> tuple[Decimal | None, str]:
    """Per 30 days, from the cost projection (Money: units and nanos, negative = saving)."""
    projection = ((rec.get("primaryImpact") or {}).get("costProjection") or {})
    cost = projection.get("cost")
    if not cost:
        return None, "USD"
    amount = Decimal(str(cost.get("units") or 0)) + Decimal(int(cost.get("nanos") or 0)).scaleb(-9)
    seconds = Decimal(str(projection.get("duration", "2592000s")).rstrip("s") or 0)
    if seconds <= 0:
        return None, cost.get("currencyCode") or "USD"
    return (-amount * _MONTH_SECONDS / seconds).quantize(Decimal("0.01")), cost.get("currencyCode") or "USD"
