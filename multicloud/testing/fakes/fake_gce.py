"""A local stand-in for the Compute Engine and Cloud Monitoring REST routes the rightsizing readers call.
Binds 127.0.0.1 on a free port (`.port` once started); both APIs on one server:

  GET /compute/v1/projects/{p}/aggregated/{instances|disks|addresses|machineTypes}   (maxResults, pageToken)
  GET /compute/v1/projects/{p}/global/snapshots                         (maxResults, pageToken)
  GET /compute/v1/projects/{p}/zones/{z}/machineTypes/{name}
  GET /v3/projects/{p}/timeSeries   (filter on metric.type, resource.type and metric.labels; interval;
                                     aggregation.alignmentPeriod and perSeriesAligner; pageSize, pageToken)
  GET /compute/v1/projects/{p}/zones/{z}/{instances|disks}/{name or id}, regions/{r}/addresses/{name or id},
      global/snapshots/{name or id}
  POST zones/{z}/instances/{name}/stop, zones/{z}/disks/{name}/createSnapshot ({"name", "labels"});
  DELETE zones/{z}/disks/{name}, regions/{r}/addresses/{name}
  GET zones/{z}/operations/{op}, regions/{r}/operations/{op}

A change answers a compute#operation (status RUNNING) and takes effect once a GET of that operation
has seen it RUNNING `op_polls - 1` times, as a zone or region operation does: the instance is STOPPING
until then, TERMINATED after. A disk with users or an address in use is refused as Compute Engine
refuses it (400 resourceInUseByAnotherResource).

Aggregated pages group their items by scope and carry a NO_RESULTS_ON_PAGE warning scope, as Compute
Engine's do. Time series are aligned from the samples given: one point per period that has samples,
newest first, its interval ending at the period's end; a page holds `pageSize` series. Errors have
Google's JSON error body; `fail_next(n, status, retry_after, method)` answers the next n requests (of that method) that way.
Every request is recorded in `requests`."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta, timezone

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, Recorded, read_request, send_json
from multicloud.testing.fakes.metric_samples import periods

_AGGREGATED = re.compile(r"^/compute/v1/projects/(?P<p>[^/]+)/aggregated/(?P<what>instances|disks|addresses|machineTypes)$")
_SNAPSHOTS = re.compile(r"^/compute/v1/projects/(?P<p>[^/]+)/global/snapshots$")
_MACHINE_TYPE = re.compile(r"^/compute/v1/projects/(?P<p>[^/]+)/zones/(?P<zone>[^/]+)/machineTypes/(?P<name>[^/]+)$")
_ONE = re.compile(r"^/compute/v1/projects/(?P<p>[^/]+)/(?P<scope>zones/[^/]+|regions/[^/]+|global)/"
                  r"(?P<what>instances|disks|addresses|snapshots)/(?P<name>[^/]+)(?:/(?P<verb>stop|createSnapshot))?$")
_OPERATION = re.compile(r"^/compute/v1/projects/(?P<p>[^/]+)/(?P<scope>zones/[^/]+|regions/[^/]+)/operations/"
                        r"(?P<op>[^/]+)$")
_TIME_SERIES = re.compile(r"^/v3/projects/(?P<p>[^/]+)/timeSeries$")
_CLAUSE = re.compile(r'^\s*(metric\.type|resource\.type|metric\.labels\.\w+)\s*=\s*"([^"]*)"\s*$')
_ALIGN = {"ALIGN_MEAN": lambda v: sum(v) / len(v), "ALIGN_MAX": max, "ALIGN_MIN": min, "ALIGN_SUM": sum}
_KINDS = {"instances": "compute#instance", "disks": "compute#disk", "addresses": "compute#address",
          "machineTypes": "compute#machineType"}
API = "https://www.googleapis.com/compute/v1"


def _rfc3339(t: datetime, offset_hours: int = 0) -> str:
    """Compute Engine writes its own times with milliseconds and the zone's offset."""
    local = t.astimezone(timezone(timedelta(hours=offset_hours)))
    return local.isoformat(timespec="milliseconds")


class FakeGce(LocalServer):
    """In-memory instances, disks, addresses, snapshots, machine types and metric samples of one project."""

    name = "fake-gce"

    def __init__(self, project: str, port: int = 0, host: str = "127.0.0.1", op_polls: int = 2):
        self.host, self.port = host, port
        self.op_polls = op_polls
        self._operations: dict[str, dict] = {}
        self.project = project
        self.requests: list[Recorded] = []
        self._items: dict[str, list[tuple[str, dict]]] = {"instances": [], "disks": [], "addresses": [],
                                                          "snapshots": [], "machineTypes": []}
        self._machine_types: dict[tuple[str, str], dict] = {}
        self._series: list[dict] = []
        self._failures: list[tuple[int, str | None, str | None]] = []
        self._ids = 1000
        self._lock = threading.Lock()

    # ---- state set-up ------------------------------------------------------------------------

    def _new(self, scope: str, collection: str, name: str, body: dict) -> dict:
        with self._lock:
            self._ids += 1
            item = {"kind": _KINDS.get(collection, "compute#snapshot"), "id": str(self._ids), "name": name,
                    "selfLink": f"{API}/projects/{self.project}/{scope}/{collection}/{name}", **body}
            self._items[collection].append((scope, item))
        return item

    def add_machine_type(self, zone: str, name: str, *, vcpus: int, memory_mb: int, architecture: str = "X86_64"):
        self._machine_types[(zone, name)] = {
            "kind": "compute#machineType", "id": str(len(self._machine_types) + 1), "name": name,
            "guestCpus": vcpus, "memoryMb": memory_mb, "isSharedCpu": False, "architecture": architecture,
            "description": f"{vcpus} vCPUs, {memory_mb / 1024:g} GB RAM", "zone": zone,
            "selfLink": f"{API}/projects/{self.project}/zones/{zone}/machineTypes/{name}"}
        with self._lock:
            self._items["machineTypes"].append((f"zones/{zone}", self._machine_types[(zone, name)]))

    def add_instance(self, zone: str, name: str, machine_type: str, *, created: datetime, status: str = "RUNNING",
                     stopped: datetime | None = None, labels: dict | None = None, disks: tuple[dict, ...] = ()) -> dict:
        body = {"zone": f"{API}/projects/{self.project}/zones/{zone}", "status": status,
                "machineType": f"{API}/projects/{self.project}/zones/{zone}/machineTypes/{machine_type}",
                "creationTimestamp": _rfc3339(created, -8), "labels": labels or {},
                "scheduling": {"provisioningModel": "STANDARD", "preemptible": False},
                "disks": [{"source": d["selfLink"], "boot": n == 0, "autoDelete": True, "diskSizeGb": d["sizeGb"]}
                          for n, d in enumerate(disks)],
                "networkInterfaces": [{"name": "nic0", "accessConfigs": []}]}
        if stopped:
            body["lastStopTimestamp"] = _rfc3339(stopped, -8)
        return self._new(f"zones/{zone}", "instances", name, body)

    def add_disk(self, zone: str, name: str, *, size_gb: int, created: datetime, disk_type: str = "pd-balanced",
                 labels: dict | None = None) -> dict:
        return self._new(f"zones/{zone}", "disks", name, {
            "zone": f"{API}/projects/{self.project}/zones/{zone}", "sizeGb": str(size_gb), "status": "READY",
            "type": f"{API}/projects/{self.project}/zones/{zone}/diskTypes/{disk_type}",
            "creationTimestamp": _rfc3339(created, -8), "labels": labels or {}, "users": []})

    def attach(self, disk: dict, instance: dict) -> None:
        with self._lock:
            disk["users"].append(instance["selfLink"])
            disk["lastAttachTimestamp"] = instance["creationTimestamp"]

    def delete_disk(self, disk: dict) -> None:
        with self._lock:
            self._items["disks"] = [(s, d) for s, d in self._items["disks"] if d is not disk]

    def add_address(self, region: str, name: str, *, address: str, user: dict | None = None,
                    address_type: str = "EXTERNAL", labels: dict | None = None) -> dict:
        return self._new(f"regions/{region}", "addresses", name, {
            "region": f"{API}/projects/{self.project}/regions/{region}", "address": address,
            "status": "IN_USE" if user else "RESERVED", "users": [user["selfLink"]] if user else [],
            "addressType": address_type, "networkTier": "PREMIUM", "labels": labels or {},
            "creationTimestamp": _rfc3339(datetime(2026, 1, 1, tzinfo=timezone.utc), -8)})

    def add_snapshot(self, name: str, *, disk: dict, created: datetime, labels: dict | None = None) -> dict:
        return self._new("global", "snapshots", name, {
            "status": "READY", "sourceDisk": disk["selfLink"], "sourceDiskId": disk["id"],
            "diskSizeGb": disk["sizeGb"], "storageBytes": "1073741824", "creationTimestamp": _rfc3339(created, -8),
            "snapshotType": "STANDARD", "autoCreated": False, "labels": labels or {}})

    def add_samples(self, instance: dict, metric_type: str, samples: list[tuple[datetime, float]], *,
                    labels: dict | None = None, value_type: str = "DOUBLE", kind: str = "GAUGE") -> None:
        zone = instance["zone"].rsplit("/", 1)[-1]
        metric_labels = {"instance_name": instance["name"]} if metric_type.startswith("compute.") else {}
        with self._lock:
            self._series.append({
                "metric": {"type": metric_type, "labels": {**metric_labels, **(labels or {})}},
                "resource": {"type": "gce_instance", "labels": {"project_id": self.project, "zone": zone,
                                                                "instance_id": instance["id"]}},
                "metricKind": kind, "valueType": value_type, "samples": sorted(samples)})

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "1", method: str | None = None) -> None:
        """Answer the next `count` requests (of `method` only, when given) with `status`."""
        with self._lock:
            self._failures.extend([(status, retry_after, method)] * count)

    def find(self, collection: str, name: str) -> dict | None:
        """The stored instance, disk, address or snapshot of that name (or numeric id), or None."""
        with self._lock:
            return self._find(collection, name)

    def _find(self, collection: str, name: str, scope: str | None = None) -> dict | None:
        return next((item for s, item in self._items[collection]
                     if name in (item["name"], item["id"]) and scope in (None, s)), None)

    def calls(self, method: str, path_pattern: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(path_pattern, r.path)]

    def gets(self, path_pattern: str) -> list[Recorded]:
        return [r for r in self.requests if re.search(path_pattern, r.path)]

    # ---- answers -----------------------------------------------------------------------------

    def _answer(self, method: str, path: str, query: dict, body=None) -> tuple[int, dict, dict]:
        with self._lock:
            due = next((f for f in self._failures if f[2] in (None, method)), None)
            if due:
                self._failures.remove(due)
                status, retry_after, _ = due
                return status, _error(status, "Quota exceeded for quota metric 'Read requests'", "rateLimitExceeded"), \
                    ({"Retry-After": retry_after} if retry_after else {})
        q = {k: v[0] for k, v in query.items()}
        if method != "GET" or _ONE.match(path) or _OPERATION.match(path):
            return self._change(method, path, body)
        routes = ((_AGGREGATED, self._aggregated), (_SNAPSHOTS, self._snapshots), (_MACHINE_TYPE, self._machine_type),
                  (_TIME_SERIES, self._time_series))
        for pattern, answer in routes:
            m = pattern.match(path)
            if m:
                if m["p"] != self.project:
                    return 404, _error(404, f"The resource 'projects/{m['p']}' was not found", "notFound"), {}
                return answer(m, q)
        return 404, _error(404, f"no route {path}", "notFound"), {}

    @staticmethod
    def _window(items: list, q: dict) -> tuple[list, str | None]:
        start = int(q.get("pageToken") or 0)
        end = start + int(q.get("maxResults") or q.get("pageSize") or 500)
        return items[start:end], (str(end) if end < len(items) else None)

    def _aggregated(self, m: re.Match, q: dict) -> tuple[int, dict, dict]:
        what = m["what"]
        with self._lock:
            page, token = self._window(list(self._items[what]), q)
        scopes: dict[str, dict] = {}
        for scope, item in page:
            scopes.setdefault(scope, {what: []})[what].append(item)
        scopes.setdefault("zones/europe-west1-b", {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "There are no results "
                                                      "for scope 'zones/europe-west1-b' on this page.",
                                                      "data": [{"key": "scope", "value": "zones/europe-west1-b"}]}})
        body = {"kind": f"{_KINDS[what]}AggregatedList", "id": f"projects/{self.project}/aggregated/{what}",
                "items": scopes, "selfLink": f"{API}/projects/{self.project}/aggregated/{what}", "unreachables": []}
        if token:
            body["nextPageToken"] = token
        return 200, body, {}

    def _snapshots(self, m: re.Match, q: dict) -> tuple[int, dict, dict]:
        with self._lock:
            page, token = self._window([item for _, item in self._items["snapshots"]], q)
        body = {"kind": "compute#snapshotList", "items": page,
                "selfLink": f"{API}/projects/{self.project}/global/snapshots"}
        if token:
            body["nextPageToken"] = token
        return 200, body, {}

    def _machine_type(self, m: re.Match, q: dict) -> tuple[int, dict, dict]:
        found = self._machine_types.get((m["zone"], m["name"]))
        if found is None:
            return 404, _error(404, f"The resource 'projects/{self.project}/zones/{m['zone']}/machineTypes/"
                               f"{m['name']}' was not found", "notFound"), {}
        return 200, found, {}

    def _time_series(self, m: re.Match, q: dict) -> tuple[int, dict, dict]:
        try:
            wanted = dict(_CLAUSE.match(c).groups() for c in q["filter"].split(" AND "))
            start, end = (datetime.fromisoformat(q[k].replace("Z", "+00:00"))
                          for k in ("interval.startTime", "interval.endTime"))
            period = timedelta(seconds=int(q.get("aggregation.alignmentPeriod", "60s").rstrip("s")))
            align = _ALIGN[q.get("aggregation.perSeriesAligner", "ALIGN_MEAN")]
        except (KeyError, AttributeError, ValueError):
            return 400, _error(400, "Field filter, interval or aggregation had an invalid value", "badRequest"), {}
        with self._lock:
            matching = [s for s in self._series if _matches(s, wanted)]
        page, token = self._window(matching, q)
        body = {"timeSeries": [_aligned(s, start, end, period, align) for s in page]}
        if token:
            body["nextPageToken"] = token
        return 200, body, {}

    # ---- one resource, and changes as zone or region operations -----------------------------------

    def _change(self, method: str, path: str, body) -> tuple[int, dict, dict]:
        m = _OPERATION.match(path)
        if m and method == "GET":
            return self._poll(m["scope"], m["op"])
        m = _ONE.match(path)
        if m is None or m["p"] != self.project:
            return 404, _error(404, f"no route {method} {path}", "notFound"), {}
        with self._lock:
            item = self._find(m["what"], m["name"], m["scope"])
            if item is None:
                return 404, _error(404, f"The resource 'projects/{self.project}/{m['scope']}/{m['what']}/"
                                   f"{m['name']}' was not found", "notFound"), {}
            if method == "GET" and not m["verb"]:
                return 200, item, {}
            if method == "POST" and m["verb"] == "stop":
                item["status"] = "STOPPING"
                return self._operation(m["scope"], "stop", item, lambda: self._stopped(item))
            if method == "POST" and m["verb"] == "createSnapshot":
                return self._create_snapshot(m["scope"], item, body or {})
            if method == "DELETE" and m["what"] in ("disks", "addresses") and not m["verb"]:
                return self._delete(m["scope"], m["what"], item)
        return 405, _error(405, f"{method} is not answered for {path}", "methodNotAllowed"), {}

    def _stopped(self, item: dict) -> None:
        item["status"] = "TERMINATED"
        item["lastStopTimestamp"] = _rfc3339(datetime.now(timezone.utc), -8)

    def _create_snapshot(self, scope: str, disk: dict, body: dict) -> tuple[int, dict, dict]:
        name = body.get("name", "")
        if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", name):
            return 400, _error(400, f"Invalid value for field 'resource.name': '{name}'", "invalid"), {}
        if self._find("snapshots", name):
            return 409, _error(409, f"The resource 'projects/{self.project}/global/snapshots/{name}' already "
                               "exists", "alreadyExists"), {}

        def made() -> None:
            self._ids += 1
            self._items["snapshots"].append(("global", {
                "kind": "compute#snapshot", "id": str(self._ids), "name": name, "status": "READY",
                "selfLink": f"{API}/projects/{self.project}/global/snapshots/{name}", "labels": body.get("labels", {}),
                "sourceDisk": disk["selfLink"], "sourceDiskId": disk["id"], "diskSizeGb": disk["sizeGb"],
                "storageBytes": "1073741824", "creationTimestamp": _rfc3339(datetime.now(timezone.utc), -8),
                "snapshotType": "STANDARD", "autoCreated": False}))

        return self._operation(scope, "createSnapshot", disk, made)

    def _delete(self, scope: str, what: str, item: dict) -> tuple[int, dict, dict]:
        if item.get("users") or item.get("status") == "IN_USE":
            return 400, _error(400, f"The {what[:-1]} resource '{item['selfLink']}' is already being used by "
                               f"'{(item.get('users') or ['another resource'])[0]}'",
                               "resourceInUseByAnotherResource"), {}
        return self._operation(scope, "delete", item, lambda: self._items[what].remove((scope, item)))

    def _operation(self, scope: str, kind: str, target: dict, finish) -> tuple[int, dict, dict]:
        """Start an operation on `target`; `finish` (called under the lock) makes the change happen."""
        name = f"operation-{len(self._operations) + 1:06d}-{kind.lower()}"
        self._operations[name] = {"polls": 0, "finish": finish, "body": {
            "kind": "compute#operation", "id": str(9000 + len(self._operations)), "name": name,
            "operationType": kind, "status": "RUNNING", "progress": 0, "targetLink": target["selfLink"],
            "targetId": target["id"], "insertTime": _rfc3339(datetime.now(timezone.utc), -8),
            "selfLink": f"{API}/projects/{self.project}/{scope}/operations/{name}",
            scope.split("/")[0][:-1]: f"{API}/projects/{self.project}/{scope}"}}
        return 200, dict(self._operations[name]["body"]), {}

    def _poll(self, scope: str, name: str) -> tuple[int, dict, dict]:
        with self._lock:
            op = self._operations.get(name)
            if op is None or not op["body"]["selfLink"].endswith(f"/{scope}/operations/{name}"):
                return 404, _error(404, f"The resource 'projects/{self.project}/{scope}/operations/{name}' was not "
                                   "found", "notFound"), {}
            op["polls"] += 1
            if op["body"]["status"] == "RUNNING" and op["polls"] >= self.op_polls:
                op["finish"]()
                op["body"].update(status="DONE", progress=100, endTime=_rfc3339(datetime.now(timezone.utc), -8))
            return 200, dict(op["body"]), {}

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                path, query, _, body = read_request(self)
                with fake._lock:
                    fake.requests.append(Recorded(self.command, path, query, body, self.headers.get("Authorization")))
                status, payload, headers = fake._answer(self.command, path, query, body)
                send_json(self, status, json.dumps(payload).encode(), headers)

            do_POST = do_DELETE = do_GET

        return Handler


def _matches(series: dict, wanted: dict[str, str]) -> bool:
    for key, value in wanted.items():
        if key == "metric.type":
            have = series["metric"]["type"]
        elif key == "resource.type":
            have = series["resource"]["type"]
        else:
            have = series["metric"]["labels"].get(key.split(".", 2)[2])
        if have != value:
            return False
    return True


def _aligned(series: dict, start: datetime, end: datetime, period: timedelta, align) -> dict:
    points = []
    for t, values in periods(series["samples"], start, end, period):
        if values:
            value = align(values)
            typed = {"doubleValue": value} if series["valueType"] == "DOUBLE" else {"int64Value": str(int(value))}
            points.append({"interval": {"startTime": _z(t), "endTime": _z(t + period)}, "value": typed})
    return {"metric": series["metric"], "resource": series["resource"], "metricKind": series["metricKind"],
            "valueType": series["valueType"], "points": points[::-1]}


def _z(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(code: int, message: str, reason: str) -> dict:
    status = {404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT", 409: "ALREADY_EXISTS",
              405: "METHOD_NOT_ALLOWED"}.get(code, "UNAVAILABLE")
    return {"error": {"code": code, "message": message, "status": status,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}
