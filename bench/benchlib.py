"""What the benchmarks share: generated data and an exact peak-RSS reading."""

from __future__ import annotations

import os
import resource

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
