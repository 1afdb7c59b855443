"""Reading snapshots: find one, walk its trees, stream a file's blobs, restore to a folder. Reads
repositories written by restic itself (zstd frames without a content size, uncompressed blobs)."""

from __future__ import annotations

import os
from collections import Counter, deque
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from multicloud.core.backups.format import DATA, posix_permissions
from multicloud.core.backups.retention import SnapshotTime
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.engine.restic.errors import CorruptData
from multicloud.engine.restic.repository import BlobIndex, Repository


class ContentReader:
    """A file's bytes, its blobs fetched, opened and checked a few at a time ahead of the reader on
    `pool` (memory: at most `ahead` blobs of up to 8 MiB)."""

    def __init__(self, repo: Repository, index: BlobIndex, content: list[str], pool: Executor, ahead: int = 4):
        self._fetch = lambda blob_id: repo.read_blob(index, DATA, bytes.fromhex(blob_id))
        self._ids, self._pool, self._ahead = iter(content), pool, ahead
        self._queue: deque[Future] = deque()
        self._buf = memoryview(b"")
        self._fill()

    def _fill(self) -> None:
        while len(self._queue) < self._ahead:
            blob_id = next(self._ids, None)
            if blob_id is None:
                return
            self._queue.append(self._pool.submit(self._fetch, blob_id))

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            if not self._buf:
                if not self._queue:
                    break
                self._buf = memoryview(self._queue.popleft().result())
                self._fill()
            take = len(self._buf) if n < 0 else min(n - len(out), len(self._buf))
            out += self._buf[:take]
            self._buf = self._buf[take:]
        return bytes(out)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._ids = iter(())
        for future in self._queue:
            future.cancel()
        self._queue.clear()


@dataclass(frozen=True)
class RestoreStats:
    """What a restore wrote."""

    files: int
    folders: int
    symlinks: int
    bytes_written: int


class SnapshotReader:
    """Snapshots of one repository and their content, with the index loaded once."""

    def __init__(self, repo: Repository, threads: int = 4):
        self.repo = repo
        self.index = repo.load_index()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="restic-read")

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> "SnapshotReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def snapshots(self) -> list[dict]:
        return self.repo.snapshots()

    def find(self, ref: str) -> dict:
        """A snapshot by `latest`, full id or unique id prefix. Raises NotFound, InvalidInput."""
        found = self.snapshots()
        if ref == "latest":
            if not found:
                raise NotFound("repository has no snapshots", target=self.repo.name)
            return max(found, key=lambda s: SnapshotTime.parse(s["time"]).epoch_ns)
        matches = [s for s in found if s["id"].startswith(ref)]
        if len(matches) > 1:
            raise InvalidInput("snapshot id prefix is ambiguous", target=ref)
        if not matches:
            raise NotFound("no such snapshot", target=f"{self.repo.name} {ref}")
        return matches[0]

    def walk(self, tree_id: str, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
        """(path, node) for every node under a tree, depth first, a folder before its content."""
        for node in self.repo.read_tree(self.index, tree_id):
            path = prefix + (node["name"],)
            yield path, node
            if node["type"] == "dir":
                if not node.get("subtree"):
                    raise CorruptData("folder node has no subtree", target="/".join(path))
                yield from self.walk(node["subtree"], path)

    def open_file(self, node: dict) -> ContentReader:
        if node.get("content") is None:
            raise CorruptData("file node has no content list", target=node.get("name"))
        return ContentReader(self.repo, self.index, node["content"], self._pool)

    def restore(self, snapshot: dict, target: Path, include: Callable[[tuple[str, ...]], bool] | None = None
                ) -> RestoreStats:
        """Write the snapshot's files under `target` as `restic restore` does (the root tree's
        entries become `target`'s children), with modes and modification times."""
        counts, folders = Counter(files=0, folders=0, symlinks=0, bytes_written=0), []
        for path, node in self.walk(snapshot["tree"]):
            if include is not None and node["type"] != "dir" and not include(path):
                continue
            dest = Path(target, *(os.fsencode(p).decode(errors="surrogateescape") for p in path))
            if node["type"] == "dir":
                dest.mkdir(parents=True, exist_ok=True)
                folders.append((dest, node))
                counts["folders"] += 1
            elif node["type"] == "file":
                counts["bytes_written"] += self._restore_file(node, dest)
                counts["files"] += 1
            elif node["type"] == "symlink":
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(node["linktarget"], dest)
                counts["symlinks"] += 1
        for dest, node in reversed(folders):  # children first, so their writes don't move the folder's mtime
            _set_attributes(dest, node)
        return RestoreStats(**counts)

    def _restore_file(self, node: dict, dest: Path) -> int:
        dest.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        reader = self.open_file(node)
        try:
            with open(dest, "wb") as out:
                while data := reader.read(8 << 20):
                    out.write(data)
                    written += len(data)
        finally:
            reader.close()
        if written != node.get("size", 0):
            raise CorruptData(f"restored {written} bytes where the snapshot says {node.get('size')}",
                              target=str(dest))
        _set_attributes(dest, node)
        return written


def _set_attributes(dest: Path, node: dict) -> None:
    os.chmod(dest, posix_permissions(node.get("mode", 0o644)))
    mtime = SnapshotTime.parse(node["mtime"]).epoch_ns
    atime = SnapshotTime.parse(node["atime"]).epoch_ns if node.get("atime") else mtime
    os.utime(dest, ns=(atime, mtime))
