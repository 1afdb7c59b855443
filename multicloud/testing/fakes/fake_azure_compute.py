"""A local stand-in for the Azure Resource Manager listings and metrics the rightsizing readers call,
so the real azure-mgmt-compute, -network, -sql and -monitor clients run against it. Binds 127.0.0.1 on
a free port (`.port` once started). Every request needs `api-version` (any value) and a bearer token;
paths match case-insensitively, as ARM's do. Answers, below /subscriptions/{sub}:

  GET /providers/Microsoft.Compute/virtualMachines   (statusOnly=true adds properties.instanceView)
  GET /providers/Microsoft.Compute/disks | snapshots | skus ($filter=location eq '...')
  GET /providers/Microsoft.Network/publicIPAddresses
  GET /providers/Microsoft.Sql/servers,  GET /resourceGroups/{rg}/providers/Microsoft.Sql/servers/{s}/databases
  GET {resourceId}/providers/Microsoft.Insights/metrics   (timespan, interval, metricnames, aggregation)
  GET /providers/Microsoft.Advisor/recommendations   ($filter=Category eq '...')
  GET {vm id} ($expand=instanceView), {disk id}, {snapshot id}, {public IP id}: one resource
  POST {vm id}/deallocate; PUT {snapshot id} (creationData Copy of a disk); DELETE {disk id}, {public IP id}

Changes are long-running as ARM's are: 202 (a PUT's 202 carries the resource, provisioningState Creating)
with Azure-AsyncOperation, Location and Retry-After headers; the operation's status is InProgress for
`lro_polls - 1` polls, then Succeeded, and only then does the change take effect (a deallocating VM,
a deleted disk). A disk still attached (409 OperationNotAllowed) or an IP still associated (400
PublicIPAddressInUse) is refused as ARM refuses it; deleting what is gone answers 204.

Listings come `page_size` items a page with a `nextLink` on this server's own base ($skiptoken); metrics
are aggregated per interval from the samples given, a period without samples has only its timeStamp
(as Azure Monitor answers). `fail_next(n, status, retry_after)` answers the next n requests with that
status (ARM's error body) and a Retry-After header. Every request is recorded in `requests`."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, Recorded, read_request, send_json
from multicloud.testing.fakes.metric_samples import periods

_SUB = r"^/subscriptions/(?P<sub>[^/]+)"
_LISTS = {
    "virtualmachines": re.compile(_SUB + r"/providers/microsoft\.compute/virtualmachines/?$", re.I),
    "disks": re.compile(_SUB + r"/providers/microsoft\.compute/disks/?$", re.I),
    "snapshots": re.compile(_SUB + r"/providers/microsoft\.compute/snapshots/?$", re.I),
    "skus": re.compile(_SUB + r"/providers/microsoft\.compute/skus/?$", re.I),
    "publicips": re.compile(_SUB + r"/providers/microsoft\.network/publicipaddresses/?$", re.I),
    "servers": re.compile(_SUB + r"/providers/microsoft\.sql/servers/?$", re.I),
    "advisor": re.compile(_SUB + r"/providers/microsoft\.advisor/recommendations/?$", re.I),
    "databases": re.compile(_SUB + r"/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.sql/servers/(?P<server>[^/]+)"
                            r"/databases/?$", re.I),
}
_ONE = re.compile(_SUB + r"/resourcegroups/(?P<rg>[^/]+)/providers/(?P<provider>microsoft\.compute|microsoft\.network)/"
                  r"(?P<kind>virtualmachines|disks|snapshots|publicipaddresses)/(?P<name>[^/]+)(?P<verb>/deallocate)?/?$",
                  re.I)
_OPERATION = re.compile(_SUB + r"/providers/(?P<provider>[^/]+)/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)$",
                        re.I)
_ONE_KINDS = {"virtualmachines": "virtualmachines", "disks": "disks", "snapshots": "snapshots",
              "publicipaddresses": "publicips"}
_METRICS = re.compile(r"^(?P<resource>/subscriptions/.+?)/providers/microsoft\.insights/metrics/?$", re.I)
_DURATION = re.compile(r"^PT(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?$|^P(?P<d>\d+)D$")
_UNITS = {"Percentage CPU": "Percent", "Available Memory Bytes": "Bytes", "Network In Total": "Bytes",
          "Network Out Total": "Bytes", "Disk Read Bytes": "Bytes", "Disk Write Bytes": "Bytes",
          "connection_successful": "Count", "cpu_percent": "Percent"}
_AGGREGATIONS = {"average": lambda v: sum(v) / len(v), "maximum": max, "minimum": min, "total": sum, "count": len}


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeAzureCompute(LocalServer):
    """In-memory VMs, disks, snapshots, public IPs, resource SKUs, SQL databases and metric samples of
    one subscription."""

    name = "fake-azure-compute"

    def __init__(self, subscription: str, page_size: int = 2, port: int = 0, host: str = "127.0.0.1",
                 lro_polls: int = 2):
        self.host, self.port = host, port
        self.subscription = subscription
        self.page_size = page_size
        self.lro_polls = lro_polls
        self._operations: dict[str, dict] = {}
        self.requests: list[Recorded] = []
        self._items: dict[str, list[dict]] = {k: [] for k in _LISTS}
        self._samples: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
        self._failures: list[tuple[int, str | None, str | None]] = []
        self._lock = threading.Lock()

    # ---- state set-up ------------------------------------------------------------------------

    def resource_id(self, group: str, provider: str, name: str) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/{provider}/{name}"

    def add_vm(self, group: str, name: str, size: str, *, location: str = "eastus", power: str = "running",
               created: datetime, changed: datetime | None = None, tags: dict | None = None,
               os_disk: str | None = None, data_disks: tuple[str, ...] = ()) -> str:
        vm_id = self.resource_id(group, "Microsoft.Compute", f"virtualMachines/{name}")
        statuses = [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
                     "time": _iso(changed or created)},
                    {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"}]
        props = {"vmId": f"{len(self._items['virtualmachines']):08d}-0000-0000-0000-000000000000",
                 "hardwareProfile": {"vmSize": size}, "provisioningState": "Succeeded", "timeCreated": _iso(created),
                 "storageProfile": {"osDisk": {"osType": "Linux", "name": f"{name}-os", "createOption": "FromImage",
                                               "managedDisk": {"id": os_disk, "storageAccountType": "Premium_LRS"}},
                                    "dataDisks": [{"lun": n, "createOption": "Attach", "managedDisk": {"id": d}}
                                                  for n, d in enumerate(data_disks)]},
                 "networkProfile": {"networkInterfaces": [{"id": f"{vm_id}-nic"}]},
                 "instanceView": {"statuses": statuses}}
        self._add("virtualmachines", {"id": vm_id, "name": name, "type": "Microsoft.Compute/virtualMachines",
                                      "location": location, "tags": tags or {}, "properties": props})
        return vm_id

    def add_disk(self, group: str, name: str, *, size_gb: int, created: datetime, managed_by: str | None = None,
                 sku: str = "Premium_LRS", location: str = "eastus", tags: dict | None = None) -> str:
        disk_id = self.resource_id(group, "Microsoft.Compute", f"disks/{name}")
        item = {"id": disk_id, "name": name, "type": "Microsoft.Compute/disks", "location": location,
                "tags": tags or {}, "sku": {"name": sku, "tier": sku.split("_")[0]},
                "properties": {"diskSizeGB": size_gb, "diskState": "Attached" if managed_by else "Unattached",
                               "timeCreated": _iso(created), "LastOwnershipUpdateTime": _iso(created),
                               "provisioningState": "Succeeded", "creationData": {"createOption": "Empty"}}}
        if managed_by:
            item["managedBy"] = managed_by
        self._add("disks", item)
        return disk_id

    def add_public_ip(self, group: str, name: str, *, address: str, ip_configuration: str | None = None,
                      location: str = "eastus", tags: dict | None = None) -> str:
        ip_id = self.resource_id(group, "Microsoft.Network", f"publicIPAddresses/{name}")
        props = {"ipAddress": address, "publicIPAllocationMethod": "Static", "provisioningState": "Succeeded"}
        if ip_configuration:
            props["ipConfiguration"] = {"id": ip_configuration}
        self._add("publicips", {"id": ip_id, "name": name, "type": "Microsoft.Network/publicIPAddresses",
                                "location": location, "tags": tags or {},
                                "sku": {"name": "Standard", "tier": "Regional"}, "properties": props})
        return ip_id

    def add_snapshot(self, group: str, name: str, *, source: str, created: datetime, size_gb: int = 32,
                     location: str = "eastus", tags: dict | None = None) -> str:
        snap_id = self.resource_id(group, "Microsoft.Compute", f"snapshots/{name}")
        self._add("snapshots", {"id": snap_id, "name": name, "type": "Microsoft.Compute/snapshots",
                                "location": location, "tags": tags or {}, "sku": {"name": "Standard_LRS"},
                                "properties": {"timeCreated": _iso(created), "diskSizeGB": size_gb, "incremental": True,
                                               "provisioningState": "Succeeded",
                                               "creationData": {"createOption": "Copy", "sourceResourceId": source}}})
        return snap_id

    def add_sku(self, location: str, name: str, *, vcpus: int, memory_gb: float, architecture: str = "x64",
                family: str = "standardDSv3Family", restricted: bool = False, resource_type: str = "virtualMachines"
                ) -> None:
        """A resource SKU; `restricted`: not available to this subscription in `location`."""
        caps = {"vCPUs": str(vcpus), "MemoryGB": f"{memory_gb:g}", "CpuArchitectureType": architecture,
                "LowPriorityCapable": "True", "PremiumIO": "True"}
        restrictions = [{"type": "Location", "values": [location], "reasonCode": "NotAvailableForSubscription",
                         "restrictionInfo": {"locations": [location]}}] if restricted else []
        self._add("skus", {"resourceType": resource_type, "name": name, "tier": "Standard",
                           "size": name.split("_", 1)[-1], "family": family, "locations": [location],
                           "locationInfo": [{"location": location, "zones": ["1", "2", "3"]}],
                           "capabilities": [{"name": k, "value": v} for k, v in caps.items()],
                           "restrictions": restrictions})

    def add_sql_database(self, group: str, server: str, name: str, *, created: datetime, sku: str = "GP_Gen5_2",
                         status: str = "Online", location: str = "eastus") -> str:
        server_id = self.resource_id(group, "Microsoft.Sql", f"servers/{server}")
        if not any(s["id"] == server_id for s in self._items["servers"]):
            self._add("servers", {"id": server_id, "name": server, "type": "Microsoft.Sql/servers",
                                  "location": location, "properties": {"state": "Ready", "version": "12.0"}})
        db_id = f"{server_id}/databases/{name}"
        self._add("databases", {"id": db_id, "name": name, "type": "Microsoft.Sql/servers/databases",
                                "location": location, "sku": {"name": sku, "tier": "GeneralPurpose"},
                                "properties": {"status": status, "creationDate": _iso(created),
                                               "maxSizeBytes": 34359738368}})
        return db_id

    def add_advisor_recommendation(self, resource_id: str, recommendation_type: str, *, savings: float | None,
                                   current_sku: str = "", target_sku: str = "", category: str = "Cost",
                                   impacted_field: str = "Microsoft.Compute/virtualMachines") -> str:
        """An Advisor recommendation on `resource_id`, in the shape Advisor answers (string amounts)."""
        guid = f"{len(self._items['advisor']):08d}-aaaa-bbbb-cccc-000000000000"
        extended = {"recommendationType": recommendation_type, "currentSku": current_sku, "targetSku": target_sku,
                    "regionId": "eastus", "savingsCurrency": "USD"}
        if savings is not None:
            extended.update(savingsAmount=f"{savings:g}", annualSavingsAmount=f"{savings * 12:g}")
        rec_id = f"{resource_id}/providers/Microsoft.Advisor/recommendations/{guid}"
        self._add("advisor", {"id": rec_id, "name": guid, "type": "Microsoft.Advisor/recommendations", "properties": {
            "category": category, "impact": "High", "impactedField": impacted_field,
            "impactedValue": resource_id.rsplit("/", 1)[-1], "lastUpdated": "2026-11-19T08:00:00Z",
            "recommendationTypeId": "e10b1381-5f0a-47ff-8c7b-37bd13d7c974",
            "shortDescription": {"problem": "Right-size or shutdown underutilized virtual machines",
                                 "solution": "Right-size or shutdown underutilized virtual machines"},
            "extendedProperties": extended, "resourceMetadata": {"resourceId": resource_id, "source": None}}})
        return rec_id

    def add_samples(self, resource_id: str, metric: str, samples: list[tuple[datetime, float]]) -> None:
        """Raw samples of one metric (e.g. "Percentage CPU"), aggregated per interval when asked."""
        with self._lock:
            self._samples.setdefault((resource_id.lower(), metric), []).extend(samples)

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "1",
                  path: str | None = None) -> None:
        """Answer the next `count` requests (those whose path ends with `path` only, when given, in any
        case) with `status`."""
        with self._lock:
            self._failures.extend([(status, retry_after, path)] * count)

    def _failure(self, path: str) -> tuple[int, str | None] | None:
        """The next injected failure for a request of `path`, taken from the queue, or None."""
        for n, (status, retry_after, only) in enumerate(self._failures):
            if only is None or path.lower().rstrip("/").endswith(only.lower()):
                del self._failures[n]
                return status, retry_after
        return None

    def _add(self, kind: str, item: dict) -> None:
        with self._lock:
            self._items[kind].append(item)

    def find(self, resource_id: str) -> dict | None:
        """The stored resource (VM, disk, snapshot, public IP) with this id, or None."""
        with self._lock:
            return self._find(resource_id)

    def _find(self, resource_id: str) -> dict | None:
        for kind in ("virtualmachines", "disks", "snapshots", "publicips"):
            for item in self._items[kind]:
                if item["id"].lower() == resource_id.lower():
                    return item
        return None

    def calls(self, method: str, fragment: str = "") -> list[Recorded]:
        """The recorded requests of `method` whose path contains `fragment` (case-insensitive)."""
        return [r for r in self.requests if r.method == method and fragment.lower() in r.path.lower()]

    def gets(self, fragment: str) -> list[Recorded]:
        """The recorded GETs whose path ends with `fragment` (case-insensitive)."""
        return [r for r in self.requests if r.method == "GET" and r.path.lower().rstrip("/").endswith(fragment.lower())]

    # ---- answers -----------------------------------------------------------------------------

    def _answer(self, method: str, path: str, query: dict, body) -> tuple[int, dict | None, dict]:
        if "api-version" not in query:
            return 400, _error("MissingApiVersionParameter", "The api-version query parameter is required."), {}
        with self._lock:
            failure = self._failure(path)
            if failure:
                status, retry_after = failure
                headers = {"Retry-After": retry_after} if retry_after else {}
                return status, _error("TooManyRequests" if status == 429 else "InternalServerError",
                                      "injected failure by the fake ARM server"), headers
        found = _METRICS.match(path)
        if found:
            return self._metrics(found["resource"], query)
        found = _OPERATION.match(path)
        if found:
            return self._operation(found["op"], query)
        found = _ONE.match(path)
        if found and found["sub"].lower() == self.subscription.lower():
            return self._one(method, found, path, query, body)
        for kind, pattern in _LISTS.items():
            m = pattern.match(path)
            if m and m["sub"].lower() == self.subscription.lower():
                return 200, self._page(kind, m, path, query), {}
        return 404, _error("InvalidResourceType", f"The resource type could not be found for path '{path}'."), {}

    def _page(self, kind: str, m: re.Match, path: str, query: dict) -> dict:
        with self._lock:
            items = [dict(i) for i in self._items[kind] if self._belongs(kind, i, m, query)]
        if kind == "virtualmachines" and query.get("statusOnly", ["false"])[0].lower() != "true":
            items = [{**i, "properties": {k: v for k, v in i["properties"].items() if k != "instanceView"}}
                     for i in items]
        start = int(query.get("$skiptoken", ["0"])[0])
        end = start + self.page_size
        page = {"value": items[start:end]}
        if end < len(items):
            page["nextLink"] = self._next_link(path, query, end)
        return page

    def _next_link(self, path: str, query: dict, skip: int) -> str:
        """On this server's own base, keeping the query's options: the SDK follows it verbatim."""
        extra = "".join(f"&{k}={quote(v[0])}" for k, v in query.items() if k in ("statusOnly", "$filter"))
        return f"{self.url}{path}?api-version={quote(query['api-version'][0])}{extra}&$skiptoken={skip}"

    @staticmethod
    def _belongs(kind: str, item: dict, m: re.Match, query: dict) -> bool:
        if kind == "databases":
            return item["id"].lower().startswith(f"/subscriptions/{m['sub']}/resourcegroups/{m['rg']}/providers/"
                                                 f"microsoft.sql/servers/{m['server']}/".lower())
        if kind == "advisor" and "$filter" in query:
            wanted = re.match(r"^Category eq '([^']+)'$", query["$filter"][0], re.I)
            return bool(wanted) and wanted.group(1).lower() == item["properties"]["category"].lower()
        if kind == "skus" and "$filter" in query:
            wanted = re.match(r"^location eq '([^']+)'$", query["$filter"][0])
            return bool(wanted) and wanted.group(1).lower() in {loc.lower() for loc in item["locations"]}
        return True

    def _metrics(self, resource: str, query: dict) -> tuple[int, dict, dict]:
        try:
            start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in query["timespan"][0].split("/"))
            step = _interval(query.get("interval", ["PT1H"])[0])
        except (KeyError, ValueError):
            return 400, _error("BadRequest", "timespan and interval must be ISO 8601"), {}
        aggregations = [a.strip().lower() for a in query.get("aggregation", ["Average"])[0].split(",")]
        values = []
        for name in query.get("metricnames", ["Percentage CPU"])[0].split(","):
            if name not in _UNITS:
                return 400, _error("BadRequest", f"Failed to find metric configuration for provider: "
                                   f"Microsoft.Compute, resource Type: virtualMachines, metric: {name}"), {}
            with self._lock:
                samples = sorted(self._samples.get((resource.lower(), name), []))
            values.append({"id": f"{resource}/providers/Microsoft.Insights/metrics/{name}",
                           "type": "Microsoft.Insights/metrics", "name": {"value": name, "localizedValue": name},
                           "unit": _UNITS[name], "errorCode": "Success",
                           "timeseries": [{"metadatavalues": [], "data": _buckets(samples, start, end, step,
                                                                                   aggregations)}]})
        return 200, {"cost": 0, "timespan": query["timespan"][0], "interval": query.get("interval", ["PT1H"])[0],
                     "namespace": "Microsoft.Compute/virtualMachines", "resourceregion": "eastus",
                     "value": values}, {}

    # ---- one resource, and long-running changes ------------------------------------------------

    def _one(self, method: str, m: re.Match, path: str, query: dict, body) -> tuple[int, dict | None, dict]:
        kind = _ONE_KINDS[m["kind"].lower()]
        resource_id = path.rstrip("/").removesuffix(m["verb"] or "")
        with self._lock:
            item = self._find(resource_id)
            if method == "PUT" and kind == "snapshots":
                return self._put_snapshot(resource_id, m, body, query)
            if item is None:
                if method == "DELETE":
                    return 204, None, {}
                return 404, _error("ResourceNotFound", f"The Resource '{m['provider']}/{m['kind']}/{m['name']}' "
                                   f"under resource group '{m['rg']}' was not found."), {}
            if method == "GET":
                return 200, self._shown(kind, item, query), {}
            if method == "POST" and m["verb"] and kind == "virtualmachines":
                _set_power(item, "deallocating")
                return self._accepted(item, query, lambda: _set_power(item, "deallocated"))
            if method == "DELETE" and kind in ("disks", "publicips"):
                return self._delete(kind, item, query)
        return 405, _error("MethodNotAllowed", f"{method} is not answered for {path}"), {}

    @staticmethod
    def _shown(kind: str, item: dict, query: dict) -> dict:
        if kind == "virtualmachines" and query.get("$expand", [""])[0].lower() != "instanceview":
            return {**item, "properties": {k: v for k, v in item["properties"].items() if k != "instanceView"}}
        return item

    def _delete(self, kind: str, item: dict, query: dict) -> tuple[int, dict | None, dict]:
        props = item["properties"]
        if kind == "disks" and item.get("managedBy"):
            return 409, _error("OperationNotAllowed", f"Disk {item['name']} is attached to VM {item['managedBy']}."), {}
        if kind == "publicips" and (props.get("ipConfiguration") or props.get("natGateway")):
            return 400, _error("PublicIPAddressInUse", f"Public IP address {item['id']} can not be deleted since "
                               "it is still allocated to resource."), {}
        props["provisioningState"] = "Deleting"
        return self._accepted(item, query, lambda: self._items[kind].remove(item))

    def _put_snapshot(self, snap_id: str, m: re.Match, body, query: dict) -> tuple[int, dict | None, dict]:
        data = (body or {}).get("properties", {}).get("creationData", {})
        source = self._find(data.get("sourceResourceId", ""))
        if data.get("createOption") != "Copy" or source is None or "/disks/" not in source["id"].lower():
            return 400, _error("InvalidParameter", "creationData must Copy an existing managed disk"), {}
        item = {"id": snap_id, "name": m["name"], "type": "Microsoft.Compute/snapshots", "location": body["location"],
                "tags": body.get("tags") or {}, "sku": {"name": "Standard_LRS"},
                "properties": {"timeCreated": _iso(datetime.now(timezone.utc)),
                               "diskSizeGB": source["properties"]["diskSizeGB"], "incremental": False,
                               "provisioningState": "Creating", "creationData": data}}
        self._items["snapshots"].append(item)
        status, _, headers = self._accepted(item, query, lambda: item["properties"].update(
            provisioningState="Succeeded"))
        return status, item, headers

    def _accepted(self, item: dict, query: dict, finish) -> tuple[int, None, dict]:
        """Start a long-running operation on `item`; `finish` (called under the lock) makes it take effect."""
        op = f"{len(self._operations) + 1:08d}-0000-0000-0000-00000000a5a5"
        self._operations[op] = {"polls": 0, "finish": finish, "status": "InProgress"}
        provider = item["type"].split("/", 1)[0]
        base = f"{self.url}/subscriptions/{self.subscription}/providers/{provider}/locations/{item['location']}" \
               f"/operations/{op}?api-version={quote(query['api-version'][0])}"
        return 202, None, {"Azure-AsyncOperation": base, "Location": f"{base}&monitor=true", "Retry-After": "1"}

    def _operation(self, op: str, query: dict) -> tuple[int, dict | None, dict]:
        with self._lock:
            state = self._operations.get(op)
            if state is None:
                return 404, _error("NotFound", f"operation {op} is not known"), {}
            if "monitor" in query:  # the Location URL: 202 until done, then the (empty) result
                return (200, None, {}) if state["status"] == "Succeeded" else (202, None, {"Retry-After": "1"})
            state["polls"] += 1
            if state["status"] == "InProgress" and state["polls"] >= self.lro_polls:
                state["finish"]()
                state["status"] = "Succeeded"
            return 200, {"name": op, "status": state["status"], "startTime": _iso(datetime.now(timezone.utc))}, \
                ({"Retry-After": "1"} if state["status"] == "InProgress" else {})

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                path, query, _, body = read_request(self)
                auth = self.headers.get("Authorization")
                with fake._lock:
                    fake.requests.append(Recorded(self.command, path, query, body, auth))
                if not (auth or "").startswith("Bearer "):
                    status, payload, headers = 401, _error("AuthenticationFailed", "The 'Authorization' header "
                                                           "is missing."), {}
                else:
                    status, payload, headers = fake._answer(self.command, path, query, body)
                headers["x-ms-request-id"] = f"fake-{len(fake.requests)}"
                send_json(self, status, b"" if payload is None else json.dumps(payload).encode(), headers)

            do_POST = do_PUT = do_DELETE = do_GET

        return Handler


def _interval(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m:
        raise ValueError(text)
    return timedelta(days=int(m["d"] or 0), hours=int(m["h"] or 0), minutes=int(m["m"] or 0))


def _buckets(samples, start: datetime, end: datetime, step: timedelta, aggregations: list[str]) -> list[dict]:
    out = []
    for t, values in periods(samples, start, end, step):
        point = {"timeStamp": _iso(t)}
        if values:
            point.update({a: _AGGREGATIONS[a](values) for a in aggregations})
        out.append(point)
    return out


def _set_power(vm: dict, power: str) -> None:
    statuses = vm["properties"]["instanceView"]["statuses"]
    statuses[:] = [s for s in statuses if not s["code"].startswith("PowerState/")] + [
        {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"}]


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
