"""`az://container/prefix`: the ObjectStore contract on Azure Blob Storage (block blobs),
with SDK errors mapped to the taxonomy and retried by `retried()`, never by the SDK."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobBlock, BlobClient, BlobSasPermissions, ContentSettings, generate_blob_sas

from multicloud.clouds.azure.backend import BACKEND
from multicloud.clouds.azure.errors import is_not_supported, map_error
from multicloud.clouds.azure.listing import list_blobs
from multicloud.clouds.azure.rawhttp import RawBlobs, http_pool, map_raw_error, md5_header
from multicloud.clouds.azure.session import client_for, plain_url
from multicloud.clouds.common import PART_SIZE, BoundedReader, mapped_chunks, retried, upload_parts
from multicloud.config import Connection
from multicloud.core.errors import AlreadyExists, InvalidInput, NotFound, PreconditionFailed, Transient
from multicloud.core.objects import (
    DEFAULT_CONTENT_TYPE, SHA256_METADATA_KEY, HashingReader, ObjectMeta, StoreUrl, check_key, check_stream,
    user_metadata,
)

DELETE_BATCH = 256  # the Blob Batch API's limit of sub-requests per batch
DELETE_CONCURRENCY = 16
LIST_PAGE = 5000  # the service maximum: fewer round trips per listing
COPY_TIMEOUT_SECONDS = 600.0

_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_SPECIAL_CONTAINERS = frozenset({"$root", "$logs", "$web"})
_METADATA_VALUE = re.compile(r"^[\x20-\x7e]*$")  # sent as an HTTP header value
_DELETED = frozenset({200, 202, 404})  # a batch sub-response that leaves the blob gone


def _call(fn: Callable[[], Any], target: str) -> Any:
    return retried(fn, partial(map_error, target=target))


# ---- containers ----------------------------------------------------------------------------

def check_container_name(name: str) -> str:
    """Refuse names Azure would refuse, before any request. Raises InvalidInput naming it."""
    if name in _SPECIAL_CONTAINERS or _CONTAINER_NAME.match(name or ""):
        return name
    raise InvalidInput(
        f"invalid Azure container name {name!r}: 3-63 lowercase letters, digits and single dashes, "
        "starting and ending with a letter or digit", target=name,
    )


def _paged(by_page: Callable[[str | None], Any], target: str) -> Iterator[Any]:
    """Items of an SDK pager, one retried request per page, fetched only as they are consumed."""
    token: str | None = None
    while True:
        def fetch(token=token):
            pages = by_page(token)
            page = next(pages, None)
            return list(page or ()), pages.continuation_token

        items, token = _call(fetch, target)
        yield from items
        if not token:
            return


def list_buckets(conn: Connection) -> list[str]:
    """Names of every container the connection can see. Raises PermissionDenied, Transient."""
    svc = client_for(conn)

    def by_page(token: str | None):
        return svc.list_containers(results_per_page=LIST_PAGE).by_page(continuation_token=token)

    return [c.name for c in _paged(by_page, plain_url(svc.url))]


def create_bucket(conn: Connection, name: str) -> None:
    """Create a container; an existing one is left as it is. Raises InvalidInput for a bad name."""
    check_container_name(name)
    svc = client_for(conn)
    target = f"{plain_url(svc.url)}/{name}"
    try:
        _call(lambda: svc.create_container(name), target)
    except AlreadyExists:
        pass


# ---- the store -----------------------------------------------------------------------------

def _check_metadata(metadata: Mapping[str, str], target: str) -> None:
    seen: dict[str, str] = {}
    for name, value in metadata.items():
        if not BACKEND.metadata.accepts(name):
            raise InvalidInput(
                f"metadata name {name!r} cannot be stored on Azure: it must be a C# identifier "
                "(ASCII letters, digits, underscores; not starting with a digit)", target=target,
            )
        if name.lower() in seen:  # Azure metadata names are case-insensitive
            raise InvalidInput(
                f"metadata names {seen[name.lower()]!r} and {name!r} differ only in case, "
                "which Azure cannot keep apart", target=target,
            )
        seen[name.lower()] = name
        if not _METADATA_VALUE.match(value):
            raise InvalidInput(
                f"metadata {name!r} has a value Azure cannot store: printable ASCII only", target=target
            )


def _meta(props: Any, key: str) -> ObjectMeta:
    settings = props.content_settings
    metadata = dict(props.metadata or {})
    hashes: dict[str, str] = {}
    if metadata.get(SHA256_METADATA_KEY):
        hashes["sha256"] = metadata[SHA256_METADATA_KEY]
    if settings.content_md5:  # set by our writes; by the service itself for single-request uploads only
        hashes["md5"] = bytes(settings.content_md5).hex()
    return ObjectMeta(
        key=key, size=props.size, last_modified=props.last_modified, etag=props.etag,
        content_type=settings.content_type, metadata=metadata, cache_control=settings.cache_control,
        hashes=hashes,
    )


class AzureBlobStore:
    """A container and a root prefix in it, through one shared BlobServiceClient."""

    capabilities = BACKEND.capabilities

    def __init__(self, parsed: StoreUrl, conn: Connection):
        """Raises InvalidInput for a container name Azure would refuse or a connection it cannot use."""
        self.url = str(parsed)
        check_container_name(parsed.bucket)
        self._root = parsed.prefix
        self._service = client_for(conn)  # shared per account and credential: the same-connection test
        self._container = self._service.get_container_client(parsed.bucket)
        self._base = plain_url(self._container.url)
        self._raw = RawBlobs(self._container, http_pool(conn, self._container.url))
        self._batch_delete = True
        self._page = min(conn.list_page_size or LIST_PAGE, LIST_PAGE)

    def _full(self, key: str) -> str:
        return self._root + check_key(key, self.url)

    def _blob(self, full: str) -> tuple[BlobClient, str]:
        return self._container.get_blob_client(full), f"{self._base}/{full}"

    def list(self, prefix: str = "") -> Iterator[ObjectMeta]:
        """Objects under `prefix` in key order, one page per request (raw pages: see listing.py).
        Raises NotFound for a missing container, InvalidInput, PermissionDenied."""
        return list_blobs(self._container, self._root + prefix, self._page, len(self._root),
                          partial(_call, target=self._base))

    def signed_url(self, key: str, expires_seconds: int) -> str:
        """A read-only SAS URL of `key` valid for `expires_seconds`: signed with the account key, or
        with a user delegation key when the connection holds a token credential (one request)."""
        blob, target = self._blob(self._full(key))
        start = datetime.now(timezone.utc) - timedelta(minutes=5)  # tolerate clock skew at the service
        expiry = start + timedelta(minutes=5, seconds=expires_seconds)
        signing: dict[str, Any] = {"account_key": getattr(self._service.credential, "account_key", None)}
        if not signing["account_key"]:
            signing = {"user_delegation_key": _call(lambda: self._service.get_user_delegation_key(start, expiry),
                                                    target)}
        sas = generate_blob_sas(blob.account_name, blob.container_name, blob.blob_name,
                                permission=BlobSasPermissions(read=True), expiry=expiry, start=start, **signing)
        return f"{blob.url}?{sas}"

    def stat(self, key: str) -> ObjectMeta:
        """Full description of one object. Raises NotFound."""
        blob, target = self._blob(self._full(key))
        return _meta(_call(blob.get_blob_properties, target), key)

    def open(self, key: str, start: int | None = None, end: int | None = None) -> BinaryIO:
        """A reader over bytes [start, end), fetched a few MiB at a time. Raises NotFound
        (at this call), InvalidInput for a negative bound."""
        blob, target = self._blob(self._full(key))
        first = start or 0
        if first < 0 or (end is not None and end < 0):
            raise InvalidInput(f"byte range [{start}, {end}) is negative", target=target)
        if end is not None and end <= first:
            _call(blob.get_blob_properties, target)  # still NotFound for a missing blob
            return BoundedReader(iter(()))  # type: ignore[return-value]
        # No offset for a whole read: a ranged GET of an empty blob is refused with 416.
        offset = None if first == 0 and end is None else first
        length = None if end is None else end - first
        try:
            downloader = _call(lambda: blob.download_blob(offset=offset, length=length, max_concurrency=1), target)
        except HttpResponseError as exc:
            if exc.status_code == 416:  # start at or past the end: no bytes, as for a slice
                return BoundedReader(iter(()))  # type: ignore[return-value]
            raise
        chunks = mapped_chunks(downloader.chunks(), partial(map_error, target=target))
        reader = BoundedReader(chunks, close=chunks.close)
        reader.etag = downloader.properties.etag
        return reader  # type: ignore[return-value]

    def write(
        self,
        key: str,
        stream: BinaryIO,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        cache_control: str | None = None,
        expected_sha256: str | None = None,
    ) -> ObjectMeta:
        """Stream into a block blob: one request up to PART_SIZE, staged blocks beyond; the MD5 is
        set as the blob's Content-MD5 either way. Raises AlreadyExists (if_absent and the blob exists),
        InvalidInput (bad key, metadata name or value, or a stream that does not hold `size` bytes),
        PreconditionFailed (SHA-256 mismatch); nothing is written then."""
        full = self._full(key)
        target = f"{self._base}/{full}"  # no BlobClient unless blocks are staged: it costs more than the PUT
        _check_metadata(user_metadata(metadata, "0" * 64, target), target)
        content_type = content_type or DEFAULT_CONTENT_TYPE
        reader = HashingReader(stream, md5=True)
        # A known small size is read in one go; else one part decides between one request and blocks.
        first = reader.read_exactly(size + 1 if size is not None and size < PART_SIZE else PART_SIZE)
        try:
            if len(first) < PART_SIZE:
                check_stream(reader, size, expected_sha256, target)
                stored = user_metadata(metadata, reader.hexdigest(), target)
                # One Put Blob of our own, signed by the SDK's credential policy; If-None-Match: *
                # (if_absent) lets the service itself refuse an existing blob.
                headers = {"x-ms-blob-content-type": content_type, "x-ms-blob-content-md5": md5_header(
                    reader.md5_digest()), **({"x-ms-blob-cache-control": cache_control} if cache_control else {})}
                result = retried(lambda: self._raw.put(full, first, headers, stored, if_absent),
                                 partial(map_raw_error, target=target))
            else:
                result, stored = self._write_blocks(full, target, reader, first, size, content_type, metadata,
                                                    if_absent, cache_control, expected_sha256)
        except (PreconditionFailed, AlreadyExists) as exc:
            if if_absent:
                raise AlreadyExists("object exists", target=target) from exc
            raise
        return ObjectMeta(
            key=key, size=reader.bytes_read, last_modified=result.get("last_modified"), etag=result.get("etag"),
            content_type=content_type, metadata=stored, cache_control=cache_control,
            hashes={"sha256": reader.hexdigest(), "md5": reader.md5_digest().hex()},
        )

    def _write_blocks(self, full: str, target: str, reader: HashingReader, first: bytes, size: int | None,
                      content_type: str, metadata: Mapping[str, str] | None, if_absent: bool,
                      cache_control: str | None, expected_sha256: str | None) -> tuple[dict, dict[str, str]]:
        blob, _ = self._blob(full)
        # A random token per write keeps two concurrent writers of one key from committing
        # each other's uncommitted blocks; ids stay one length, as Azure requires per blob.
        token = uuid.uuid4().hex

        def stage(number: int, data) -> BlobBlock:
            block_id = f"{token}-{number:06d}"  # the SDK base64-encodes ids itself

            def once() -> None:
                if hasattr(data, "seek"):
                    data.seek(0)  # a retried block is sent from its start again
                blob.stage_block(block_id, data, length=len(data))

            _call(once, target)
            return BlobBlock(block_id)

        blocks = upload_parts(first, reader, stage)
        check_stream(reader, size, expected_sha256, target)  # uncommitted blocks are dropped by Azure in 7 days
        stored = user_metadata(metadata, reader.hexdigest(), target)
        # The service keeps no MD5 of a block list by itself: ours makes `md5` hold for every blob.
        settings = ContentSettings(content_type=content_type, cache_control=cache_control,
                                   content_md5=bytearray(reader.md5_digest()))
        condition = {"match_condition": MatchConditions.IfMissing} if if_absent else {}
        return _call(lambda: blob.commit_block_list(blocks, metadata=stored, content_settings=settings, **condition),
                     target), stored

    def delete(self, keys: Iterable[str]) -> int:
        """Delete keys, 256 per batch request; missing keys are not an error. Returns the number
        of keys requested. Raises InvalidInput for a bad key, PermissionDenied."""
        count = 0
        batch: list[str] = []
        for key in keys:
            batch.append(self._full(key))
            count += 1
            if len(batch) == DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)
        return count

    def _delete_batch(self, names: list[str]) -> None:
        if self._batch_delete:
            responses = _call(lambda: self._batch_call(names), self._base)
            if responses is None:
                self._batch_delete = False  # this endpoint has no Blob Batch API: one request per blob from now on
            # Any odd sub-response: redo the batch blob by blob, which is idempotent and raises the
            # real error, rather than trust the order of the multipart parts.
            elif len(responses) == len(names) and all(r.status_code in _DELETED for r in responses):
                return
        self._delete_each(names)

    def _batch_call(self, names: list[str]) -> list | None:
        """The batch's sub-responses, or None when the endpoint does not offer the Blob Batch API."""
        try:
            return list(self._container.delete_blobs(*names, raise_on_any_failure=False, delete_snapshots="include"))
        except HttpResponseError as exc:
            if is_not_supported(exc):
                return None
            raise

    def _delete_each(self, names: list[str]) -> None:
        def one(name: str) -> None:
            blob, target = self._blob(name)
            try:
                _call(lambda: blob.delete_blob(delete_snapshots="include"), target)
            except NotFound:
                pass

        with ThreadPoolExecutor(DELETE_CONCURRENCY) as pool:
            list(pool.map(one, names))

    def copy(self, src_key: str, dst_key: str) -> ObjectMeta:
        """Server-side copy (metadata and content settings travel with it), waited for.
        Raises NotFound for a missing source; Transient if the copy fails or times out."""
        return self._copy_in(self, src_key, dst_key)

    def copy_from(self, source, src_key: str, dst_key: str) -> ObjectMeta | None:
        """Server-side copy from another container of the same account and client, waited for;
        None for any other source. Raises NotFound for a missing source; Transient as `copy`."""
        if not isinstance(source, AzureBlobStore) or source._service is not self._service:
            return None
        return self._copy_in(source, src_key, dst_key)

    def _copy_in(self, source: "AzureBlobStore", src_key: str, dst_key: str) -> ObjectMeta:
        src, _ = source._blob(source._full(src_key))
        source.stat(src_key)  # NotFound naming the source, not the copy's CannotVerifyCopySource
        dst, target = self._blob(self._full(dst_key))
        result = _call(lambda: dst.start_copy_from_url(src.url), target)
        status, description = result.get("copy_status"), None
        deadline = time.monotonic() + COPY_TIMEOUT_SECONDS
        delay = 0.1
        while status == "pending":
            if time.monotonic() > deadline:
                _call(lambda: dst.abort_copy(result["copy_id"]), target)
                raise Transient(f"copy still pending after {COPY_TIMEOUT_SECONDS:.0f}s; aborted", target=target)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            copy = _call(dst.get_blob_properties, target).copy
            status, description = copy.status, copy.status_description
        if status != "success":
            raise Transient(f"copy ended {status}" + (f": {description}" if description else ""), target=target)
        return self.stat(dst_key)

    def close(self) -> None:
        """Nothing to release: the client is shared by every store of the connection; raises nothing."""
