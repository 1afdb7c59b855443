"""Cloud Storage behind the ObjectStore contract, over the JSON API: paged listing, ranged
streaming reads, single-request uploads, a resumable session fed by one streaming request when the
size is known (chunked when it is not), bounded memory, conditional create, server-side rewrite;
every request carries the connection's timeouts and no SDK retry."""

from __future__ import annotations

import re
from datetime import timedelta
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import BinaryIO, Callable, Iterable, Iterator, Mapping
from urllib.parse import quote, urlencode

import requests
from google.api_core import exceptions as gapi
from google.auth.credentials import AnonymousCredentials, Signing
from google.auth.transport.requests import AuthorizedSession, Request as GoogleAuthRequest
from google.cloud import storage
from google.cloud.storage.exceptions import DataCorruption
# The SDK's own resumable-upload driver (private module): driving it chunk by chunk lets each
# chunk be retried under our policy and a size mismatch stop the upload before it commits; the
# standalone google-resumable-media copy of the class cannot be told not to retry by itself.
from google.cloud.storage._media.requests import ResumableUpload

from multicloud.clouds.common import BoundedReader, fill, iter_parts, retried
from multicloud.clouds.gcp.backend import BACKEND
from multicloud.clouds.gcp.errors import map_error
from multicloud.clouds.gcp.listing import hex_of, list_objects
from multicloud.clouds.gcp.session import Api, api_for
from multicloud.config import Connection
from multicloud.core.errors import AlreadyExists, InvalidInput, NotFound, PreconditionFailed, Transient
from multicloud.core.objects import (
    DEFAULT_CONTENT_TYPE, SHA256_METADATA_KEY, HashingReader, ObjectMeta, StoreUrl, check_key, check_stream,
    user_metadata,
)

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9._-]*[a-z0-9]")
_LIST_PAGE = 1000
# Real GCS answers at most 1,000 objects a page whatever is asked; the emulator's cost per page
# grows with the bucket, so asking more there halves a listing.
_OBJECT_PAGE = 5000
_READ_CHUNK = 8 << 20
# A resumable upload sends its chunks one after another: bigger chunks, fewer round trips.
_UPLOAD_CHUNK = 16 << 20
# A known-size upload streams in one request from two buffers of this size (the part being sent,
# the next one read ahead): more memory buys no speed (4 and 8 MiB measured the same).
_STREAM_PART = 4 << 20
_DELETE_CONCURRENCY = 16


def check_bucket_name(name: str) -> str:
    """Refuse a name Cloud Storage would refuse; raises InvalidInput naming it."""
    longest = 222 if "." in name else 63  # dotted (domain) names may be longer, 63 per label
    if not (
        _BUCKET_RE.fullmatch(name) and 3 <= len(name) <= longest and all(len(p) <= 63 for p in name.split("."))
    ):
        raise InvalidInput(
            f"invalid Cloud Storage bucket name {name!r}: 3-63 lowercase letters, digits, dashes, "
            "underscores and dots, starting and ending with a letter or digit",
            target=f"gs://{name}",
        )
    return name


# ---- buckets ---------------------------------------------------------------------------------

def _project(api: Api, conn: Connection) -> str:
    if not api.client.project:
        raise InvalidInput("no GCP project: set the connection's account or the ADC project", target=conn.name)
    return api.client.project


def list_buckets(conn: Connection) -> list[str]:
    """Names of the project's buckets. Raises PermissionDenied, or InvalidInput without a project."""
    api = api_for(conn)
    project = _project(api, conn)
    target = f"gs:// project {project}"

    def page(token: str | None) -> tuple[list[str], str | None]:
        it = api.client.list_buckets(
            project=project, page_size=_LIST_PAGE, page_token=token, timeout=api.timeout, retry=None
        )
        names = [b.name for b in next(it.pages)]
        return names, it.next_page_token

    names: list[str] = []
    token = None
    while True:
        batch, token = retried(lambda: page(token), lambda exc: map_error(exc, target))
        names += batch
        if not token:
            return names


def create_bucket(conn: Connection, name: str) -> None:
    """Create bucket `name` in the connection's project (and region, if it names one); an existing
    one is left as it is. Raises InvalidInput for a bad name, PermissionDenied."""
    check_bucket_name(name)
    api = api_for(conn)
    project = _project(api, conn)

    def create() -> None:
        try:
            api.client.create_bucket(name, project=project, location=conn.region, timeout=api.timeout, retry=None)
        except gapi.Conflict:  # already there (also the answer to a retried create that succeeded)
            pass

    retried(create, lambda exc: map_error(exc, f"gs://{name}"))


# ---- objects ---------------------------------------------------------------------------------

def _meta(blob: storage.Blob, key: str) -> ObjectMeta:
    metadata = dict(blob.metadata or {})
    hashes = {"sha256": metadata.get(SHA256_METADATA_KEY), "md5": hex_of(blob.md5_hash),
              "crc32c": hex_of(blob.crc32c)}
    return ObjectMeta(
        key=key, size=blob.size or 0, last_modified=blob.updated, etag=blob.etag, content_type=blob.content_type,
        metadata=metadata, cache_control=blob.cache_control, hashes={k: v for k, v in hashes.items() if v},
    )


class _PartStream:
    """The parts of a write as one stream for the resumable upload, holding only the part in
    flight (plus those not yet sent in `head`) so a chunk the service did not keep can be resent.

    `check(at_end)` runs as each part is taken and at the end of the parts; it raises to stop
    the upload before the final chunk commits anything."""

    def __init__(self, head: list[bytes], rest: Iterator[bytes], check: Callable[[bool], None]):
        self._head = head
        self._rest = rest
        self._check = check
        self._part = b""
        self._base = 0  # stream offset of self._part[0]
        self._pos = 0  # read position inside self._part

    def tell(self) -> int:
        return self._base + self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0 or not self._base <= offset <= self._base + len(self._part):
            raise ValueError("the upload asked to resend bytes no longer held")
        self._pos = offset - self._base
        return offset

    def _advance(self) -> bool:
        part = self._head.pop(0) if self._head else next(self._rest, None)
        self._check(part is None)
        if part is None:
            return False
        self._base += len(self._part)
        self._part, self._pos = part, 0
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise ValueError("unbounded read of an upload stream")
        out = []
        while n > 0:
            if self._pos >= len(self._part) and not self._advance():
                break
            data = self._part[self._pos : self._pos + n]  # the whole part is not copied
            self._pos += len(data)
            n -= len(data)
            out.append(data)
        return out[0] if len(out) == 1 else b"".join(out)


class _OneShotBody:
    """The body of a one-request upload of `size` bytes: read part by part into two buffers made
    once (the part being sent, the next read ahead), so `check` (size and SHA-256) runs before the
    last part is handed out. A refusal raised from `read` aborts the request mid-body: the service
    never completes the object."""

    def __init__(self, reader: HashingReader, size: int, check: Callable[[], None], part_size: int = _STREAM_PART):
        self._reader, self._size, self._check = reader, size, check
        self._buffers = (bytearray(part_size), bytearray(part_size))
        self._filling = 0
        self._ahead = fill(reader, self._buffers[0])
        self._view, self._pos = memoryview(b""), 0

    def __len__(self) -> int:  # what requests sends as Content-Length
        return self._size

    def _advance(self) -> bool:
        if not self._ahead:
            return False
        sending, held = self._filling, self._ahead
        # The buffer read into next was handed out last time and has been sent since: the HTTP
        # client asks for more only once the previous block is on the wire.
        self._filling ^= 1
        self._ahead = fill(self._reader, self._buffers[self._filling])
        if not self._ahead or self._reader.bytes_read > self._size:
            self._check()
        self._view, self._pos = memoryview(self._buffers[sending])[:held], 0
        return True

    def read(self, n: int = -1) -> memoryview:
        if self._pos >= len(self._view) and not self._advance():
            return memoryview(b"")
        end = len(self._view) if n is None or n < 0 else min(len(self._view), self._pos + n)
        out, self._pos = self._view[self._pos:end], end
        return out


class GcsStore:
    """One Cloud Storage bucket and root prefix."""

    capabilities = BACKEND.capabilities

    def __init__(self, url: StoreUrl, conn: Connection):
        """Raises InvalidInput for a bad bucket name, PermissionDenied without credentials."""
        self.url = str(url)
        self._root = url.prefix
        self._api = api_for(conn)
        self._bucket = self._api.client.bucket(check_bucket_name(url.bucket))
        self._timeout = self._api.timeout
        self._page = min(conn.list_page_size or _OBJECT_PAGE, _OBJECT_PAGE)

    def _target(self, key: str = "") -> str:
        return f"{self.url}{key}"

    def _call(self, fn, key: str = "", if_absent: bool = False):
        target = self._target(key)
        return retried(fn, lambda exc: map_error(exc, target, if_absent=if_absent))

    def _full(self, key: str) -> str:
        return self._root + check_key(key, self.url)

    def list(self, prefix: str = "") -> Iterator[ObjectMeta]:
        """Objects under `prefix` in key order, one request per page, made as the listing is
        consumed (raw JSON pages: see listing.py). Raises NotFound for a missing bucket."""
        return list_objects(self._api, self._bucket.name, self._root + prefix, self._page, len(self._root),
                            self._call)

    def _reload(self, key: str) -> storage.Blob:
        blob = self._bucket.blob(self._full(key))
        self._call(lambda: blob.reload(timeout=self._timeout, retry=None), key)
        return blob

    def signed_url(self, key: str, expires_seconds: int) -> str:
        """A V4 signed GET URL of `key` valid for `expires_seconds` (at most 7 days): signed with the
        connection's service-account key, or through IAM signBlob for token-only credentials. The
        emulator takes no credentials, so it gets the object's plain media link."""
        full = self._full(key)
        credentials = self._api.client._credentials
        if isinstance(credentials, AnonymousCredentials):
            name = quote(full, safe="")
            return f"{self._api.client.api_endpoint}/download/storage/v1/b/{self._bucket.name}/o/{name}?alt=media"
        signer: dict = {}
        if not isinstance(credentials, Signing):
            self._call(lambda: credentials.refresh(GoogleAuthRequest(self._api.session)), key)
            signer = {"service_account_email": credentials.service_account_email, "access_token": credentials.token}
        return self._call(lambda: self._bucket.blob(full).generate_signed_url(
            version="v4", expiration=timedelta(seconds=expires_seconds), method="GET", credentials=credentials,
            **signer), key)

    def stat(self, key: str) -> ObjectMeta:
        """Full description, user metadata and service hashes included. Raises NotFound,
        InvalidInput for a bad key."""
        return _meta(self._reload(key), key)

    def open(self, key: str, start: int | None = None, end: int | None = None) -> BinaryIO:
        """Stream bytes [start, end) in ranged requests of 8 MiB, all from the generation current
        at open. Raises NotFound (at open, or while reading if the object is replaced meanwhile);
        InvalidInput for a negative bound."""
        if (start or 0) < 0 or (end is not None and end < 0):
            raise InvalidInput("range bounds must not be negative", target=self._target(key))
        blob = self._reload(key)
        size = blob.size or 0
        lo = min(start or 0, size)
        hi = size if end is None else min(end, size)
        # Pinning the generation keeps a concurrent overwrite from splicing two objects' bytes.
        pinned = self._bucket.blob(blob.name, generation=blob.generation)

        def chunks() -> Iterator[bytes]:
            pos = lo
            while pos < hi:
                stop = min(pos + _READ_CHUNK, hi)
                yield self._call(
                    lambda: pinned.download_as_bytes(
                        start=pos, end=stop - 1, raw_download=True, checksum=None, timeout=self._timeout, retry=None
                    ),
                    key,
                )
                pos = stop

        body = chunks()
        reader = BoundedReader(body, close=body.close)
        reader.etag = blob.etag  # of the pinned generation every chunk is read from
        return reader

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
        """Up to 16 MiB in one request; more of a known size as a resumable session fed by one
        streaming request; of an unknown size, as a resumable upload of 16 MiB chunks. The SHA-256
        goes into the metadata up front when expected, else once known. Raises AlreadyExists when
        `if_absent` and the key exists; InvalidInput for a bad key or metadata, or a stream not
        holding `size` bytes; PreconditionFailed for a SHA-256 mismatch (nothing is written then);
        Transient when a request still fails after retries (the stream cannot be replayed)."""
        full = self._full(key)
        target = self._target(key)
        user_metadata(metadata, "", target)  # refuse bad metadata before reading the stream
        content_type = content_type or DEFAULT_CONTENT_TYPE
        reader = HashingReader(stream)
        if size is not None and size > _UPLOAD_CHUNK:
            return self._write_streaming(key, full, reader, size, content_type, metadata, if_absent, cache_control,
                                         expected_sha256)
        parts = iter_parts(reader, _UPLOAD_CHUNK)
        head = [next(parts)]
        second = next(parts, None)
        if second is None:
            check_stream(reader, size, expected_sha256, target)
            blob = self._bucket.blob(full)
            blob.metadata = user_metadata(metadata, reader.hexdigest(), target)
            blob.cache_control = cache_control
            data = head[0]
            self._call(
                lambda: blob.upload_from_string(
                    data, content_type=content_type, if_generation_match=0 if if_absent else None,
                    timeout=self._timeout, retry=None,
                ),
                key, if_absent,
            )
            return _meta(blob, key)
        head.append(second)
        del second  # the part stream alone holds parts now, and drops each once sent

        def check(at_end: bool) -> None:
            if at_end or (size is not None and reader.bytes_read > size):
                check_stream(reader, size, expected_sha256 if at_end else None, target)

        return self._write_resumable(
            key, full, _PartStream(head, parts, check), reader, content_type, metadata, if_absent, cache_control
        )

    def _write_resumable(
        self, key: str, full: str, body: _PartStream, reader: HashingReader, content_type: str,
        metadata: Mapping[str, str] | None, if_absent: bool, cache_control: str | None,
    ) -> ObjectMeta:
        target = self._target(key)
        if if_absent:
            self._refuse_existing(key, full)
        api = self._api
        url, resource = self._session_request(full, target, content_type, metadata, if_absent, cache_control, None)
        upload = ResumableUpload(url, _UPLOAD_CHUNK, checksum="crc32c", retry=None)

        def transmit() -> requests.Response:
            if upload.invalid:  # the service refused the last chunk: ask how much it kept, resume there
                upload.recover(api.session)
            elif body.tell() != upload.bytes_uploaded:
                # The last chunk died in transit: resend it whole, as the SDK's own retry does. Not a
                # status query: fake-gcs-server answers one by committing what it has so far.
                body.seek(upload.bytes_uploaded)
            return upload.transmit_next_chunk(api.session, timeout=self._timeout)

        def map_transmit(exc: Exception) -> Exception:
            # A checksum mismatch arrives after the object is committed: handled below, not retried.
            return exc if isinstance(exc, DataCorruption) else map_error(exc, target, if_absent=if_absent)

        try:
            self._call(
                lambda: upload.initiate(api.session, body, resource, content_type, stream_final=False,
                                        timeout=self._timeout),
                key, if_absent,
            )
            response = None
            while not upload.finished:
                response = retried(transmit, map_transmit)
        except DataCorruption as exc:
            self._delete_generation(full, exc.response)
            raise Transient("upload corrupted in transit; the object written was removed", target=target) from exc
        except BaseException:
            if upload.resumable_url:
                self._cancel(upload.resumable_url)
            raise
        return self._recorded(key, full, response.json(), reader, content_type, metadata, cache_control)

    def _refuse_existing(self, key: str, full: str) -> None:
        # Refused here before streaming a big body only to have it refused at the end; also the
        # only check fake-gcs-server makes, as it ignores ifGenerationMatch on resumable uploads.
        if self._call(lambda: self._bucket.blob(full).exists(timeout=self._timeout, retry=None), key):
            raise AlreadyExists("object exists", target=self._target(key))

    def _session_request(self, full: str, target: str, content_type: str, metadata: Mapping[str, str] | None,
                         if_absent: bool, cache_control: str | None, sha256: str | None) -> tuple[str, dict]:
        """The URL and object resource that open a resumable session; the SHA-256 in the metadata
        only when it is known before the bytes are (`sha256`)."""
        query = {"uploadType": "resumable", **({"ifGenerationMatch": 0} if if_absent else {})}
        bucket = quote(self._bucket.name, safe="")
        url = f"{self._api.client.api_endpoint}/upload/storage/v1/b/{bucket}/o?{urlencode(query)}"
        stored = user_metadata(metadata, sha256 or "", target)
        if not sha256:
            del stored[SHA256_METADATA_KEY]
        resource = {"name": full, "contentType": content_type, "metadata": stored}
        if cache_control:
            resource["cacheControl"] = cache_control
        return url, resource

    def _write_streaming(self, key: str, full: str, reader: HashingReader, size: int, content_type: str,
                         metadata: Mapping[str, str] | None, if_absent: bool, cache_control: str | None,
                         expected_sha256: str | None) -> ObjectMeta:
        """A resumable session (so real GCS keeps what it received) fed by one streaming PUT of the
        whole object: fake-gcs-server re-hashes the whole object per chunk, and real GCS pays a
        round trip per chunk. The stream cannot be replayed: a failed PUT is not retried here."""
        target = self._target(key)
        if if_absent:
            self._refuse_existing(key, full)
        sha256 = expected_sha256.lower() if expected_sha256 else None
        url, resource = self._session_request(full, target, content_type, metadata, if_absent, cache_control, sha256)
        session_url = self._call(lambda: self._open_session(url, resource, content_type, size), key, if_absent)
        body = _OneShotBody(reader, size, lambda: check_stream(reader, size, expected_sha256, target))
        headers = {"Content-Range": f"bytes 0-{size - 1}/{size}"}
        # A token refresh would resend a body already consumed: the session's opening refreshed it.
        once = {"_credential_refresh_attempt": 1 << 30} if isinstance(self._api.session, AuthorizedSession) else {}
        try:
            try:
                response = self._api.session.put(session_url, data=body, headers=headers, timeout=self._timeout, **once)
                if response.status_code not in (200, 201):
                    raise gapi.from_http_response(response)
            except (requests.RequestException, gapi.GoogleAPICallError) as exc:
                raise map_error(exc, target, if_absent=if_absent) from exc
        except BaseException:
            self._cancel(session_url)
            raise
        written = response.json()
        if sha256:
            blob = self._bucket.blob(full)
            blob._set_properties(written)  # the SDK's own reading of an object resource
            return _meta(blob, key)
        return self._recorded(key, full, written, reader, content_type, metadata, cache_control)

    def _open_session(self, url: str, resource: dict, content_type: str, size: int) -> str:
        response = self._api.session.post(url, json=resource, timeout=self._timeout, headers={
            "X-Upload-Content-Type": content_type, "X-Upload-Content-Length": str(size)})
        if response.status_code not in (200, 201):
            raise gapi.from_http_response(response)
        return response.headers["Location"]

    def _cancel(self, session_url: str) -> None:
        """Best effort: an abandoned session would otherwise linger a week."""
        try:
            self._api.session.delete(session_url, timeout=self._timeout)
        except requests.RequestException:
            pass

    def _recorded(self, key: str, full: str, written: dict, reader: HashingReader, content_type: str,
                  metadata: Mapping[str, str] | None, cache_control: str | None) -> ObjectMeta:
        """Record the SHA-256, known only now, on the generation just written."""
        target = self._target(key)
        generation = int(written["generation"])
        sha_metadata = user_metadata(metadata, reader.hexdigest(), target)
        blob = self._bucket.blob(full, generation=generation)
        blob.metadata = sha_metadata
        try:
            self._call(lambda: blob.patch(if_generation_match=generation, timeout=self._timeout, retry=None), key)
        except (NotFound, PreconditionFailed):
            # Replaced or deleted since our upload completed: our write happened, then theirs.
            return ObjectMeta(
                key=key, size=int(written.get("size", reader.bytes_read)), etag=written.get("etag"),
                content_type=content_type, metadata=sha_metadata, cache_control=cache_control,
                hashes={"sha256": reader.hexdigest()},
            )
        return _meta(blob, key)

    def _delete_generation(self, full: str, response: requests.Response | None) -> None:
        """Best effort: the caller is told the write failed either way."""
        if response is None:
            return
        try:
            generation = int(response.json()["generation"])
        except (ValueError, KeyError, TypeError):
            return  # the response names no generation: removing "the object" could hit a newer one
        try:
            self._bucket.blob(full, generation=generation).delete(timeout=self._timeout, retry=None)
        except (gapi.GoogleAPICallError, requests.RequestException):
            pass

    def _delete_one(self, key: str, full: str) -> None:
        try:
            self._call(lambda: self._bucket.blob(full).delete(timeout=self._timeout, retry=None), key)
        except NotFound:
            pass

    def delete(self, keys: Iterable[str]) -> int:
        """Delete keys, 16 requests at a time (fake-gcs-server has no batch endpoint); missing keys
        are not an error. Returns keys requested. Raises InvalidInput for a bad key."""
        n = 0
        with ThreadPoolExecutor(_DELETE_CONCURRENCY) as pool:
            pending: set = set()
            for key in keys:  # submitted as they come, so a huge iterable is never held whole
                full = self._full(key)
                n += 1
                if len(pending) >= 2 * _DELETE_CONCURRENCY:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        fut.result()
                pending.add(pool.submit(self._delete_one, key, full))
            for fut in pending:
                fut.result()
        return n

    def copy(self, src_key: str, dst_key: str) -> ObjectMeta:
        """Server-side rewrite; content type and metadata come along. Raises NotFound for a missing
        source, InvalidInput for a bad key."""
        return self._copy_in(self, src_key, dst_key)

    def copy_from(self, source, src_key: str, dst_key: str) -> ObjectMeta | None:
        """Server-side rewrite from another bucket of the same client; content type and metadata
        come along. None for any other source. Raises NotFound for a missing source object."""
        if not isinstance(source, GcsStore) or source._api.client is not self._api.client:
            return None
        return self._copy_in(source, src_key, dst_key)

    def _copy_in(self, source: "GcsStore", src_key: str, dst_key: str) -> ObjectMeta:
        src = source._bucket.blob(source._full(src_key))
        dst = self._bucket.blob(self._full(dst_key))
        token = None
        while True:  # large or cross-class rewrites take several calls, each resuming by token
            # Mapped with the source's target: a 404 here is most often the source object missing.
            token, _, _ = source._call(lambda: dst.rewrite(src, token=token, timeout=self._timeout, retry=None), src_key)
            if token is None:
                return _meta(dst, dst_key)

    def close(self) -> None:
        """Nothing to release: the client is shared by every store of the connection; raises nothing."""
