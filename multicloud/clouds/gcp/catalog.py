"""The GCP Cloud Billing Catalog (services and their SKU prices) read page by page into pandas
frames through `google-cloud-billing`'s CloudCatalogClient, prices as exact decimals."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any, Iterator
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa

from multicloud.clouds.common import DEFAULT_RETRY, recording_sleep, retried
from multicloud.clouds.gcp.storage import map_error as _google_error
from multicloud.core.errors import InvalidInput, NotFound, StoreError
from multicloud.core.retry import RetryPolicy

MONEY = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("us", tz="UTC")
PAGE_SIZE = 5000  # the API's largest page
SERVICE_ID = re.compile(r"^(?:services/)?([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4})$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_QUANTUM = Decimal(1).scaleb(-18)
_DECIMAL38 = Context(prec=38, rounding=ROUND_HALF_EVEN)

SERVICE_SCHEMA = pa.schema([("service_id", pa.string()), ("display_name", pa.string()),
                            ("business_entity_name", pa.string()), ("name", pa.string())])
SKU_SCHEMA = pa.schema([
    ("sku_id", pa.string()), ("description", pa.string()), ("service_id", pa.string()),
    ("service_name", pa.string()), ("resource_family", pa.string()), ("resource_group", pa.string()),
    ("usage_type", pa.string()), ("service_regions", pa.string()), ("usage_unit", pa.string()),
    ("usage_unit_description", pa.string()), ("unit_price", MONEY), ("tier_start_amount", MONEY),
    ("tier_count", pa.int32()), ("currency", pa.string()), ("effective_time", TIMESTAMP),
])


def list_services(*, endpoint: str | None = None, credentials: Any = None, page_size: int = PAGE_SIZE,
                  timeout_seconds: float = 60.0, retry: RetryPolicy = DEFAULT_RETRY) -> Iterator[pd.DataFrame]:
    """One frame per page of the catalog's public services: `service_id`, `display_name`,
    `business_entity_name`, `name` (all string, pyarrow-backed).

    `endpoint` overrides the API's (`https://cloudbilling.googleapis.com`); `credentials`
    default to application default credentials, or to anonymous ones for a plain-HTTP endpoint,
    which must be on this machine. Raises InvalidInput naming `endpoint`, `credentials` or
    `page_size` when called; while iterating PermissionDenied, Throttled, Transient (after
    retries) and InvalidInput."""
    _check_page_size(page_size)
    client = _client(endpoint, credentials)
    return _pages(client, "list_services", {"page_size": page_size}, _service_frame, "services",
                  timeout_seconds, retry)


def list_skus(service: str, *, endpoint: str | None = None, credentials: Any = None, currency: str = "USD",
              page_size: int = PAGE_SIZE, timeout_seconds: float = 60.0, retry: RetryPolicy = DEFAULT_RETRY,
              waits: list[float] | None = None) -> Iterator[pd.DataFrame]:
    """One frame per page of `service`'s SKUs with their current list price in `currency`.

    `service` is a service id ("6F81-5844-456A", or "services/6F81-5844-456A") or a display
    name ("Compute Engine", matched without regard to case; looked up through list_services).
    Columns (pyarrow-backed): `sku_id`, `description`, `service_id`, `service_name`,
    `resource_family`, `resource_group`, `usage_type`, `service_regions` (joined by ','),
    `usage_unit`, `usage_unit_description` (string); `unit_price` (decimal128(38, 18), units +
    nanos / 1e9 of the first tier), `tier_start_amount` (decimal, that tier's start),
    `tier_count` (int32: more than 1 means higher tiers price differently), `currency`
    (string), `effective_time` (timestamp[us, UTC]). A SKU without pricing has empty prices.

    `waits`, when given, gets the seconds of every wait before a retry.

    Raises InvalidInput naming `service`, `currency`, `page_size`, `endpoint` or `credentials`
    when called; NotFound naming `service` when the catalog has no such service (an unknown
    name is found out when called, an unknown id on the first page); PermissionDenied,
    Throttled, Transient (after retries) and InvalidInput while iterating."""
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise InvalidInput(f"currency {currency!r} is not an ISO 4217 code such as USD", target="currency")
    if not isinstance(service, str) or not service.strip():
        raise InvalidInput(f"service {service!r} is neither a service id nor a display name", target="service")
    _check_page_size(page_size)
    client = _client(endpoint, credentials)
    match = SERVICE_ID.match(service.strip())
    try:
        service_id = match.group(1) if match else _service_id_by_name(client, service.strip(), timeout_seconds, retry)
    except BaseException:
        client.transport.close()
        raise
    request = {"parent": f"services/{service_id}", "currency_code": currency, "page_size": page_size}
    return _pages(client, "list_skus", request, _sku_frame, service, timeout_seconds, retry, waits)


# ---- clients ----------------------------------------------------------------------------------

def _client(endpoint: str | None, credentials: Any):
    """A REST CloudCatalogClient. Anonymous credentials for a plain-HTTP endpoint, which must
    be this machine: no token of ours travels unencrypted."""
    from google.cloud.billing_v1 import CloudCatalogClient

    options = None
    if endpoint is not None:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"endpoint {endpoint!r} is not an http(s) URL or host", target="endpoint")
        if parts.scheme == "http":
            if not _loopback(parts.hostname):
                raise InvalidInput("plain-HTTP endpoints must be on this machine (127.0.0.1, localhost)",
                                   target="endpoint")
            from google.auth.credentials import AnonymousCredentials

            if credentials is None:
                credentials = AnonymousCredentials()
            elif not isinstance(credentials, AnonymousCredentials):
                raise InvalidInput("credentials are never sent over plain HTTP: use an https endpoint",
                                   target="credentials")
        options = {"api_endpoint": endpoint}
    try:
        return CloudCatalogClient(transport="rest", client_options=options, credentials=credentials)
    except Exception as exc:  # e.g. no application default credentials
        mapped = _mapped(exc, "cloudbilling")
        if mapped is exc:
            raise
        raise mapped from exc


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_page_size(page_size: int) -> None:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= PAGE_SIZE:
        raise InvalidInput(f"page_size {page_size!r} is not 1-{PAGE_SIZE}", target="page_size")


def _mapped(exc: Exception, target: str) -> Exception:
    """Google errors classified as Cloud Storage classifies them, said as the catalog's."""
    mapped = _google_error(exc, target)
    if mapped is exc or not isinstance(mapped, StoreError):
        return mapped
    return type(mapped)(f"Cloud Billing Catalog: {exc}", target=target)


def _call(fn, target: str, retry: RetryPolicy, waits: list[float] | None = None):
    return retried(fn, lambda exc: _mapped(exc, target), retry, recording_sleep(waits))


def _pages(client, method: str, request: dict, to_frame, target: str, timeout: float,
           retry: RetryPolicy, waits: list[float] | None = None) -> Iterator[pd.DataFrame]:
    """Page by page, each page one request (its own timeout and retries, the SDK's retries off)."""
    list_method = getattr(client, method)
    try:
        token = ""
        while True:
            page_request = dict(request, page_token=token)
            # The pager holds the first response only; its fields are that page's.
            pager = _call(lambda: list_method(request=page_request, retry=None, timeout=timeout), target, retry,
                          waits)
            yield to_frame(pager.services if method == "list_services" else pager.skus)
            token = pager.next_page_token
            if not token:
                return
    finally:
        client.transport.close()


def _service_id_by_name(client, name: str, timeout: float, retry: RetryPolicy) -> str:
    """The id of the service called `name` (case-insensitive). Raises NotFound naming it,
    InvalidInput when several services share the name."""
    found: list[str] = []
    token = ""
    while True:
        request = {"page_size": PAGE_SIZE, "page_token": token}
        pager = _call(lambda: client.list_services(request=request, retry=None, timeout=timeout), name, retry)
        found += [s.service_id for s in pager.services if s.display_name.casefold() == name.casefold()]
        token = pager.next_page_token
        if not token:
            break
    if not found:
        raise NotFound(f"the Cloud Billing catalog has no service named {name!r}", target=name)
    if len(found) > 1:
        raise InvalidInput(f"several services are named {name!r} ({', '.join(found)}): give the id",
                           target="service")
    return found[0]


# ---- frames -----------------------------------------------------------------------------------

def _service_frame(services) -> pd.DataFrame:
    rows = [{"service_id": s.service_id, "display_name": s.display_name,
             "business_entity_name": s.business_entity_name, "name": s.name} for s in services]
    return pa.Table.from_pylist(rows, schema=SERVICE_SCHEMA).to_pandas(types_mapper=pd.ArrowDtype)


def _sku_frame(skus) -> pd.DataFrame:
    return pa.Table.from_pylist([_sku_row(s) for s in skus], schema=SKU_SCHEMA).to_pandas(types_mapper=pd.ArrowDtype)


def _sku_row(sku) -> dict:
    category = sku.category
    info = sku.pricing_info[0] if sku.pricing_info else None
    expression = info.pricing_expression if info is not None else None
    tiers = list(expression.tiered_rates) if expression is not None else []
    first = tiers[0] if tiers else None
    return {
        "sku_id": sku.sku_id, "description": sku.description,
        "service_id": sku.name.split("/")[1] if sku.name.startswith("services/") else None,
        "service_name": category.service_display_name, "resource_family": category.resource_family,
        "resource_group": category.resource_group, "usage_type": category.usage_type,
        "service_regions": ",".join(sku.service_regions),
        "usage_unit": expression.usage_unit if expression is not None else None,
        "usage_unit_description": expression.usage_unit_description if expression is not None else None,
        "unit_price": _money(first.unit_price.units, first.unit_price.nanos, sku.sku_id) if first else None,
        "tier_start_amount": _amount(first.start_usage_amount, sku.sku_id) if first else None,
        "tier_count": len(tiers),
        "currency": first.unit_price.currency_code if first else None,
        "effective_time": _utc(info.effective_time) if info is not None and "effective_time" in info else None,
    }


def _money(units: int, nanos: int, sku_id: str) -> Decimal:
    """Money {units, nanos}: units + nanos / 10**9, exactly."""
    if not -999_999_999 <= nanos <= 999_999_999:
        raise InvalidInput(f"SKU {sku_id} has a price with nanos {nanos} outside ±999,999,999", target=sku_id)
    return (Decimal(units) + Decimal(nanos).scaleb(-9)).quantize(_QUANTUM, context=_DECIMAL38)


def _amount(value: float, sku_id: str) -> Decimal:
    """A tier's start (a double in the API) by its shortest decimal spelling: 1024.0 is 1024."""
    try:
        return Decimal(repr(float(value))).quantize(_QUANTUM, context=_DECIMAL38)
    except InvalidOperation:
        raise InvalidInput(f"SKU {sku_id} has a tier start {value!r} beyond decimal(38, 18)", target=sku_id) from None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
