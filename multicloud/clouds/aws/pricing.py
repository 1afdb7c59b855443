"""List prices from the AWS Price List Query API (boto3 `pricing` GetProducts): the Linux, shared-tenancy
on-demand hourly price of EC2 instance types with their vCPUs and memory, EBS volume GB-month prices and
the idle public IPv4 address hourly price. Every query follows NextToken through boto3's paginator; a
throttled page is retried from its own token, waiting at least the service's Retry-After, and the waits
are reported."""

from __future__ import annotations

import json
import time
from typing import Callable, Iterable, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.session import client
from multicloud.clouds.common import DEFAULT_RETRY
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, Throttled, is_retryable
from multicloud.core.retry import RetryPolicy
from multicloud.core.rightsizing.price_catalogs import PriceReading, aws_shape_price, aws_unit_price
from multicloud.core.rightsizing.prices import Shape

#: The Price List Query API answers in us-east-1 (also eu-central-1, ap-south-1), whatever region is priced.
PRICING_REGION = "us-east-1"
PAGE_SIZE = 100  # GetProducts' largest MaxResults
#: Longest Retry-After a throttled answer may impose; a longer one fails the read as Throttled.
MAX_RETRY_AFTER_SECONDS = 120.0
_IDLE_IPV4 = "PublicIPv4:IdleAddress"


def read_prices(conn: Connection, shapes: Iterable[tuple[str, Shape]], *, disks: Iterable[tuple[str, str]] = (),
                ip_regions: Iterable[str] = (), endpoint: str | None = None, retry: RetryPolicy = DEFAULT_RETRY,
                sleep: Callable[[float], None] = time.sleep) -> PriceReading:
    """A `ShapePrice` for every (region, shape) in `shapes` (an instance type the catalog does not list
    is kept, unpriced, with a note), the GB-month price of every (region, EBS volume type) in `disks`, and
    the hourly price of an idle public IPv4 address in each of `ip_regions`.

    `endpoint` (e.g. a local fake) wins over the connection's endpoint; with neither, boto3's own
    (`AWS_ENDPOINT_URL_PRICING`, else the public API). Raises the taxonomy error of a request that still
    fails after `retry`'s retries, InvalidInput for an answer that is not a price list."""
    api = client(conn.model_copy(update={"endpoint": endpoint or conn.endpoint, "region": PRICING_REGION}),
                 "pricing")
    reading = PriceReading()
    for region, shape in dict.fromkeys(shapes):
        filters = {"instanceType": shape.type, "regionCode": region, "operatingSystem": "Linux",
                   "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
        products = list(_products(api, "AmazonEC2", filters, reading, retry, sleep))
        reading.prices.append(aws_shape_price(shape, region, products))
    for region, volume_type in dict.fromkeys(disks):
        filters = {"productFamily": "Storage", "volumeApiName": volume_type, "regionCode": region}
        products = list(_products(api, "AmazonEC2", filters, reading, retry, sleep))
        reading.unit_prices.append(aws_unit_price(region, "disk", volume_type, "GB-month", products, "GB-Mo"))
    for region in dict.fromkeys(ip_regions):
        filters = {"group": "VPCPublicIPv4Address", "regionCode": region}
        products = [p for p in _products(api, "AmazonVPC", filters, reading, retry, sleep)
                    if str(p.get("product", {}).get("attributes", {}).get("usagetype", "")).endswith(_IDLE_IPV4)]
        reading.unit_prices.append(aws_unit_price(region, "ip", "public-ipv4-idle", "hour", products, "Hrs"))
    return reading


def _products(api, service_code: str, filters: dict[str, str], reading: PriceReading, retry: RetryPolicy,
              sleep: Callable[[float], None]) -> Iterator[dict]:
    """Every product of one GetProducts query, page by page. After a throttled or failed page the
    paginator starts again from the last token it handed out, so no page is read twice."""
    target = f"pricing:{service_code}:" + ",".join(f"{k}={v}" for k, v in filters.items())
    terms = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()]
    token, delays = None, retry.delays()
    while True:
        pages = api.get_paginator("get_products").paginate(
            ServiceCode=service_code, Filters=terms, FormatVersion="aws_v1",
            PaginationConfig={"PageSize": PAGE_SIZE, "StartingToken": token})
        try:
            for page in pages:
                reading.requests["GetProducts"] += 1
                yield from (_product(entry, target) for entry in page.get("PriceList", []))
                token, delays = page.get("NextToken"), retry.delays()
                if not token:
                    return
            return
        except (ClientError, BotoCoreError) as exc:
            reading.requests["GetProducts"] += 1
            _wait_or_raise(exc, next(delays, None), target, reading, sleep)


def _product(entry, target: str) -> dict:
    """A PriceList entry: a JSON document in a string (boto3 does not parse it)."""
    try:
        product = json.loads(entry) if isinstance(entry, str) else entry
    except ValueError as exc:
        raise InvalidInput(f"AWS Pricing answered a PriceList entry that is not JSON: {exc}", target=target) from None
    if not isinstance(product, dict):
        raise InvalidInput("AWS Pricing answered a PriceList entry that is not a product", target=target)
    return product


def _wait_or_raise(exc: Exception, delay: float | None, target: str, reading: PriceReading,
                   sleep: Callable[[float], None]) -> None:
    """Sleep before the retry (at least the answer's Retry-After) and record it, or raise the mapped error
    when it is not retryable, the retries are spent, or the service asks for more than the bound."""
    mapped = map_error(exc, target=target, service="Pricing")
    if mapped is exc:
        raise exc
    if not is_retryable(mapped) or delay is None:
        raise mapped from exc
    asked = _retry_after(exc)
    if asked is not None and asked > MAX_RETRY_AFTER_SECONDS:
        raise Throttled(f"AWS Pricing asked to wait {asked:g} s (over {MAX_RETRY_AFTER_SECONDS:g} s)",
                        target=target) from exc
    wait = max(delay, asked or 0.0)
    reading.throttle_waits.append(wait)
    sleep(wait)


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPHeaders", {})
    try:
        return max(0.0, float(headers["retry-after"])) if "retry-after" in headers else None
    except ValueError:
        return None

