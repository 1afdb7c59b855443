"""Handing memory the process has freed back to the system."""

from __future__ import annotations

import ctypes
import sys


def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return the C allocator's free pages to the system; True when some were returned.

    Objects a copy batch's threads free are scattered among ones that live on (connections, pooled
    buffers), so glibc cannot shrink its heaps and keeps the freed pages resident: copying 100,000
    small objects four batches at a time, the process grew from 180 to 204 MiB with nothing more
    alive at the end; trimming after each batch kept it at 175. Cheap (a walk of the free lists)."""
    return bool(_TRIM(0)) if _TRIM is not None else False
