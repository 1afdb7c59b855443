"""What a backup reads: a source as a stream of entries (a path in the snapshot tree, size, identity,
extended attributes and a way to open the bytes), whatever the source is (a bucket, a folder, a database);
`source_entries` is the one place a plan's source becomes entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Callable, ContextManager, Iterator, Mapping

from multicloud.core.backups.tree import (  # noqa: F401 (one spelling, in core; re-exported)
    XATTR_CACHE_CONTROL, XATTR_CONTENT_TYPE, XATTR_ETAG, XATTR_META_PREFIX, XATTR_SHA256,
)

if TYPE_CHECKING:
    from multicloud.config import Profile
    from multicloud.config.backups import BackupSource
    from multicloud.core.backups.shards import BackupShard


@dataclass(frozen=True)
class SourceEntry:
    """One file of a snapshot: `path` its segments under the snapshot's root path, `identity` what lets an
    incremental run reuse the parent's content without reading (size + etag or SHA-256; None: always read),
    `open` a context manager giving the bytes as a stream, `refresh` (when the source can) the entry as
    the source describes it now, for another read after it changed while being read."""

    path: tuple[str, ...]
    size: int | None
    mtime_ns: int
    open: Callable[[], ContextManager[BinaryIO]]
    identity: str | None = None
    xattrs: Mapping[str, bytes] = field(default_factory=dict)
    mode: int = 0o644
    refresh: Callable[[], "SourceEntry"] | None = None


def source_entries(source: "BackupSource", profile: "Profile", shard: "BackupShard") -> Iterator[SourceEntry]:
    """The entries of one shard of a plan's source: a store's objects (globs applied) or a database dump."""
    if source.postgres is not None:
        from multicloud.engine.postgres import dump_entries

        return dump_entries(source.postgres)
    from multicloud.clouds import open_store
    from multicloud.engine.restic.bucket import bucket_entries

    store = open_store(source.url, profile, source.connection)
    return bucket_entries(store, shard, source.include, source.exclude)
