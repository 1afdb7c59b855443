"""Moving objects between stores: one object (server side where the pair allows, else streamed
with read-ahead and a SHA-256 check before commit), a batch on a thread pool, deletes and
tombstones, and re-hashing for verification. Cloud-agnostic: it speaks only ObjectStore."""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Iterable, Iterator

from multicloud.core.errors import StoreError
from multicloud.core.keys import decode_metadata, encode_metadata
from multicloud.core.objects import SHA256_METADATA_KEY, ObjectMeta, ObjectStore, StoreUrl
from multicloud.core.replication import (
    CompareMode, Decision, KeyFilter, batches, plan, tombstone_expired, tombstone_key,
)

_READ_AHEAD_CHUNK = 4 << 20
_READ_AHEAD_DEPTH = 4
_READ_AHEAD_FROM = 8 << 20  # smaller objects are read in one go anyway


@dataclass
class Failure:
    key: str
    target: str
    error: str
    retryable: bool = False


@dataclass
class BatchResult:
    copied: int = 0
    bytes: int = 0
    server_side: int = 0
    encoded_metadata: int = 0
    failures: list[Failure] = field(default_factory=list)

    def add(self, other: "BatchResult") -> None:
        self.copied += other.copied
        self.bytes += other.bytes
        self.server_side += other.server_side
        self.encoded_metadata += other.encoded_metadata
        self.failures.extend(other.failures)


class ReadAhead:
    """Reads the source in a background thread, a few chunks ahead, so download and upload overlap.
    Memory: at most `depth` chunks."""

    def __init__(self, stream: BinaryIO, chunk: int = _READ_AHEAD_CHUNK, depth: int = _READ_AHEAD_DEPTH):
        self._queue: queue.Queue = queue.Queue(depth)
        self._buf = b""
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=(stream, chunk), daemon=True)
        self._thread.start()

    def _pump(self, stream: BinaryIO, chunk: int) -> None:
        try:
            while not self._stop.is_set():
                data = stream.read(chunk)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:  # handed to the reader's thread
            self._put(exc)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or len(self._buf) < n):
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                self._done = True
            self._buf += item
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        self._stop.set()


def _described(listed: ObjectMeta) -> bool:
    """Whether a listing entry carries content type and user metadata (S3 listings do not)."""
    return listed.metadata is not None and listed.content_type is not None


def copy_object(src: ObjectStore, dst: ObjectStore, decision: Decision) -> tuple[int, bool, int]:
    """Copy one object; returns (bytes, server_side, metadata names encoded).

    Same-backend pairs on one connection copy server side. Otherwise the object streams, keeping
    content type, cache control and user metadata (names the target cannot hold are encoded);
    the bytes' SHA-256 is checked against the source's recorded digest before the target
    commits (PreconditionFailed on mismatch: the target is left as it was)."""
    scheme = StoreUrl.parse(dst.url).scheme
    if scheme == StoreUrl.parse(src.url).scheme and dst.capabilities.cross_bucket_copy:
        # Same cloud rules on both sides: metadata names need no re-encoding.
        if dst.copy_from(src, decision.key, decision.target_key) is not None:
            return decision.source.size, True, 0
    with src.open(decision.key) as reader:
        listed = decision.source
        meta = listed if _described(listed) else (getattr(reader, "meta", None) or src.stat(decision.key))
        metadata = decode_metadata({k: v for k, v in meta.metadata.items() if k != SHA256_METADATA_KEY})
        stored, encoded = encode_metadata(metadata, scheme)
        body = ReadAhead(reader) if meta.size >= _READ_AHEAD_FROM else reader
        try:
            dst.write(decision.target_key, body, size=meta.size, content_type=meta.content_type, metadata=stored,
                      cache_control=meta.cache_control, expected_sha256=meta.sha256)
        finally:
            if isinstance(body, ReadAhead):
                body.close()
    return meta.size, False, encoded


def copy_batch(src: ObjectStore, dst: ObjectStore, decisions: list[Decision], concurrency: int) -> BatchResult:
    """Copy every decision on a thread pool; one object's failure never stops the others.
    Objects that failed with a retryable error get one more pass after the rest."""
    result = BatchResult()
    lock = threading.Lock()

    def one(decision: Decision) -> Failure | None:
        try:
            size, server_side, encoded = copy_object(src, dst, decision)
        except Exception as exc:  # recorded, reported, and fails the run at the end
            retryable = isinstance(exc, StoreError) and exc.retryable
            return Failure(decision.key, dst.url, f"{type(exc).__name__}: {exc}", retryable)
        with lock:
            result.copied += 1
            result.bytes += size
            result.server_side += server_side
            result.encoded_metadata += encoded
        return None

    with ThreadPoolExecutor(max(1, min(concurrency, len(decisions)))) as pool:
        failures = [f for f in pool.map(one, decisions) if f]
        retry = {f.key for f in failures if f.retryable}
        if retry:
            time.sleep(1.0)
            again = [f for f in pool.map(one, [d for d in decisions if d.key in retry]) if f]
            failures = [f for f in failures if f.key not in retry] + again
    result.failures = failures
    return result


def delete_objects(dst: ObjectStore, decisions: list[Decision]) -> int:
    """Mirror mode: remove target-only objects."""
    return dst.delete(d.target_key for d in decisions)


def tombstone_objects(dst: ObjectStore, decisions: list[Decision], prefix: str, now: datetime) -> int:
    """Tombstone mode: move target-only objects under the tombstone prefix (copy, then delete)."""
    moved = []
    for d in decisions:
        dst.copy(d.target_key, tombstone_key(prefix, d.target_key, now))
        moved.append(d.target_key)
    dst.delete(moved)
    return len(moved)


def purge_tombstones(dst: ObjectStore, prefix: str, now: datetime, days: int) -> int:
    """Delete tombstones older than `days`."""
    return dst.delete(m.key for m in dst.list(prefix) if tombstone_expired(m.key, prefix, now, days))


def sha256_of(store: ObjectStore, key: str) -> str:
    """Re-read an object and hash its bytes."""
    digest = hashlib.sha256()
    with store.open(key) as reader:
        while data := reader.read(1 << 20):
            digest.update(data)
    return digest.hexdigest()


def prefetch(items: Iterable, depth: int = 2000) -> Iterator:
    """Iterate `items` from a background thread, up to `depth` items ahead, so two listings
    (source and target) are fetched at the same time. Errors surface in the consumer."""
    q: queue.Queue = queue.Queue(depth)
    end = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(end)
        except BaseException as exc:
            put(exc)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


@dataclass(frozen=True)
class SyncOptions:
    """How one sync pass compares and filters; the same for replication and the failover's final sync."""

    compare: CompareMode = "hash"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore_target_prefix: str | None = None  # the tombstone area: never planned
    concurrency: int = 16
    batch_objects: int = 1000
    batch_bytes: int = 1 << 30


@dataclass
class SyncOutcome:
    pending: int = 0
    copied: int = 0
    bytes: int = 0
    oldest_pending: datetime | None = None
    failures: list[Failure] = field(default_factory=list)


def sync_pass(src: ObjectStore, dst: ObjectStore, options: SyncOptions, dry_run: bool = False) -> SyncOutcome:
    """One pass: copy what differs from `src` to `dst` (never deletes). With `dry_run`, only count."""
    out = SyncOutcome()

    def copies():
        for d in plan(prefetch(src.list()), prefetch(dst.list()), options.compare,
                      KeyFilter(options.include, options.exclude), StoreUrl.parse(dst.url).scheme,
                      options.ignore_target_prefix):
            if d.action == "copy":
                out.pending += 1
                when = d.source.last_modified
                if when and (out.oldest_pending is None or when < out.oldest_pending):
                    out.oldest_pending = when
                yield d

    for batch in batches(copies(), options.batch_objects, options.batch_bytes):
        if dry_run:
            continue
        result = copy_batch(src, dst, batch, options.concurrency)
        out.copied += result.copied
        out.bytes += result.bytes
        out.failures.extend(result.failures)
    return out
