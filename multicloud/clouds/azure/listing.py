"""Azure List Blobs without the SDK's deserialisation, which costs most of a listing's client CPU:
each page is one request through the container client's own azure-core pipeline (its credential
policy, transport, timeouts and retry settings), parsed with xml.etree into the same fields."""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator
from urllib.parse import quote, unquote, urlencode

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest

from multicloud.core.objects import SHA256_METADATA_KEY, ObjectMeta

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), 1)}


def http_date(text: str | None) -> datetime | None:
    """An RFC 1123 date ("Tue, 01 Dec 2026 13:46:56 GMT") by slicing, ten times faster than the
    email parser, which stays the fallback for any other form."""
    if not text:
        return None
    try:
        if len(text) == 29 and text.endswith(" GMT"):
            return datetime(int(text[12:16]), _MONTHS[text[8:11]], int(text[5:7]), int(text[17:19]),
                            int(text[20:22]), int(text[23:25]), tzinfo=timezone.utc)
    except (KeyError, ValueError):
        pass
    return parsedate_to_datetime(text)


def _md5_hex(b64: str | None) -> str | None:
    try:
        return base64.b64decode(b64).hex() if b64 else None
    except (binascii.Error, ValueError):
        return None


def _refused(resp: Any) -> HttpResponseError:
    """The error the SDK would raise: its class by status, `error_code` from the service's header."""
    code = resp.headers.get("x-ms-error-code") or ""
    cls = ResourceNotFoundError if resp.status_code == 404 else HttpResponseError
    exc = cls(message=f"{code or resp.status_code}: List Blobs refused ({resp.status_code} {resp.reason})",
              response=resp)
    exc.error_code = code  # what errors.error_code reads, as on the SDK's storage errors
    return exc


def _blob(blob: ET.Element, cut: int) -> ObjectMeta:
    name = blob.find("Name")
    # Names holding characters XML 1.0 cannot carry come percent-encoded, flagged so.
    key = unquote(name.text or "") if name.get("Encoded") == "true" else (name.text or "")
    props = blob.find("Properties")
    md = blob.find("Metadata")
    metadata = {e.tag: e.text or "" for e in md} if md is not None else {}
    hashes: dict[str, str] = {}
    if metadata.get(SHA256_METADATA_KEY):
        hashes["sha256"] = metadata[SHA256_METADATA_KEY]
    md5 = _md5_hex(props.findtext("Content-MD5"))
    if md5:
        hashes["md5"] = md5
    return ObjectMeta(
        key=key[cut:], size=int(props.findtext("Content-Length") or 0),
        last_modified=http_date(props.findtext("Last-Modified")), etag=props.findtext("Etag"),
        content_type=props.findtext("Content-Type") or None, metadata=metadata,
        cache_control=props.findtext("Cache-Control") or None, hashes=hashes,
    )


def _page(container, params: dict) -> ET.Element:
    """One List Blobs page as an XML tree. Raises azure-core errors (HttpResponseError for a refusal)."""
    # azure-core puts `params` into the URL unencoded: a marker or prefix holding `+` or `&` would
    # change meaning (and fail the signature), so the query is encoded here. The container URL
    # may already carry a SAS query.
    query = urlencode(params, quote_via=quote, safe="")
    url = f"{container.url}{'&' if '?' in container.url else '?'}{query}"
    request = HttpRequest("GET", url, headers={"x-ms-version": container.api_version, "Accept": "application/xml"})
    # The generated client's PipelineClient: the SDK's own policies (auth, headers, no retry here).
    resp = container._client._client.send_request(request)
    if resp.status_code != 200:
        raise _refused(resp)
    return ET.fromstring(resp.content)


def list_blobs(container, prefix: str, page_size: int, cut: int, call: Callable) -> Iterator[ObjectMeta]:
    """Blobs (with metadata) under `prefix` in name order, names with their first `cut` characters
    removed; one request per page, made by `call(fn)` (mapping and retry) as the listing is consumed."""
    marker = ""
    while True:
        params = {"restype": "container", "comp": "list", "include": "metadata", "maxresults": str(page_size)}
        if prefix:
            params["prefix"] = prefix
        if marker:
            params["marker"] = marker
        root = call(lambda params=params: _page(container, params))
        blobs = root.find("Blobs")
        for blob in blobs.iterfind("Blob") if blobs is not None else ():
            yield _blob(blob, cut)
        marker = root.findtext("NextMarker") or ""
        if not marker:
            return
