"""A local stand-in for the AWS Price List Query API, which moto lacks, so boto3's real `pricing` client
(JSON 1.1 over `POST /` with `X-Amz-Target: AWSPriceListService.GetProducts`, its paginator and error
parsing) runs against it. Binds 127.0.0.1 on a free port (`.port` once started).

GetProducts answers `{"FormatVersion":"aws_v1","PriceList":["<product JSON as a string>",...],"NextToken":...}`
with TERM_MATCH filters (case-insensitive, on product attributes or `productFamily`), pages of
MaxResults (at most 100, the default and the API's limit) and opaque NextTokens. `fail_next` answers the
next requests with an error (ThrottlingException + Retry-After by default); `delay_next` makes them
wait. Every request is recorded in `requests`."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, read_request, send_json

_OPERATION = "AWSPriceListService.GetProducts"
_USAGE_PREFIX = {"us-east-1": "USE1", "us-east-2": "USE2", "us-west-2": "USW2", "eu-west-1": "EU",
                 "eu-central-1": "EUC1", "ap-southeast-2": "APS2"}
_ON_DEMAND_TERM = "JRTCKXETXF"  # the OnDemand offer term code of the real catalog


@dataclass
class PricingRequest:
    """One request as the fake received it: the X-Amz-Target, the JSON body, the signature header."""

    target: str
    body: dict | None
    authorization: str | None


def _term(sku: str, unit: str, price: str, description: str, effective: str) -> dict:
    code = f"{sku}.{_ON_DEMAND_TERM}"
    return {code: {"offerTermCode": _ON_DEMAND_TERM, "sku": sku, "effectiveDate": effective, "termAttributes": {},
                   "priceDimensions": {f"{code}.6YS6EN2CT7": {
                       "rateCode": f"{code}.6YS6EN2CT7", "description": description, "beginRange": "0",
                       "endRange": "Inf", "unit": unit, "appliesTo": [], "pricePerUnit": {"USD": price}}}}}


def ec2_product(instance_type: str, region: str, price: str, *, vcpu: int, memory_gib: str,
                operating_system: str = "Linux", tenancy: str = "Shared", pre_installed: str = "NA",
                capacity: str = "Used", processor: str = "Intel Xeon Platinum 8175",
                effective: str = "2026-11-01T00:00:00Z") -> dict:
    """An EC2 instance product of the catalog's shape, with its OnDemand hourly term and a 1-year
    Reserved term (which the readers must not take for the on-demand price)."""
    sku = secrets.token_hex(8).upper()
    prefix = _USAGE_PREFIX.get(region, region)
    return {
        "product": {"productFamily": "Compute Instance", "sku": sku, "attributes": {
            "servicecode": "AmazonEC2", "instanceType": instance_type, "instanceFamily": "General purpose",
            "vcpu": str(vcpu), "memory": f"{memory_gib} GiB", "physicalProcessor": processor,
            "processorArchitecture": "64-bit", "operatingSystem": operating_system, "tenancy": tenancy,
            "preInstalledSw": pre_installed, "capacitystatus": capacity, "licenseModel": "No License required",
            "regionCode": region, "location": region, "usagetype": f"{prefix}-BoxUsage:{instance_type}",
            "operation": "RunInstances"}},
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": _term(sku, "Hrs", f"{float(price):.10f}",
                              f"${price} per On Demand {operating_system} {instance_type} Instance Hour", effective),
            "Reserved": {f"{sku}.4NA7Y494T4": {
                "offerTermCode": "4NA7Y494T4", "sku": sku, "effectiveDate": effective,
                "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                                   "PurchaseOption": "No Upfront"},
                "priceDimensions": {f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                    "unit": "Hrs", "beginRange": "0", "endRange": "Inf", "description": "reserved",
                    "pricePerUnit": {"USD": f"{float(price) * 0.6:.10f}"}}}}},
        },
        "version": "20261101000000", "publicationDate": effective,
    }


def ebs_product(region: str, volume_api_name: str, price: str, effective: str = "2026-11-01T00:00:00Z") -> dict:
    """An EBS volume storage product (price per GB-month)."""
    sku = secrets.token_hex(8).upper()
    prefix = _USAGE_PREFIX.get(region, region)
    return {"product": {"productFamily": "Storage", "sku": sku, "attributes": {
                "servicecode": "AmazonEC2", "volumeApiName": volume_api_name, "regionCode": region,
                "usagetype": f"{prefix}-EBS:VolumeUsage.{volume_api_name}", "storageMedia": "SSD-backed"}},
            "serviceCode": "AmazonEC2",
            "terms": {"OnDemand": _term(sku, "GB-Mo", price, f"${price} per GB-month of {volume_api_name}", effective)}}


def ipv4_product(region: str, price: str, *, idle: bool, effective: str = "2026-11-01T00:00:00Z") -> dict:
    """A public IPv4 address product of AmazonVPC (idle or in use, price per hour)."""
    sku = secrets.token_hex(8).upper()
    state = "IdleAddress" if idle else "InUseAddress"
    return {"product": {"productFamily": "VPC Public IPv4 Address", "sku": sku, "attributes": {
                "servicecode": "AmazonVPC", "group": "VPCPublicIPv4Address", "regionCode": region,
                "usagetype": f"{_USAGE_PREFIX.get(region, region)}-PublicIPv4:{state}"}},
            "serviceCode": "AmazonVPC",
            "terms": {"OnDemand": _term(sku, "Hrs", price, f"${price} per {state} public IPv4 address hour",
                                        effective)}}


class FakeAwsPricing(LocalServer):
    """Products per service code behind an HTTP server; `with FakeAwsPricing() as api:`."""

    name = "fake-aws-pricing"

    def __init__(self, port: int = 0, host: str = "127.0.0.1", page_size: int = 100):
        self.host, self.port, self.page_size = host, port, page_size
        self.requests: list[PricingRequest] = []
        self.products: dict[str, list[dict]] = {}
        self._tokens: dict[str, tuple[str, int]] = {}  # NextToken -> (query key, offset)
        self._failures: list[tuple[int, str, str | None]] = []
        self._delays: list[float] = []
        self._answer_first = 0
        self._lock = threading.Lock()

    def add_products(self, *products: dict) -> None:
        with self._lock:
            for product in products:
                self.products.setdefault(product["serviceCode"], []).append(product)

    def fail_next(self, count: int, status: int = 429, code: str = "ThrottlingException",
                  retry_after: str | None = "1", after: int = 0) -> None:
        """Answer `count` requests with `status` and error `code`, once `after` more have been answered."""
        with self._lock:
            self._answer_first = after
            self._failures.extend([(status, code, retry_after)] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        with self._lock:
            self._delays.extend([seconds] * count)

    def queries(self) -> list[dict]:
        """The bodies of the GetProducts requests received, in order."""
        return [r.body for r in self.requests if r.target == _OPERATION]

    # ---- answers -----------------------------------------------------------------------------

    def _get_products(self, body: dict) -> tuple[int, dict]:
        if body.get("FormatVersion", "aws_v1") != "aws_v1":
            return 400, _error("InvalidParameterException", "FormatVersion must be aws_v1")
        size = body.get("MaxResults", self.page_size)
        if not isinstance(size, int) or not 1 <= size <= 100:
            return 400, _error("ValidationException", "MaxResults must be between 1 and 100")
        filters = body.get("Filters") or []
        if any(f.get("Type") != "TERM_MATCH" for f in filters):
            return 400, _error("InvalidParameterException", "the fake answers TERM_MATCH filters only")
        key = json.dumps([body.get("ServiceCode"), filters], sort_keys=True)
        offset = 0
        if body.get("NextToken"):
            held = self._tokens.get(body["NextToken"])
            if held is None or held[0] != key:
                return 400, _error("InvalidNextTokenException", "The next token is invalid for this query.")
            offset = held[1]
        matched = [p for p in self.products.get(body.get("ServiceCode", ""), []) if _matches(p, filters)]
        page = matched[offset:offset + min(size, self.page_size)]
        answer = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(p) for p in page]}
        if offset + len(page) < len(matched):
            token = secrets.token_urlsafe(16)
            self._tokens[token] = (key, offset + len(page))
            answer["NextToken"] = token
        return 200, answer

    def _answer(self, target: str, body: dict | None) -> tuple[int, dict, dict]:
        with self._lock:
            if self._failures and self._answer_first:
                self._answer_first -= 1
            elif self._failures:
                status, code, retry_after = self._failures.pop(0)
                return status, _error(code, "Rate exceeded"), {"Retry-After": retry_after} if retry_after else {}
            if target != _OPERATION:
                return 400, _error("UnknownOperationException", f"the fake does not answer {target}"), {}
            if body is None:
                return 400, _error("SerializationException", "the body is not JSON"), {}
            status, payload = self._get_products(body)
            return status, payload, {}

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                _, _, _, body = read_request(self)
                target = self.headers.get("X-Amz-Target", "")
                with fake._lock:
                    fake.requests.append(PricingRequest(target, body, self.headers.get("Authorization")))
                    delay = fake._delays.pop(0) if fake._delays else 0.0
                if delay:
                    time.sleep(delay)
                status, payload, headers = fake._answer(target, body)
                headers["x-amzn-RequestId"] = f"fake-{len(fake.requests)}"
                send_json(self, status, json.dumps(payload).encode(), headers, "application/x-amz-json-1.1")

        return Handler


def _matches(product: dict, filters: list[dict]) -> bool:
    body = product.get("product", {})
    attributes = body.get("attributes", {})
    for f in filters:
        value = attributes.get(f.get("Field"), body.get(f.get("Field")))
        if value is None or str(value).casefold() != str(f.get("Value", "")).casefold():
            return False
    return True


def _error(code: str, message: str) -> dict:
    return {"__type": code, "message": message}
