"""I/O helpers every cloud folder shares: retried calls, HTTP sessions whose retries report their
waits, bounded-memory part uploads from reused buffers, file-like views over held parts, and raw
requests sent with their path as signed."""

from __future__ import annotations

import queue
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Iterator, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from multicloud.core.objects import HashingReader
from multicloud.core.retry import RetryPolicy, call_with_retry

T = TypeVar("T")

DEFAULT_RETRY = RetryPolicy(attempts=5, base_seconds=0.2, cap_seconds=10.0)
PART_SIZE = 8 << 20
PART_CONCURRENCY = 4


def retried(fn: Callable[[], T], map_error: Callable[[Exception], Exception], policy: RetryPolicy = DEFAULT_RETRY,
            sleep: Callable[[float], None] = time.sleep) -> T:
    """Run `fn`, mapping SDK errors to the taxonomy (original chained) and retrying the retryable,
    `sleep` waiting between attempts."""

    def once() -> T:
        try:
            return fn()
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    return call_with_retry(once, policy, sleep)


def recording_sleep(waits: list[float] | None) -> Callable[[float], None]:
    """time.sleep that also appends each wait to `waits` (when given), so a run can say how long it waited."""
    if waits is None:
        return time.sleep

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    return sleep


class WaitRecordingRetry(Retry):
    """urllib3's Retry that appends each wait to `waits` (shared by the copies urllib3 makes per attempt)."""

    waits: list[float]

    def new(self, **kw) -> "WaitRecordingRetry":
        copy = super().new(**kw)
        copy.waits = self.waits
        return copy

    def sleep(self, response=None) -> None:
        wait = self.get_retry_after(response) if response is not None else None
        if not wait:
            wait = self.get_backoff_time()
        if wait > 0:
            self.waits.append(float(wait))
            time.sleep(wait)


def mount_recording_retry(session: requests.Session, attempts: int, backoff_seconds: float, backoff_max_seconds: float,
                          max_retry_after_seconds: float, waits: list[float]) -> None:
    """Retry `session`'s GETs on a 429, 5xx or broken connection, `attempts` times at most, with exponential
    backoff, honouring Retry-After up to its bound, and appending every wait to `waits`. The last answer
    is returned (not raised) when the retries are spent, for the caller to map."""
    policy = WaitRecordingRetry(total=attempts, status_forcelist=(429, 500, 502, 503, 504),
                                allowed_methods=frozenset({"GET"}), backoff_factor=backoff_seconds,
                                backoff_max=backoff_max_seconds, retry_after_max=max_retry_after_seconds,
                                respect_retry_after_header=True, raise_on_status=False)
    policy.waits = waits
    adapter = HTTPAdapter(max_retries=policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)


def mapped_chunks(chunks: Iterator[bytes], map_error: Callable[[Exception], Exception]) -> Iterator[bytes]:
    """A response body's chunks, a failure while reading raised as its taxonomy error (SDK error chained)."""
    try:
        yield from chunks
    except Exception as exc:
        mapped = map_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc


def iter_parts(reader: HashingReader, part_size: int = PART_SIZE) -> Iterator[bytes]:
    """Full parts of `part_size` bytes, then the remainder; at least one (possibly empty) part."""
    first = True
    while True:
        data = reader.read_exactly(part_size)
        if data or first:
            yield data
        first = False
        if len(data) < part_size:
            return


def fill(reader: HashingReader, buffer: bytearray) -> int:
    """Read into `buffer` until it is full or the stream ends; returns the bytes held."""
    view, held = memoryview(buffer), 0
    while held < len(buffer):
        data = reader.read(len(buffer) - held)
        if not data:
            break
        view[held:held + len(data)] = data
        held += len(data)
    return held


class ViewReader:
    """A seekable read-only file over a memoryview: how a part held in a reused buffer is handed
    to an SDK, which streams it from there (no copy) and may rewind it before sending."""

    def __init__(self, view: memoryview):
        self._view, self._pos = view, 0

    def __len__(self) -> int:
        return len(self._view)

    def read(self, n: int = -1) -> memoryview:
        end = len(self._view) if n is None or n < 0 else min(self._pos + n, len(self._view))
        out, self._pos = self._view[self._pos:end], end
        return out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, min(base + offset, len(self._view)))
        return self._pos


def upload_parts(
    first: bytes, reader: HashingReader, upload: Callable[[int, bytes | ViewReader], T],
    part_size: int = PART_SIZE, concurrency: int = PART_CONCURRENCY,
) -> list[T]:
    """Upload `first` as part 1, then the rest of `reader` as parts of `part_size` (the last one
    shorter, none empty), at most `concurrency` in flight; results in part order.

    Each part after the first is read into one of at most `concurrency` buffers made once per
    upload and reused as parts complete, so memory stays near (concurrency + 1) parts whatever
    the object's size, and a part is never copied on its way to the SDK."""
    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    made = 0
    results: dict[int, T] = {}

    def send(number: int, buffer: bytearray, held: int) -> T:
        try:
            return upload(number, ViewReader(memoryview(buffer)[:held]))
        finally:
            free.put(buffer)  # even after a failure: the reader must never wait for a lost buffer

    def collect(done: set[Future]) -> None:
        for fut in done:
            results[pending.pop(fut)] = fut.result()  # the first failure stops the upload

    with ThreadPoolExecutor(concurrency) as pool:
        pending: dict[Future, int] = {pool.submit(upload, 1, first): 1}
        number, held = 1, part_size
        while held == part_size:
            collect({f for f in pending if f.done()})
            if free.empty() and made < concurrency:
                free.put(bytearray(part_size))
                made += 1
            buffer = free.get()
            held = fill(reader, buffer)
            if not held:
                break
            while len(pending) >= concurrency:
                collect(wait(pending, return_when=FIRST_COMPLETED)[0])
            number += 1
            pending[pool.submit(send, number, buffer, held)] = number
        collect(set(wait(pending)[0]))
    return [results[n] for n in sorted(results)]


def urlopen(manager: urllib3.PoolManager, url: str, method: str, **kwargs) -> urllib3.BaseHTTPResponse:
    """One request, sent with its path exactly as signed: `PoolManager.request` would drop dot
    segments (`a/./b`, `a/../b`), which are part of a key. Through a plain-HTTP proxy the absolute
    URL is the request target, and such keys cannot pass."""
    parts = urlsplit(url)
    pool = manager.connection_from_url(url)
    plain_proxy = isinstance(manager, urllib3.ProxyManager) and parts.scheme == "http"
    target = url if plain_proxy else parts.path + (f"?{parts.query}" if parts.query else "")
    return pool.urlopen(method, target, redirect=False, retries=False, assert_same_host=False, **kwargs)


class BoundedReader:
    """A file-like reader over a body of chunks, with `close` and context-manager support.
    `meta`, when a backend sets it, describes the object as the read request saw it; `etag`,
    when set, is the version of the object the bytes come from."""

    meta = None
    etag: str | None = None

    def __init__(self, chunks: Iterator[bytes], close: Callable[[], None] | None = None):
        self._chunks = chunks
        self._buf = b""
        self._close = close

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            out = [self._buf]
            out.extend(self._chunks)
            self._buf = b""
            return b"".join(out)
        while len(self._buf) < n:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf += nxt
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._close:
            self._close()
            self._close = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
