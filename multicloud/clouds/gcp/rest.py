"""Google Cloud REST calls (Compute Engine, Cloud Monitoring) over one requests session: application
default credentials (AuthorizedSession), or no credentials for a local server; urllib3's own retry
policy for throttled and failing GETs, honouring Retry-After up to a bound and reporting every wait
(changes, POST and DELETE, are never retried here: their caller re-reads first); page tokens followed;
error answers raised as the taxonomy."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Iterator
from urllib.parse import urlsplit

import requests
from google.api_core import exceptions as gapi

from multicloud.clouds.common import mount_recording_retry
from multicloud.clouds.gcp.errors import map_error
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, StoreError, Transient

SCOPES = ("https://www.googleapis.com/auth/compute.readonly", "https://www.googleapis.com/auth/monitoring.read")
WRITE_SCOPES = ("https://www.googleapis.com/auth/compute",)


@dataclass(frozen=True)
class GoogleRetry:
    """`attempts` retries at most of a 429, 5xx or broken connection, exponential backoff from
    `backoff_seconds` up to `backoff_max_seconds`; a Retry-After is waited for up to
    `max_retry_after_seconds` (urllib3 cuts a longer one to that bound)."""

    attempts: int = 4
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_retry_after_seconds: int = 120


@dataclass
class GoogleApi:
    """One reader's session, base URL, (connect, read) timeouts and where throttling waits are recorded."""

    session: requests.Session
    base: str
    timeout: tuple[float, float]
    waits: list[float]
    service: str

    def get(self, path: str, params: dict) -> dict:
        """One GET of `path` below the base URL; the JSON answer. Raises the taxonomy error."""
        return self.send("GET", path, params)

    def send(self, method: str, path: str, params: dict, body: dict | None = None) -> dict:
        """One request of `method` to `path` below the base URL; the JSON answer. Raises the taxonomy error."""
        try:
            resp = self.session.request(method, self.base + path, params=params, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _mapped(exc, self.service, path) from exc
        if resp.status_code >= 400:
            exc = gapi.from_http_response(resp)
            raise _mapped(exc, self.service, path) from exc
        try:
            return resp.json()
        except ValueError:
            raise Transient(f"{self.service} answered {resp.status_code} with a body that is not JSON",
                            target=path) from None

    def pages(self, path: str, params: dict, count: Callable[[], None]) -> Iterator[dict]:
        """Every page of a listing, following nextPageToken; each page one request, counted by `count`."""
        token = None
        while True:
            count()
            page = self.get(path, {**params, "pageToken": token} if token else params)
            yield page
            token = page.get("nextPageToken")
            if not token:
                return

    def aggregated(self, path: str, collection: str, params: dict, count: Callable[[], None]) -> Iterator[dict]:
        """The items of a Compute Engine aggregated list (`collection` under each scope), every page;
        a scope with nothing carries only a warning."""
        for page in self.pages(path, params, count):
            for scoped in (page.get("items") or {}).values():
                yield from scoped.get(collection, [])


def google_api(conn: Connection, base: str, service: str, retry: GoogleRetry = GoogleRetry(),
               waits: list[float] | None = None, scopes: tuple[str, ...] = SCOPES) -> GoogleApi:
    """A session for `base` (https://compute.googleapis.com, https://monitoring.googleapis.com, or a local
    server). 'emulator' credentials send no token, and only to this machine; 'default' uses application
    default credentials and never plain HTTP. Raises InvalidInput naming the connection or the URL,
    PermissionDenied when no default credentials are found. `scopes` are the OAuth scopes asked for
    (the Recommender API has only cloud-platform)."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{service} endpoint {base!r} is not an http(s) URL", target=conn.name)
    if conn.credentials == "emulator":
        if parts.scheme != "http" or not _loopback(parts.hostname):
            raise InvalidInput("'emulator' credentials are for a local plain-HTTP server on this machine",
                               target=conn.name)
        session = requests.Session()
    elif conn.credentials == "default":
        if parts.scheme != "https":
            raise InvalidInput("credentials are never sent over plain HTTP: use an https endpoint", target=conn.name)
        session = _authorized(conn, scopes)
    else:
        raise InvalidInput(f"credentials {conn.credentials!r} are not available for GCP", target=conn.name)
    recorded = [] if waits is None else waits
    mount_recording_retry(session, retry.attempts, retry.backoff_seconds, retry.backoff_max_seconds,
                          retry.max_retry_after_seconds, recorded)
    return GoogleApi(session, base.rstrip("/"), (conn.connect_timeout_seconds, conn.timeout_seconds), recorded,
                     service)


def _authorized(conn: Connection, scopes: tuple[str, ...]) -> requests.Session:
    import google.auth
    from google.auth import exceptions as gauth
    from google.auth.transport.requests import AuthorizedSession

    try:
        credentials, _ = google.auth.default(scopes=list(scopes))
    except gauth.GoogleAuthError as exc:
        raise _mapped(exc, "Google Cloud", conn.name) from exc
    return AuthorizedSession(credentials, refresh_timeout=conn.timeout_seconds)


def _loopback(host: str) -> bool:
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost
        return False


def _mapped(exc: Exception, service: str, target: str) -> Exception:
    """Google errors classified as the Cloud Storage module classifies them, said as `service`'s."""
    mapped = map_error(exc, target)
    if not isinstance(mapped, StoreError):
        return mapped
    return type(mapped)(f"{service}: {exc}", target=target)
