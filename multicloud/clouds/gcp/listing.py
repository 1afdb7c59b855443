"""Cloud Storage listings without the SDK's Blob objects: each page is one JSON API request on the
client's own session (google-auth's AuthorizedSession with real credentials, so its token refresh;
the connection's timeouts), decoded by orjson into the same fields."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Callable, Iterator
from urllib.parse import quote

import orjson
from google.api_core import exceptions as gapi

from multicloud.core.objects import SHA256_METADATA_KEY, ObjectMeta

# Only what an ObjectMeta holds: smaller pages (real GCS honours `fields`; the emulator ignores it).
_FIELDS = "nextPageToken,items(name,size,md5Hash,crc32c,etag,updated,contentType,cacheControl,metadata)"


def hex_of(b64: str | None) -> str | None:
    """A base64 digest (md5Hash, crc32c) as lowercase hex; None when absent or malformed."""
    try:
        return base64.b64decode(b64).hex() if b64 else None
    except (binascii.Error, ValueError):
        return None


def _object(item: dict, cut: int) -> ObjectMeta:
    metadata = item.get("metadata") or {}
    hashes = {"sha256": metadata.get(SHA256_METADATA_KEY), "md5": hex_of(item.get("md5Hash")),
              "crc32c": hex_of(item.get("crc32c"))}
    updated = item.get("updated")
    return ObjectMeta(
        key=item["name"][cut:], size=int(item.get("size") or 0),
        last_modified=datetime.fromisoformat(updated) if updated else None, etag=item.get("etag"),
        content_type=item.get("contentType"), metadata=dict(metadata), cache_control=item.get("cacheControl"),
        hashes={k: v for k, v in hashes.items() if v},
    )


def _page(api, bucket: str, params: dict) -> dict:
    """One objects.list page. Raises the api_core error for a refusal, requests' for the transport."""
    url = f"{api.client.api_endpoint}/storage/v1/b/{quote(bucket, safe='')}/o"
    resp = api.session.get(url, params=params, timeout=api.timeout)
    if resp.status_code != 200:
        raise gapi.from_http_response(resp)
    return orjson.loads(resp.content)


def list_objects(api, bucket: str, prefix: str, page_size: int, cut: int, call: Callable) -> Iterator[ObjectMeta]:
    """Objects under `prefix` in name order, names with their first `cut` characters removed; one
    request per page, made by `call(fn)` (mapping and retry) as the listing is consumed."""
    token = None
    while True:
        params = {"prefix": prefix, "maxResults": page_size, "projection": "noAcl", "fields": _FIELDS}
        if token:
            params["pageToken"] = token
        page = call(lambda params=params: _page(api, bucket, params))
        for item in page.get("items", ()):
            yield _object(item, cut)
        token = page.get("nextPageToken")
        if not token:
            return
