"""Backing up a local folder into a snapshot the way `restic backup /abs/folder` lays it out: the
folder's absolute path as nested folders, files with their modes, owners and times; with a parent
snapshot, an unchanged file (same size, mtime and ctime) reuses its content without being read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from multicloud.core.errors import InvalidInput
from multicloud.engine.restic.repository import node_time_ns
from multicloud.engine.restic.writer import SnapshotWriter


def _attributes(st: os.stat_result) -> dict:
    return {"mode": stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns, "atime_ns": st.st_atime_ns,
            "ctime_ns": st.st_ctime_ns, "uid": st.st_uid, "gid": st.st_gid}


def _time_ns(text: str | None) -> int | None:
    try:
        return node_time_ns(text) if text else None
    except InvalidInput:
        return None


def unchanged(node: dict | None, st: os.stat_result) -> bool:
    """restic's test for a file it need not read: the parent's node is a file with the same size,
    modification time and change time (restic also compares the inode, which our nodes do not carry)."""
    return (node is not None and node.get("type") == "file" and isinstance(node.get("content"), list)
            and node.get("size", 0) == st.st_size and _time_ns(node.get("mtime")) == st.st_mtime_ns
            and _time_ns(node.get("ctime")) == st.st_ctime_ns)


class _Parent:
    """The parent snapshot's trees, read one folder at a time as the walk reaches it."""

    def __init__(self, writer: SnapshotWriter, tree_id: str | None):
        self._writer, self.tree_id = writer, tree_id

    def nodes(self) -> dict[str, dict]:
        if not self.tree_id:
            return {}
        return {n["name"]: n for n in self._writer.repo.read_tree(self._writer.index, self.tree_id)}

    def child(self, nodes: dict[str, dict], name: str) -> "_Parent":
        node = nodes.get(name)
        return _Parent(self._writer, node.get("subtree") if node and node.get("type") == "dir" else None)


def add_folder(writer: SnapshotWriter, folder: Path, *, parent_tree: str | None = None) -> None:
    """Add `folder` (absolute) and everything under it; other file types (devices, sockets) are skipped.
    `parent_tree`: the root tree of the parent snapshot, whose unchanged files are not read."""
    folder = Path(folder).absolute()
    parts = folder.parts[1:]
    parent = _Parent(writer, parent_tree)
    for depth in range(len(parts) + 1):
        here = Path("/", *parts[:depth])
        if depth:
            writer.set_folder(parts[:depth], **_attributes(here.stat()))
            parent = parent.child(parent.nodes(), parts[depth - 1])
    _add_tree(writer, folder, tuple(parts), parent)


def _add_tree(writer: SnapshotWriter, folder: Path, path: tuple[str, ...], parent: _Parent) -> None:
    with os.scandir(folder) as entries:
        ordered = sorted(entries, key=lambda e: os.fsencode(e.name))
    before = parent.nodes()
    for entry in ordered:
        st = entry.stat(follow_symlinks=False)
        child = path + (entry.name,)
        if stat.S_ISDIR(st.st_mode):
            writer.set_folder(child, **_attributes(st))
            _add_tree(writer, Path(entry.path), child, parent.child(before, entry.name))
        elif stat.S_ISREG(st.st_mode):
            _add_file(writer, entry.path, child, st, before.get(entry.name))
        elif stat.S_ISLNK(st.st_mode):
            writer.add_symlink(child, os.readlink(entry.path), mtime_ns=st.st_mtime_ns, uid=st.st_uid, gid=st.st_gid)


def _add_file(writer: SnapshotWriter, file: str, path: tuple[str, ...], st: os.stat_result, old: dict | None) -> None:
    if unchanged(old, st) and writer.has_content(old["content"]):
        writer.add_file(path, None, reuse=(old["content"], old["size"]), **_attributes(st))
        return
    with open(file, "rb") as stream:
        writer.add_file(path, stream, **_attributes(st))
