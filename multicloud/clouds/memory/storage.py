"""`mem://name/prefix`: objects held in this process, shared by every store of the same name."""

from __future__ import annotations

import bisect
import hashlib
import io
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import BinaryIO, Iterable, Iterator, Mapping

from multicloud.clouds.memory.backend import BACKEND
from multicloud.core.errors import AlreadyExists, NotFound
from multicloud.core.objects import (
    DEFAULT_CONTENT_TYPE, HashingReader, ObjectMeta, StoreUrl, check_key, check_stream, user_metadata,
)

_CHUNK = 1 << 20


@dataclass
class _Bucket:
    keys: list[str]
    objects: dict[str, tuple[ObjectMeta, bytes]]
    lock: threading.Lock


_BUCKETS: dict[str, _Bucket] = {}
_REGISTRY_LOCK = threading.Lock()


def _bucket(name: str) -> _Bucket:
    with _REGISTRY_LOCK:
        return _BUCKETS.setdefault(name, _Bucket([], {}, threading.Lock()))


def create_bucket(conn: None, name: str) -> None:
    """Make the named memory bucket (naming it in a store does the same). Raises nothing."""
    _bucket(name)


def reset(name: str | None = None) -> None:
    """Forget one named memory bucket, or all of them."""
    with _REGISTRY_LOCK:
        if name is None:
            _BUCKETS.clear()
        else:
            _BUCKETS.pop(name, None)


class MemoryStore:
    """Every object lives in a dict; listing walks a sorted key list."""

    capabilities = BACKEND.capabilities

    def __init__(self, url: StoreUrl, conn: None = None):
        """Raises nothing: a memory bucket exists once named."""
        self._root = url.prefix
        self._bucket = _bucket(url.bucket)
        self.url = str(url)

    def _full(self, key: str) -> str:
        return self._root + check_key(key, self.url)

    def _get(self, key: str) -> tuple[ObjectMeta, bytes]:
        try:
            return self._bucket.objects[self._full(key)]
        except KeyError:
            raise NotFound("no such object", target=f"{self.url}{key}") from None

    def list(self, prefix: str = "") -> Iterator[ObjectMeta]:
        """Objects under `prefix` in key order, one at a time (keys written meanwhile may appear).
        Raises nothing."""
        start = self._root + prefix
        keys = self._bucket.keys
        with self._bucket.lock:
            i = bisect.bisect_left(keys, start)
        while True:
            with self._bucket.lock:
                if i >= len(keys) or not keys[i].startswith(start):
                    return
                full = keys[i]
                meta = self._bucket.objects[full][0]
            yield replace(meta, key=full[len(self._root):])
            with self._bucket.lock:  # resume after `full` even if keys changed meanwhile
                i = bisect.bisect_right(keys, full)

    def stat(self, key: str) -> ObjectMeta:
        """Raises NotFound, InvalidInput for a bad key."""
        return replace(self._get(key)[0], key=key)

    def open(self, key: str, start: int | None = None, end: int | None = None) -> BinaryIO:
        """A reader over a slice of the object. Raises NotFound, InvalidInput for a bad key."""
        data = self._get(key)[1]
        return io.BytesIO(data[start or 0 : len(data) if end is None else end])

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
        """Read the stream whole, then store it. Raises AlreadyExists (if_absent and the key exists),
        InvalidInput (bad key or metadata, size mismatch), PreconditionFailed (SHA-256 mismatch)."""
        full = self._full(key)
        reader = HashingReader(stream)
        buf = bytearray()
        while chunk := reader.read(_CHUNK):
            buf += chunk
        check_stream(reader, size, expected_sha256, f"{self.url}{key}")
        data = bytes(buf)
        meta = ObjectMeta(
            key=key, size=len(data), last_modified=datetime.now(timezone.utc),
            etag=hashlib.md5(data).hexdigest(), content_type=content_type or DEFAULT_CONTENT_TYPE,
            metadata=user_metadata(metadata, reader.hexdigest(), f"{self.url}{key}"),
            hashes={"sha256": reader.hexdigest(), "md5": hashlib.md5(data).hexdigest()},
            cache_control=cache_control,
        )
        with self._bucket.lock:
            if if_absent and full in self._bucket.objects:
                raise AlreadyExists("object exists", target=f"{self.url}{key}")
            if full not in self._bucket.objects:
                bisect.insort(self._bucket.keys, full)
            self._bucket.objects[full] = (meta, data)
        return meta

    def delete(self, keys: Iterable[str]) -> int:
        """Missing keys are not an error. Raises InvalidInput for a bad key."""
        n = 0
        for key in keys:
            full = self._full(key)
            n += 1
            with self._bucket.lock:
                if self._bucket.objects.pop(full, None) is not None:
                    self._bucket.keys.pop(bisect.bisect_left(self._bucket.keys, full))
        return n

    def copy(self, src_key: str, dst_key: str) -> ObjectMeta:
        """Raises NotFound for a missing source, InvalidInput for a bad key."""
        meta, data = self._get(src_key)
        new = replace(meta, key=dst_key, last_modified=datetime.now(timezone.utc))
        full = self._full(dst_key)
        with self._bucket.lock:
            if full not in self._bucket.objects:
                bisect.insort(self._bucket.keys, full)
            self._bucket.objects[full] = (new, data)
        return new

    def copy_from(self, source, src_key: str, dst_key: str) -> ObjectMeta | None:
        """No server-side copy between buckets here: always None, the caller streams. Raises nothing."""
        return None

    def close(self) -> None:
        """Nothing to release: the bucket lives as long as the process; raises nothing."""
