"""Replication plans as values: two sorted listings merged into one decision per key, each
with its reason; plus the key filter, the delete guard, batching, lag and verification
sampling. Pure: no I/O, no clock (callers pass `now`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator, Literal

from multicloud.core.errors import InvalidInput
from multicloud.core.keys import decode_key, encode_key, is_encoded
from multicloud.core.objects import ObjectMeta

Action = Literal["copy", "skip", "delete"]
CompareMode = Literal["hash", "size"]

NEW, SAME, TARGET_ONLY = "new", "same", "target-only"
CHANGED_SIZE, CHANGED_HASH, CHANGED_MTIME = "changed: size", "changed: hash", "changed: mtime"


class UnsortedListing(InvalidInput):
    """A listing was not in strictly ascending key order, so a merge would be wrong."""


@dataclass(frozen=True)
class Decision:
    """What to do with one key and why. `key` is the source's key; `target_key` is how the
    target stores it (different only for keys the target cannot hold as they are)."""

    key: str
    target_key: str
    action: Action
    reason: str
    source: ObjectMeta | None = None
    target: ObjectMeta | None = None

    @property
    def size(self) -> int:
        return self.source.size if self.source else 0


# ---- filters ----------------------------------------------------------------------------

def glob_to_regex(pattern: str) -> re.Pattern:
    """rclone-style globs: `*` and `?` stay within one path segment, `**` crosses segments,
    `[...]` is a character class. Raises InvalidInput for an unterminated class."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise InvalidInput("unterminated '[' in glob", target=pattern)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body)) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$")


class KeyFilter:
    """A key passes if it matches any include (or there are none) and no exclude."""

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = ()):
        self._include = [glob_to_regex(p) for p in include]
        self._exclude = [glob_to_regex(p) for p in exclude]

    def __call__(self, key: str) -> bool:
        if self._include and not any(p.match(key) for p in self._include):
            return False
        return not any(p.match(key) for p in self._exclude)


ALL_KEYS = KeyFilter()


# ---- comparison ---------------------------------------------------------------------------

def compare(src: ObjectMeta, dst: ObjectMeta, mode: CompareMode = "hash") -> str:
    """`same` or why the target differs. In `hash` mode: size, then the SHA-256 we record, else a
    provider hash both sides share (md5, crc32c), else the target being older than the source."""
    if src.size != dst.size:
        return CHANGED_SIZE
    if mode == "size":
        return SAME
    for algo in ("sha256", "md5", "crc32c"):
        a, b = src.hashes.get(algo), dst.hashes.get(algo)
        if a and b:
            return SAME if a.lower() == b.lower() else CHANGED_HASH
    if src.last_modified and dst.last_modified and dst.last_modified < src.last_modified:
        return CHANGED_MTIME
    return SAME


def _ordered(metas: Iterable[ObjectMeta], side: str) -> Iterator[ObjectMeta]:
    prev = None
    for meta in metas:
        if prev is not None and meta.key <= prev:
            raise UnsortedListing(f"{side} listing is not in ascending key order: {prev!r} then {meta.key!r}",
                                  target=side)
        prev = meta.key
        yield meta


def plan(
    source: Iterable[ObjectMeta],
    target: Iterable[ObjectMeta],
    compare_mode: CompareMode = "hash",
    key_filter: KeyFilter = ALL_KEYS,
    target_scheme: str = "mem",
    ignore_target_prefix: str | None = None,
) -> Iterator[Decision]:
    """Merge two sorted listings into decisions, streaming: memory does not grow with the number
    of keys, except for keys the target must store encoded (held aside until both listings end).

    Target keys under `ignore_target_prefix` (the tombstone area) are never planned.
    Raises UnsortedListing when either listing is out of order."""
    pending_src: list[ObjectMeta] = []  # source keys the target stores encoded
    encoded_dst: dict[str, ObjectMeta] = {}  # target keys stored encoded, by original key

    def sources() -> Iterator[ObjectMeta]:
        for meta in _ordered(source, "source"):
            if not key_filter(meta.key):
                continue
            if encode_key(meta.key, target_scheme) != meta.key:
                pending_src.append(meta)
            else:
                yield meta

    def targets() -> Iterator[ObjectMeta]:
        for meta in _ordered(target, "target"):
            if ignore_target_prefix and meta.key.startswith(ignore_target_prefix):
                continue
            if is_encoded(meta.key):
                original = decode_key(meta.key)
                if key_filter(original):
                    encoded_dst[original] = meta
            elif key_filter(meta.key):
                yield meta

    src_it, dst_it = sources(), targets()
    s, d = next(src_it, None), next(dst_it, None)
    while s is not None or d is not None:
        if d is None or (s is not None and s.key < d.key):
            yield Decision(s.key, s.key, "copy", NEW, s, None)
            s = next(src_it, None)
        elif s is None or d.key < s.key:
            yield Decision(d.key, d.key, "delete", TARGET_ONLY, None, d)
            d = next(dst_it, None)
        else:
            yield _pair(s, d, s.key, compare_mode)
            s, d = next(src_it, None), next(dst_it, None)

    for meta in pending_src:
        stored = encode_key(meta.key, target_scheme)
        other = encoded_dst.pop(meta.key, None)
        yield Decision(meta.key, stored, "copy", NEW, meta, None) if other is None else _pair(meta, other, stored,
                                                                                              compare_mode)
    for original, meta in sorted(encoded_dst.items()):
        yield Decision(original, meta.key, "delete", TARGET_ONLY, None, meta)


def _pair(s: ObjectMeta, d: ObjectMeta, target_key: str, mode: CompareMode) -> Decision:
    reason = compare(s, d, mode)
    return Decision(s.key, target_key, "skip" if reason == SAME else "copy", reason, s, d)


# ---- deletes ---------------------------------------------------------------------------

def delete_refusal(
    candidates: int,
    source_objects: int,
    target_objects: int,
    source_errors: int,
    max_delete: int,
    max_delete_percent: float,
) -> str | None:
    """Why no object may be deleted this run, or None when deleting `candidates` is safe."""
    if candidates == 0:
        return None
    if source_errors:
        return f"the source listing failed ({source_errors} error(s)): deleting now could remove live data"
    if source_objects == 0 and target_objects > 0:
        return "the source listed no objects while the target has some: refusing to empty the target"
    if candidates > max_delete:
        return f"{candidates} deletions exceed max_delete={max_delete}"
    percent = 100.0 * candidates / max(target_objects, 1)
    if percent > max_delete_percent:
        return f"{candidates} deletions are {percent:.1f}% of the target, over max_delete_percent={max_delete_percent}"
    return None


def tombstone_key(prefix: str, key: str, now: datetime) -> str:
    """Where a target-only object is moved: `<prefix><UTC time>/<key>`."""
    return f"{prefix}{now.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}/{key}"


def tombstone_expired(key: str, prefix: str, now: datetime, days: int) -> bool:
    """True for a tombstone older than `days`; keys not of the tombstone form are never expired."""
    if not key.startswith(prefix):
        return False
    stamp = key[len(prefix):].split("/", 1)[0]
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return False
    return now - when > timedelta(days=days)


# ---- batching, lag, sampling -----------------------------------------------------------

def batches(decisions: Iterable[Decision], max_objects: int, max_bytes: int) -> Iterator[list[Decision]]:
    """Group decisions into batches of at most `max_objects` and about `max_bytes` (a single
    larger object makes a batch of its own)."""
    batch: list[Decision] = []
    size = 0
    for decision in decisions:
        if batch and (len(batch) >= max_objects or size + decision.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(decision)
        size += decision.size
    if batch:
        yield batch


def lag_seconds(oldest_pending: datetime | None, now: datetime) -> float:
    """Age of the oldest source change not yet on the target; 0 when nothing was pending."""
    if oldest_pending is None:
        return 0.0
    return max(0.0, (now - oldest_pending).total_seconds())


def sampled(key: str, fraction: float) -> bool:
    """Deterministic sample: the same keys are picked for the same fraction on every run."""
    if fraction >= 1:
        return True
    if fraction <= 0:
        return False
    h = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    return h < fraction * 2**64


# ---- reports ----------------------------------------------------------------------------

@dataclass
class ShardReport:
    """What one (target, shard) pass saw and did; reports of shards add up per target."""

    target: str
    listed_source: int = 0
    listed_target: int = 0
    to_copy: int = 0
    copied: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    server_side: int = 0
    encoded_keys: int = 0
    encoded_metadata: int = 0
    delete_candidates: int = 0
    deleted: int = 0
    tombstoned: int = 0
    purged: int = 0
    source_errors: int = 0
    seconds: float = 0.0
    oldest_pending: datetime | None = None
    reasons: dict[str, int] | None = None
    delete_refused: str | None = None

    def merge(self, other: "ShardReport") -> "ShardReport":
        out = ShardReport(self.target)
        for name in ("listed_source", "listed_target", "to_copy", "copied", "skipped", "failed", "bytes",
                     "server_side", "encoded_keys", "encoded_metadata", "delete_candidates", "deleted", "tombstoned",
                     "purged", "source_errors"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        out.seconds = max(self.seconds, other.seconds)
        olds = [t for t in (self.oldest_pending, other.oldest_pending) if t]
        out.oldest_pending = min(olds) if olds else None
        out.reasons = dict(self.reasons or {})
        for reason, n in (other.reasons or {}).items():
            out.reasons[reason] = out.reasons.get(reason, 0) + n
        out.delete_refused = self.delete_refused or other.delete_refused
        return out

    def row(self) -> dict:
        seconds = max(self.seconds, 1e-9)
        return {
            "target": self.target, "listed_source": self.listed_source, "listed_target": self.listed_target,
            "copied": self.copied, "skipped": self.skipped, "deleted": self.deleted + self.tombstoned,
            "failed": self.failed, "bytes": self.bytes, "seconds": round(self.seconds, 2),
            "mb_per_s": round(self.bytes / 1e6 / seconds, 2), "objects_per_s": round(self.copied / seconds, 1),
            "server_side": self.server_side, "delete_candidates": self.delete_candidates,
            "encoded_keys": self.encoded_keys, "encoded_metadata": self.encoded_metadata,
        }


def summary_markdown(rule_name: str, source: str, reports: list[ShardReport], now: datetime, dry_run: bool) -> str:
    """The run's summary: per target counts, replication lag, deletion decisions."""
    lines = [f"# Replication `{rule_name}`{' (dry run)' if dry_run else ''}", "", f"Source: `{source}`", ""]
    lines += ["| target | copied | skipped | deleted | failed | MB | lag before run |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in reports:
        lag = lag_seconds(r.oldest_pending, now)
        lines.append(f"| `{r.target}` | {r.copied:,} | {r.skipped:,} | {r.deleted + r.tombstoned:,} | {r.failed:,} | "
                     f"{r.bytes / 1e6:,.1f} | {_age(lag)} |")
    lines.append("")
    for r in reports:
        why = ", ".join(f"{k}: {v:,}" for k, v in sorted((r.reasons or {}).items()))
        lines.append(f"- `{r.target}`: {why or 'nothing listed'}")
        if r.delete_refused:
            lines.append(f"  - **no object deleted**: {r.delete_refused}")
        elif r.delete_candidates and dry_run:
            lines.append(f"  - dry run: {r.delete_candidates:,} target-only object(s) would be removed")
        if r.encoded_keys or r.encoded_metadata:
            lines.append(f"  - stored encoded: {r.encoded_keys:,} key(s), {r.encoded_metadata:,} metadata name(s)")
        if r.purged:
            lines.append(f"  - purged {r.purged:,} expired tombstone(s)")
    lines += ["", "Lag: age of the oldest source change that was not yet on the target when this run started."]
    return "\n".join(lines) + "\n"


def _age(seconds: float) -> str:
    if seconds <= 0:
        return "none"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
