"""Writing snapshots: content-defined chunks (FastCDC) deduplicated by SHA-256, sealed into packs of
about 16 MiB (data and tree blobs apart), then index files, tree blobs and the snapshot, in that order."""

from __future__ import annotations

import getpass
import hashlib
import struct
from collections import deque
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, BinaryIO, Callable, Mapping, Sequence

import pyfastcdc

from multicloud.core.backups.chunker import MAX_CHUNK, MIN_CHUNK
from multicloud.core.backups.format import (
    DATA, TREE, PackEntry, check_name, dir_node, encode_pack_header, encode_tree, file_node, format_datetime,
    index_document, snapshot_document, symlink_node,
)
from multicloud.core.errors import InvalidInput
from multicloud.engine.restic.repository import BlobIndex, Repository

PACK_SIZE = 16 << 20
#: FastCDC's `avg_size` that gives about 1.2 MiB chunks (measured on random data) above the 512 KiB minimum.
CHUNK_AVG_PARAMETER = 768 << 10
INDEX_BLOBS_PER_FILE = 150_000  # restic's v2 flush point
INLINE_SEAL = 64 << 10  # blobs below this are sealed on the calling thread
_READ = 1 << 20


def _read_up_to(stream: BinaryIO, n: int) -> bytes:
    """`n` bytes, or fewer only at the end of the stream (a stream may return short reads)."""
    first = stream.read(n)
    if not first or len(first) >= n:
        return first
    data = bytearray(first)
    while len(data) < n and (more := stream.read(n - len(data))):
        data += more
    return bytes(data)


class _Prefixed:
    """`head` and then the rest of `stream`, read into the chunker's buffer (readinto when the stream
    has it, else reads of at most 1 MiB, so a stream that joins on large reads is never asked for one)."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self._head, self._stream = memoryview(head), stream
        self._readinto = getattr(stream, "readinto", None)

    def readinto(self, buffer: memoryview) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        if self._readinto is not None:
            return self._readinto(buffer) or 0
        data = self._stream.read(min(len(buffer), _READ))
        buffer[:len(data)] = data
        return len(data)


@dataclass
class WriteStats:
    """What one snapshot cost; each field's annotation carries the label a summary shows."""

    files: Annotated[int, "files"] = 0
    files_unchanged: Annotated[int, "unchanged files (content reused, not read)"] = 0
    bytes_read: Annotated[int, "bytes read"] = 0
    data_blobs_new: Annotated[int, "new data blobs"] = 0
    data_blobs_reused: Annotated[int, "deduplicated data blobs"] = 0
    tree_blobs_new: Annotated[int, "new tree blobs"] = 0
    bytes_new: Annotated[int, "new bytes (before compression)"] = 0
    bytes_deduplicated: Annotated[int, "deduplicated bytes"] = 0
    bytes_stored: Annotated[int, "bytes stored in packs"] = 0
    packs: Annotated[int, "packs written"] = 0
    index_files: Annotated[int, "index files written"] = 0


class Packer:
    """Collects sealed blobs of one type; a full pack (`pack_size`) is uploaded on `uploads` while
    the writer goes on, and enters `pending` (pack id -> entries) once `drain` saw it stored."""

    def __init__(self, repo: Repository, blob_type: str, pending: dict[str, list[PackEntry]], stats: WriteStats,
                 pack_size: int = PACK_SIZE, uploads: Executor | None = None):
        self.repo, self.blob_type, self.pending, self.stats, self.pack_size = repo, blob_type, pending, stats, pack_size
        self._uploads = uploads
        self._parts: list[bytes] = []
        self._size = 0
        self._entries: list[PackEntry] = []
        self._inflight: deque[tuple[Future, list[PackEntry]]] = deque()

    def add(self, blob_id: bytes, sealed: bytes, raw_length: int) -> None:
        self._entries.append(PackEntry(blob_id, self.blob_type, self._size, len(sealed), raw_length))
        self._parts.append(sealed)
        self._size += len(sealed)
        if self._size >= self.pack_size:
            self.flush()

    def flush(self) -> None:
        if not self._entries:
            return
        header = self.repo.key.seal(encode_pack_header(self._entries))
        parts = self._parts + [header, struct.pack("<I", len(header))]
        self.stats.packs += 1
        self.stats.bytes_stored += self._size + len(header) + 4
        if self._uploads is None:
            self.pending[self.repo.save_pack_parts(parts)] = self._entries
        else:
            # One pack uploads while the next one fills: memory stays within two packs.
            while self._inflight:
                self._settle_oldest()
            self._inflight.append((self._uploads.submit(self.repo.save_pack_parts, parts), self._entries))
        self._parts, self._size, self._entries = [], 0, []

    def _settle_oldest(self) -> None:
        future, entries = self._inflight.popleft()
        self.pending[future.result()] = entries

    def drain(self) -> None:
        """Flush, and wait until every pack is stored (an upload's error is raised here)."""
        self.flush()
        while self._inflight:
            self._settle_oldest()


@dataclass
class _Dir:
    meta: dict = field(default_factory=lambda: {"mode": 0o755, "mtime_ns": 0})
    children: dict = field(default_factory=dict)  # name -> node dict or _Dir


class SnapshotWriter:
    """One snapshot being written under a non-exclusive lock (use it in a `with` block). Add files and
    folders by their path components, then `commit`; nothing is published (no index, no snapshot)
    unless commit runs, and packs left by a failed run are only unreferenced files restic's prune removes."""

    def __init__(self, repo: Repository, *, compression: bool = True, pack_size: int = PACK_SIZE, threads: int = 2,
                 rename_beside_folder: Callable[[str], str] | None = None,
                 index_loader: Callable[[], BlobIndex] | None = None):
        self.repo, self.compression = repo, compression
        # What may be deduplicated against (mirrors: only the blobs every mirror holds).
        self._load_index = index_loader or repo.load_index
        # A file whose name a folder also needs is renamed by this (None: refused), e.g. object keys `a` and `a/b`.
        self._rename = rename_beside_folder
        self.index = BlobIndex()
        self.stats = WriteStats()
        self._pending: dict[str, list[PackEntry]] = {}
        self._unindexed: set[tuple[str, bytes]] = set()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="restic-seal")
        self._uploads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="restic-upload")
        self._data = Packer(repo, DATA, self._pending, self.stats, pack_size, self._uploads)
        self._trees = Packer(repo, TREE, self._pending, self.stats, pack_size, self._uploads)
        self._root = _Dir()
        self._last_folder: tuple[tuple[str, ...] | None, _Dir] = (None, self._root)
        self._chunker = pyfastcdc.FastCDC(avg_size=CHUNK_AVG_PARAMETER, min_size=MIN_CHUNK, max_size=MAX_CHUNK)
        self._lock = repo.lock(exclusive=False)
        self._window = 2 * threads  # blobs being sealed at once: memory stays within a few chunks
        self._sealing: deque[tuple[bytes, Future]] = deque()

    def __enter__(self) -> "SnapshotWriter":
        self._lock.__enter__()
        # Only under our lock: a prune that ran before it may have removed blobs an older index listed.
        self.index = self._load_index()
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(cancel_futures=True)
        self._uploads.shutdown(cancel_futures=True)
        self._lock.release()

    # -- content --------------------------------------------------------------------------------
    def _save_blob(self, packer: Packer, blob_type: str, plain: bytes | memoryview) -> bytes:
        blob_id = hashlib.sha256(plain).digest()
        if (blob_type, blob_id) in self._unindexed or self.index.has(blob_type, blob_id):
            return blob_id
        self._unindexed.add((blob_type, blob_id))  # the same content later in this run is stored once
        if blob_type == TREE or len(plain) < INLINE_SEAL:
            # A small blob seals faster here than a hand-off to the pool and back.
            packer.add(blob_id, *self.repo.seal_blob(bytes(plain), blob_type == TREE or self.compression))
            return blob_id
        # Compression and encryption release the GIL: seal on the pool, pack in submission order.
        self._sealing.append((blob_id, self._pool.submit(self.repo.seal_blob, bytes(plain), self.compression)))
        if len(self._sealing) > self._window:
            self._pack_sealed(1)
        return blob_id

    def _pack_sealed(self, count: int | None = None) -> None:
        while self._sealing and (count is None or count > 0):
            blob_id, future = self._sealing.popleft()
            self._data.add(blob_id, *future.result())
            count = None if count is None else count - 1

    def _save_chunk(self, data: bytes | memoryview) -> str:
        before = len(self._unindexed)
        blob_id = self._save_blob(self._data, DATA, data)
        if len(self._unindexed) > before:
            self.stats.data_blobs_new += 1
            self.stats.bytes_new += len(data)
        else:
            self.stats.data_blobs_reused += 1
            self.stats.bytes_deduplicated += len(data)
        return blob_id.hex()

    def save_content(self, stream: BinaryIO) -> tuple[list[str], int]:
        """Chunk `stream` into data blobs; returns (blob ids, size). Memory stays within two chunks."""
        head = _read_up_to(stream, MIN_CHUNK + 1)
        if len(head) <= MIN_CHUNK:
            # Below the minimum the chunker cuts nothing: one blob, without its 16 MiB buffer.
            content, size = ([self._save_chunk(head)] if head else []), len(head)
        else:
            content, size = [], 0
            for chunk in self._chunker.cut_stream(_Prefixed(head, stream)):
                content.append(self._save_chunk(chunk.data))
                size += chunk.length
                self._lock.refresh()  # a clock check; it writes only every 5 minutes, even inside one huge object
        self.stats.bytes_read += size
        if len(self._unindexed) >= INDEX_BLOBS_PER_FILE:
            self._write_index()
        return content, size

    # -- the tree -------------------------------------------------------------------------------
    def _folder(self, parts: Sequence[str]) -> _Dir:
        key = tuple(parts)
        if self._last_folder[0] == key:  # files arrive folder by folder: skip the walk from the root
            return self._last_folder[1]
        folder = self._root
        for part in parts:
            child = folder.children.setdefault(check_name(part), _Dir())
            if not isinstance(child, _Dir):
                self._rename_file(folder, part, "/".join(parts))
                child = folder.children[part] = _Dir()
            folder = child
        self._last_folder = (key, folder)
        return folder

    def _rename_file(self, folder: _Dir, name: str, where: str) -> str:
        """Move the file node `name` of `folder` to the name `rename_beside_folder` gives it."""
        if self._rename is None:
            raise InvalidInput("a path is both a file and a folder", target=where)
        node = folder.children.pop(name)
        node["name"] = check_name(self._rename(name))
        if node["name"] in folder.children:
            raise InvalidInput("a renamed file meets another node of its new name", target=where)
        folder.children[node["name"]] = node
        return node["name"]

    def _place(self, path: Sequence[str], node: dict) -> dict:
        if not path:
            raise InvalidInput("a file needs a path", target="/")
        folder = self._folder(path[:-1])
        name = path[-1]
        if isinstance(folder.children.get(name), _Dir) and node["type"] != "dir" and self._rename is not None:
            node["name"] = name = check_name(self._rename(name))
        if name in folder.children:
            raise InvalidInput("the snapshot already has this path", target="/".join(path))
        folder.children[name] = node
        return node

    def add_node(self, path: Sequence[str], node: dict) -> dict:
        """Place a node built elsewhere (an unchanged file reusing its parent's content list, or a folder
        node whose subtree is already stored) at `path`."""
        if node["type"] == "file":
            self.stats.files += 1
        return self._place(path, node)

    def save_tree(self, nodes: Sequence[dict]) -> str:
        """Store one tree blob of ready nodes; returns its id."""
        before = len(self._unindexed)
        tree_id = self._save_blob(self._trees, TREE, encode_tree(nodes)).hex()
        self.stats.tree_blobs_new += len(self._unindexed) - before
        return tree_id

    def add_file(self, path: Sequence[str], stream: BinaryIO | None, *, mode: int = 0o644, mtime_ns: int = 0,
                 atime_ns: int | None = None, ctime_ns: int | None = None, uid: int = 0, gid: int = 0,
                 extended_attributes: Mapping[str, bytes] | None = None,
                 reuse: tuple[Sequence[str], int] | None = None) -> dict:
        """Store a file at `path` (components from the snapshot root); returns its tree node.
        `reuse` = (content, size) of an unchanged file from a parent snapshot: nothing is read (the
        stream may be None); check it with `has_content` first."""
        if reuse is None:
            content, size = self.save_content(stream)
        else:
            content, size = list(reuse[0]), reuse[1]
            self.stats.files_unchanged += 1
        self.stats.files += 1
        return self._place(path, file_node(path[-1], size, content, mode=mode, mtime_ns=mtime_ns, atime_ns=atime_ns,
                                           ctime_ns=ctime_ns, uid=uid, gid=gid,
                                           extended_attributes=extended_attributes))

    def has_content(self, content: Sequence[str]) -> bool:
        """True when every data blob of `content` is in the repository's index (so a parent's
        content list can be reused; restic re-reads a file whose blobs are missing)."""
        return all(self.index.has(DATA, bytes.fromhex(blob_id)) for blob_id in content)

    def add_symlink(self, path: Sequence[str], target: str, *, mtime_ns: int = 0, uid: int = 0, gid: int = 0) -> dict:
        return self._place(path, symlink_node(path[-1], target, mtime_ns=mtime_ns, uid=uid, gid=gid))

    def set_folder(self, path: Sequence[str], *, mode: int = 0o755, mtime_ns: int = 0, atime_ns: int | None = None,
                   ctime_ns: int | None = None, uid: int = 0, gid: int = 0) -> None:
        """Create the folder at `path` (if needed) and give it these attributes."""
        self._folder(path).meta = {"mode": mode, "mtime_ns": mtime_ns, "atime_ns": atime_ns, "ctime_ns": ctime_ns,
                                   "uid": uid, "gid": gid}

    def _save_tree(self, folder: _Dir) -> str:
        nodes = []
        for name, child in folder.children.items():
            if isinstance(child, _Dir):
                nodes.append(dir_node(name, self._save_tree(child), **child.meta))
            else:
                nodes.append(child)
        return self.save_tree(nodes)

    # -- publishing ----------------------------------------------------------------------------
    def _write_index(self) -> None:
        self._pack_sealed()
        self._data.drain()
        self._trees.drain()
        if self._pending:
            self.repo.save_unpacked("index", index_document(self._pending))
            self.stats.index_files += 1
            for pack_id, entries in self._pending.items():
                for entry in entries:
                    self.index.add(pack_id, entry)
            self._pending.clear()
        self._unindexed.clear()

    def finish(self) -> str:
        """Write the trees and the index of every pack written; returns the root tree id. Nothing is
        published: a snapshot naming the tree is written by `commit` (or by a caller joining trees)."""
        tree_id = self._save_tree(self._root)
        self._write_index()
        return tree_id

    def commit(self, paths: Sequence[str], now: datetime, *, hostname: str = "", tags: Sequence[str] = (),
               parent: str | None = None) -> str:
        """Write the trees, the packs' index and then the snapshot; returns the snapshot id."""
        tree_id = self.finish()
        self._lock.check()  # gives way, before publishing, to an exclusive lock taken meanwhile
        doc = snapshot_document(tree_id, paths, format_datetime(now), hostname=hostname, username=getpass.getuser(),
                                tags=tags, parent=parent)
        return self.repo.save_unpacked("snapshots", doc)
