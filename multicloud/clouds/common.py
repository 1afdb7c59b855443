"""I/O helpers every cloud folder shares: retried calls and bounded-memory part uploads."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Iterator, TypeVar

from multicloud.core.objects import HashingReader
from multicloud.core.retry import RetryPolicy, call_with_retry

T = TypeVar("T")

DEFAULT_RETRY = RetryPolicy(attempts=5, base_seconds=0.2, cap_seconds=10.0)
PART_SIZE = 8 << 20
PART_CONCURRENCY = 4


def retried(fn: Callable[[], T], map_error: Callable[[Exception], Exception], policy: RetryPolicy = DEFAULT_RETRY) -> T:
    """Run `fn`, mapping SDK errors to the taxonomy (original chained) and retrying the retryable."""

    def once() -> T:
        try:
            return fn()
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    return call_with_retry(once, policy, time.sleep)


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


def upload_parts(
    parts: Iterator[bytes], upload: Callable[[int, bytes], T], concurrency: int = PART_CONCURRENCY
) -> list[T]:
    """Upload numbered parts (from 1) with at most `concurrency` in flight; results in part order.

    Memory stays near (concurrency + 1) parts whatever the object's size."""
    results: dict[int, T] = {}
    with ThreadPoolExecutor(concurrency) as pool:
        pending: dict[Future, int] = {}
        for number, data in enumerate(parts, start=1):
            while len(pending) >= concurrency:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    results[pending.pop(fut)] = fut.result()
            pending[pool.submit(upload, number, data)] = number
        for fut in list(pending):
            results[pending.pop(fut)] = fut.result()
    return [results[n] for n in sorted(results)]


class BoundedReader:
    """A file-like reader over a body of chunks, with `close` and context-manager support.
    `meta`, when a backend sets it, describes the object as the read request saw it."""

    meta = None

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
