"""Moving objects between stores: the one sync engine (both sides listed at once and merged
into a plan, used by replication and the failover's final sync), one object copied (server side
where the pair allows, else streamed with read-ahead and a SHA-256 check before commit), a batch
on a thread pool, deletes and tombstones, and re-hashing for verification. Cloud-agnostic: it
speaks only ObjectStore."""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import BinaryIO, Callable, Iterable, Iterator, NamedTuple

from multicloud.core.errors import StoreError
from multicloud.core.keys import decode_metadata, encode_metadata
from multicloud.core.objects import SHA256_METADATA_KEY, ObjectMeta, ObjectStore, StoreUrl
from multicloud.core.replication import (  # noqa: F401  BatchResult, Failure, SyncOptions: this module's API too
    BatchResult, Decision, Failure, KeyFilter, Shard, ShardPlan, ShardReport, SyncOptions, batches,
    changed_since_listed, comparable_hashes, plan, tombstone_expired, tombstone_key,
)
from multicloud.core.replication_spool import RunSpool
from multicloud.engine.memory import release_free_memory
from multicloud.engine.spool import ShardSpool

_READ_AHEAD_CHUNK = 4 << 20
_READ_AHEAD_DEPTH = 4
_READ_AHEAD_FROM = 8 << 20  # smaller objects are read in one go anyway
_RETRY_PAUSE = 1.0  # seconds before a batch's second pass over retryable failures


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


def _description(src: ObjectStore, listed: ObjectMeta, reader: BinaryIO, changed: bool) -> ObjectMeta:
    """Content type, cache control, user metadata and recorded SHA-256 of an object being read:
    the listing's entry where the backend's listings carry them (unless the object `changed`
    since), else the GET's own response, else a `stat` (the fallbacks
    `Capabilities.list_returns_metadata` names)."""
    if src.capabilities.list_returns_metadata and not changed:
        return listed
    return getattr(reader, "meta", None) or src.stat(listed.key)


@lru_cache(maxsize=256)
def _scheme(url: str) -> str:
    # Parsed once per store URL, not once per object copied.
    return StoreUrl.parse(url).scheme


class Copied(NamedTuple):
    """What copying one object did."""

    bytes: int
    server_side: bool
    encoded_metadata: int = 0  # metadata names stored encoded
    decoded_metadata: int = 0  # metadata names read encoded, written as the original
    changed: bool = False  # the bytes came from a newer version than the one listed


def copy_object(src: ObjectStore, dst: ObjectStore, decision: Decision) -> Copied:
    """Copy one object; returns what it did (`Copied`).

    Same-backend pairs on one connection copy server side. Otherwise the object streams, keeping
    content type, cache control and user metadata (names decoded by the source's rules, then
    encoded as the target needs);
    the bytes' SHA-256 is checked against the source's recorded digest before the target
    commits (PreconditionFailed on mismatch: the target is left as it was)."""
    scheme, src_scheme = _scheme(dst.url), _scheme(src.url)
    if scheme == src_scheme and dst.capabilities.cross_bucket_copy:
        # Same cloud rules on both sides: metadata names need no re-encoding.
        copied = dst.copy_from(src, decision.source_key, decision.target_key)
        if copied is not None:
            return Copied(copied.size, True, changed=changed_since_listed(decision.source, copied=copied))
    with src.open(decision.source_key) as reader:
        changed = changed_since_listed(decision.source, getattr(reader, "etag", None))
        meta = _description(src, decision.source, reader, changed)
        metadata = {k: v for k, v in (meta.metadata or {}).items() if k != SHA256_METADATA_KEY}
        metadata, decoded = decode_metadata(metadata, src_scheme) if metadata else ({}, 0)
        stored, encoded = encode_metadata(metadata, scheme) if metadata else ({}, 0)
        body = ReadAhead(reader) if meta.size >= _READ_AHEAD_FROM else reader
        try:
            dst.write(decision.target_key, body, size=meta.size, content_type=meta.content_type, metadata=stored,
                      cache_control=meta.cache_control, expected_sha256=meta.sha256)
        finally:
            if isinstance(body, ReadAhead):
                body.close()
    return Copied(meta.size, False, encoded, decoded, changed)


def _copy_counted(src: ObjectStore, dst: ObjectStore, decision: Decision, result: BatchResult,
                  lock: threading.Lock) -> Failure | None:
    """Copy one object and add it to `result`; its failure is returned, never raised."""
    try:
        done = copy_object(src, dst, decision)
    except Exception as exc:  # recorded per object, reported, and fails the run at the end
        return Failure(decision.key, dst.url, f"{type(exc).__name__}: {exc}",
                       isinstance(exc, StoreError) and exc.retryable)
    with lock:
        result.add(BatchResult(copied=1, bytes=done.bytes, server_side=int(done.server_side),
                               encoded_metadata=done.encoded_metadata, decoded_metadata=done.decoded_metadata,
                               changed_since_listed=int(done.changed)))
    return None


def copy_batch(src: ObjectStore, dst: ObjectStore, decisions: list[Decision], concurrency: int) -> BatchResult:
    """Copy every decision on a thread pool; one object's failure never stops the others.
    Objects that failed with a retryable error get one more pass after the rest. The result
    lists every failure of the batch (a batch is bounded by batch_objects)."""
    result, lock = BatchResult(target=dst.url), threading.Lock()

    def copy_all(todo: list[Decision]) -> list[Failure]:
        return [f for f in pool.map(lambda d: _copy_counted(src, dst, d, result, lock), todo) if f]

    with ThreadPoolExecutor(max(1, min(concurrency, len(decisions)))) as pool:
        failures = copy_all(decisions)
        retry = {f.key for f in failures if f.retryable}
        if retry:
            time.sleep(_RETRY_PAUSE)
            failures = [f for f in failures if f.key not in retry] + copy_all([d for d in decisions if d.key in retry])
    result.failed, result.failures = len(failures), failures
    release_free_memory()
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


def prefetch(items: Iterable, depth: int = 8, chunk: int = 500) -> Iterator:
    """Iterate `items` from a background thread, up to `depth` chunks of `chunk` items ahead, so
    two listings (source and target) are fetched and parsed at the same time while the merge
    consumes both; handing over chunks, not items, keeps the queue's locking off the per-object
    cost. Memory: depth x chunk items. Errors surface in the consumer, after the items before them."""
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
        held: list = []
        try:
            for item in items:
                held.append(item)
                if len(held) >= chunk:
                    if not put(held):
                        return
                    held = []
            put(held)
            put(end)
        except BaseException as exc:
            put(held)
            put(exc)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stop.set()


def planned(src: ObjectStore, dst: ObjectStore, options: SyncOptions, prefix: str = "",
            target_listing: Iterable[ObjectMeta] | None = None) -> Iterator[Decision]:
    """The plan of one sync pass under `prefix`: both sides listed at the same time and merged,
    compared by the hashes both backends keep (plus our SHA-256), the tombstone area ignored.
    `target_listing` stands in for listing `dst` (a manifest of it). Raises what the listings
    raise (NotFound, PermissionDenied, UnsortedListing, ...)."""
    target = dst.list(prefix) if target_listing is None else target_listing
    return plan(prefetch(src.list(prefix)), prefetch(target), options.compare,
                KeyFilter(options.include, options.exclude), StoreUrl.parse(dst.url).scheme,
                options.ignore_target_prefix, comparable_hashes(src.capabilities.hashes, dst.capabilities.hashes),
                StoreUrl.parse(src.url).scheme)


def shard_plan(src: ObjectStore, dst: ObjectStore, options: SyncOptions, shard: Shard, keep_candidates: int,
               dry_run: bool, target_listing: Iterable[ObjectMeta] | None = None,
               observe: Callable[[Iterator[Decision]], Iterator[Decision]] | None = None,
               spool: RunSpool | None = None) -> ShardPlan:
    """Plan one (target, shard): its report, its copy batches (none on a dry run: only counted)
    and its first `keep_candidates` target-only objects. `observe` sees every decision as it
    streams (the manifest writer). Memory: with a `spool`, its `in_memory` decisions to copy and a
    reference per further batch (written to the target's spool as the plan streams), never the
    objects listed; without one, every decision to copy."""
    report, candidates = ShardReport(shard.target), []
    decisions = planned(src, dst, options, shard.prefix, target_listing)
    if observe is not None:
        decisions = observe(decisions)
    numbered = enumerate(batches(report.tally(decisions, candidates, keep_candidates), options.batch_objects,
                                 options.batch_bytes), 1)
    if dry_run:
        for _ in numbered:
            pass
        return ShardPlan(report, [], candidates)
    spooling = ShardSpool(dst, spool, shard)
    plan = ShardPlan(report, [spooling.batch(n, batch) for n, batch in numbered], candidates)
    report.spooled = spooling.spooled
    return plan


def source_sha256(store: ObjectStore, listed: ObjectMeta) -> str:
    """The SHA-256 recorded for a listed object (from the listing where the backend's listings
    carry metadata, else `stat`), else the hash of its bytes."""
    described = listed if store.capabilities.list_returns_metadata else store.stat(listed.key)
    return described.sha256 or sha256_of(store, listed.key)


@dataclass
class SyncOutcome:
    """What one sync pass found and did; `failures` keeps the first KEPT of `failed`."""

    pending: int = 0
    copied: int = 0
    bytes: int = 0
    oldest_pending: datetime | None = None
    failures: list[Failure] = field(default_factory=list)
    failed: int = 0


def sync_pass(src: ObjectStore, dst: ObjectStore, options: SyncOptions, dry_run: bool = False) -> SyncOutcome:
    """One pass: copy what differs from `src` to `dst` (never deletes), batch by batch as the
    plan streams. With `dry_run`, only count."""
    report, result = ShardReport(dst.url), BatchResult(target=dst.url)
    for batch in batches(report.tally(planned(src, dst, options), [], 0), options.batch_objects,
                         options.batch_bytes):
        if not dry_run:
            result.add(copy_batch(src, dst, batch, options.concurrency))
    return SyncOutcome(report.to_copy, result.copied, result.bytes, report.oldest_pending, result.failures,
                       result.failed)
