"""The object-store contract: one record (`ObjectMeta`), one protocol (`ObjectStore`),
declared optional abilities (`Capabilities`) and the URL form every backend accepts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Iterable, Iterator, Mapping, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from multicloud.core.errors import InvalidInput, PreconditionFailed
from multicloud.core.redact import redact_url
from multicloud.core.schemes import scheme_rules

#: User-metadata key under which every backend records the SHA-256 (hex) of an object's bytes.
#: Lowercase letters and an underscore: valid on S3, Azure (C# identifier rule) and GCS alike.
SHA256_METADATA_KEY = "multicloud_sha256"

#: Content type used when a writer does not give one.
DEFAULT_CONTENT_TYPE = "application/octet-stream"



@dataclass(frozen=True)
class ObjectMeta:
    """One object, described the same way for every cloud.

    `key` is relative to the store's root prefix. `metadata` is None when the listing
    call of that backend does not return user metadata (S3); `stat` always fills it.
    `hashes` maps algorithm ("sha256", "md5", "crc32c") to a lowercase hex digest.
    """

    key: str
    size: int
    last_modified: datetime | None = None
    etag: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] | None = None
    cache_control: str | None = None
    hashes: Mapping[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond the required surface, each with the fallback callers use.

    - hashes: digests the service itself keeps and returns in listings and `stat` of every object
      our writes and copies made ("md5", "crc32c"). "sha256" is not among them: our writes always
      record it in user metadata, so `stat` has it everywhere. Fallback: compare by SHA-256 (or
      size and time), choosing `multicloud.core.replication.comparable_hashes` of both sides.
    - list_returns_metadata: listings carry user metadata (so our SHA-256) and the content type;
      fallback: `stat` each object whose metadata is needed.
    - cross_bucket_copy: `copy_from` can copy server side from another bucket of the same backend
      and connection; fallback: stream through the client (`copy_from` returns None).
    - signed_urls: `signed_url(key, expires_seconds)` returns a GET URL a browser opens without
      credentials until it expires (S3 presign, Azure SAS, GCS signed URL); fallback: embed small
      files (charts) in the page that shows them (`multicloud.engine.report_files`).

    Conditional create (`write(if_absent=True)`) and same-store `copy` are required of every backend,
    atomic at the service: they are not capabilities.
    """

    hashes: frozenset[str] = frozenset()
    list_returns_metadata: bool = False
    cross_bucket_copy: bool = False
    signed_urls: bool = False



@runtime_checkable
class ObjectStore(Protocol):
    """A bucket (or container, or directory) and a root prefix inside it.

    Keys are relative to the root. Errors are those of `multicloud.core.errors` (the SDK's own error
    chained as `__cause__`); besides those each method names, any request may raise PermissionDenied,
    or Throttled and Transient once the backend's retries are spent.
    """

    url: str
    capabilities: Capabilities

    def list(self, prefix: str = "") -> Iterator[ObjectMeta]:
        """Yield objects under `prefix` in ascending key order (Unicode code point order),
        fetched page by page. Raises NotFound if the bucket does not exist."""
        ...

    def stat(self, key: str) -> ObjectMeta:
        """Full description of one object. Raises NotFound."""
        ...

    def open(self, key: str, start: int | None = None, end: int | None = None) -> BinaryIO:
        """A streaming reader over bytes [start, end) of the object. Raises NotFound.
        A whole-object reader may carry `meta` (ObjectMeta from the read's own response),
        sparing callers a `stat`."""
        ...

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
        """Stream `stream` into `key` with bounded memory, recording its SHA-256 in metadata.
        `if_absent` is an atomic create at the service on every backend.
        Raises AlreadyExists when `if_absent` and the key exists; InvalidInput for bad keys,
        metadata names or a stream whose length is not `size`; PreconditionFailed when the
        bytes' SHA-256 is not `expected_sha256`. On any error nothing is written or replaced."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Delete keys in batches; missing keys are not an error. Returns keys requested.
        Raises InvalidInput for a bad key."""
        ...

    def copy(self, src_key: str, dst_key: str) -> ObjectMeta:
        """Copy within this store (server side on the clouds), keeping content type, cache control
        and user metadata. Raises NotFound for a missing source."""
        ...

    def copy_from(self, source: "ObjectStore", src_key: str, dst_key: str) -> ObjectMeta | None:
        """Copy `src_key` of `source` (another bucket of this backend and connection) to `dst_key`
        server side, keeping content type, cache control and user metadata (the recorded SHA-256
        included). Returns None when this pair cannot copy server side: the caller streams instead.
        Raises NotFound for a missing source object."""
        ...

    def close(self) -> None:
        """Release what this store alone holds; raises nothing."""
        ...


@dataclass(frozen=True)
class StoreUrl:
    """A parsed store URL: `scheme://bucket/prefix` (or `file:///path`)."""

    scheme: str
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> "StoreUrl":
        """Parse `url` for a registered scheme. Raises InvalidInput naming the URL (redacted: a
        query or userinfo may carry a credential)."""
        if not isinstance(url, str) or "://" not in url:
            raise InvalidInput("store URL must look like scheme://bucket/prefix", target=redact_url(str(url)))
        shown = redact_url(url)
        parts = urlsplit(url)
        rules = scheme_rules(parts.scheme.lower(), target=shown)
        if parts.query or parts.fragment:
            raise InvalidInput("store URL takes no query or fragment", target=shown)
        if "@" in parts.netloc:
            raise InvalidInput("store URL takes no credentials: they come from the connection", target=shown)
        if rules.url_form == "path":
            if parts.netloc not in ("", "localhost"):
                raise InvalidInput(f"{rules.scheme} URLs must be {rules.scheme}:///absolute/path", target=shown)
            path = unquote(parts.path)
            if not path.startswith("/"):
                raise InvalidInput(f"{rules.scheme} URLs must be {rules.scheme}:///absolute/path", target=shown)
            return cls(rules.scheme, path.rstrip("/") or "/", "")
        bucket = parts.netloc
        if not bucket:
            raise InvalidInput("store URL names no bucket or container", target=shown)
        prefix = unquote(parts.path).lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(rules.scheme, bucket, prefix)

    def __str__(self) -> str:
        if scheme_rules(self.scheme).url_form == "path":
            return f"{self.scheme}://{self.bucket}"
        return f"{self.scheme}://{self.bucket}/{self.prefix}"


def check_key(key: str, store: str) -> str:
    """Refuse keys no backend can hold the same way; returns the key."""
    if not isinstance(key, str) or not key:
        raise InvalidInput("object key must be a non-empty string", target=f"{store} key={key!r}")
    if "\x00" in key or len(key.encode("utf-8")) > 1024:
        raise InvalidInput("object key has a NUL byte or is over 1024 bytes", target=f"{store} key={key!r}")
    return key


class HashingReader:
    """Wraps a binary stream, counting and SHA-256-hashing (and, with `md5`, MD5-hashing) every
    byte read through it."""

    def __init__(self, stream: BinaryIO, md5: bool = False):
        self._stream = stream
        self._sha = hashlib.sha256()
        self._md5 = hashlib.md5() if md5 else None
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if data:
            self._sha.update(data)
            if self._md5 is not None:
                self._md5.update(data)
            self.bytes_read += len(data)
        return data

    def read_exactly(self, n: int) -> bytes:
        """Read up to `n` bytes, looping over short reads; fewer only at end of stream."""
        chunks = []
        want = n
        while want > 0:
            data = self.read(want)
            if not data:
                break
            chunks.append(data)
            want -= len(data)
        return b"".join(chunks)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def md5_digest(self) -> bytes:
        """The MD5 of the bytes read so far (only when made with `md5=True`)."""
        if self._md5 is None:
            raise ValueError("this reader was made without md5=True")
        return self._md5.digest()


def check_stream(reader: HashingReader, size: int | None, expected_sha256: str | None, target: str) -> None:
    """Refuse, before anything is committed, a write whose stream did not hold the `size` bytes
    (InvalidInput) or the content (PreconditionFailed) the caller announced."""
    if size is not None and reader.bytes_read != size:
        raise InvalidInput(
            f"stream held {reader.bytes_read} bytes but size={size} was given", target=target
        )
    if expected_sha256 is not None and reader.hexdigest() != expected_sha256.lower():
        raise PreconditionFailed(
            f"content SHA-256 {reader.hexdigest()} does not match the expected {expected_sha256}", target=target
        )


def user_metadata(metadata: Mapping[str, str] | None, sha256: str, target: str) -> dict[str, str]:
    """The metadata to store: the caller's, checked, plus our SHA-256 under its key."""
    out: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidInput("metadata names and values must be strings", target=f"{target} metadata={name!r}")
        out[name] = value
    out[SHA256_METADATA_KEY] = sha256
    return out
