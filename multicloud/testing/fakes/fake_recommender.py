"""A local stand-in for Google Cloud Recommender REST v1:

  GET /v1/projects/{p}/locations/{location}/recommenders/{recommender}/recommendations
      (filter "stateInfo.state = STATE", pageSize, pageToken)

answered in the API's shape (name, recommenderSubtype, primaryImpact.costProjection as Money with
units and nanos, content.operationGroups naming the resource, stateInfo, priority, nextPageToken).
Binds 127.0.0.1 on a free port (`.port` once started). Errors have Google's JSON error body;
`fail_next(n, status, retry_after)` (InjectedFailures) answers the next n requests that way.
Every request is recorded."""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal

from multicloud.testing.fakes.localserver import (
    InjectedFailures, LocalServer, QuietHandler, Recorded, read_request, send_json,
)

_ROUTE = re.compile(r"^/v1/projects/(?P<p>[^/]+)/locations/(?P<loc>[^/]+)/recommenders/(?P<rec>[^/]+)/recommendations$")
_STATE = re.compile(r"^\s*stateInfo\.state\s*=\s*\"?(\w+)\"?\s*$")
KNOWN = ("google.compute.instance.IdleResourceRecommender", "google.compute.instance.MachineTypeRecommender",
         "google.compute.disk.IdleResourceRecommender", "google.compute.address.IdleResourceRecommender")
_SUBTYPES = {"google.compute.instance.IdleResourceRecommender": "STOP_VM",
             "google.compute.instance.MachineTypeRecommender": "CHANGE_MACHINE_TYPE",
             "google.compute.disk.IdleResourceRecommender": "SNAPSHOT_AND_DELETE_DISK",
             "google.compute.address.IdleResourceRecommender": "DELETE_ADDRESS"}


class FakeRecommender(InjectedFailures, LocalServer):
    """In-memory recommendations of one project, by (location, recommender)."""

    name = "fake-recommender"

    def __init__(self, project: str, port: int = 0, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.project = project
        self.requests: list[Recorded] = []
        self._recs: dict[tuple[str, str], list[dict]] = {}
        self._failures: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()

    def add(self, location: str, recommender: str, resource: str, *, monthly_cost_change: str | None,
            target_machine_type: str = "", state: str = "ACTIVE", project_in_name: str | None = None) -> dict:
        """A recommendation on `resource` (zones/Z/instances/NAME or regions/R/addresses/NAME), whose cost
        changes by `monthly_cost_change` per 30 days (negative: a saving). `project_in_name` is how the
        resource name spells the project (Recommender may use the project number)."""
        full = f"//compute.googleapis.com/projects/{project_in_name or self.project}/{resource}"
        ops = [{"action": "test", "resourceType": "compute.googleapis.com/Instance", "resource": full,
                "path": "/status", "value": "RUNNING"}]
        if target_machine_type:
            zone = resource.split("/")[1]
            ops.append({"action": "replace", "resourceType": "compute.googleapis.com/Instance", "resource": full,
                        "path": "/machineType", "value": f"zones/{zone}/machineTypes/{target_machine_type}"})
        else:
            ops.append({"action": "replace" if "instances" in resource else "remove",
                        "resourceType": "compute.googleapis.com/Instance", "resource": full,
                        "path": "/status" if "instances" in resource else "/", "value": "TERMINATED"})
        with self._lock:
            n = sum(len(v) for v in self._recs.values())
        rec = {"name": f"projects/{self.project}/locations/{location}/recommenders/{recommender}/recommendations/r{n}",
               "description": f"Save cost by acting on {resource.rsplit('/', 1)[-1]}.",
               "recommenderSubtype": _SUBTYPES.get(recommender, "CHANGE"), "lastRefreshTime": "2026-11-19T06:00:00Z",
               "primaryImpact": {"category": "COST"}, "content": {"operationGroups": [{"operations": ops}],
                                                                  "overview": {"resourceName": resource}},
               "stateInfo": {"state": state}, "etag": f'"e{n}"', "priority": "P4", "associatedInsights": [],
               "targetResources": [full]}
        if monthly_cost_change is not None:
            amount = Decimal(monthly_cost_change)
            units = int(amount)
            rec["primaryImpact"]["costProjection"] = {
                "cost": {"currencyCode": "USD", "units": str(units), "nanos": int((amount - units) * 10**9)},
                "duration": "2592000s"}
        with self._lock:
            self._recs.setdefault((location, recommender), []).append(rec)
        return rec

    def gets(self, path_pattern: str) -> list[Recorded]:
        return [r for r in self.requests if re.search(path_pattern, r.path)]

    def _answer(self, path: str, query: dict) -> tuple[int, dict, dict]:
        failure = self.next_failure()
        if failure:
            return failure[0], _error(failure[0], "Quota exceeded for quota metric 'Requests'"), failure[1]
        m = _ROUTE.match(path)
        if not m:
            return 404, _error(404, f"no route {path}"), {}
        if m["p"] != self.project:
            return 403, _error(403, f"Permission denied on resource project {m['p']}."), {}
        if m["rec"] not in KNOWN:
            return 400, _error(400, f"Invalid recommender id {m['rec']}"), {}
        q = {k: v[0] for k, v in query.items()}
        wanted = _STATE.match(q["filter"]).group(1) if "filter" in q and _STATE.match(q["filter"]) else None
        if "filter" in q and wanted is None:
            return 400, _error(400, f"Invalid filter {q['filter']}"), {}
        with self._lock:
            items = [r for r in self._recs.get((m["loc"], m["rec"]), [])
                     if wanted is None or r["stateInfo"]["state"] == wanted]
        start = int(q.get("pageToken") or 0)
        end = start + int(q.get("pageSize") or 50)
        body: dict = {"recommendations": items[start:end]} if items[start:end] else {}
        if end < len(items):
            body["nextPageToken"] = str(end)
        return 200, body, {}

    def serve(self, handler: QuietHandler) -> None:
        """Record one GET and answer it."""
        path, query, _, body = read_request(handler)
        recorded = Recorded(handler.command, path, query, body, handler.headers.get("Authorization"))
        with self._lock:
            self.requests.append(recorded)
        status, payload, headers = self._answer(path, query)
        send_json(handler, status, json.dumps(payload).encode(), headers)

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                fake.serve(self)

        return Handler


def _error(code: int, message: str) -> dict:
    status = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
    return {"error": {"code": code, "message": message, "status": status.get(code, "UNAVAILABLE")}}
