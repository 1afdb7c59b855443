"""A local stand-in for the Azure Cost Management Query API, so the real `azure-mgmt-costmanagement`
client (its URL building, body serialization, auth and error handling) runs against it. Binds a free
port on 127.0.0.1 (`.port` once started).

    POST /{scope}/providers/Microsoft.CostManagement/query?api-version=...[&$skiptoken=...]

The fake holds daily cost records per scope and answers a query as Azure does: it keeps the
records inside timePeriod (both ends inclusive, by day), sums the aggregated column per
(day | month | nothing, grouping dimensions, currency), and answers with ARM's query result shape
`{"id","name","type","location","sku","eTag","properties":{"nextLink","columns","rows"}}`, cost
values as JSON numbers with every digit. Rows come `page_size` at a time; `nextLink` carries a
`$skiptoken` that only the same query body may use. Every request needs `api-version` and a
bearer token; errors carry ARM's error body (401, 403, 404, 400, and 429 with Retry-After).
Every request is recorded in `requests` so a test can assert what the SDK really sent.
`link_base` replaces the host of the nextLinks it writes; `delay_next` holds answers back."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from urllib.parse import quote

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, Recorded, read_request, send_json

_QUERY_PATH = re.compile(r"^/(?P<scope>.+?)/providers/microsoft\.costmanagement/query/?$", re.IGNORECASE)
DIMENSIONS = ("SubscriptionId", "SubscriptionName", "ResourceGroupName", "ResourceLocation", "ServiceName",
              "MeterCategory", "ChargeType", "PricingModel", "ResourceId")
_ERRORS = {
    401: ("InvalidAuthenticationToken", "The access token is invalid."),
    403: ("RBACAccessDenied", "The client does not have authorization to perform action."),
    429: ("429", "Too many requests. Please retry."),
    500: ("InternalServerError", "An internal error occurred."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}


@dataclass
class _Fault:
    status: int
    retry_after: int | None


class FakeCostManagement(LocalServer):
    name = "fake-costmanagement"

    """Cost records behind an HTTP server; `with FakeCostManagement() as fake:` starts and stops it.

    `add_costs(scope, records)`: each record is a dict with `date` (a date), the dimensions it
    has (SubscriptionId, ServiceName, ...), `Cost` (ActualCost, a Decimal or string), optional
    `AmortizedCost` (defaults to Cost) and `Currency` (default USD). `fail_next(status, count,
    retry_after)` makes the next requests fail with Azure's error body."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", page_size: int = 1000):
        self.host, self.port, self.page_size = host, port, page_size
        self.requests: list[Recorded] = []
        self._costs: dict[str, list[dict]] = {}
        self._tokens: dict[str, tuple[str, int]] = {}  # skiptoken -> (canonical body, row offset)
        self._faults: list[_Fault] = []
        self._delays: list[float] = []
        self.link_base: str | None = None
        self._lock = threading.Lock()

    def add_costs(self, scope: str, records: list[dict]) -> None:
        with self._lock:
            self._costs.setdefault(_scope_key(scope), []).extend(dict(r) for r in records)

    def fail_next(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        with self._lock:
            self._faults.extend(_Fault(status, retry_after) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._delays.extend([seconds] * count)

    def queries(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    # ---- the query -----------------------------------------------------------------------

    def _query(self, scope: str, query: dict, body: dict) -> tuple[int, dict]:
        problem = _check_body(body)
        if problem:
            return 400, _error("BadRequest", problem)
        key = _scope_key(scope)
        if key not in self._costs:
            return 404, _error("NotFound", f"Scope '/{scope}' was not found or has no billing data.")
        canonical = json.dumps(body, sort_keys=True)
        offset = 0
        token = (query.get("$skiptoken") or [None])[0]
        if token is not None:
            held = self._tokens.get(token)
            if held is None or held[0] != canonical:
                return 400, _error("BadRequest", "The $skiptoken is invalid or does not belong to this query.")
            offset = held[1]
        columns, rows = _aggregate(self._costs[key], body)
        page = rows[offset:offset + self.page_size]
        next_link = None
        if offset + len(page) < len(rows):
            nxt = secrets.token_urlsafe(12)
            self._tokens[nxt] = (canonical, offset + len(page))
            version = (query.get("api-version") or [""])[0]
            next_link = (f"{self.link_base or self.url}/{scope}/providers/Microsoft.CostManagement/query"
                         f"?api-version={quote(version)}&$skiptoken={quote(nxt)}")
        name = secrets.token_hex(8)
        return 200, {
            "id": f"/{scope}/providers/Microsoft.CostManagement/query/{name}", "name": name,
            "type": "Microsoft.CostManagement/query", "location": None, "sku": None, "eTag": None,
            "properties": {"nextLink": next_link, "columns": columns, "rows": page},
        }

    # ---- HTTP ----------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict, dict[str, str]]:
        path, query, raw, body = read_request(handler)
        auth = handler.headers.get("Authorization")
        with self._lock:
            self.requests.append(Recorded(handler.command, path, query, body, auth))
            fault = self._faults.pop(0) if self._faults else None
            if not (auth or "").startswith("Bearer "):
                return 401, _error(*_ERRORS[401]), {"WWW-Authenticate": 'Bearer authorization_uri="https://login.example/"'}
            if fault is not None:
                code, message = _ERRORS.get(fault.status, ("Error", "injected failure"))
                headers = {}
                if fault.retry_after is not None:
                    headers = {"Retry-After": str(fault.retry_after),
                               "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": str(fault.retry_after)}
                return fault.status, _error(code, message), headers
            if "api-version" not in query:
                return 400, _error("MissingApiVersionParameter",
                                   "The api-version query parameter (?api-version=) is required for all requests."), {}
            m = _QUERY_PATH.match(path)
            if not m:
                return 404, _error("InvalidResourceType", f"The resource type could not be found for path '{path}'."), {}
            if handler.command != "POST":
                return 405, _error("MethodNotAllowed", f"{handler.command} is not supported on the query API."), {}
            if not isinstance(body, dict):
                return 400, _error("InvalidRequestContent", "The request content was invalid."), {}
            status, payload = self._query(m["scope"], query, body)
            return status, payload, {}

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _answer(self):
                status, payload, headers = fake._serve(self)
                with fake._lock:
                    delay = fake._delays.pop(0) if fake._delays else 0.0
                if delay:
                    time.sleep(delay)
                send_json(self, status, _dumps(payload).encode(),
                          {"x-ms-request-id": f"fake-{len(fake.requests)}", **headers})

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        return Handler


def _scope_key(scope: str) -> str:
    return scope.strip("/").lower()


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _check_body(body: dict) -> str | None:
    if body.get("type") not in ("ActualCost", "AmortizedCost", "Usage"):
        return f"Invalid query type '{body.get('type')}'."
    if body.get("timeframe") != "Custom":
        return "The fake answers only timeframe 'Custom'."
    period = body.get("timePeriod") or {}
    if "from" not in period or "to" not in period:
        return "timePeriod with 'from' and 'to' is required when timeframe is Custom."
    dataset = body.get("dataset") or {}
    if dataset.get("granularity", "None") not in ("Daily", "Monthly", "None"):
        return f"Invalid granularity '{dataset.get('granularity')}'."
    aggregation = dataset.get("aggregation") or {}
    if len(aggregation) != 1 or next(iter(aggregation.values())).get("name") not in ("Cost", "PreTaxCost"):
        return "The fake answers exactly one aggregation of Cost or PreTaxCost."
    for group in dataset.get("grouping") or []:
        if group.get("type") != "Dimension" or group.get("name") not in DIMENSIONS:
            return f"Invalid dimension name '{group.get('name')}' in grouping."
    return None


def _day(text: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _aggregate(records: list[dict], body: dict) -> tuple[list[dict], list[list]]:
    dataset = body["dataset"]
    granularity = dataset.get("granularity", "None")
    cost_name = next(iter(dataset["aggregation"].values()))["name"]
    groups = [g["name"] for g in dataset.get("grouping") or []]
    first, last = _day(body["timePeriod"]["from"]), _day(body["timePeriod"]["to"])
    amortized = body["type"] == "AmortizedCost"
    sums: dict[tuple, Decimal] = {}
    for rec in records:
        if not first <= rec["date"] <= last:
            continue
        when: tuple = ()
        if granularity == "Daily":
            when = (int(rec["date"].strftime("%Y%m%d")),)
        elif granularity == "Monthly":
            when = (rec["date"].strftime("%Y-%m-01T00:00:00"),)
        key = (*when, *(rec.get(g, "") for g in groups), rec.get("Currency", "USD"))
        cost = Decimal(str(rec.get("AmortizedCost", rec["Cost"]) if amortized else rec["Cost"]))
        sums[key] = sums.get(key, Decimal(0)) + cost
    columns = [{"name": cost_name, "type": "Number"}]
    if granularity == "Daily":
        columns.append({"name": "UsageDate", "type": "Number"})
    elif granularity == "Monthly":
        columns.append({"name": "BillingMonth", "type": "Datetime"})
    columns += [{"name": g, "type": "String"} for g in groups] + [{"name": "Currency", "type": "String"}]
    rows = [[total, *key] for key, total in sorted(sums.items(), key=lambda kv: tuple(map(str, kv[0])))]
    return columns, rows


def _dumps(payload: dict) -> str:
    """JSON with every Decimal written as a number with all its digits, as Azure writes costs."""
    marks: dict[str, str] = {}

    def mark(value):
        if isinstance(value, Decimal):
            token = f"@@decimal{len(marks)}@@"
            marks[token] = format(value, "f")
            return token
        raise TypeError(type(value).__name__)

    text = json.dumps(payload, default=mark)
    for token, number in marks.items():
        text = text.replace(f'"{token}"', number)
    return text
