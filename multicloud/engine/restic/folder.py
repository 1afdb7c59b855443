"""Backing up a local folder into a snapshot the way `restic backup /abs/folder` lays it out: the
folder's absolute path as nested folders, files with their modes, owners and times."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from multicloud.engine.restic.writer import SnapshotWriter


def _attributes(st: os.stat_result) -> dict:
    return {"mode": stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns, "atime_ns": st.st_atime_ns,
            "ctime_ns": st.st_ctime_ns, "uid": st.st_uid, "gid": st.st_gid}


def add_folder(writer: SnapshotWriter, folder: Path) -> None:
    """Add `folder` (absolute) and everything under it; other file types (devices, sockets) are skipped."""
    folder = Path(folder).absolute()
    parts = folder.parts[1:]
    for depth in range(len(parts) + 1):
        here = Path("/", *parts[:depth])
        if depth:
            writer.set_folder(parts[:depth], **_attributes(here.stat()))
    _add_tree(writer, folder, tuple(parts))


def _add_tree(writer: SnapshotWriter, folder: Path, path: tuple[str, ...]) -> None:
    with os.scandir(folder) as entries:
        ordered = sorted(entries, key=lambda e: os.fsencode(e.name))
    for entry in ordered:
        st = entry.stat(follow_symlinks=False)
        child = path + (entry.name,)
        if stat.S_ISDIR(st.st_mode):
            writer.set_folder(child, **_attributes(st))
            _add_tree(writer, Path(entry.path), child)
        elif stat.S_ISREG(st.st_mode):
            with open(entry.path, "rb") as stream:
                writer.add_file(child, stream, **_attributes(st))
        elif stat.S_ISLNK(st.st_mode):
            writer.add_symlink(child, os.readlink(entry.path), mtime_ns=st.st_mtime_ns, uid=st.st_uid, gid=st.st_gid)
