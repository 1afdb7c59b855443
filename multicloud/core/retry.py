"""Bounded exponential backoff with full jitter, driven by the error taxonomy."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from multicloud.core.errors import is_retryable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; delay i is uniform in [0, min(cap, base * 2**i)]."""

    attempts: int = 5
    base_seconds: float = 0.2
    cap_seconds: float = 10.0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        rng = rng or random.Random()
        for i in range(self.attempts - 1):
            yield rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**i))


NO_RETRY = RetryPolicy(attempts=1)


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rng: random.Random | None = None,
) -> T:
    """Call `fn`, retrying taxonomy errors marked retryable; the last error is raised."""
    delays = policy.delays(rng)
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            sleep(delay)
