"""Reading snapshots: find one, walk its trees, stream a file's blobs, restore to a folder. Reads
repositories written by restic itself (zstd frames without a content size, uncompressed blobs)."""

from __future__ import annotations

import os
import threading
from collections import Counter, deque
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from multicloud.core.backups.format import DATA, PackEntry, posix_permissions
from multicloud.core.backups.retention import SnapshotTime
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.engine.restic.crypto import OVERHEAD
from multicloud.engine.restic.errors import CorruptData
from multicloud.engine.restic.repository import BlobIndex, Repository, node_time_ns


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
        entries become `target`'s children), with modes and modification times. Packs are read in
        parallel, each once for all the blobs wanted from it, and every blob is written at its
        offsets in its files (so memory is a few pack ranges, whatever the files' sizes)."""
        plan = _RestorePlan(self.repo, self.index)
        counts, folders = Counter(files=0, folders=0, symlinks=0, bytes_written=0), []
        os.makedirs(target, exist_ok=True)
        # Folders come before their content, so each node's parent exists and its path is known.
        dests: dict[tuple[str, ...], str] = {(): os.fspath(target)}
        for path, node in self.walk(snapshot["tree"]):
            if include is not None and node["type"] != "dir" and not include(path):
                continue
            dest = os.path.join(dests[path[:-1]], path[-1])
            if node["type"] == "dir":
                os.makedirs(dest, exist_ok=True)
                dests[path] = dest
                folders.append((dest, node))
                counts["folders"] += 1
            elif node["type"] == "file":
                counts["bytes_written"] += plan.add(dest, node)
                counts["files"] += 1
            elif node["type"] == "symlink":
                os.symlink(node["linktarget"], dest)
                counts["symlinks"] += 1
        plan.run(self._pool)
        for dest, node in reversed(folders):  # children first, so their writes don't move the folder's mtime
            _set_attributes(dest, node)
        return RestoreStats(**counts)


class _FileJob:
    """One file being restored: its blobs still to write and, while some are, its open descriptor."""

    __slots__ = ("dest", "node", "left", "fd", "created", "writing")

    def __init__(self, dest: str, node: dict, left: int):
        self.dest, self.node, self.left, self.fd, self.created = dest, node, left, None, False
        self.writing = 0  # writes under way on `fd`: it is closed only when none is


class _RestorePlan:
    """Which blob of which pack goes where: pack id -> blob id -> (entry, [(file, offset)])."""

    MAX_OPEN = 256  # descriptors kept open between writes; beyond it a file is reopened per write
    GAP = 1 << 20  # unwanted bytes between two wanted blobs read through rather than skipped
    SPAN = 32 << 20  # longest single read

    def __init__(self, repo: Repository, index: BlobIndex):
        self.repo, self.index = repo, index
        self.packs: dict[str, dict[bytes, tuple[PackEntry, list[tuple[_FileJob, int]]]]] = {}
        self._lock = threading.Lock()
        self._open = 0

    def add(self, dest: str, node: dict) -> int:
        """Plan one file node; returns its size. Empty files are written at once."""
        content = node.get("content")
        if content is None:
            raise CorruptData("file node has no content list", target=str(dest))
        job, offset = _FileJob(dest, node, len(content)), 0
        for blob_hex in content:
            pack_id, entry = self.index.find(DATA, bytes.fromhex(blob_hex))
            blobs = self.packs.setdefault(pack_id, {})
            blobs.setdefault(entry.blob_id, (entry, []))[1].append((job, offset))
            offset += entry.raw_length or entry.length - OVERHEAD
        if offset != node.get("size", 0):
            raise CorruptData(f"restored {offset} bytes where the snapshot says {node.get('size')}",
                              target=str(dest))
        if not content:
            with open(dest, "wb"):
                pass
            _set_attributes(dest, node)
        return offset

    def run(self, pool: Executor) -> None:
        futures = [pool.submit(self._restore_pack, pack_id, blobs) for pack_id, blobs in self.packs.items()]
        try:
            for future in futures:
                future.result()
        finally:
            for future in futures:
                future.cancel()
            wait(futures)  # none still writes when the descriptors close
            for blobs in self.packs.values():  # after an error: close what is still open
                for _, targets in blobs.values():
                    for job, _ in targets:
                        if job.fd is not None:
                            os.close(job.fd)
                            job.fd = None

    def _restore_pack(self, pack_id: str, blobs: dict) -> None:
        wanted = sorted(blobs.values(), key=lambda item: item[0].offset)
        run: list = []
        for item in wanted:
            if run and (item[0].offset - _end(run[-1][0]) > self.GAP or _end(item[0]) - run[0][0].offset > self.SPAN):
                self._restore_run(pack_id, run)
                run = []
            run.append(item)
        if run:
            self._restore_run(pack_id, run)

    def _restore_run(self, pack_id: str, run: list) -> None:
        start = run[0][0].offset
        data = memoryview(self.repo.read_pack_range(pack_id, start, _end(run[-1][0])))
        for entry, targets in run:
            plain = self.repo.open_blob(pack_id, entry, data[entry.offset - start:_end(entry) - start])
            for job, offset in targets:
                self._write(job, plain, offset)

    def _write(self, job: _FileJob, plain: bytes, offset: int) -> None:
        with self._lock:
            if job.fd is None:
                flags = os.O_WRONLY | os.O_CREAT | (0 if job.created else os.O_TRUNC)
                job.fd = os.open(job.dest, flags, 0o600)
                if not job.created:
                    os.ftruncate(job.fd, job.node.get("size", 0))  # its final size at once: writes land in place
                    job.created = True
                self._open += 1
            fd = job.fd
            job.writing += 1
        os.pwrite(fd, plain, offset)
        with self._lock:
            job.left -= 1
            job.writing -= 1
            if job.writing or (job.left and self._open <= self.MAX_OPEN):
                return
            os.close(fd)
            job.fd = None
            self._open -= 1
            done = not job.left
        if done:
            _set_attributes(job.dest, job.node)


def _end(entry: PackEntry) -> int:
    return entry.offset + entry.length


def _set_attributes(dest: str | Path, node: dict) -> None:
    os.chmod(dest, posix_permissions(node.get("mode", 0o644)))
    mtime = node_time_ns(node["mtime"])
    atime = node_time_ns(node["atime"]) if node.get("atime") else mtime
    os.utime(dest, ns=(atime, mtime))
