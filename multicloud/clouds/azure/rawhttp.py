"""Put Blob as a plain HTTP request authorised by the SDK's own credential policy (shared key,
token or the SAS in the container URL): a fraction of the client CPU of `upload_blob` and its
pipeline, which is most of a small object's copy. No retries here (the taxonomy drives them);
refusals become the SDK's HttpResponseError, so `map_error` names them as for the SDK's calls."""

from __future__ import annotations

import base64
import re
import threading
import urllib.request
from email.utils import formatdate, parsedate_to_datetime
from typing import Mapping
from urllib.parse import quote, urlsplit

import urllib3
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.rest import HttpRequest
from azure.storage.blob import ContainerClient

from multicloud.clouds.azure.errors import map_error
from multicloud.clouds.common import urlopen
from multicloud.config import Connection
from multicloud.core.errors import Transient

_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.S)
_POOL_SIZE = 64  # one connection per copy thread
_POOLS: dict[tuple, urllib3.PoolManager] = {}
_POOLS_LOCK = threading.Lock()


def map_raw_error(exc: Exception, target: str | None) -> Exception:
    """The taxonomy error for what a raw request raised: transport failures are Transient."""
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return Transient(f"Azure connection problem: {type(exc).__name__}", target=target)
    return map_error(exc, target)


def http_pool(conn: Connection, url: str) -> urllib3.PoolManager:
    """The connection's pooled manager (made once) with its timeouts and the environment's proxy,
    no retries."""
    key = (conn.name, conn.endpoint, conn.account, conn.timeout_seconds, conn.connect_timeout_seconds)
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = _new_pool(conn, url)
        return _POOLS[key]


def _new_pool(conn: Connection, url: str) -> urllib3.PoolManager:
    options = dict(num_pools=4, maxsize=_POOL_SIZE, retries=False,
                   timeout=urllib3.Timeout(connect=conn.connect_timeout_seconds, read=conn.timeout_seconds))
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


def _refusal(resp: urllib3.BaseHTTPResponse) -> HttpResponseError:
    found = _MESSAGE.search(resp.data.decode("utf-8", "replace")) if resp.data else None
    exc = HttpResponseError(message=(found.group(1).strip() if found else resp.reason) or str(resp.status))
    exc.status_code, exc.error_code = resp.status, resp.headers.get("x-ms-error-code")
    return exc


class RawBlobs:
    """Single-request block blob uploads into one container."""

    def __init__(self, container: ContainerClient, pool: urllib3.PoolManager):
        self._policy = container._credential_policy  # None when a SAS in the URL authorises
        self._version = container.api_version
        parts = urlsplit(container.url)
        self._base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._query = f"?{parts.query}" if parts.query else ""
        self._pool = pool

    def put(self, full: str, data: bytes, headers: Mapping[str, str], metadata: Mapping[str, str],
            if_absent: bool) -> dict:
        """Put Blob: `data` as the whole blob with `headers` (x-ms-blob-* settings) and `metadata`;
        `if_absent` refuses an existing blob. Returns etag and last_modified. Raises HttpResponseError
        for a refusal, urllib3's errors for a transport failure."""
        request = HttpRequest("PUT", f"{self._base}/{quote(full, safe='/~')}{self._query}", content=data, headers={
            "x-ms-version": self._version, "x-ms-date": formatdate(usegmt=True), "x-ms-blob-type": "BlockBlob",
            **headers, **{f"x-ms-meta-{name}": value for name, value in metadata.items()},
            **({"If-None-Match": "*"} if if_absent else {}),
        })
        if self._policy is not None:
            self._policy.on_request(PipelineRequest(request, PipelineContext(None)))
        resp = urlopen(self._pool, request.url, "PUT", body=data, headers=dict(request.headers))
        if resp.status >= 300:
            raise _refusal(resp)
        modified = resp.headers.get("Last-Modified")
        return {"etag": resp.headers.get("ETag"), "last_modified": parsedate_to_datetime(modified) if modified else None}


def md5_header(digest: bytes) -> str:
    """An MD5 digest as Azure's Content-MD5 headers carry it."""
    return base64.b64encode(digest).decode()
