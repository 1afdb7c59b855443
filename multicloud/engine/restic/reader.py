"""Reading snapshots: find one, walk its trees, stream a file's blobs, restore to a folder. Reads
repositories written by restic itself (zstd frames without a content size, uncompressed blobs)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from multicloud.core.backups.format import DATA, posix_permissions
from multicloud.core.backups.retention import SnapshotTime
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.engine.restic.errors import CorruptData
from multicloud.engine.restic.repository import BlobIndex, Repository


class ContentReader:
    """A file's bytes, read one blob at a time (memory: one blob)."""

    def __init__(self, repo: Repository, index: BlobIndex, content: list[str]):
        self._repo, self._index, self._ids = repo, index, iter(content)
        self._buf = memoryview(b"")

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            if not self._buf:
                blob_id = next(self._ids, None)
                if blob_id is None:
                    break
                self._buf = memoryview(self._repo.read_blob(self._index, DATA, bytes.fromhex(blob_id)))
            take = len(self._buf) if n < 0 else min(n - len(out), len(self._buf))
            out += self._buf[:take]
            self._buf = self._buf[take:]
        return bytes(out)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._ids = iter(())


@dataclass
class RestoreStats:
    """What a restore wrote."""

    files: int = 0
    folders: int = 0
    symlinks: int = 0
    bytes_written: int = 0


class SnapshotReader:
    """Snapshots of one repository and their content, with the index loaded once."""

    def __init__(self, repo: Repository):
        self.repo = repo
        self.index = repo.load_index()

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
        return ContentReader(self.repo, self.index, node["content"])

    def restore(self, snapshot: dict, target: Path, include: Callable[[tuple[str, ...]], bool] | None = None
                ) -> RestoreStats:
        """Write the snapshot's files under `target` as `restic restore` does (the root tree's
        entries become `target`'s children), with modes and modification times."""
        stats, folders = RestoreStats(), []
        for path, node in self.walk(snapshot["tree"]):
            if include is not None and node["type"] != "dir" and not include(path):
                continue
            dest = Path(target, *(os.fsencode(p).decode(errors="surrogateescape") for p in path))
            if node["type"] == "dir":
                dest.mkdir(parents=True, exist_ok=True)
                folders.append((dest, node))
                stats.folders += 1
            elif node["type"] == "file":
                stats.bytes_written += self._restore_file(node, dest)
                stats.files += 1
            elif node["type"] == "symlink":
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(node["linktarget"], dest)
                stats.symlinks += 1
        for dest, node in reversed(folders):  # children first, so their writes don't move the folder's mtime
            _set_attributes(dest, node)
        return stats

    def _restore_file(self, node: dict, dest: Path) -> int:
        dest.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        reader = self.open_file(node)
        with open(dest, "wb") as out:
            while data := reader.read(1 << 20):
                out.write(data)
                written += len(data)
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
