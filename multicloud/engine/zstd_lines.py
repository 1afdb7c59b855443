"""Reading zstd-compressed JSON lines (a target's manifest, a spooled copy batch) as they stream from
a store: memory holds one read of decompressed bytes, never the whole object."""

from __future__ import annotations

from typing import Iterator

import orjson
import zstandard

_READ = 1 << 20


def json_lines(stream) -> Iterator[object]:
    """The JSON values of a zstd-compressed JSON-lines stream (a manifest, a spooled batch), line by
    line, decompressed as they stream."""
    reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    tail = b""
    while chunk := reader.read(_READ):
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            yield orjson.loads(line)
    if tail.strip():
        yield orjson.loads(tail)
