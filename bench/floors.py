"""Each emulator's floor for a bench case: a loop that makes only the requests no tool can avoid,
over raw HTTP with keep-alive (urllib3) and nothing else (no SDK, no hashing, no planning; S3
requests presigned before the clock), so a tool's time can be read against what the emulators
themselves need. Also the raw-HTTP seeding the huge case uses."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import urllib3

from deployments import cloudstack
from multicloud.clouds.azure.session import AZURITE_KEY

THREADS = 16
_TOKEN = re.compile(r"<NextContinuationToken>([^<]+)</NextContinuationToken>")
_S3_KEY = re.compile(r"<Key>([^<]+)</Key>")
_MARKER = re.compile(r"<NextMarker>([^<]+)</NextMarker>")


def _endpoints() -> tuple[str, str, str]:
    profile = cloudstack.local_profile()
    return tuple(profile.connection_for(c).endpoint.rstrip("/") for c in ("aws", "azure", "gcp"))


def _pool() -> urllib3.PoolManager:
    return urllib3.PoolManager(maxsize=THREADS, retries=False, timeout=urllib3.Timeout(connect=10, read=300))


def _sas(container: str) -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    return generate_container_sas("devstoreaccount1", container, account_key=AZURITE_KEY,
                                  permission=ContainerSasPermissions(read=True, write=True, list=True),
                                  expiry=datetime.now(timezone.utc) + timedelta(hours=6))


def presigned(bucket: str, keys: list[str], method: str = "get_object") -> list[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=_endpoints()[0], region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    return [s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": k}, ExpiresIn=6 * 3600) for k in keys]


def _check(resp, what: str) -> None:
    if resp.status >= 300:
        raise RuntimeError(f"{what}: HTTP {resp.status}: {resp.data[:200]!r}")


def s3_keys(http: urllib3.PoolManager, bucket: str) -> int:
    """List a bucket page by page (ListObjectsV2, 1,000 a page, each presigned); returns the number of keys."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=_endpoints()[0], region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    count, token = 0, None
    while True:
        params = {"Bucket": bucket, "MaxKeys": 1000, **({"ContinuationToken": token} if token else {})}
        resp = http.request("GET", s3.generate_presigned_url("list_objects_v2", Params=params, ExpiresIn=3600))
        _check(resp, f"list s3://{bucket}")
        body = resp.data.decode()
        count += len(_S3_KEY.findall(body))
        found = _TOKEN.search(body)
        if not found:
            return count
        token = found.group(1)


def azure_names(http: urllib3.PoolManager, container: str, prefix: str = "", endpoint: str | None = None) -> int:
    """List a container (under `prefix`) page by page (List Blobs, 5,000 a page) on the local
    stack's Azurite or the one at `endpoint`; returns the number of blobs."""
    az = endpoint or _endpoints()[1]
    sas, count, marker = _sas(container), 0, ""
    where = f"&prefix={quote(prefix, safe='')}" if prefix else ""
    while True:
        resp = http.request("GET", f"{az}/{container}?restype=container&comp=list&maxresults=5000{where}"
                                   f"{'&marker=' + quote(marker, safe='') if marker else ''}&{sas}")
        _check(resp, f"list az://{container}")
        body = resp.data.decode()
        count += body.count("<Blob>")
        found = _MARKER.search(body)
        if not found:
            return count
        marker = found.group(1)


def floor_small(src: str, dst: str, keys: list[str]) -> dict:
    """One GET from moto and one Put Blob to Azurite per object, on THREADS threads."""
    _, az, _ = _endpoints()
    bucket, container = src.split("://", 1)[1], dst.split("://", 1)[1]
    http, sas, urls = _pool(), _sas(container), presigned(bucket, keys)
    headers = {"x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-08-06", "Content-Type": "application/octet-stream"}

    def copy(key_url: tuple[str, str]) -> None:
        key, url = key_url
        got = http.request("GET", url)
        _check(got, f"GET {key}")
        _check(http.request("PUT", f"{az}/{container}/{quote(key)}?{sas}", body=got.data, headers=headers),
               f"PUT {key}")

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(copy, zip(keys, urls)))
    return {"seconds": time.perf_counter() - started, "copied": len(keys), "skipped": 0, "failed": 0}


def floor_large(src: str, dst: str, keys: list[str]) -> dict:
    """The object streamed from moto straight into one upload request: fake-gcs-server's media
    upload, or one Put Blob to Azurite (it takes a multi-GiB body in one request)."""
    _, az, gcs = _endpoints()
    bucket, (scheme, target) = src.split("://", 1)[1], dst.split("://", 1)
    http, urls = _pool(), presigned(bucket, keys)
    sas = _sas(target) if scheme == "az" else ""
    started = time.perf_counter()
    for key, url in zip(keys, urls):
        got = http.request("GET", url, preload_content=False)
        headers = {"Content-Length": got.headers["Content-Length"], "Content-Type": "application/octet-stream"}
        if scheme == "az":
            put = http.request("PUT", f"{az}/{target}/{quote(key)}?{sas}", body=got,
                               headers={**headers, "x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-08-06"})
        else:
            put = http.request("POST", f"{gcs}/upload/storage/v1/b/{target}/o?uploadType=media&name="
                                       f"{quote(key, safe='')}", body=got, headers=headers)
        got.release_conn()
        _check(put, f"upload {key}")
    return {"seconds": time.perf_counter() - started, "copied": len(keys), "skipped": 0, "failed": 0}


def floor_noop(src: str, dst: str, keys: list[str]) -> dict:
    """Only the listings a no-op needs: both sides, at the same time."""
    http = _pool()
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        listed_src = pool.submit(s3_keys, http, src.split("://", 1)[1])
        listed_dst = pool.submit(azure_names, http, dst.split("://", 1)[1])
        n_src, n_dst = listed_src.result(), listed_dst.result()
    return {"seconds": time.perf_counter() - started, "copied": 0, "skipped": min(n_src, n_dst), "failed": 0}


FLOORS = {"small": floor_small, "large": floor_large, "noop": floor_noop}


def seed_bulk(bucket: str, prefix: str, start: int, count: int, size: int, step: int = 50_000,
              endpoint: str | None = None) -> float:
    """Store `count` objects of `size` bytes in moto's memory with its bulk put (keys
    `multicloud.testing.moto_server.bulk_keys`), `step` a request, on the moto at `endpoint` (default:
    the local stack's); returns the seconds taken."""
    from urllib.parse import urlencode

    from multicloud.testing.moto_server import BULK_PUT_PATH

    s3 = endpoint or _endpoints()[0]
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10, read=3600))
    started = time.perf_counter()
    for first in range(start, start + count, step):
        n = min(step, start + count - first)
        query = urlencode({"bucket": bucket, "prefix": prefix, "start": first, "count": n, "size": size})
        _check(http.request("POST", f"{s3}{BULK_PUT_PATH}?{query}"), f"bulk put of {n:,} into {bucket}")
    return time.perf_counter() - started

