"""What the benchmarks share: generated data, an exact peak-RSS reading, an RSS sampler and the
median of repeated timings."""

from __future__ import annotations

import os
import resource
import statistics
import threading
import time

MIB = 1 << 20


class Pattern:
    """`size` bytes made on the fly from one random MiB."""

    def __init__(self, size: int):
        self.left = size
        self.block = os.urandom(MIB)

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return (self.block * (n // MIB + 1))[:n]


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and
    exec, so a child's would be at least the parent's RSS when it was spawned."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """This process's RSS now."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """Samples this process's RSS every `interval` seconds in a daemon thread, so a long run can
    show whether its memory grows with the work done, not only its peak."""

    def __init__(self, interval: float = 1.0):
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.samples.append((time.perf_counter() - self._started, rss_mib()))

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter() - self._started, rss_mib()))
        return self.samples

    def at_fractions(self, fractions=(0.1, 0.25, 0.5, 0.75, 1.0)) -> dict[str, float]:
        """The highest RSS seen up to each fraction of the run's time (the run copies at a steady
        rate, so a fraction of the time is about that fraction of the objects)."""
        end = self.samples[-1][0] if self.samples else 0.0
        return {f"{f:g}": max((rss for t, rss in self.samples if t <= f * end), default=0.0) for f in fractions}


def summarize(runs: list[dict]) -> dict:
    """Repeated runs of one tool as one row: median seconds (with min and max), the highest peak RSS."""
    seconds = [r["seconds"] for r in runs]
    return {**runs[-1], "seconds": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "runs": len(runs), "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}
