"""Bucket snapshots laid out by the backup contract, written with the plain SnapshotWriter, for tests
and the demo: an object with key K of `scheme://bucket/prefix` is the file at `/<scheme>/<bucket>/<prefix>`
+ `tree_path(K)` (multicloud/core/backups/tree.py), its metadata in the node's extended attributes."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Sequence

from multicloud.core.backups.forget import plan_tag
from multicloud.core.backups.tree import snapshot_path, source_root, tree_path
from multicloud.engine.restic import Repository, SnapshotWriter
from multicloud.engine.restic.sources import (
    XATTR_CACHE_CONTROL, XATTR_CONTENT_TYPE, XATTR_ETAG, XATTR_META_PREFIX, XATTR_SHA256,
)


@dataclass(frozen=True)
class SampleObject:
    body: bytes
    content_type: str | None = "application/octet-stream"
    cache_control: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


def root_path(source_url: str) -> str:
    """`s3://bucket/prefix/` -> `/s3/bucket/prefix` (the snapshot path of a bucket source)."""
    return snapshot_path(source_root(source_url))


def object_path(source_url: str, key: str) -> list[str]:
    return [*source_root(source_url), *tree_path(key)]


def write_bucket_snapshot(repo: Repository, source_url: str, objects: Mapping[str, SampleObject], now: datetime,
                          plan_name: str, hostname: str = "mcops-test", extra_tags: Sequence[str] = ()) -> str:
    """One snapshot of `objects` as the bucket at `source_url`; returns its id."""
    with SnapshotWriter(repo) as writer:
        for key, obj in sorted(objects.items()):
            attrs = {XATTR_SHA256: hashlib.sha256(obj.body).hexdigest().encode(),
                     XATTR_ETAG: hashlib.md5(obj.body).hexdigest().encode()}
            if obj.content_type:
                attrs[XATTR_CONTENT_TYPE] = obj.content_type.encode()
            if obj.cache_control:
                attrs[XATTR_CACHE_CONTROL] = obj.cache_control.encode()
            attrs.update({XATTR_META_PREFIX + k: v.encode() for k, v in obj.metadata.items()})
            writer.add_file(object_path(source_url, key), io.BytesIO(obj.body),
                            mtime_ns=int(now.timestamp()) * 1_000_000_000, extended_attributes=attrs)
        return writer.commit([root_path(source_url)], now, hostname=hostname,
                             tags=[plan_tag(plan_name), *extra_tags])
