"""Which packs a prune keeps, repacks or deletes, and why: restic 0.14's mark and sweep
(`cmd/restic/cmd_prune.go`) as a pure decision over the index, the packs in the store and the
blobs the remaining snapshots use, with restic's `--max-unused` meaning."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from multicloud.core.backups.format import COMPRESSED_ENTRY, PLAIN_ENTRY, TREE, PackEntry
from multicloud.core.errors import InvalidInput

KEEP, REPACK, DELETE = "keep", "repack", "delete"
TARGET_PACK_SIZE = 16 << 20
#: restic treats a fully used pack below targetPackSize/25 as small ...
SMALL_PACK = TARGET_PACK_SIZE // 25
#: ... and merges small packs only when there are at least this many.
SMALL_PACKS_TO_MERGE = 10
_HEADER_OVERHEAD = 32 + 4  # the header's IV and MAC, and its length field
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kmgt]?)(i?b)?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

BlobKey = tuple[str, bytes]  # (blob type, blob id)


@dataclass(frozen=True)
class MaxUnused:
    """restic's `--max-unused`: `unlimited`, `N%` (unused at most N% of the repository after the
    prune, so at most N/(100-N) of the used bytes), or a size (`500M`, `2G`, bytes)."""

    percent: float | None = 5.0
    size: int | None = None

    @classmethod
    def parse(cls, text: str) -> "MaxUnused":
        """Parse `unlimited`, `5%` or a size; InvalidInput naming the value otherwise."""
        value = (text or "").strip().lower()
        if value == "unlimited":
            return cls(None, None)
        if value.endswith("%"):
            try:
                percent = float(value[:-1])
            except ValueError:
                percent = -1.0
            if not 0 <= percent < 100:
                raise InvalidInput("max_unused percent must be at least 0 and below 100", target=repr(text))
            return cls(percent, None)
        m = _SIZE.match(value)
        if not m:
            raise InvalidInput("max_unused is `unlimited`, a percentage like `5%` or a size like `500M`",
                               target=repr(text))
        return cls(None, int(float(m[1]) * _UNITS[m[2].lower()]))

    def limit(self, used_bytes: int) -> float:
        """The unused bytes allowed to stay, given the used bytes."""
        if self.percent is not None:
            return self.percent / (100 - self.percent) * used_bytes
        return float("inf") if self.size is None else float(self.size)

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent:g}%"
        return "unlimited" if self.size is None else f"{self.size} bytes"


@dataclass(frozen=True)
class PackDecision:
    """What happens to one pack, and why (the row a prune report shows)."""

    pack_id: str
    action: str
    reason: str
    size: int
    used_bytes: int
    unused_bytes: int
    blobs: int


@dataclass(frozen=True)
class PrunePlan:
    """A prune's decision: each pack's action, the used blobs to copy into new packs (pack id, entry),
    the kept packs' full index entries, and the problems that forbid pruning at all."""

    packs: tuple[PackDecision, ...]
    repack: tuple[tuple[str, PackEntry], ...]
    kept: Mapping[str, tuple[PackEntry, ...]]
    problems: tuple[str, ...] = ()
    max_unused: MaxUnused = field(default_factory=MaxUnused)

    def of(self, action: str) -> list[PackDecision]:
        return [p for p in self.packs if p.action == action]

    @property
    def used_bytes(self) -> int:
        return sum(p.used_bytes for p in self.packs)

    @property
    def unused_bytes(self) -> int:
        return sum(p.unused_bytes for p in self.packs)

    @property
    def unused_after(self) -> int:
        return sum(p.unused_bytes for p in self.of(KEEP))

    @property
    def repack_bytes(self) -> int:
        return sum(e.length for _, e in self.repack)

    def summary(self) -> dict:
        """Counts a person can check: packs per action, bytes used, unused before and after."""
        return {"packs kept": len(self.of(KEEP)), "packs repacked": len(self.of(REPACK)),
                "packs deleted": len(self.of(DELETE)), "blobs repacked": len(self.repack),
                "bytes repacked": self.repack_bytes, "bytes used": self.used_bytes,
                "bytes unused before": self.unused_bytes, "bytes unused after": self.unused_after,
                "max unused": str(self.max_unused)}


def pack_size(entries: Sequence[PackEntry]) -> int:
    """The size of a pack file holding `entries`: blobs, sealed header and its length."""
    header = sum(COMPRESSED_ENTRY.size if e.raw_length else PLAIN_ENTRY.size for e in entries)
    return sum(e.length for e in entries) + header + _HEADER_OVERHEAD


def _unique_entries(entries: Iterable[PackEntry]) -> tuple[PackEntry, ...]:
    # A pack listed by two index files (an interrupted rebuild) appears twice: once is enough.
    seen, out = set(), []
    for e in sorted(entries, key=lambda e: e.offset):
        if (e.blob_type, e.blob_id, e.offset) not in seen:
            seen.add((e.blob_type, e.blob_id, e.offset))
            out.append(e)
    return tuple(out)


@dataclass
class _Pack:
    pack_id: str
    entries: tuple[PackEntry, ...]
    size: int
    used: int = 0
    used_blobs: int = 0

    @property
    def unused(self) -> int:
        return self.size - self.used

    @property
    def types(self) -> set[str]:
        return {e.blob_type for e in self.entries}

    def decide(self, action: str, reason: str) -> PackDecision:
        return PackDecision(self.pack_id, action, reason, self.size, self.used, self.unused, len(self.entries))


def plan_prune(index: Mapping[str, Iterable[PackEntry]], stored: Mapping[str, int], used: Iterable[BlobKey],
               max_unused: MaxUnused = MaxUnused(), max_repack_bytes: int | None = None) -> PrunePlan:
    """Decide a prune. `index`: pack id -> its entries (from every index file); `stored`: pack id ->
    size of every pack file in the store; `used`: (type, id) of every blob the kept snapshots reach.

    Each used blob counts once, in the first pack (by id) holding it; other copies are unused.
    Packs with no used blob are deleted, packs the store holds but no index lists are deleted
    (an interrupted backup's), mixed or uncompressed-tree packs are repacked, at least ten small
    packs are merged, and partly used packs are repacked, most unused first, until the unused
    space left is within `max_unused` (or `max_repack_bytes` is reached)."""
    packs = {pid: _Pack(pid, _unique_entries(entries), 0) for pid, entries in index.items()}
    for p in packs.values():
        p.size = pack_size(p.entries)
    wanted = set(used)
    holders = _count_used(packs, wanted)
    problems = _problems(packs, stored, wanted, holders)
    decisions: dict[str, PackDecision] = {}
    for pid, size in stored.items():
        if pid not in packs:
            decisions[pid] = PackDecision(pid, DELETE, "in no index (left by an interrupted backup)", size, 0, size, 0)
    candidates, small = [], []
    for p in packs.values():
        decision = _first_look(p, stored)
        if decision is not None:
            decisions[p.pack_id] = decision
        elif not p.unused and p.size < SMALL_PACK:
            small.append(p)
        elif not p.unused:
            decisions[p.pack_id] = p.decide(KEEP, "every blob is used")
        else:
            candidates.append(p)
    merge = len(small) >= SMALL_PACKS_TO_MERGE
    for p in small:
        decisions[p.pack_id] = p.decide(REPACK, f"one of {len(small)} small packs, merged") if merge else p.decide(
            KEEP, f"every blob is used; small, but fewer than {SMALL_PACKS_TO_MERGE} small packs")
    _choose_candidates(candidates, decisions, max_unused, max_repack_bytes)
    kept = {pid: packs[pid].entries for pid, d in decisions.items() if d.action == KEEP}
    repack = _blobs_to_copy(packs, decisions, wanted)
    ordered = tuple(sorted(decisions.values(), key=lambda d: ({REPACK: 0, DELETE: 1, KEEP: 2}[d.action], d.pack_id)))
    return PrunePlan(ordered, tuple(repack), kept, problems, max_unused)


def _header_bytes(entries: Sequence[PackEntry]) -> int:
    return sum(COMPRESSED_ENTRY.size if e.raw_length else PLAIN_ENTRY.size for e in entries)


def _count_used(packs: dict[str, _Pack], wanted: set[BlobKey]) -> dict[BlobKey, str]:
    """The pack each used blob is counted in (the first by pack id), with each pack's used bytes."""
    holders: dict[BlobKey, str] = {}
    for pid in sorted(packs):
        p = packs[pid]
        p.used = _HEADER_OVERHEAD + _header_bytes(p.entries)  # the header lives as long as the pack
        for e in p.entries:
            key = (e.blob_type, e.blob_id)
            if key in wanted and key not in holders:
                holders[key] = pid
                p.used += e.length
                p.used_blobs += 1
    return holders


def _problems(packs: dict[str, _Pack], stored: Mapping[str, int], wanted: set[BlobKey],
              holders: dict[BlobKey, str]) -> tuple[str, ...]:
    problems = [f"used {t} blob {b.hex()} is in no index (data seems to be missing)"
                for t, b in sorted(wanted - holders.keys())]
    for p in packs.values():
        if p.pack_id in stored and stored[p.pack_id] != p.size:
            problems.append(f"pack {p.pack_id} is {stored[p.pack_id]} bytes, the index says {p.size}")
        if p.pack_id not in stored and p.used_blobs:
            problems.append(f"pack {p.pack_id} holds {p.used_blobs} used blob(s) but is missing from the store")
    return tuple(problems)


def _first_look(p: _Pack, stored: Mapping[str, int]) -> PackDecision | None:
    """The decisions that need no comparison with other packs."""
    if p.pack_id not in stored:
        return p.decide(DELETE, "missing from the store: left out of the new index")
    if not p.used_blobs:
        return p.decide(DELETE, "no blob is used")
    if len(p.types) > 1:
        return p.decide(REPACK, "mixes tree and data blobs")
    if p.types == {TREE} and any(not e.raw_length for e in p.entries):
        return p.decide(REPACK, "tree blobs stored uncompressed (version 2 compresses trees)")
    return None


def _choose_candidates(candidates: list[_Pack], decisions: dict[str, PackDecision], max_unused: MaxUnused,
                       max_repack_bytes: int | None) -> None:
    """Repack partly used packs, the most unused relative to used first, until the unused bytes
    left (in packs that stay) are within `max_unused`."""
    used_total = sum(d.used_bytes for d in decisions.values() if d.action != DELETE) + sum(p.used for p in candidates)
    unused_left = sum(d.unused_bytes for d in decisions.values() if d.action == KEEP) + sum(
        p.unused for p in candidates)
    limit = max_unused.limit(used_total)
    budget = float("inf") if max_repack_bytes is None else max_repack_bytes
    for p in sorted(candidates, key=lambda p: (-p.unused / max(p.used, 1), p.pack_id)):
        share = f"{p.unused / p.size:.0%} unused"
        if unused_left > limit and p.used <= budget:
            decisions[p.pack_id] = p.decide(REPACK, f"partly used ({share}); unused space is over max_unused "
                                                    f"{max_unused}")
            unused_left -= p.unused
            budget -= p.used
        elif unused_left > limit:
            decisions[p.pack_id] = p.decide(KEEP, f"partly used ({share}); max_repack_size reached")
        else:
            decisions[p.pack_id] = p.decide(KEEP, f"partly used ({share}); unused space within max_unused "
                                                  f"{max_unused}")


def _blobs_to_copy(packs: dict[str, _Pack], decisions: Mapping[str, PackDecision], wanted: set[BlobKey]
                   ) -> list[tuple[str, PackEntry]]:
    """Used blobs no kept pack holds, each taken once from a repacked pack (a used blob in neither
    is already one of the plan's problems: in no index, or in a pack missing from the store)."""
    in_kept = {(e.blob_type, e.blob_id) for pid, d in decisions.items() if d.action == KEEP
               for e in packs[pid].entries}
    copies: dict[BlobKey, tuple[str, PackEntry]] = {}
    for pid in sorted(pid for pid, d in decisions.items() if d.action == REPACK):
        for e in packs[pid].entries:
            key = (e.blob_type, e.blob_id)
            if key in wanted and key not in in_kept and key not in copies:
                copies[key] = (pid, e)
    # Trees first, then in pack order: new packs are written type by type, reads go pack by pack.
    ordered = sorted(copies.values(), key=lambda c: (c[1].blob_type != TREE, c[0], c[1].offset))
    return ordered
