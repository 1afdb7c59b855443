"""A local stand-in for the Cloud DNS v1 REST API, enough for weighted record sets: it answers the
real request paths with bodies of the real JSON shape, keeps its state in memory and logs every
request so a test can assert what the code sent.

    GET   /dns/v1/projects/{project}/managedZones/{zone}/rrsets/{name}/{type}
    PATCH /dns/v1/projects/{project}/managedZones/{zone}/rrsets/{name}/{type}

Unknown zones and record sets get 404 with Google's error body; a malformed PATCH gets 400; any
other path 404, any other method 405. `fail_next(503, ...)` makes the next requests fail."""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, read_request, send_json

_KIND = "dns#resourceRecordSet"
_POLICY_KIND = "dns#rRSetRoutingPolicy"
_WRR_KIND = "dns#rRSetRoutingPolicyWrrPolicy"
_ITEM_KIND = "dns#rRSetRoutingPolicyWrrPolicyWrrPolicyItem"
_REASONS = {400: "invalid", 401: "authError", 403: "forbidden", 404: "notFound", 405: "methodNotAllowed",
            429: "rateLimitExceeded", 500: "backendError", 503: "backendError"}


@dataclass
class Request:
    """One request as received: method, path (decoded), headers (lower-case names), JSON body
    (None without one)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: object = None


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def error_body(status: int, message: str) -> dict:
    """Google's JSON error body."""
    reason = _REASONS.get(status, "error")
    return {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


def wrr_record(name: str, rtype: str, items: list[tuple[float, list[str]]], ttl: int = 30) -> dict:
    """A ResourceRecordSet with a WRR routing policy of (weight, rrdatas) items."""
    return {"kind": _KIND, "name": name, "type": rtype, "ttl": ttl, "routingPolicy": {
        "kind": _POLICY_KIND, "wrr": {"kind": _WRR_KIND, "items": [
            {"kind": _ITEM_KIND, "weight": float(w), "rrdatas": list(r)} for w, r in items]}}}


def plain_record(name: str, rtype: str, rrdatas: list[str], ttl: int = 300) -> dict:
    """A ResourceRecordSet without a routing policy."""
    return {"kind": _KIND, "name": name, "type": rtype, "ttl": ttl, "rrdatas": list(rrdatas)}


class FakeCloudDns(LocalServer):
    """The fake API on 127.0.0.1, a free port unless `port` is given (`.port` is the bound one);
    `with FakeCloudDns() as api:` starts and stops it.

    State: zones[(project, zone)] -> {(name, type): record set}."""

    name = "fake-cloud-dns"

    def __init__(self, port: int = 0):
        self.port = port
        self.requests: list[Request] = []
        self.zones: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self._faults: list[int] = []
        self._lock = threading.Lock()

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _handle(self):
                path, _, raw, body = read_request(self)
                recorded = body if body is not None else (raw.decode("utf-8", "replace") or None)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(Request(self.command, path, headers, recorded))
                    fault = fake._faults.pop(0) if fake._faults else None
                try:
                    if fault:
                        raise ApiError(fault, f"injected failure {fault}")
                    status, answer = 200, fake._answer(self.command, urlsplit(self.path).path, body)
                except ApiError as exc:
                    status, answer = exc.status, error_body(exc.status, exc.message)
                send_json(self, status, json.dumps(answer).encode(), content_type="application/json; charset=UTF-8")

            do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = _handle

        return Handler

    # ---- state -----------------------------------------------------------------------------

    def add_zone(self, project: str, zone: str) -> None:
        with self._lock:
            self.zones.setdefault((project, zone), {})

    def put(self, project: str, zone: str, rrset: dict) -> None:
        """Store a record set (the zone is created if needed)."""
        with self._lock:
            self.zones.setdefault((project, zone), {})[(rrset["name"], rrset["type"])] = copy.deepcopy(rrset)

    def get(self, project: str, zone: str, name: str, rtype: str) -> dict:
        with self._lock:
            return copy.deepcopy(self.zones[(project, zone)][(name, rtype)])

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these error statuses, one each, before serving again."""
        with self._lock:
            self._faults.extend(statuses)

    def calls(self, method: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    # ---- API -------------------------------------------------------------------------------

    def _answer(self, method: str, path: str, body) -> dict:
        parts = [unquote(p) for p in path.split("/")]
        # ['', 'dns', 'v1', 'projects', P, 'managedZones', Z, 'rrsets', NAME, TYPE]
        if len(parts) != 10 or parts[1:4] != ["dns", "v1", "projects"] or parts[5] != "managedZones" \
                or parts[7] != "rrsets":
            raise ApiError(404, "Not Found")
        project, zone, name, rtype = parts[4], parts[6], parts[8], parts[9]
        if method not in ("GET", "PATCH"):
            raise ApiError(405, f"method {method} is not allowed on a resource record set")
        with self._lock:
            records = self.zones.get((project, zone))
            if records is None:
                raise ApiError(404, f"The 'parameters.managedZone' resource named '{zone}' does not exist.")
            current = records.get((name, rtype))
            if current is None:
                raise ApiError(404, f"The 'parameters.name' resource named '{name}' does not exist.")
            if method == "GET":
                return copy.deepcopy(current)
            updated = _patched(current, body, name, rtype)
            records[(name, rtype)] = updated
            return copy.deepcopy(updated)


def _patched(current: dict, body, name: str, rtype: str) -> dict:
    """`current` with the fields of a PATCH body replaced, after Cloud DNS-like validation."""
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid JSON payload: a ResourceRecordSet object is required.")
    if body.get("name", name) != name or body.get("type", rtype) != rtype:
        raise ApiError(400, "Invalid value for 'entity.name' or 'entity.type': must match the request path.")
    updated = {**copy.deepcopy(current), **copy.deepcopy(body)}
    policy = updated.get("routingPolicy")
    if policy and updated.get("rrdatas"):
        raise ApiError(400, "A ResourceRecordSet may have rrdatas or a routingPolicy, not both.")
    if policy:
        items = (policy.get("wrr") or {}).get("items")
        if not isinstance(items, list) or not items:
            raise ApiError(400, "Invalid value for 'entity.routingPolicy': no items.")
        for i, item in enumerate(items):
            weight = item.get("weight", 0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise ApiError(400, f"Invalid value for 'entity.routingPolicy.wrr.items[{i}].weight': {weight!r}")
            if not item.get("rrdatas"):
                raise ApiError(400, f"Invalid value for 'entity.routingPolicy.wrr.items[{i}].rrdatas': empty")
    updated["kind"] = _KIND
    return updated


__all__ = ["FakeCloudDns", "Request", "error_body", "plain_record", "wrr_record"]
