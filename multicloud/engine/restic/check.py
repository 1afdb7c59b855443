"""`check` for a restic repository: structure (config, key files, every index entry against its
pack's header and size, every tree and blob the snapshots reference present in the index) and the
content of a rotating subset of packs (every pack's hash and every blob's MAC and SHA-256), like
`restic check --read-data-subset n/N`. Damage becomes findings naming the pack and the repository."""

from __future__ import annotations

import hashlib
import json
import struct

from multicloud.core.backups.check import ERROR, NOTE, CheckReport, header_findings, in_subset
from multicloud.core.backups.format import DATA, TREE, PackEntry, decode_pack_header, index_entries
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.engine.restic.errors import CorruptData
from multicloud.engine.restic.prune import blob_index, pack_key, stored_packs
from multicloud.engine.restic.repository import BlobIndex, Repository, _get

_TAIL = 64 << 10  # one ranged read gets the header of a pack of up to ~1,500 blobs


def check(repo: Repository, bucket: int = 1, buckets: int = 1) -> CheckReport:
    """Check `repo`; read the packs of subset `bucket`/`buckets` (1/1: every pack). Never raises for
    damage: every problem is a finding of the report."""
    report = CheckReport(repo.name, subset=f"{bucket}/{buckets}")
    _check_keys(repo, report)
    packs = _load_index(repo, report)
    stored = stored_packs(repo)
    report.packs = len(stored)
    for pack_id in sorted(packs.keys() - stored.keys()):
        report.add(ERROR, "pack is in the index but missing from the store", pack_key(pack_id))
    for pack_id in sorted(stored.keys() - packs.keys()):
        report.add(NOTE, "pack is in no index (an interrupted backup's; prune removes it)", pack_key(pack_id))
    for pack_id in sorted(packs.keys() & stored.keys()):
        _check_header(repo, pack_id, packs[pack_id], stored[pack_id], report)
    _check_snapshots(repo, blob_index(packs), report)
    for pack_id in sorted(packs.keys() & stored.keys()):
        if in_subset(pack_id, bucket, buckets):
            _read_pack(repo, pack_id, report)
    return report


def _check_keys(repo: Repository, report: CheckReport) -> None:
    for key_name in (m.key for m in repo.store.list("keys/")):
        try:
            doc = json.loads(_get(repo.store, key_name))
            if doc.get("kdf") != "scrypt" or not all(k in doc for k in ("N", "r", "p", "salt", "data")):
                report.add(ERROR, "key file is not a restic scrypt key file", key_name)
        except (ValueError, AttributeError):
            report.add(ERROR, "key file is not JSON", key_name)


def _load_index(repo: Repository, report: CheckReport) -> dict[str, list[PackEntry]]:
    packs: dict[str, list[PackEntry]] = {}
    for file_id in repo.list_ids("index"):
        try:
            for pack_id, entry in index_entries(repo.load_unpacked("index", file_id)):
                packs.setdefault(pack_id, []).append(entry)
        except (CorruptData, InvalidInput) as exc:
            report.add(ERROR, f"index file is unreadable: {exc}", f"index/{file_id}")
    return packs


def _check_header(repo: Repository, pack_id: str, indexed: list[PackEntry], size: int, report: CheckReport) -> None:
    where = f"{repo.name} {pack_key(pack_id)}"
    try:
        header = read_header(repo, pack_id, size)
    except (CorruptData, InvalidInput) as exc:
        report.add(ERROR, f"pack header is unreadable: {exc}", where)
        return
    report.findings += header_findings(where, indexed, header, size)


def read_header(repo: Repository, pack_id: str, size: int, data: bytes | None = None) -> list[PackEntry]:
    """A pack's header entries, from the whole pack's `data` or read from its tail. Raises
    CorruptData, InvalidInput."""
    what = f"{repo.name} {pack_key(pack_id)} header"
    tail = data if data is not None else _get(repo.store, pack_key(pack_id), max(0, size - _TAIL), size)
    if len(tail) < 4:
        raise CorruptData("pack is too short for a header", target=what)
    length = struct.unpack("<I", tail[-4:])[0]
    if length + 4 > size:
        raise CorruptData(f"header length {length} is larger than the pack", target=what)
    sealed = tail[-4 - length:-4] if length + 4 <= len(tail) else _get(
        repo.store, pack_key(pack_id), size - 4 - length, size - 4)
    return decode_pack_header(repo.key.open(sealed, what))


def _check_snapshots(repo: Repository, index: BlobIndex, report: CheckReport) -> None:
    seen: set[str] = set()
    for snapshot_id in repo.list_ids("snapshots"):
        try:
            snap = repo.load_unpacked("snapshots", snapshot_id)
        except (CorruptData, InvalidInput) as exc:
            report.add(ERROR, f"snapshot is unreadable: {exc}", f"snapshots/{snapshot_id}")
            continue
        report.snapshots += 1
        _walk(repo, index, snap.get("tree", ""), f"snapshot {snapshot_id[:8]}", seen, report)


def _walk(repo: Repository, index: BlobIndex, root: str, where: str, seen: set[str], report: CheckReport) -> None:
    pending = [(root, where)]
    while pending:
        tree_id, path = pending.pop()
        if tree_id in seen:
            continue
        seen.add(tree_id)
        report.trees += 1
        if not index.has(TREE, bytes.fromhex(tree_id)):
            report.add(ERROR, f"tree {tree_id} is in no index", path)
            continue
        try:
            nodes = repo.read_tree(index, tree_id)
        except NotFound:
            report.add(ERROR, f"tree {tree_id} is unreadable: its pack is missing from the store", path)
            continue
        except (CorruptData, InvalidInput) as exc:
            report.add(ERROR, f"tree {tree_id} is unreadable: {exc}", path)
            continue
        for node in nodes:
            here = f"{path}/{node['name']}"
            if node["type"] == "dir" and not node.get("subtree"):
                report.add(ERROR, "folder has no subtree", here)
            elif node["type"] == "dir":
                pending.append((node["subtree"], here))
            elif node["type"] == "file" and node.get("content") is None:
                report.add(ERROR, "file has no content list", here)
            for blob in node.get("content") or ():
                if not index.has(DATA, bytes.fromhex(blob)):
                    report.add(ERROR, f"data blob {blob} is in no index", here)


def _read_pack(repo: Repository, pack_id: str, report: CheckReport) -> None:
    where = f"{repo.name} {pack_key(pack_id)}"
    data = _get(repo.store, pack_key(pack_id))
    report.packs_read += 1
    report.bytes_read += len(data)
    if hashlib.sha256(data).hexdigest() != pack_id:
        report.add(ERROR, "pack content does not match its name (sha256): the pack is damaged", where)
    try:
        entries = read_header(repo, pack_id, len(data), data)
    except (CorruptData, InvalidInput) as exc:
        report.add(ERROR, f"pack header is unreadable: {exc}", where)
        return
    for entry in entries:
        try:
            repo.open_blob(pack_id, entry, data[entry.offset:entry.offset + entry.length])
            report.blobs_read += 1
        except CorruptData as exc:
            report.add(ERROR, str(exc), where)
    if len({e.blob_type for e in entries}) > 1:
        report.add(NOTE, f"pack mixes {TREE} and {DATA} blobs (prune repacks it)", where)
