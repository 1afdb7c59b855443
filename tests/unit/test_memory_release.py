"""The engine hands freed memory back after a copy batch (multicloud.engine.memory)."""

import os
import sys

import pytest

from multicloud.engine import memory


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(memory._TRIM is None, reason=f"no malloc_trim in this C library ({sys.platform})")
def test_freed_pages_scattered_among_live_objects_leave_the_process():
    objects = [os.urandom(1000)[:999] for _ in range(200_000)]  # ~200 MiB of malloc'd bytes
    kept = objects[::100]  # live objects all through the heap: glibc cannot shrink it by itself
    del objects
    before = rss_mib()
    assert memory.release_free_memory()
    assert before - rss_mib() > 100, "the freed ~200 MiB stayed resident"
    assert len(kept) == 2_000
