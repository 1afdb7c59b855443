"""A local stand-in for the Azure Retail Prices API, so the project's reader (its OData filters, paging
and throttling handling) runs against the real wire shape. Binds 127.0.0.1 on a free port.

    GET /api/retail/prices?api-version=&currencyCode=&$filter=&$skip=

`$filter` takes a small OData subset, as the readers use it: clauses joined by `and`, each
`field eq 'value'`, `contains(field,'value')` or `contains(field,'value') eq true|false`; values are
case-sensitive (as from api-version 2023-01-01-preview), field names not. The answer is
`{"BillingCurrency","CustomerEntityId","CustomerEntityType","Items":[...],"NextPageLink","Count"}`
in pages of `page_size` items, NextPageLink an absolute URL on this server. Prices are held in USD
and converted at a fixed rate for another currencyCode. `fail_next` answers 429 with Retry-After
(or any status); `delay_next` delays answers. Every request is recorded in `requests`."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from decimal import Decimal
from urllib.parse import urlencode

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, Recorded, read_request, send_json

RATES = {"USD": Decimal(1), "EUR": Decimal("0.9")}
_CLAUSE = re.compile(
    r"^\s*(?:(?P<field>\w+)\s+eq\s+'(?P<value>(?:[^']|'')*)'"
    r"|contains\(\s*(?P<cfield>\w+)\s*,\s*'(?P<cvalue>(?:[^']|'')*)'\s*\)(?:\s+eq\s+(?P<truth>true|false))?)\s*$",
    re.IGNORECASE)
_AND = re.compile(r"\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)


def vm_item(region: str, arm_sku: str, meter: str, price: str, *, kind: str = "on demand", series: str = "DSv5",
            effective: str = "2026-10-01T00:00:00Z", price_type: str = "Consumption") -> dict:
    """A Virtual Machines price item: `kind` "on demand" (Linux), "spot", "low priority" or "windows"."""
    suffix = {"on demand": "", "spot": " Spot", "low priority": " Low Priority", "windows": ""}[kind]
    product = f"Virtual Machines {series} Series" + (" Windows" if kind == "windows" else "")
    return _item(region, "Virtual Machines", product, f"{meter}{suffix}", f"{meter}{suffix}", price, "1 Hour",
                 effective, price_type, arm_sku=arm_sku)


def disk_item(region: str, tier: str, price: str, *, product: str = "Premium SSD Managed Disks",
              effective: str = "2026-10-01T00:00:00Z") -> dict:
    """A managed disk tier's monthly item (e.g. tier "P10 LRS")."""
    return _item(region, "Storage", product, tier, f"{tier} Disk", price, "1/Month", effective, "Consumption")


def ip_item(region: str, price: str, *, meter: str = "Standard IPv4 Static Public IP",
            effective: str = "2026-10-01T00:00:00Z") -> dict:
    """A public IP address hourly item."""
    return _item(region, "Virtual Network", "IP Addresses", "Standard", meter, price, "1 Hour", effective, "Consumption")


def _item(region: str, service: str, product: str, sku_name: str, meter: str, price: str, unit: str,
          effective: str, price_type: str, arm_sku: str = "") -> dict:
    return {"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": Decimal(price), "unitPrice": Decimal(price),
            "armRegionName": region, "location": region, "effectiveStartDate": effective,
            "meterId": hashlib.sha1(f"{region}/{product}/{meter}".encode()).hexdigest()[:16], "meterName": meter,
            "productId": "DZH318Z0BQPS", "skuId": "DZH318Z0BQPS/00TG", "productName": product, "skuName": sku_name,
            "serviceName": service, "serviceId": "DZH313Z7MMC8", "serviceFamily": "Compute", "unitOfMeasure": unit,
            "type": price_type, "isPrimaryMeterRegion": True, "armSkuName": arm_sku}


def parse_filter(text: str):
    """The predicate of an OData filter in the subset, or a ValueError naming the clause it cannot read."""
    tests = []
    for clause in _AND.split(text.strip()):
        found = _CLAUSE.match(clause)
        if not found:
            raise ValueError(f"Invalid OData filter clause: {clause!r}")
        if found["field"]:
            field, value = found["field"].lower(), found["value"].replace("''", "'")
            tests.append(lambda item, f=field, v=value: str(_field(item, f)) == v)
        else:
            field, value = found["cfield"].lower(), found["cvalue"].replace("''", "'")
            wanted = (found["truth"] or "true").lower() == "true"
            tests.append(lambda item, f=field, v=value, w=wanted: (v in str(_field(item, f))) == w)
    return lambda item: all(t(item) for t in tests)


def _field(item: dict, name: str):
    name = "type" if name == "pricetype" else name  # the filter's priceType is the item's `type`
    return next((v for k, v in item.items() if k.lower() == name), "")


class FakeAzurePrices(LocalServer):
    """Price items behind an HTTP server; `with FakeAzurePrices(page_size=2) as api:`."""

    name = "fake-azure-prices"

    def __init__(self, port: int = 0, host: str = "127.0.0.1", page_size: int = 1000):
        self.host, self.port, self.page_size = host, port, page_size
        self.items: list[dict] = []
        self.requests: list[Recorded] = []
        self._failures: list[tuple[int, str | None]] = []
        self._delays: list[float] = []
        self._lock = threading.Lock()

    def add_items(self, *items: dict) -> None:
        with self._lock:
            self.items.extend(items)

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "1") -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        with self._lock:
            self._delays.extend([seconds] * count)

    def _answer(self, path: str, query: dict) -> tuple[int, dict, dict]:
        with self._lock:
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": retry_after} if retry_after else {}
                return status, _error("TooManyRequests" if status == 429 else "InternalServerError",
                                      "injected failure by the fake Retail Prices API"), headers
        if path.rstrip("/").lower() != "/api/retail/prices":
            return 404, _error("NotFound", f"no route {path}"), {}
        currency = (query.get("currencyCode") or ["USD"])[0].strip("'")
        if currency not in RATES:
            return 400, _error("BadRequest", f"Invalid currency code {currency}"), {}
        try:
            keep = parse_filter((query.get("$filter") or [""])[0]) if query.get("$filter") else (lambda item: True)
            skip = int((query.get("$skip") or ["0"])[0])
        except ValueError as exc:
            return 400, _error("BadRequest", str(exc)), {}
        with self._lock:
            matched = [i for i in self.items if keep(i)]
        page = [_converted(i, currency) for i in matched[skip:skip + self.page_size]]
        next_link = None
        if skip + len(page) < len(matched):
            kept = {k: v[0] for k, v in query.items() if k != "$skip"}
            next_link = f"{self.url}/api/retail/prices?{urlencode({**kept, '$skip': skip + len(page)})}"
        return 200, {"BillingCurrency": currency, "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
                     "Items": page, "NextPageLink": next_link, "Count": len(page)}, {}

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                path, query, _, _ = read_request(self)
                with fake._lock:
                    fake.requests.append(Recorded("GET", path, query, None, self.headers.get("Authorization")))
                    delay = fake._delays.pop(0) if fake._delays else 0.0
                if delay:
                    time.sleep(delay)
                status, payload, headers = fake._answer(path, query)
                send_json(self, status, _dumps(payload), headers)

        return Handler


def _converted(item: dict, currency: str) -> dict:
    rate = RATES[currency]
    return {**item, "currencyCode": currency, "retailPrice": item["retailPrice"] * rate,
            "unitPrice": item["unitPrice"] * rate}


def _dumps(payload: dict) -> bytes:
    return _encode(payload).encode()


def _encode(value) -> str:
    """JSON with decimals written as plain numbers, exactly as held (json.dumps would refuse them)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


def _error(code: str, message: str) -> dict:
    return {"Error": {"Code": code, "Message": message}}
