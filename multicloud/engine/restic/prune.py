"""Forget and prune on a restic repository, under restic's exclusive lock: remove the snapshots a
plan's retention drops, then mark (walk every kept snapshot's trees) and sweep in the safe order:
new packs with the still-used blobs of repacked packs, then the new index (`supersedes` the old),
then delete the old index files, then the packs. Mirrors replay the same files when they match."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from multicloud.core.backups.forget import forget_decision
from multicloud.core.backups.format import DATA, TREE, PackEntry, index_document, index_entries
from multicloud.core.backups.prune import DELETE, REPACK, MaxUnused, PrunePlan, plan_prune
from multicloud.core.backups.retention import RetentionDecision, RetentionRules
from multicloud.core.errors import NotFound
from multicloud.engine.restic.errors import CorruptData
from multicloud.engine.restic.repository import BlobIndex, Lock, Repository, _get
from multicloud.engine.restic.writer import INDEX_BLOBS_PER_FILE, Packer, WriteStats


def pack_key(pack_id: str) -> str:
    return f"data/{pack_id[:2]}/{pack_id}"


def index_packs(repo: Repository) -> tuple[dict[str, list[PackEntry]], list[str]]:
    """Every pack's entries across all index files, and the index file ids."""
    packs: dict[str, list[PackEntry]] = {}
    files = list(repo.list_ids("index"))
    for file_id in files:
        for pack_id, entry in index_entries(repo.load_unpacked("index", file_id)):
            packs.setdefault(pack_id, []).append(entry)
    return packs, files


def stored_packs(repo: Repository) -> dict[str, int]:
    """Pack id -> size of every pack file in the store."""
    return {m.key.rsplit("/", 1)[1]: m.size for m in repo.store.list("data/") if len(m.key.rsplit("/", 1)[1]) == 64}


def blob_index(packs: dict[str, list[PackEntry]]) -> BlobIndex:
    index = BlobIndex()
    for pack_id, entries in packs.items():
        for entry in entries:
            index.add(pack_id, entry)
    return index


def used_blobs(repo: Repository, index: BlobIndex, snapshots: Iterable[dict]) -> set[tuple[str, bytes]]:
    """(type, id) of every tree and data blob the snapshots reach. Raises CorruptData naming a
    snapshot whose tree is missing (restic: "data seems to be missing")."""
    used: set[tuple[str, bytes]] = set()
    for snap in snapshots:
        pending = [snap["tree"]]
        while pending:
            tree_id = pending.pop()
            key = (TREE, bytes.fromhex(tree_id))
            if key in used:
                continue
            used.add(key)
            try:
                nodes = repo.read_tree(index, tree_id)
            except NotFound:
                raise CorruptData(f"tree {tree_id} of snapshot {snap['id'][:8]} is in no index "
                                  "(data seems to be missing)", target=repo.name) from None
            for node in nodes:
                used.update((DATA, bytes.fromhex(b)) for b in node.get("content") or ())
                if node.get("subtree"):
                    pending.append(node["subtree"])
    return used


@dataclass
class ForgetResult:
    """The retention decision and the snapshot files removed (none on a dry run)."""

    decision: RetentionDecision
    removed: list[str] = field(default_factory=list)


@dataclass
class PruneResult:
    """A prune's plan and the files it wrote and deleted, in the order it did so."""

    repository: str
    plan: PrunePlan
    dry_run: bool
    new_packs: list[str] = field(default_factory=list)
    new_index: list[str] = field(default_factory=list)
    deleted_index: list[str] = field(default_factory=list)
    deleted_packs: list[str] = field(default_factory=list)


def forget(repo: Repository, plan_name: str, policy: RetentionRules, now: datetime, dry_run: bool = False
           ) -> ForgetResult:
    """Remove the plan's snapshots its retention drops, under the exclusive lock."""
    with repo.lock(exclusive=True):
        return _forget(repo, plan_name, policy, now, dry_run)


def _forget(repo: Repository, plan_name: str, policy: RetentionRules, now: datetime, dry_run: bool) -> ForgetResult:
    decision = forget_decision(repo.snapshots(), plan_name, policy, now)
    removed = [s["id"] for s in decision.remove]
    if not dry_run and removed:
        repo.store.delete([f"snapshots/{sid}" for sid in removed])
    return ForgetResult(decision, removed)


def prune(repo: Repository, max_unused: MaxUnused = MaxUnused(), dry_run: bool = False,
          max_repack_bytes: int | None = None) -> PruneResult:
    """Mark and sweep under the exclusive lock (RepositoryLocked when any other lock exists)."""
    with repo.lock(exclusive=True) as lock:
        return _prune(repo, lock, max_unused, dry_run, max_repack_bytes)


def maintain(repo: Repository, plan_name: str, policy: RetentionRules, now: datetime, max_unused: MaxUnused,
             dry_run: bool = False) -> tuple[ForgetResult, PruneResult]:
    """Forget, then prune, under one exclusive lock."""
    with repo.lock(exclusive=True) as lock:
        forgotten = _forget(repo, plan_name, policy, now, dry_run)
        return forgotten, _prune(repo, lock, max_unused, dry_run, None, skip=set(forgotten.removed))


def _prune(repo: Repository, lock: Lock, max_unused: MaxUnused, dry_run: bool, max_repack_bytes: int | None,
           skip: set[str] = frozenset()) -> PruneResult:
    packs, index_files = index_packs(repo)
    index = blob_index(packs)
    # On a dry run the forgotten snapshots are still there: leave them out as if removed.
    kept_snapshots = [s for s in repo.snapshots() if s["id"] not in skip]
    plan = plan_prune(packs, stored_packs(repo), used_blobs(repo, index, kept_snapshots), max_unused,
                      max_repack_bytes)
    result = PruneResult(repo.name, plan, dry_run)
    if plan.problems:
        raise CorruptData(f"prune refused, the repository needs repair first: {plan.problems[0]} "
                          f"({len(plan.problems)} problem(s))", target=repo.name)
    if dry_run:
        return result
    pending = _repack(repo, lock, plan, result)
    new_packs = {**{pid: list(entries) for pid, entries in plan.kept.items()}, **pending}
    result.new_index = _write_index(repo, new_packs, index_files)
    lock.refresh()
    repo.store.delete([f"index/{i}" for i in index_files])
    result.deleted_index = list(index_files)
    gone = [p.pack_id for p in plan.packs if p.action in (DELETE, REPACK)]
    repo.store.delete([pack_key(p) for p in gone])
    result.deleted_packs = gone
    return result


def _repack(repo: Repository, lock: Lock, plan: PrunePlan, result: PruneResult) -> dict[str, list[PackEntry]]:
    """Copy the used blobs of repacked packs into new packs (each pack read once, each blob's MAC
    and SHA-256 checked); returns the new packs' entries."""
    pending: dict[str, list[PackEntry]] = {}
    stats = WriteStats()
    packers = {t: Packer(repo, t, pending, stats) for t in (TREE, DATA)}
    current, data = None, b""
    for pack_id, entry in plan.repack:
        if pack_id != current:
            current, data = pack_id, _get(repo.store, pack_key(pack_id))
            lock.refresh()
        plain = repo.open_blob(pack_id, entry, data[entry.offset:entry.offset + entry.length])
        packers[entry.blob_type].add(entry.blob_id, *repo.seal_blob(plain, entry.blob_type == TREE or
                                                                    bool(entry.raw_length)))
    for packer in packers.values():
        packer.flush()
    result.new_packs = list(pending)
    return pending


def _write_index(repo: Repository, packs: dict[str, list[PackEntry]], supersedes: list[str]) -> list[str]:
    """The new index files (at most restic's blobs per file each), each superseding every old one."""
    written, batch, count = [], {}, 0
    for pack_id, entries in packs.items():
        batch[pack_id] = entries
        count += len(entries)
        if count >= INDEX_BLOBS_PER_FILE:
            written.append(repo.save_unpacked("index", index_document(batch, supersedes)))
            batch, count = {}, 0
    if batch or not written:
        written.append(repo.save_unpacked("index", index_document(batch, supersedes)))
    return written


def can_replay(primary: Repository, mirror: Repository, index_before: set[str], snapshots_before: set[str]) -> bool:
    """A mirror replays the primary's prune when it is the same repository (config id) with the same
    index files and no snapshot the primary lacked; else it must be pruned on its own."""
    return (mirror.config.get("id") == primary.config.get("id")
            and set(mirror.list_ids("index")) == index_before
            and set(mirror.list_ids("snapshots")) <= snapshots_before)


def replay(primary: Repository, mirror: Repository, forgotten: ForgetResult, pruned: PruneResult) -> None:
    """Make `mirror` follow the primary's forget and prune, file by file, in the same safe order:
    copy the new packs, then the new index files; delete the forgotten snapshots, the old index
    files, then the packs. Under the mirror's exclusive lock."""
    with mirror.lock(exclusive=True) as lock:
        for key in [pack_key(p) for p in pruned.new_packs] + [f"index/{i}" for i in pruned.new_index]:
            _copy(primary, mirror, key)
            lock.refresh()
        mirror.store.delete([f"snapshots/{s}" for s in forgotten.removed])
        mirror.store.delete([f"index/{i}" for i in pruned.deleted_index])
        mirror.store.delete([pack_key(p) for p in pruned.deleted_packs])


def _copy(source: Repository, target: Repository, key: str) -> None:
    meta = source.store.stat(key)
    with source.store.open(key) as stream:
        target.store.write(key, stream, size=meta.size)
