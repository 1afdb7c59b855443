"""List prices from the Azure Retail Prices API (`GET /api/retail/prices`, no authentication): the Linux
pay-as-you-go and spot hourly prices of VM sizes, managed disk tiers' monthly prices and the Standard
public IP's hourly price. OData `$filter` queries, NextPageLink pages followed, 429s retried with their
Retry-After within bounds and every wait reported; money read as exact decimals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Iterator
from urllib.parse import urlsplit

import requests

from multicloud.clouds.common import mount_recording_retry
from multicloud.core.errors import InvalidInput, PermissionDenied, Throttled, Transient
from multicloud.core.rightsizing.price_catalogs import (
    PriceReading, azure_disk_filter, azure_ip_filter, azure_shape_price, azure_unit_price, azure_vm_filter,
)
from multicloud.core.rightsizing.prices import Shape

DEFAULT_BASE_URL = "https://prices.azure.com"
API_VERSION = "2023-01-01-preview"  # filter values are case-sensitive from this version on
_PATH = "/api/retail/prices"


@dataclass(frozen=True)
class RetailRetry:
    """`attempts` retries at most of a 429, 5xx or broken connection, exponential backoff from
    `backoff_seconds` up to `backoff_max_seconds`; a Retry-After is waited for up to
    `max_retry_after_seconds`."""

    attempts: int = 4
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    max_retry_after_seconds: int = 120


def read_prices(shapes: Iterable[tuple[str, Shape]], *, disks: Iterable[tuple[str, str]] = (),
                ip_regions: Iterable[str] = (), base_url: str = DEFAULT_BASE_URL, currency: str = "USD",
                retry: RetailRetry = RetailRetry(), timeout: tuple[float, float] = (10.0, 60.0)) -> PriceReading:
    """A `ShapePrice` for every (armRegionName, armSkuName shape) in `shapes`, from one query per size
    (its Linux on-demand and spot meters; a size the API does not price is kept, unpriced, with a note);
    the monthly price of every (region, disk tier such as "P10 LRS") in `disks`; the Standard static
    public IPv4 hourly price in each of `ip_regions`. Raises InvalidInput naming `base_url`, or a
    refused query; Throttled or Transient when the retries are spent."""
    reading = PriceReading()
    api = _RetailApi(_session(retry, reading.throttle_waits), _base(base_url), currency, timeout, reading)
    try:
        for region, shape in dict.fromkeys(shapes):
            items = list(api.items(azure_vm_filter(region, shape.type)))
            reading.prices.append(azure_shape_price(shape, region, items))
        for region, tier in dict.fromkeys(disks):
            items = list(api.items(azure_disk_filter(region, tier)))
            reading.unit_prices.append(azure_unit_price(region, "disk", tier, "month", items, "1/Month"))
        for region in dict.fromkeys(ip_regions):
            items = [i for i in api.items(azure_ip_filter(region)) if "IPv4 Static" in str(i.get("meterName", ""))]
            reading.unit_prices.append(azure_unit_price(region, "ip", "standard-ipv4-static", "hour", items, "1 Hour"))
    finally:
        api.session.close()
    return reading


@dataclass
class _RetailApi:
    session: requests.Session
    base: str
    currency: str
    timeout: tuple[float, float]
    reading: PriceReading

    def items(self, odata_filter: str) -> Iterator[dict]:
        """Every item of one filter, following NextPageLink (only on the same scheme and host)."""
        params = {"api-version": API_VERSION, "currencyCode": self.currency, "$filter": odata_filter}
        url: str | None = self.base + _PATH
        while url:
            page = self._get(url, params, odata_filter)
            yield from page.get("Items") or []
            url, params = page.get("NextPageLink"), None
            if url and urlsplit(url)[:2] != urlsplit(self.base)[:2]:
                raise InvalidInput(f"Azure Retail Prices' NextPageLink leaves {self.base}: {urlsplit(url).netloc}",
                                   target=odata_filter)

    def _get(self, url: str, params: dict | None, target: str) -> dict:
        self.reading.requests["retail prices"] += 1
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Transient(f"Azure Retail Prices unreachable: {type(exc).__name__}", target=target) from exc
        if resp.status_code >= 400:
            raise _refused(resp, target)
        try:
            page = json.loads(resp.content, parse_float=Decimal)
        except ValueError:
            raise Transient(f"Azure Retail Prices answered {resp.status_code} with a body that is not JSON",
                            target=target) from None
        if not isinstance(page, dict):
            raise Transient("Azure Retail Prices answered a page that is not an object", target=target)
        return page


def _session(retry: RetailRetry, waits: list[float]) -> requests.Session:
    session = requests.Session()
    mount_recording_retry(session, retry.attempts, retry.backoff_seconds, retry.backoff_max_seconds,
                          retry.max_retry_after_seconds, waits)
    return session


def _base(base_url: str) -> str:
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"Azure Retail Prices base URL {base_url!r} is not an http(s) URL", target="base_url")
    return base_url.rstrip("/")


def _refused(resp: requests.Response, target: str) -> Exception:
    try:
        body = resp.json()
        error = body.get("Error") or body.get("error") or {}
        message = error.get("Message") or error.get("message") or resp.reason
    except ValueError:
        message = resp.reason
    text = f"Azure Retail Prices {resp.status_code}: {message}"
    if resp.status_code == 429:
        return Throttled(f"{text} (retries spent)", target=target)
    if resp.status_code in (401, 403):
        return PermissionDenied(text, target=target)
    if resp.status_code >= 500:
        return Transient(text, target=target)
    return InvalidInput(text, target=target)
