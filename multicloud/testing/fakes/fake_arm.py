"""A local stand-in for Azure Resource Manager's Traffic Manager API, so the real
`azure-mgmt-trafficmanager` client (its URL building, serialization, auth and error handling)
runs against it. Binds 127.0.0.1 on a free port (`.port` once started) unless given one.

Answers, case-insensitively as ARM does (every request needs `api-version` and a bearer token):
  GET   /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/trafficmanagerprofiles/{profile}
  GET|PUT|PATCH .../trafficmanagerprofiles/{profile}/{endpointType}/{endpoint}
with bodies of ARM's JSON shape, from in-memory state (a read after a write sees it), and 404
with ARM's error body for an unknown resource group, profile or endpoint. Every request is
recorded in `requests` so a test can assert what the SDK really sent."""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, Recorded, read_request, send_json

_PROFILE_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.network/"
    r"trafficmanagerprofiles/(?P<profile>[^/]+)(?:/(?P<etype>[^/]+)/(?P<endpoint>[^/]+))?/?$",
    re.IGNORECASE,
)
_ENDPOINT_TYPES = {"externalendpoints": "externalEndpoints", "azureendpoints": "azureEndpoints",
                   "nestedendpoints": "nestedEndpoints"}


@dataclass
class _Profile:
    sub: str
    rg: str
    name: str
    routing: str
    endpoints: dict[str, dict] = field(default_factory=dict)  # lower(name) -> endpoint JSON


class FakeArm(LocalServer):
    """In-memory Traffic Manager profiles behind an HTTP server. Use as a context manager or
    call start()/stop(). `fail_next(n, status)` makes the next n requests answer `status`;
    `delay_next(n, seconds)` makes the next n requests wait that long before answering, and
    `late_answers` records, for each, how many requests had arrived by the time it answered."""

    name = "fake-arm"

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.requests: list[Recorded] = []
        self.late_answers: list[int] = []
        self._profiles: dict[tuple[str, str, str], _Profile] = {}
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self._delays: list[float] = []

    # ---- state set-up and inspection ---------------------------------------------------------

    def add_profile(self, subscription: str, resource_group: str, name: str, routing: str = "Weighted",
                    endpoints: dict[str, dict] | None = None) -> None:
        """A profile whose endpoints are given as name -> {"target", "weight", "status", "type"}."""
        prof = _Profile(subscription, resource_group, name, routing)
        for ep_name, spec in (endpoints or {}).items():
            etype = _ENDPOINT_TYPES[spec.get("type", "ExternalEndpoints").lower()]
            props = {"endpointStatus": spec.get("status", "Enabled"), "target": spec["target"],
                     "weight": spec.get("weight", 1), "priority": len(prof.endpoints) + 1}
            prof.endpoints[ep_name.lower()] = self._endpoint_json(prof, etype, ep_name, props)
        with self._lock:
            self._profiles[(subscription.lower(), resource_group.lower(), name.lower())] = prof

    def endpoint(self, subscription: str, resource_group: str, profile: str, name: str) -> dict:
        """The stored endpoint JSON (a copy)."""
        with self._lock:
            prof = self._profiles[(subscription.lower(), resource_group.lower(), profile.lower())]
            return copy.deepcopy(prof.endpoints[name.lower()])

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        with self._lock:
            self._delays.extend([seconds] * count)

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("PUT", "PATCH")]

    # ---- ARM JSON ----------------------------------------------------------------------------

    @staticmethod
    def _profile_id(prof: _Profile) -> str:
        return (f"/subscriptions/{prof.sub}/resourceGroups/{prof.rg}/providers/Microsoft.Network/"
                f"trafficManagerProfiles/{prof.name}")

    def _endpoint_json(self, prof: _Profile, etype: str, name: str, props: dict) -> dict:
        full = {"endpointStatus": "Enabled", "endpointMonitorStatus": None, "alwaysServe": "Disabled",
                "endpointLocation": None, "customHeaders": [], "subnets": []}
        full.update(props)
        full["endpointMonitorStatus"] = "Disabled" if full["endpointStatus"] == "Disabled" else "Online"
        return {"id": f"{self._profile_id(prof)}/{etype}/{name}", "name": name,
                "type": f"Microsoft.Network/trafficManagerProfiles/{etype}", "properties": full}

    def _profile_json(self, prof: _Profile) -> dict:
        return {
            "id": self._profile_id(prof), "name": prof.name, "type": "Microsoft.Network/trafficManagerProfiles",
            "location": "global", "tags": {},
            "properties": {
                "profileStatus": "Enabled", "trafficRoutingMethod": prof.routing,
                "dnsConfig": {"relativeName": prof.name.lower(), "fqdn": f"{prof.name.lower()}.trafficmanager.net",
                              "ttl": 30},
                "monitorConfig": {"profileMonitorStatus": "Online", "protocol": "HTTPS", "port": 443,
                                  "path": "/health", "intervalInSeconds": 30, "toleratedNumberOfFailures": 3,
                                  "timeoutInSeconds": 10},
                "endpoints": [copy.deepcopy(e) for e in prof.endpoints.values()],
                "trafficViewEnrollmentStatus": "Disabled",
            },
        }

    # ---- request handling --------------------------------------------------------------------

    def _handle(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, dict]:
        if "api-version" not in query:
            return 400, _error("MissingApiVersionParameter",
                               "The api-version query parameter (?api-version=) is required for all requests.")
        m = _PROFILE_PATH.match(path)
        if not m:
            return 404, _error("InvalidResourceType", f"The resource type could not be found for path '{path}'.")
        with self._lock:
            if self._failures:
                status = self._failures.pop(0)
                return status, _error("ServerBusy" if status in (429, 503) else "InternalServerError",
                                      "injected failure by the fake ARM server")
            prof = self._profiles.get((m["sub"].lower(), m["rg"].lower(), m["profile"].lower()))
            if prof is None:
                return 404, self._missing_profile(m)
            if m["etype"] is None:
                if method != "GET":
                    return 405, _error("MethodNotAllowed", f"{method} on a profile is not supported by the fake")
                return 200, self._profile_json(prof)
            return self._endpoint_request(method, m, prof, body)

    def _missing_profile(self, m: re.Match) -> dict:
        if not any(k[:2] == (m["sub"].lower(), m["rg"].lower()) for k in self._profiles):
            return _error("ResourceGroupNotFound", f"Resource group '{m['rg']}' could not be found.")
        return _error("ResourceNotFound", f"The Resource 'Microsoft.Network/trafficmanagerprofiles/{m['profile']}' "
                      f"under resource group '{m['rg']}' was not found. For more details please go to "
                      "https://aka.ms/ARMResourceNotFoundFix")

    def _endpoint_request(self, method: str, m: re.Match, prof: _Profile, body: dict | None) -> tuple[int, dict]:
        etype = _ENDPOINT_TYPES.get(m["etype"].lower())
        if etype is None:
            return 400, _error("BadRequest", f"Endpoint type '{m['etype']}' is not valid.")
        key, existing = m["endpoint"].lower(), prof.endpoints.get(m["endpoint"].lower())
        if existing is not None and existing["type"].rsplit("/", 1)[-1] != etype:
            existing = None  # same name, other type: a different resource
        if method not in ("GET", "PUT", "PATCH"):
            return 405, _error("MethodNotAllowed", f"{method} on an endpoint is not supported by the fake")
        if existing is None and method != "PUT":
            return 404, _not_found_endpoint(m)
        if method == "GET":
            return 200, copy.deepcopy(existing)
        props = dict((body or {}).get("properties") or {})
        if method == "PATCH":
            props = {**existing["properties"], **props}
        problem = _endpoint_problem(props, etype)
        if problem:
            return 400, _error("BadRequest", problem)
        if prof.routing.lower() == "weighted" and props.get("weight") is None:
            props["weight"] = 1  # ARM's default in a weighted profile
        name = existing["name"] if existing else m["endpoint"]
        prof.endpoints[key] = self._endpoint_json(prof, etype, name, props)
        return (200 if existing or method == "PATCH" else 201), copy.deepcopy(prof.endpoints[key])

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _serve(self):
                path, query, raw, body = read_request(self)
                auth = self.headers.get("Authorization")
                fake.requests.append(Recorded(self.command, path, query, body, auth))
                with fake._lock:
                    delay = fake._delays.pop(0) if fake._delays else 0.0
                if delay:
                    time.sleep(delay)
                    with fake._lock:
                        fake.late_answers.append(len(fake.requests))
                if not (auth or "").startswith("Bearer "):
                    status, payload = 401, _error("AuthenticationFailed",
                                                  "Authentication failed. The 'Authorization' header is missing.")
                elif raw and body is None:
                    status, payload = 400, _error("InvalidRequestContent", "The request content was invalid.")
                else:
                    status, payload = fake._handle(self.command, path, query, body)
                headers = {"x-ms-request-id": f"fake-{len(fake.requests)}"}
                if status == 401:
                    headers["WWW-Authenticate"] = 'Bearer authorization_uri="https://login.example/"'
                send_json(self, status, json.dumps(payload).encode(), headers)

            do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = _serve

        return Handler


def _endpoint_problem(props: dict, etype: str) -> str | None:
    """What ARM would refuse in an endpoint's properties, else None."""
    weight = props.get("weight")
    if weight is not None and not (isinstance(weight, int) and 1 <= weight <= 1000):
        return "Weight must be an integer between 1 and 1000."
    if not props.get("target") and etype == "externalEndpoints":
        return "The 'target' property is required for external endpoints."
    return None


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _not_found_endpoint(m: re.Match) -> dict:
    return _error("NotFound", f"Endpoint '{m['endpoint']}' of type '{m['etype']}' was not found in Traffic Manager "
                  f"profile '{m['profile']}'.")
