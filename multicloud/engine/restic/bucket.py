"""Buckets as snapshot trees: list a store (one shard of it) into source entries whose reads detect an
object changing under them, find an unchanged object's node in the parent snapshot, and back entries up
into a writer, reusing the parent's content lists for objects whose identity matches."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator, Mapping

from multicloud.core.backups.format import DATA, file_node
from multicloud.core.backups.runs import ShardCounts
from multicloud.core.backups.shards import BackupShard
from multicloud.core.backups.tree import beside_folder, entry_identity, node_identity, tree_path
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.objects import SHA256_METADATA_KEY, HashingReader, ObjectMeta, ObjectStore
from multicloud.core.replication import KeyFilter
from multicloud.engine.restic.repository import BlobIndex, Repository
from multicloud.engine.restic.sources import (
    XATTR_CACHE_CONTROL, XATTR_CONTENT_TYPE, XATTR_ETAG, XATTR_META_PREFIX, XATTR_SHA256, SourceEntry,
)
from multicloud.engine.restic.writer import SnapshotWriter

#: Reads of one object before it is reported as changing too often to be backed up.
READ_ATTEMPTS = 3


class SourceChanged(InvalidInput):
    """An object's size or etag at the end of its read is not the one it was listed with."""


def _mtime_ns(meta: ObjectMeta) -> int:
    if meta.last_modified is None:
        return 0
    return int(meta.last_modified.timestamp()) * 1_000_000_000 + meta.last_modified.microsecond * 1000


def metadata_xattrs(meta: ObjectMeta) -> dict[str, bytes]:
    """The extended attributes an object's metadata travels under (the recorded SHA-256 has its own)."""
    attrs: dict[str, bytes] = {}
    if meta.content_type:
        attrs[XATTR_CONTENT_TYPE] = meta.content_type.encode()
    if meta.cache_control:
        attrs[XATTR_CACHE_CONTROL] = meta.cache_control.encode()
    if meta.etag:
        attrs[XATTR_ETAG] = meta.etag.strip('"').encode()
    for name, value in (meta.metadata or {}).items():
        if name != SHA256_METADATA_KEY:
            attrs[XATTR_META_PREFIX + name] = value.encode()
    return attrs


class ObjectReader:
    """One object's bytes as listed: at the end of the stream the size read and the etag the store reports
    (the GET's own, or a stat) must equal the listing's, else SourceChanged; `xattrs` then holds the
    object's full metadata."""

    def __init__(self, store: ObjectStore, listed: ObjectMeta):
        self.store, self.listed = store, listed
        self._stream = store.open(listed.key)
        self.read_bytes = 0
        self.xattrs: dict[str, bytes] = {}

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.read_bytes += len(data)
        if not data or (n < 0):
            self._verify()
        return data

    def _verify(self) -> None:
        if self.xattrs:
            return
        meta = getattr(self._stream, "meta", None)
        if meta is None or meta.metadata is None:
            meta = self.store.stat(self.listed.key)
        changed = self.read_bytes != self.listed.size or (
            self.listed.etag and meta.etag and meta.etag.strip('"') != self.listed.etag.strip('"'))
        if changed:
            raise SourceChanged(f"object changed while it was read (listed {self.listed.size} bytes, etag "
                                f"{self.listed.etag}; read {self.read_bytes} bytes, etag {meta.etag})",
                                target=self.listed.key)
        self.xattrs = metadata_xattrs(meta)

    def close(self) -> None:
        self._stream.close()


def bucket_entries(store: ObjectStore, shard: BackupShard, include: Iterable[str] = (),
                   exclude: Iterable[str] = ()) -> Iterator[SourceEntry]:
    """The entries of the store's keys in `shard` that pass the globs, in listing order; paths are the
    keys' tree paths (relative to the store's snapshot root)."""
    wanted = KeyFilter(include, exclude)
    for meta in store.list(shard.prefix):
        if shard.holds(meta.key) and wanted(meta.key):
            yield object_entry(store, meta)


def object_entry(store: ObjectStore, meta: ObjectMeta) -> SourceEntry:
    return SourceEntry(path=tree_path(meta.key), size=meta.size, mtime_ns=_mtime_ns(meta),
                       open=lambda: contextlib.closing(ObjectReader(store, meta)),
                       identity=entry_identity(meta.size, meta.etag, meta.sha256), xattrs=metadata_xattrs(meta),
                       refresh=lambda: object_entry(store, store.stat(meta.key)))


class ParentTree:
    """File nodes of the parent snapshot by path, its trees loaded one folder at a time along the path
    being backed up (entries come in key order, so a folder's keys are contiguous)."""

    def __init__(self, repo: Repository, index: BlobIndex, tree_id: str | None):
        self.repo, self.index = repo, index
        self._stack: list[tuple[str, dict[str, dict]]] = []
        self._root = self._load(tree_id) if tree_id else None  # None: no parent

    def _load(self, tree_id: str) -> dict[str, dict]:
        try:
            return {n["name"]: n for n in self.repo.read_tree(self.index, tree_id)}
        except NotFound:
            return {}  # a tree not every mirror holds: its objects are read again

    def _folder(self, parts: tuple[str, ...]) -> dict[str, dict] | None:
        if self._root is None:
            return None
        keep = 0
        while keep < min(len(parts), len(self._stack)) and self._stack[keep][0] == parts[keep]:
            keep += 1
        del self._stack[keep:]
        for part in parts[keep:]:
            here = self._stack[-1][1] if self._stack else self._root
            node = here.get(part)
            if node is None or node.get("type") != "dir" or not node.get("subtree"):
                return None
            self._stack.append((part, self._load(node["subtree"])))
        return self._stack[-1][1] if self._stack else self._root

    def file(self, path: tuple[str, ...]) -> dict | None:
        folder = self._folder(path[:-1])
        if folder is None:
            return None
        node = folder.get(path[-1])
        if node is None or node.get("type") != "file":
            with contextlib.suppress(InvalidInput):
                node = folder.get(beside_folder(path[-1]))  # it stood beside a folder of its name
        return node if node is not None and node.get("type") == "file" else None


def reusable(node: dict | None, entry: SourceEntry, index: BlobIndex) -> bool:
    """The parent's node stands for this entry unread: same identity, and every blob of its content is in
    the index every repository shares (a mirror that missed the parent's run must get the blobs again)."""
    return (node is not None and entry.identity is not None and node_identity(node) == entry.identity
            and all(index.has(DATA, bytes.fromhex(b)) for b in node["content"]))


def back_up_entries(writer: SnapshotWriter, root: tuple[str, ...], entries: Iterable[SourceEntry],
                    parent: ParentTree | None, progress: Callable[[ShardCounts], None] = lambda c: None
                    ) -> ShardCounts:
    """Add every entry under `root`: an unchanged one reuses its parent's node, others are read (again when
    they change while read, at most READ_ATTEMPTS times); an entry that still fails is counted and kept
    out of the snapshot, never stored half old, half new."""
    counts = ShardCounts()
    for entry in entries:
        counts.objects += 1
        node = parent.file(root + entry.path) if parent is not None else None
        if reusable(node, entry, writer.index):
            writer.add_node(root + entry.path, {**node, "name": entry.path[-1]})
            counts.reused += 1
            counts.logical_bytes += node["size"]
        else:
            _read_entry(writer, root, entry, counts)
        progress(counts)
    return counts


def _read_entry(writer: SnapshotWriter, root: tuple[str, ...], entry: SourceEntry, counts: ShardCounts) -> None:
    node = _read_with_retries(writer, entry, counts)
    if node is None:
        return
    try:
        writer.add_node(root + entry.path, node)
    except InvalidInput as exc:  # a key no tree can hold beside its neighbours
        counts.fail(entry.path, exc)
        return
    counts.read += 1
    counts.logical_bytes += node["size"]


def _read_with_retries(writer: SnapshotWriter, entry: SourceEntry, counts: ShardCounts) -> dict | None:
    """The stored file node of the entry, read again as the source now describes it when it changed
    during a read; None (counted as failed) when it keeps changing or is gone."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return _stored_node(writer, entry)
        except SourceChanged as exc:
            if attempt == READ_ATTEMPTS or entry.refresh is None:
                counts.fail(entry.path, exc)
                return None
        except NotFound as exc:
            counts.fail(entry.path, exc)  # deleted since the listing
            return None
        try:
            entry = entry.refresh()
        except NotFound as exc:
            counts.fail(entry.path, exc)
            return None
    return None


def _stored_node(writer: SnapshotWriter, entry: SourceEntry) -> dict:
    with entry.open() as stream:
        hashing = HashingReader(stream)
        content, size = writer.save_content(hashing)
        attrs: Mapping[str, bytes] = {**entry.xattrs, **getattr(stream, "xattrs", {}),
                                      XATTR_SHA256: hashing.hexdigest().encode()}
    if entry.size is not None and size != entry.size:
        raise SourceChanged(f"read {size} bytes where {entry.size} were listed", target="/".join(entry.path))
    return file_node(entry.path[-1], size, content, mode=entry.mode, mtime_ns=entry.mtime_ns,
                     extended_attributes=attrs)
