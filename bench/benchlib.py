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
    show whether its memory grows with the work done, not only its peak. `progress`, when given,
    says how much work is done (e.g. objects copied) and is sampled beside it."""

    def __init__(self, interval: float = 1.0, progress=None):
        self.samples: list[tuple[float, float, int]] = []
        self._progress = progress
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            done = self._progress() if self._progress else 0
        except Exception:  # a progress reading that fails only leaves this sample without one
            done = self.samples[-1][2] if self.samples else 0
        self.samples.append((time.perf_counter() - self._started, rss_mib(), done))

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._sample()

    def stop(self) -> list[tuple[float, float, int]]:
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.samples

    def at_fractions(self, fractions=(0.1, 0.25, 0.5, 0.75, 1.0)) -> dict[str, float]:
        """The highest RSS seen up to each fraction of the run's time."""
        end = self.samples[-1][0] if self.samples else 0.0
        return {f"{f:g}": max((s[1] for s in self.samples if s[0] <= f * end), default=0.0) for f in fractions}

    def at_progress(self, marks: list[int]) -> dict[str, float]:
        """The highest RSS seen until the work done first reached each mark (e.g. 100,000 objects
        copied): whether memory grows with the work, whatever the rate."""
        out = {}
        for mark in marks:
            upto = next((i for i, s in enumerate(self.samples) if s[2] >= mark), None)
            if upto is not None:
                out[f"{mark}"] = max(s[1] for s in self.samples[:upto + 1])
        return out


def summarize(runs: list[dict]) -> dict:
    """Repeated runs of one tool as one row: median seconds (with min and max), the highest peak RSS."""
    seconds = [r["seconds"] for r in runs]
    return {**runs[-1], "seconds": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "runs": len(runs), "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}
