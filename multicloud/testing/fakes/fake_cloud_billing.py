"""A local stand-in for the Cloud Billing Catalog API (v1 REST), so the real
`google-cloud-billing` CloudCatalogClient (REST transport: its URL building, JSON parsing, paging
and error mapping) runs against it. Binds a free port on 127.0.0.1
(`.port` once started).

    GET /v1/services?pageSize=&pageToken=
    GET /v1/services/{serviceId}/skus?currencyCode=&pageSize=&pageToken=

Answers with the real JSON shape (`services[]` / `skus[]` with category, serviceRegions and
pricingInfo -> pricingExpression -> tieredRates -> unitPrice {currencyCode, units (a string),
nanos}) and `nextPageToken` pages of `pageSize` items (default `page_size`). An unknown service is
404, a bad page token 400, and `fail_next(403)` etc. answer Google's JSON error body. Prices are
held in USD; another currencyCode is converted at a fixed rate, as the API converts them. Every
request is recorded in `requests`."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, read_request, send_json

#: USD -> currency rates the fake converts prices with.
RATES = {"USD": Decimal(1), "EUR": Decimal("0.9"), "JPY": Decimal("150")}
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str] = field(default_factory=dict)


def error_body(status: int, message: str) -> dict:
    """Google's JSON error body."""
    return {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}


def price(text: str) -> dict:
    """A Money value of the API from a decimal string: whole units (as a string) and nanos."""
    value = Decimal(text)
    units = int(value)  # toward zero, so units and nanos share the sign as the API requires
    nanos = int((value - units) * 1_000_000_000)
    return {"units": str(units), "nanos": nanos}


def sku(service_id: str, service_name: str, sku_id: str, description: str, tiers: list[tuple[float, str]],
        *, unit: str = "h", unit_description: str = "hour", regions: tuple[str, ...] = ("us-central1",),
        family: str = "Compute", group: str = "CPU", usage_type: str = "OnDemand",
        effective_time: str = "2026-10-01T00:00:00.000Z") -> dict:
    """A SKU of the API's shape; `tiers` are (startUsageAmount, USD price as a decimal string)."""
    return {
        "name": f"services/{service_id}/skus/{sku_id}", "skuId": sku_id, "description": description,
        "category": {"serviceDisplayName": service_name, "resourceFamily": family, "resourceGroup": group,
                     "usageType": usage_type},
        "serviceRegions": list(regions),
        "pricingInfo": [{
            "summary": "", "effectiveTime": effective_time, "currencyConversionRate": 1,
            "pricingExpression": {
                "usageUnit": unit, "usageUnitDescription": unit_description, "baseUnit": "s",
                "baseUnitDescription": "second", "baseUnitConversionFactor": 3600, "displayQuantity": 1,
                "tieredRates": [{"startUsageAmount": start, "unitPrice": {"currencyCode": "USD", **price(p)}}
                                for start, p in tiers],
            },
        }],
        "serviceProviderName": "Google",
        "geoTaxonomy": {"type": "REGIONAL" if regions != ("global",) else "GLOBAL",
                        "regions": [r for r in regions if r != "global"]},
    }


COMPUTE_ENGINE = "6F81-5844-456A"


def vm_skus(family: str, where: str, regions: tuple[str, ...], prices: dict[str, tuple[str, str]],
            effective_time: str = "2026-10-01T00:00:00.000Z") -> list[dict]:
    """Compute Engine vCPU and memory SKUs of one machine family in one location, worded as the catalog
    words them ("N2 Instance Core running in Americas", "Spot Preemptible N2 Instance Ram running in
    Americas", "Commitment v1: N2 Cpu in Americas for 1 Year"). `prices` maps "OnDemand", "Preemptible",
    "Commit1Yr", "Commit3Yr" to USD (per vCPU hour, per GiB hour); a pricing left out has no SKUs."""
    out = []
    for usage, (core, ram) in prices.items():
        for resource, price, unit, unit_description, group in (("Core", core, "h", "hour", "CPU"),
                                                                ("Ram", ram, "GiBy.h", "gibibyte hour", "RAM")):
            if usage == "OnDemand":
                description = f"{family} Instance {resource} running in {where}"
            elif usage == "Preemptible":
                description = f"Spot Preemptible {family} Instance {resource} running in {where}"
            else:
                years = usage.removeprefix("Commit").removesuffix("Yr")
                commit_resource = "Cpu" if resource == "Core" else "Ram"
                description = (f"Commitment v1: {family} {commit_resource} in {where} for {years} "
                               f"Year{'s' if years != '1' else ''}")
            sku_id = hashlib.sha1(f"{family}/{where}/{usage}/{resource}".encode()).hexdigest()[:12].upper()
            out.append(sku(COMPUTE_ENGINE, "Compute Engine", f"{sku_id[:4]}-{sku_id[4:8]}-{sku_id[8:]}", description,
                           [(0, price)], unit=unit, unit_description=unit_description, regions=regions, group=group,
                           usage_type=usage, effective_time=effective_time))
    return out


class FakeCloudBilling(LocalServer):
    name = "fake-cloud-billing"

    """Services and their SKUs behind an HTTP server; `with FakeCloudBilling() as api:` (a free port, `.port`)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", page_size: int = 5000):
        self.host, self.port, self.page_size = host, port, page_size
        self.requests: list[Request] = []
        self.services: dict[str, dict] = {}  # service id -> service JSON
        self.skus: dict[str, list[dict]] = {}  # service id -> SKU JSON list
        self._tokens: dict[str, tuple[str, int]] = {}  # page token -> (listing path, offset)
        self._faults: list[int] = []
        self._lock = threading.Lock()

    def add_service(self, service_id: str, display_name: str, skus: list[dict] = ()) -> None:
        with self._lock:
            self.services[service_id] = {"name": f"services/{service_id}", "serviceId": service_id,
                                         "displayName": display_name, "businessEntityName": "businessEntities/GCP"}
            self.skus.setdefault(service_id, []).extend(skus)

    def fail_next(self, status: int, count: int = 1) -> None:
        with self._lock:
            self._faults.extend([status] * count)

    # ---- answers ---------------------------------------------------------------------------

    def _page(self, listing: str, items: list[dict], query: dict) -> tuple[int, dict]:
        try:
            size = int((query.get("pageSize") or ["0"])[0]) or self.page_size
        except ValueError:
            return 400, error_body(400, "Invalid value for pageSize.")
        size = min(size, self.page_size)
        token = (query.get("pageToken") or [""])[0]
        offset = 0
        if token:
            held = self._tokens.get(token)
            if held is None or held[0] != listing:
                return 400, error_body(400, "Invalid page token.")
            offset = held[1]
        page = items[offset:offset + size]
        next_token = ""
        if offset + len(page) < len(items):
            next_token = secrets.token_urlsafe(12)
            self._tokens[next_token] = (listing, offset + len(page))
        key = "services" if listing == "services" else "skus"
        return 200, {key: page, "nextPageToken": next_token}

    def _answer(self, method: str, path: str, query: dict) -> tuple[int, dict]:
        if self._faults:
            status = self._faults.pop(0)
            return status, error_body(status, {403: "The caller does not have permission",
                                               429: "Quota exceeded for quota metric 'Read requests'."}
                                      .get(status, "injected failure"))
        if method != "GET":
            return 405, error_body(405, f"Method {method} is not allowed.")
        parts = path.strip("/").split("/")
        if parts == ["v1", "services"]:
            return self._page("services", list(self.services.values()), query)
        if len(parts) == 4 and parts[:2] == ["v1", "services"] and parts[3] == "skus":
            service_id = parts[2]
            if service_id not in self.services:
                return 404, error_body(404, f"Service services/{service_id} was not found.")
            currency = (query.get("currencyCode") or ["USD"])[0]
            if currency not in RATES:
                return 400, error_body(400, f"Currency code {currency} is not supported.")
            return self._page(f"skus/{service_id}", [_converted(s, currency) for s in self.skus[service_id]],
                              query)
        return 404, error_body(404, f"The requested URL {path} was not found on this server.")

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _serve(self):
                path, query, _, _ = read_request(self)
                with fake._lock:
                    fake.requests.append(Request(self.command, path, query,
                                                 {k.lower(): v for k, v in self.headers.items()}))
                    status, payload = fake._answer(self.command, path, query)
                send_json(self, status, json.dumps(payload).encode(), content_type="application/json; charset=UTF-8")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler


def _converted(sku_json: dict, currency: str) -> dict:
    """The SKU with its prices in `currency` (to the nano, half-even) and the rate used."""
    rate = RATES[currency]
    out = json.loads(json.dumps(sku_json))
    for info in out.get("pricingInfo", []):
        info["currencyConversionRate"] = float(rate)
        for tier in info.get("pricingExpression", {}).get("tieredRates", []):
            money = tier["unitPrice"]
            usd = Decimal(money["units"]) + Decimal(money["nanos"]).scaleb(-9)
            converted = (usd * rate).quantize(Decimal("1e-9"), rounding=ROUND_HALF_EVEN)
            tier["unitPrice"] = {"currencyCode": currency, **price(str(converted))}
    return out
