"""What a backup reads: a source as a stream of entries (a path in the snapshot tree, size, identity,
extended attributes and a way to open the bytes), whatever the source is (a bucket, a folder, a database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Callable, ContextManager, Mapping

# Extended-attribute names a backed-up object's metadata travels under; one definition, in core,
# because our restore (a core decision) reads them back.
from multicloud.core.backups.restore import (  # noqa: F401
    XATTR_CACHE_CONTROL, XATTR_CONTENT_TYPE, XATTR_ETAG, XATTR_META_PREFIX, XATTR_SHA256,
)


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
