"""S3 GETs as plain HTTP requests signed by botocore's own SigV4 signer with the session's
credential chain: a third of the client CPU of `get_object`, which is most of a small object's
copy. No retries here (the taxonomy drives them); failures become botocore's ClientError or a
Transient, so `map_error` names them as for the SDK's own calls."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError, NoCredentialsError

from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.session import credentials, http_pool
from multicloud.clouds.common import urlopen
from multicloud.config import Connection
from multicloud.core.errors import Transient

_META_PREFIX = "x-amz-meta-"
_XML_FIELD = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.S) for name in ("Code", "Message")}
# A virtual-hosted name: what AWS serves every bucket under; dotted names break TLS there.
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def map_raw_error(exc: Exception, target: str | None) -> Exception:
    """The taxonomy error for what a raw request raised: transport failures are Transient, the
    rest as `map_error` maps them."""
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return Transient(f"S3 connection problem: {type(exc).__name__}", target=target)
    return map_error(exc, target)


def _refusal(resp: urllib3.BaseHTTPResponse, raw: bytes, operation: str) -> ClientError:
    body = raw.decode("utf-8", "replace")
    found = {name: rx.search(body) for name, rx in _XML_FIELD.items()}
    code = found["Code"].group(1) if found["Code"] else str(resp.status)
    message = found["Message"].group(1) if found["Message"] else resp.reason or ""
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": resp.status}}, operation)


def head_fields(headers) -> dict:
    """A GET's headers as the fields `head_object` returns, so one function describes both."""
    modified = headers.get("Last-Modified")
    return {
        "ETag": headers.get("ETag", ""), "ContentLength": int(headers.get("Content-Length", 0)),
        "LastModified": parsedate_to_datetime(modified) if modified else None,
        "ContentType": headers.get("Content-Type"), "CacheControl": headers.get("Cache-Control"),
        "Metadata": {name[len(_META_PREFIX):]: value for name, value in ((n.lower(), v) for n, v in headers.items())
                     if name.startswith(_META_PREFIX)},
    }


class RawBody:
    """A streaming reader over one GET's body; a failure while reading is raised as Transient.
    `meta`, for a whole-object GET, describes the object; `etag` is the version read."""

    meta: ObjectMeta | None = None

    def __init__(self, resp: urllib3.BaseHTTPResponse, target: str):
        self._resp, self._target = resp, target
        self.etag = resp.headers.get("ETag")

    def read(self, n: int = -1) -> bytes:
        try:
            return self._resp.read(None if n is None or n < 0 else n)
        except urllib3.exceptions.HTTPError as exc:
            raise map_raw_error(exc, self._target) from exc

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._resp.length_remaining:  # abandoned midway: its connection cannot serve another request
            self._resp.close()
        self._resp.release_conn()

    def __enter__(self) -> "RawBody":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RawS3:
    """Signed GETs of one bucket's objects over a pooled urllib3 connection of the connection."""

    def __init__(self, conn: Connection, s3_client, bucket: str):
        self._credentials = credentials(conn)
        self._region = conn.region or "us-east-1"
        self._pool = http_pool(conn)
        endpoint = s3_client.meta.endpoint_url.rstrip("/")
        if conn.endpoint or not _DNS_BUCKET.match(bucket):
            self._base = f"{endpoint}/{quote(bucket)}"  # path style, as the client is configured
        else:
            scheme, host = endpoint.split("://", 1)
            self._base = f"{scheme}://{bucket}.{host}"

    def get(self, full_key: str, byte_range: str | None = None) -> urllib3.BaseHTTPResponse:
        """The streaming response of a GET (ranged with `byte_range`, e.g. `bytes=0-99`). Raises
        ClientError for a refusal, urllib3's errors for a transport failure."""
        if self._credentials is None:
            raise NoCredentialsError()  # as the client itself raises without any credentials
        headers = {"Range": byte_range} if byte_range else {}
        request = AWSRequest(method="GET", url=f"{self._base}/{quote(full_key, safe='/~')}", headers=headers)
        S3SigV4Auth(self._credentials.get_frozen_credentials(), "s3", self._region).add_auth(request)
        resp = urlopen(self._pool, request.url, "GET", headers=dict(request.headers.items()), preload_content=False)
        if resp.status >= 300:
            try:
                raise _refusal(resp, resp.read(), "GetObject")
            finally:
                resp.release_conn()
        return resp


