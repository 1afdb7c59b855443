"""A spot price interposer in front of moto: EC2 `DescribeSpotPriceHistory` is answered from a table
of prices (moto's own answer has every price at 0.00001 and every time in 2006), every other request
is forwarded to `upstream` unchanged, so a client pointed here sees moto plus real-looking spot prices.
Binds 127.0.0.1 on a free port (`.port` once started).

The table is filtered as EC2 filters it (the zones of the region the request is signed for, as each
region's endpoint answers; InstanceType.N, ProductDescription.N, AvailabilityZone,
StartTime: the rows from then on plus, per type, zone and product, the one in effect at StartTime;
EndTime), served newest first in pages of MaxResults (default 1000) with `nextToken`, the last page
with an empty `<nextToken/>`. `fail_next(n)` answers the next n spot requests with EC2's throttling
error. Spot requests are recorded in `requests` (their form), forwarded ones counted in `forwarded`."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import urllib3

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, send_json

_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
_ACTION = "DescribeSpotPriceHistory"
_DROPPED = {"host", "content-length"}


@dataclass(frozen=True)
class SpotRow:
    instance_type: str
    zone: str
    price: str
    timestamp: datetime
    product: str = "Linux/UNIX"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _z(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeEc2Spot(LocalServer):
    """The spot table in front of the EC2 endpoint `upstream` (moto's URL)."""

    name = "fake-ec2-spot"

    def __init__(self, upstream: str, port: int = 0, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.upstream = upstream.rstrip("/")
        self.rows: list[SpotRow] = []
        self.requests: list[dict[str, str]] = []
        self.forwarded = 0
        self._failures = 0
        self._lock = threading.Lock()
        self._pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=10, read=120))

    def add_price(self, instance_type: str, zone: str, price: str, timestamp: datetime,
                  product: str = "Linux/UNIX") -> None:
        with self._lock:
            self.rows.append(SpotRow(instance_type, zone, price, timestamp, product))

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures += count

    def reset(self) -> None:
        """Forget the recorded spot requests and the failures not yet answered (the table stays)."""
        with self._lock:
            self.requests.clear()
            self._failures = 0

    def stop(self) -> None:
        super().stop()
        self._pool.clear()

    # ---- answers -----------------------------------------------------------------------------

    def spot_history(self, form: dict[str, str], region: str = "") -> tuple[int, str]:
        """The answer to one request; `region` (the request's signing region) keeps the rows of its
        zones only, as each region's EC2 endpoint answers for its own."""
        with self._lock:
            self.requests.append(form)
            if self._failures:
                self._failures -= 1
                return 503, _error("RequestLimitExceeded", "Request limit exceeded.")
            rows = [r for r in self.rows if not region or r.zone.startswith(region)]
        try:
            chosen = _select(rows, form)
            start = int(form.get("NextToken") or 0)
            size = int(form.get("MaxResults") or 1000)
        except ValueError as exc:
            return 400, _error("InvalidParameterValue", str(exc))
        page = chosen[start:start + size]
        token = str(start + size) if start + size < len(chosen) else ""
        items = "".join(
            f"<item><instanceType>{escape(r.instance_type)}</instanceType><productDescription>{escape(r.product)}"
            f"</productDescription><spotPrice>{escape(r.price)}</spotPrice><timestamp>{_z(r.timestamp)}</timestamp>"
            f"<availabilityZone>{escape(r.zone)}</availabilityZone></item>" for r in page)
        body = (f'<{_ACTION}Response xmlns="{_NS}"><requestId>fake-{len(self.requests)}</requestId>'
                f"<spotPriceHistorySet>{items}</spotPriceHistorySet>"
                + (f"<nextToken>{token}</nextToken>" if token else "<nextToken/>") + f"</{_ACTION}Response>")
        return 200, body

    def forward(self, method: str, path: str, headers, body: bytes) -> tuple[int, bytes, str]:
        kept = {k: v for k, v in headers.items() if k.lower() not in _DROPPED}
        resp = self._pool.request(method, self.upstream + path, body=body or None, headers=kept, redirect=False,
                                  preload_content=True)
        with self._lock:
            self.forwarded += 1
        return resp.status, resp.data, resp.headers.get("Content-Type", "text/xml")

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()} \
                    if self.command == "POST" else {}
                if form.get("Action") == _ACTION:
                    status, xml = fake.spot_history(form, _signing_region(self.headers.get("Authorization", "")))
                    send_json(self, status, xml.encode(), content_type="text/xml;charset=UTF-8")
                    return
                status, data, content_type = fake.forward(self.command, self.path, self.headers, raw)
                send_json(self, status, data, content_type=content_type)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        return Handler


def _signing_region(authorization: str) -> str:
    """The region of a SigV4 Authorization header's credential scope (AKID/DATE/REGION/ec2/aws4_request)."""
    found = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/", authorization)
    return found.group(1) if found else ""


def _listed(form: dict[str, str], prefix: str) -> set[str]:
    return {v for k, v in form.items() if k.startswith(prefix + ".")}


def _select(rows: list[SpotRow], form: dict[str, str]) -> list[SpotRow]:
    """The rows EC2 would return, newest first."""
    types, products = _listed(form, "InstanceType"), _listed(form, "ProductDescription")
    zone = form.get("AvailabilityZone")
    rows = [r for r in rows if (not types or r.instance_type in types) and (not products or r.product in products)
            and (not zone or r.zone == zone)]
    if form.get("EndTime"):
        end = _parse_time(form["EndTime"])
        rows = [r for r in rows if r.timestamp <= end]
    if form.get("StartTime"):
        start = _parse_time(form["StartTime"])
        in_effect: dict[tuple[str, str, str], SpotRow] = {}
        for r in rows:
            key = (r.instance_type, r.zone, r.product)
            if r.timestamp <= start and (key not in in_effect or r.timestamp > in_effect[key].timestamp):
                in_effect[key] = r
        rows = [r for r in rows if r.timestamp > start] + list(in_effect.values())
    return sorted(rows, key=lambda r: (-r.timestamp.timestamp(), r.instance_type, r.zone, r.product))


def _error(code: str, message: str) -> str:
    return (f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
            "<RequestID>fake</RequestID></Response>")
