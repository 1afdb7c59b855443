"""S3 listings without botocore's response parser, whose per-object cost is most of a listing's
client CPU: each ListObjectsV2 page is a URL presigned by the client (its credential chain,
endpoint rules and SigV4), sent over the client's own HTTP session, and parsed with xml.etree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Iterator
from urllib.parse import unquote_plus

from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from multicloud.core.objects import ObjectMeta

_PRESIGN_SECONDS = 900  # a page is requested at once: the URL only has to outlive one request


def md5_of(etag: str | None) -> dict[str, str]:
    """The object's MD5 from its ETag; {} for a multipart ETag ("md5-N"), which is not one."""
    return {"md5": etag} if etag and "-" not in etag and len(etag) == 32 else {}


def _refused(status: int, body: bytes) -> ClientError:
    """The ClientError botocore would have raised for an error response, so map_error reads it."""
    code, message = str(status), ""
    try:
        root = ET.fromstring(body)
        code, message = root.findtext("Code") or code, root.findtext("Message") or ""
    except ET.ParseError:
        pass  # an error without an XML body (a proxy, a 5xx page): the status is the code
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "ListObjectsV2")


def _page(s3, params: dict) -> ET.Element:
    """One ListObjectsV2 page as an XML tree. Raises botocore errors (ClientError for a refusal)."""
    url = s3.generate_presigned_url("list_objects_v2", Params=params, ExpiresIn=_PRESIGN_SECONDS)
    # The client's own HTTP session: its pool, timeouts, proxies and CA settings.
    resp = s3._endpoint.http_session.send(AWSRequest(method="GET", url=url).prepare())
    if resp.status_code != 200:
        raise _refused(resp.status_code, resp.content)
    return ET.fromstring(resp.content)


def _timestamp(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def list_objects(s3, bucket: str, prefix: str, page_size: int, cut: int, call) -> Iterator[ObjectMeta]:
    """Objects under `prefix` in key order, keys with their first `cut` characters removed; one
    request per page, made by `call(fn)` (the store's mapping and retry) as the listing is consumed."""
    token = None
    while True:
        params = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
        if token:
            params["ContinuationToken"] = token
        root = call(lambda params=params: _page(s3, params))
        ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        # botocore asks for encoding-type=url (keys may hold characters XML 1.0 cannot carry).
        decode = unquote_plus if root.findtext(f"{ns}EncodingType") == "url" else str
        for item in root.iterfind(f"{ns}Contents"):
            etag = (item.findtext(f"{ns}ETag") or "").strip('"')
            yield ObjectMeta(key=decode(item.findtext(f"{ns}Key"))[cut:], size=int(item.findtext(f"{ns}Size")),
                             last_modified=_timestamp(item.findtext(f"{ns}LastModified")), etag=etag,
                             hashes=md5_of(etag))
        token = root.findtext(f"{ns}NextContinuationToken")
        if root.findtext(f"{ns}IsTruncated") != "true" or not token:
            return
