"""What a backup reads: a source as a stream of entries (a path in the snapshot tree, size, identity,
extended attributes and a way to open the bytes), whatever the source is (a bucket, a folder, a database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Callable, ContextManager, Mapping

# Extended-attribute names a backed-up object's metadata travels under (our restore puts them back).
XATTR_CONTENT_TYPE = "user.multicloud.content_type"
XATTR_CACHE_CONTROL = "user.multicloud.cache_control"
XATTR_ETAG = "user.multicloud.etag"
XATTR_SHA256 = "user.multicloud.sha256"
XATTR_META_PREFIX = "user.multicloud.meta."  # + the user-metadata name, as the source stores it, decoded


@dataclass(frozen=True)
class SourceEntry:
    """One file of a snapshot: `path` its segments under the snapshot's root path, `identity` what lets an
    incremental run reuse the parent's content without reading (size + etag or SHA-256; None: always read),
    `open` a context manager giving the bytes as a stream."""

    path: tuple[str, ...]
    size: int | None
    mtime_ns: int
    open: Callable[[], ContextManager[BinaryIO]]
    identity: str | None = None
    xattrs: Mapping[str, bytes] = field(default_factory=dict)
    mode: int = 0o644
