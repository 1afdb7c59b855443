"""A local stand-in for AWS Compute Optimizer, which moto does not serve: `POST /` in JSON 1.0 (what
botocore 1.44.8 sends, `X-Amz-Target: ComputeOptimizerService.<Op>`) for GetEC2InstanceRecommendations
and GetIdleRecommendations, with their `filters`, `maxResults` and `nextToken` pages, answered in the
service's response shape. Binds 127.0.0.1 on a free port (`.port` once started). `fail_next(n, status,
code)` answers the next n requests with that error (ThrottlingException by default, as the service
throttles). Every request is recorded in `requests` (operation, body, content type)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, read_request, send_json

_PREFIX = "ComputeOptimizerService."
_CONTENT_TYPE = "application/x-amz-json-1.0"
_IDLE_ARN = {"EC2Instance": "ec2:{region}:{account}:instance/{id}", "EBSVolume": "ec2:{region}:{account}:volume/{id}",
             "RDSDBInstance": "rds:{region}:{account}:db:{id}", "NatGateway": "ec2:{region}:{account}:natgateway/{id}"}


@dataclass
class Call:
    operation: str
    body: dict
    content_type: str


class FakeComputeOptimizer(LocalServer):
    """In-memory recommendations of one account and region."""

    name = "fake-compute-optimizer"

    def __init__(self, account: str = "123456789012", region: str = "us-east-1", port: int = 0,
                 host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.account, self.region = account, region
        self.requests: list[Call] = []
        self._instances: list[dict] = []
        self._idle: list[dict] = []
        self._failures: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    # ---- state set-up ------------------------------------------------------------------------

    def add_instance(self, instance_id: str, current: str, *, finding: str = "Overprovisioned",
                     options: tuple[tuple[str, float], ...] = (), discounted: float | None = None,
                     cpu_max: float = 12.0) -> None:
        """An EC2 recommendation; `options` are (instance type, estimated monthly savings) by rank."""
        opts = []
        for rank, (itype, saving) in enumerate(options, start=1):
            opt = {"instanceType": itype, "rank": rank, "performanceRisk": 1.0, "migrationEffort": "Low",
                   "projectedUtilizationMetrics": [{"name": "CPU", "statistic": "Maximum", "value": cpu_max * 2}],
                   "platformDifferences": [],
                   "savingsOpportunity": _saving(saving)}
            if discounted is not None and rank == 1:
                opt["savingsOpportunityAfterDiscounts"] = _saving(discounted)
            opts.append(opt)
        reasons = {"Overprovisioned": ["CPUOverprovisioned", "MemoryOverprovisioned"],
                   "Underprovisioned": ["CPUUnderprovisioned"]}.get(finding, [])
        with self._lock:
            self._instances.append({
                "instanceArn": f"arn:aws:ec2:{self.region}:{self.account}:instance/{instance_id}",
                "accountId": self.account, "instanceName": instance_id, "currentInstanceType": current,
                "finding": finding, "findingReasonCodes": reasons, "instanceState": "running",
                "utilizationMetrics": [{"name": "CPU", "statistic": "Maximum", "value": cpu_max}],
                "lookBackPeriodInDays": 14.0, "recommendationOptions": opts, "currentPerformanceRisk": "VeryLow",
                "recommendationSources": [{"recommendationSourceArn": f"arn:aws:ec2:{self.region}:{self.account}:"
                                           f"instance/{instance_id}", "recommendationSourceType": "Ec2Instance"}],
                "lastRefreshTimestamp": 1764460800.0, "idle": "False",
                "effectiveRecommendationPreferences": {"cpuVendorArchitectures": ["CURRENT"],
                                                       "enhancedInfrastructureMetrics": "Inactive",
                                                       "lookBackPeriod": "DAYS_14",
                                                       "savingsEstimationMode": {"source": "PublicPricing"}}})

    def add_idle(self, resource_type: str, resource_id: str, *, saving: float | None = 20.0,
                 finding: str = "Idle") -> None:
        arn = "arn:aws:" + _IDLE_ARN[resource_type].format(region=self.region, account=self.account, id=resource_id)
        rec = {"resourceArn": arn, "resourceId": resource_id, "resourceType": resource_type,
               "accountId": self.account, "finding": finding,
               "findingDescription": f"This {resource_type} is {finding.lower()} over the look-back period.",
               "utilizationMetrics": [{"name": "CPU", "statistic": "Maximum", "value": 0.6}],
               "lookBackPeriodInDays": 14.0, "lastRefreshTimestamp": 1764460800.0, "tags": []}
        if saving is not None:
            rec["savingsOpportunity"] = {"savingsOpportunityPercentage": 100.0,
                                         "estimatedMonthlySavings": {"currency": "USD", "value": saving}}
        with self._lock:
            self._idle.append(rec)

    def fail_next(self, count: int, status: int = 400, code: str = "ThrottlingException") -> None:
        with self._lock:
            self._failures.extend([(status, code)] * count)

    def calls(self, operation: str) -> list[Call]:
        return [c for c in self.requests if c.operation == operation]

    # ---- answers -----------------------------------------------------------------------------

    def _answer(self, operation: str, body: dict) -> tuple[int, dict]:
        with self._lock:
            if self._failures:
                status, code = self._failures.pop(0)
                return status, {"__type": code, "message": "Rate exceeded" if "Throttl" in code else code}
        if operation == "GetEC2InstanceRecommendations":
            with self._lock:
                items = [r for r in self._instances if _matches(r, body.get("filters", []), {"Finding": "finding"})]
            return _page(items, body, "instanceRecommendations")
        if operation == "GetIdleRecommendations":
            with self._lock:
                items = [r for r in self._idle if _matches(r, body.get("filters", []),
                                                           {"Finding": "finding", "ResourceType": "resourceType"})]
            return _page(items, body, "idleRecommendations")
        return 400, {"__type": "UnknownOperationException", "message": f"{operation} is not served here"}

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                _, _, raw, body = read_request(self)
                target = self.headers.get("X-Amz-Target") or ""
                operation = target.removeprefix(_PREFIX)
                with fake._lock:
                    fake.requests.append(Call(operation, body if isinstance(body, dict) else {},
                                              self.headers.get("Content-Type") or ""))
                if not target.startswith(_PREFIX) or not isinstance(body, dict):
                    status, payload = 400, {"__type": "SerializationException",
                                            "message": "expected a JSON 1.0 body with X-Amz-Target"}
                else:
                    status, payload = fake._answer(operation, body)
                send_json(self, status, json.dumps(payload).encode(), {"x-amzn-RequestId": "fake-co"},
                          content_type=_CONTENT_TYPE)

        return Handler


def _saving(value: float) -> dict:
    return {"savingsOpportunityPercentage": 40.0, "estimatedMonthlySavings": {"currency": "USD", "value": value}}


def _matches(item: dict, filters: list[dict], fields: dict[str, str]) -> bool:
    return all(item.get(fields.get(f["name"], f["name"])) in f.get("values", []) for f in filters)


def _page(items: list[dict], body: dict, key: str) -> tuple[int, dict]:
    start = int(body.get("nextToken") or 0)
    end = start + int(body.get("maxResults") or 100)
    out = {key: items[start:end], "errors": []}
    if end < len(items):
        out["nextToken"] = str(end)
    return 200, out
