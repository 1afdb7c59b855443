"""Cloud DNS weighted round robin (WRR) record sets: read the weight of each site, write new weights.

Spoken over the Cloud DNS v1 REST API directly, since the google-cloud-dns client library
knows no routing policies. Base URL: the record's `api_endpoint`, else https://dns.googleapis.com.

    GET   /dns/v1/projects/{project}/managedZones/{zone}/rrsets/{name}/{type}    read the record set
    PATCH /dns/v1/projects/{project}/managedZones/{zone}/rrsets/{name}/{type}    write it back whole

A site is the WRR item whose rrdatas hold the site's dns_value (compared without a trailing dot and
without regard to case; addresses in canonical form). Every request carries the connection's
(connect, read) timeouts and is retried under the shared policy; errors arrive as the taxonomy of
multicloud.core.errors: 404 NotFound, 401/403 PermissionDenied, 429 Throttled, 408 and 5xx
Transient, 409/412 PreconditionFailed, any other 4xx InvalidInput."""

from __future__ import annotations

import copy
import ipaddress
import threading
from urllib.parse import quote

import google.auth
import requests
from google.auth.transport.requests import AuthorizedSession

from multicloud.clouds.common import retried
from multicloud.clouds.gcp.storage import map_error as _google_error
from multicloud.config import CloudDnsRecord, Connection
from multicloud.core.errors import (
    InvalidInput, NotFound, PermissionDenied, PreconditionFailed, StoreError, Throttled, Transient,
)

SCOPE = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
DEFAULT_ENDPOINT = "https://dns.googleapis.com"

_SESSIONS: dict[str, requests.Session] = {}
_SESSIONS_LOCK = threading.Lock()


class CloudDnsWeights:
    """The WRR items of one Cloud DNS record set, keyed by site name.

    `sites` maps each site name to its dns_value; a site whose value is in no item has no weight
    (it is absent from `weights()` and `values()`). Raises InvalidInput when the connection's
    credentials cannot be used here (an emulator connection needs the record's api_endpoint),
    PermissionDenied when no default credentials are found."""

    def __init__(self, conn: Connection, dns: CloudDnsRecord, sites: dict[str, str]):
        self.name, self.type = _dot(dns.record), dns.type
        self.target = f"cloud-dns:{dns.project}/{dns.managed_zone}/{self.name} {self.type}"
        self._sites = dict(sites)
        base = (dns.api_endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.url = (f"{base}/dns/v1/projects/{_q(dns.project)}/managedZones/{_q(dns.managed_zone)}"
                    f"/rrsets/{_q(self.name)}/{_q(self.type)}")
        self._timeout = (conn.connect_timeout_seconds, conn.timeout_seconds)
        self._session = _session(conn, dns)

    # ---- requests ------------------------------------------------------------------------

    def _request(self, method: str, body: dict | None = None) -> dict:
        def once() -> dict:
            resp = self._session.request(method, self.url, json=body, timeout=self._timeout)
            if resp.status_code >= 400:
                raise _HttpError(method, resp)
            try:
                return resp.json()
            except ValueError:
                raise Transient(f"Cloud DNS {method} answered {resp.status_code} with a body that is not JSON",
                                target=self.target) from None

        return retried(once, self._map)

    def _map(self, exc: Exception) -> Exception:
        if isinstance(exc, _HttpError):
            status, msg = exc.status, f"Cloud DNS {exc}"
            if status == 404:
                return NotFound(msg, target=self.target)
            if status in (401, 403):
                return PermissionDenied(msg, target=self.target)
            if status == 429:
                return Throttled(msg, target=self.target)
            if status == 408 or status >= 500:
                return Transient(msg, target=self.target)
            if status in (409, 412):
                return PreconditionFailed(msg, target=self.target)
            return InvalidInput(msg, target=self.target)
        return _mapped(exc, self.target)

    def record_set(self) -> dict:
        """The ResourceRecordSet as the API returns it. Raises NotFound (zone or record missing),
        PermissionDenied, Throttled or Transient (after retries), InvalidInput."""
        return self._request("GET")

    # ---- sites ---------------------------------------------------------------------------

    def _items(self, rrset: dict) -> list[dict]:
        items = ((rrset.get("routingPolicy") or {}).get("wrr") or {}).get("items")
        if not isinstance(items, list) or not items:
            raise InvalidInput("the record set has no weighted round robin (routingPolicy.wrr) policy",
                               target=self.target)
        return items

    def _site_items(self, items: list[dict]) -> dict[str, int]:
        """Site -> index of its item. Raises InvalidInput when a site's value is in several items
        or two sites share one item (their weights could not differ)."""
        out: dict[str, int] = {}
        for site, value in self._sites.items():
            want = _key(value, self.type)
            hits = [i for i, item in enumerate(items) if want in {_key(v, self.type) for v in item.get("rrdatas", [])}]
            if len(hits) > 1:
                raise InvalidInput(f"site {site!r} ({value}) is in {len(hits)} WRR items", target=self.target)
            if hits:
                out[site] = hits[0]
        by_item: dict[int, list[str]] = {}
        for site, i in out.items():
            by_item.setdefault(i, []).append(site)
        shared = [sites for sites in by_item.values() if len(sites) > 1]
        if shared:
            raise InvalidInput(f"sites {', '.join(shared[0])} share one WRR item", target=self.target)
        return out

    def weights(self) -> dict[str, int]:
        """Site -> int(weight) of its item (an item without a weight has weight 0). Raises
        InvalidInput when the record has no WRR policy or sites and items do not pair up one to
        one; NotFound, PermissionDenied, Throttled, Transient as `record_set`."""
        items = self._items(self.record_set())
        return {site: int(items[i].get("weight", 0)) for site, i in self._site_items(items).items()}

    def values(self) -> dict[str, list[str]]:
        """Site -> rrdatas of its item, in order. The entry that is the site's own dns_value is
        spelled as configured (a CNAME's trailing dot as in the plan), so a caller can map it
        back to the site by plain comparison. Raises as `weights`."""
        items = self._items(self.record_set())
        spelled = {_key(v, self.type): v for v in self._sites.values()}
        return {
            site: [spelled.get(_key(v, self.type), v) for v in items[i].get("rrdatas", [])]
            for site, i in self._site_items(items).items()
        }

    def set_weights(self, weights: dict[str, int]) -> None:
        """Give each named site its weight: one PATCH of the whole record set as read, only the
        differing item weights replaced; no request at all when nothing differs. Sites not named
        keep their weight. The caller reads back. Raises InvalidInput for a site without an item
        or a negative weight (nothing is written then), or as `weights`; PreconditionFailed when
        the service refuses the change as conflicting."""
        for site, weight in weights.items():
            if weight < 0:
                raise InvalidInput(f"negative weight {weight} for site {site!r}", target=self.target)
        rrset = copy.deepcopy(self.record_set())
        items = self._items(rrset)
        index = self._site_items(items)
        missing = sorted(set(weights) - set(index))
        if missing:
            raise InvalidInput(f"no WRR item holds the value of site(s) {', '.join(missing)}", target=self.target)
        changed = False
        for site, weight in weights.items():
            item = items[index[site]]
            # Compared as read, not as int: a fractional weight (0.5) is not the 0 asked for.
            if float(item.get("weight", 0)) != float(weight):
                item["weight"] = float(weight)
                changed = True
        if changed:
            self._request("PATCH", rrset)


class _HttpError(Exception):
    """An HTTP error answer; its text carries Google's error message."""

    def __init__(self, method: str, resp: requests.Response):
        self.status = resp.status_code
        super().__init__(f"{method} answered {resp.status_code}: {_google_message(resp)}")


def _google_message(resp: requests.Response) -> str:
    try:
        return str(resp.json()["error"]["message"])
    except Exception:
        return (resp.text or resp.reason or "").strip()[:300]


def _mapped(exc: Exception, target: str) -> Exception:
    """Transport and credential errors, classified as Cloud Storage classifies them."""
    mapped = _google_error(exc, target)
    if mapped is exc or not isinstance(mapped, StoreError):
        return mapped
    return type(mapped)(f"Cloud DNS: {exc}", target=target)


def _session(conn: Connection, dns: CloudDnsRecord) -> requests.Session:
    """The shared session of `conn`: authorized by application default credentials, or anonymous
    (a plain session, as AnonymousCredentials would add nothing) for an emulator."""
    if conn.credentials == "emulator":
        if not dns.api_endpoint:
            raise InvalidInput("an emulator connection needs the record's api_endpoint", target=conn.name)
    elif conn.credentials != "default":
        raise InvalidInput(f"credentials {conn.credentials!r} are not available for GCP", target=conn.name)
    key = conn.model_dump_json()
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            if conn.credentials == "emulator":
                session = requests.Session()
            else:
                try:
                    credentials, _ = google.auth.default(scopes=[SCOPE])
                except Exception as exc:
                    mapped = _mapped(exc, conn.name)
                    if mapped is exc:
                        raise
                    raise mapped from exc
                session = AuthorizedSession(credentials, refresh_timeout=conn.timeout_seconds)
            _SESSIONS[key] = session
    return session


def _dot(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _q(part: str) -> str:
    return quote(part, safe="")


def _key(value: str, rtype: str) -> str:
    """A value as compared: no trailing dot, lower case; an address in canonical form."""
    value = value.strip().rstrip(".").lower()
    if rtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    return value
