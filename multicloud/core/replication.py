"""Replication decisions as values: two sorted listings merged into one decision per key with
its reason, the key filter, the hash choice, batching, the delete policy and each target's
outcome, the reports, summaries and failure texts a run shows. Pure: no I/O, no clock (callers
pass `now`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterable, Iterator, Literal

from multicloud.core.errors import InvalidInput
from multicloud.core.keys import decode_key, encode_key
from multicloud.core.names import slug
from multicloud.core.objects import ObjectMeta

if TYPE_CHECKING:
    from multicloud.core.replication_manifest import ManifestNote

Action = Literal["copy", "skip", "delete"]
CompareMode = Literal["hash", "size"]

NEW, SAME, TARGET_ONLY = "new", "same", "target-only"
CHANGED_SIZE, CHANGED_HASH, CHANGED_MTIME = "changed: size", "changed: hash", "changed: mtime"


class UnsortedListing(InvalidInput):
    """A listing was not in strictly ascending key order, so a merge would be wrong."""


class ReplicationFailed(RuntimeError):
    """A replication run ended with failed objects or shards (its text: failure_summary)."""


class VerificationFailed(RuntimeError):
    """A verification found problems (its text: verify_failure_summary)."""


@dataclass(frozen=True)
class Decision:
    """What to do with one key and why. `key` is the object's original name (decoded: how the
    source lists it is `source.key`); `target_key` is how the target stores it (different only
    for keys the target cannot hold as they are)."""

    key: str
    target_key: str
    action: Action
    reason: str
    source: ObjectMeta | None = None
    target: ObjectMeta | None = None

    @property
    def size(self) -> int:
        return self.source.size if self.source else 0

    @property
    def source_key(self) -> str:
        """The key to read from the source (how the source stores `key`)."""
        return self.source.key if self.source else self.key


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

#: Hash algorithms in the order they are trusted for comparison.
HASH_PREFERENCE = ("sha256", "md5", "crc32c")


def comparable_hashes(source_hashes: Iterable[str], target_hashes: Iterable[str]) -> tuple[str, ...]:
    """The hashes worth comparing between two backends: the SHA-256 our writes always record,
    then each provider hash both services keep (their `capabilities.hashes`), best first."""
    both = set(source_hashes) & set(target_hashes)
    return ("sha256",) + tuple(h for h in HASH_PREFERENCE[1:] if h in both)


def compare(src: ObjectMeta, dst: ObjectMeta, mode: CompareMode = "hash",
            hashes: tuple[str, ...] = HASH_PREFERENCE) -> str:
    """`same` or why the target differs. In `hash` mode: size, then the first of `hashes` both
    objects carry (see comparable_hashes), else the target being older than the source (by the
    second, the coarsest store times)."""
    if src.size != dst.size:
        return CHANGED_SIZE
    if mode == "size":
        return SAME
    for algo in hashes:
        a, b = src.hashes.get(algo), dst.hashes.get(algo)
        if a and b:
            return SAME if a.lower() == b.lower() else CHANGED_HASH
    # Stores keep times to the second (S3) or finer: a target written in the same second as its
    # source can list as a fraction of a second older, so only whole seconds count.
    if src.last_modified and dst.last_modified and dst.last_modified < src.last_modified.replace(microsecond=0):
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
    ignore_target_prefix: str | tuple[str, ...] | None = None,
    hashes: tuple[str, ...] = HASH_PREFERENCE,
    source_scheme: str = "mem",
) -> Iterator[Decision]:
    """Merge two sorted listings into decisions, streaming: memory does not grow with the number
    of keys, except for keys either side stores under another name (held aside until both
    listings end).

    Both sides are matched by original name: each listed key is decoded by the rules of the store
    that listed it (`source_scheme`, `target_scheme`), so a key that came back from a target that
    had to encode it is planned as the key it was, and is encoded again only as the target needs.
    Keys under `ignore_target_prefix` (the tombstone area, or several areas) are never planned, on
    either side; pairs are
    compared by `hashes` (see comparable_hashes). Raises UnsortedListing when either listing is
    out of order."""
    held_src: dict[str, ObjectMeta] = {}  # by original name: names not stored as they are on both sides
    held_dst: dict[str, ObjectMeta] = {}

    def plain(name: str) -> bool:
        # A name stored as it is on both sides sorts the same on both, so it can stream; any other
        # is held aside on both sides alike, since whether it is plain depends on the name alone.
        return encode_key(name, source_scheme) == name and encode_key(name, target_scheme) == name

    def side(metas: Iterable[ObjectMeta], label: str, scheme: str, held: dict[str, ObjectMeta]) -> Iterator[ObjectMeta]:
        for meta in _ordered(metas, label):
            # A source's own tombstone area (a failback from a site that is a tombstoning target)
            # is not data to copy: it would land in the target's tombstone area and never match.
            if ignore_target_prefix and meta.key.startswith(ignore_target_prefix):
                continue
            name = decode_key(meta.key, scheme)
            if not key_filter(name):
                continue
            if name == meta.key and plain(name):
                yield meta
            else:
                held[name] = meta

    src_it = side(source, "source", source_scheme, held_src)
    dst_it = side(target, "target", target_scheme, held_dst)
    s, d = next(src_it, None), next(dst_it, None)
    while s is not None or d is not None:
        if d is None or (s is not None and s.key < d.key):
            yield Decision(s.key, s.key, "copy", NEW, s, None)
            s = next(src_it, None)
        elif s is None or d.key < s.key:
            yield Decision(d.key, d.key, "delete", TARGET_ONLY, None, d)
            d = next(dst_it, None)
        else:
            yield _pair(s, d, s.key, s.key, compare_mode, hashes)
            s, d = next(src_it, None), next(dst_it, None)

    for name, meta in sorted(held_src.items()):
        stored = encode_key(name, target_scheme)
        other = held_dst.pop(name, None)
        yield Decision(name, stored, "copy", NEW, meta, None) if other is None else _pair(meta, other, name, stored,
                                                                                          compare_mode, hashes)
    for name, meta in sorted(held_dst.items()):
        yield Decision(name, meta.key, "delete", TARGET_ONLY, None, meta)


def _pair(s: ObjectMeta, d: ObjectMeta, name: str, target_key: str, mode: CompareMode,
          hashes: tuple[str, ...]) -> Decision:
    reason = compare(s, d, mode, hashes)
    return Decision(name, target_key, "skip" if reason == SAME else "copy", reason, s, d)


# ---- one sync pass: options, shards, batches ----------------------------------------------

@dataclass(frozen=True)
class SyncOptions:
    """How one sync pass compares and filters; the same for replication and the failover's final sync."""

    compare: CompareMode = "hash"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore_target_prefix: str | tuple[str, ...] | None = None  # tombstone (and reserved) areas: never planned
    concurrency: int = 16
    batch_objects: int = 1000
    batch_bytes: int = 1 << 30


@dataclass(frozen=True)
class Shard:
    """One (target, key prefix) pair a run lists and plans on its own."""

    target: str
    prefix: str

    @property
    def label(self) -> str:
        return f"{slug(self.target)}-{slug(self.prefix) or 'all'}"

    def batch(self, number: int, decisions: list[Decision] | None, spooled: "SpooledBatch | None" = None
              ) -> "CopyBatch":
        held = HeldDecisions(decisions) if decisions is not None else None
        return CopyBatch(self.target, f"{self.label}-{number}", held, spooled)


def shards_of(targets: Iterable[str], prefixes: Iterable[str]) -> list[Shard]:
    """Every (target, shard prefix) pair of a rule, target by target."""
    prefixes = list(prefixes)
    return [Shard(target, prefix) for target in targets for prefix in prefixes]


class HeldDecisions:
    """A batch's decisions held in memory, in a container Prefect does not walk: for a task's
    parameters it visits every field of every list, dict and dataclass (twice) looking for other
    tasks' results, about 130 ms of CPU per 1,000 decisions, and decisions hold none."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Decision]):
        self.items = list(items)

    def __iter__(self) -> Iterator[Decision]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HeldDecisions) and other.items == self.items

    def __getstate__(self) -> list[Decision]:  # pickled for Dask workers
        return self.items

    def __setstate__(self, items: list[Decision]) -> None:
        self.items = items


@dataclass(frozen=True)
class SpooledBatch:
    """Where a copy batch's decisions wait on its target (see core.replication_spool), and what
    they add up to."""

    key: str
    objects: int
    bytes: int


@dataclass(frozen=True)
class CopyBatch:
    """Objects one copy task copies to `target`: its `decisions` in memory, or only where they are
    `spooled`; `label` names the task run."""

    target: str
    label: str
    decisions: HeldDecisions | None
    spooled: SpooledBatch | None = None

    @property
    def objects(self) -> int:
        return self.spooled.objects if self.spooled else len(self.decisions or ())


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


# ---- deletes ---------------------------------------------------------------------------

DeleteMode = Literal["never", "mirror", "tombstone"]


@dataclass(frozen=True)
class DeletePolicy:
    """What a rule does with target-only objects, and the limits that make it refuse."""

    mode: DeleteMode = "never"
    max_delete: int = 100
    max_delete_percent: float = 10.0
    tombstone_prefix: str = ".tombstones/"
    tombstone_days: int = 30

    @property
    def candidates_kept(self) -> int:
        """Target-only objects a plan keeps: one over `max_delete` is enough to refuse, and with
        `never` none are needed."""
        return 0 if self.mode == "never" else self.max_delete + 1


def delete_refusal(report: "ShardReport", policy: DeletePolicy) -> str | None:
    """Why no object may be deleted from this target this run, or None when deleting its
    `delete_candidates` is within the policy. Equal to a limit is within it."""
    candidates = report.delete_candidates
    if report.listing_errors:  # a shard that failed to list may hide candidates: none is known safe
        return f"a listing failed ({report.listing_errors} error(s)): deleting now could remove live data"
    if candidates == 0:
        return None
    if report.listed_source == 0 and report.listed_target > 0:
        return "the source listed no objects while the target has some: refusing to empty the target"
    if candidates > policy.max_delete:
        return f"{candidates} deletions exceed max_delete={policy.max_delete}"
    percent = 100.0 * candidates / max(report.listed_target, 1)
    if percent > policy.max_delete_percent:
        return (f"{candidates} deletions are {percent:.1f}% of the target, over "
                f"max_delete_percent={policy.max_delete_percent:g}")
    return None


@dataclass(frozen=True)
class TargetOutcome:
    """What to do with one target after its copies: remove its target-only objects (`delete` or
    `tombstone`) or not, purge expired tombstones or not, and the sentence the summary shows."""

    removal: Literal["delete", "tombstone"] | None
    purge_tombstones: bool
    why: str
    refused: str | None = None


def target_outcome(report: "ShardReport", policy: DeletePolicy, dry_run: bool) -> TargetOutcome:
    """The deletion decision for one target from its merged report (every shard listed and
    copied): a failed listing, an empty source or a limit refuses every deletion; a dry run
    removes and purges nothing; tombstones are purged unless a listing failed."""
    purge = policy.mode == "tombstone" and not dry_run and not report.listing_errors
    n = report.delete_candidates
    refused = delete_refusal(report, policy) if policy.mode != "never" else None
    if refused:
        return TargetOutcome(None, purge, f"no object deleted: {refused}", refused)
    if policy.mode == "never" or n == 0:
        return TargetOutcome(None, purge, f"{n:,} target-only object(s) kept (delete: never)" if n
                             else "no target-only objects")
    done = "deleted" if policy.mode == "mirror" else "moved under the tombstone prefix"
    if dry_run:
        return TargetOutcome(None, False, f"dry run: {n:,} target-only object(s) would be {done}")
    return TargetOutcome("delete" if policy.mode == "mirror" else "tombstone", purge,
                         f"{n:,} target-only object(s) {done}")


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


# ---- lag, sampling -----------------------------------------------------------------------

def lag_seconds(oldest_pending: datetime | None, now: datetime) -> float:
    """Age of the oldest source change not yet on the target; 0 when nothing was pending."""
    if oldest_pending is None:
        return 0.0
    return max(0.0, (now - oldest_pending).total_seconds())


def progress_percent(done: int, total: int) -> int:
    """Whole percent of `total` that `done` is (100 when there is nothing to do)."""
    return 100 if total <= 0 else min(100, 100 * done // total)


def sampled(key: str, fraction: float) -> bool:
    """Deterministic sample: the same keys are picked for the same fraction on every run."""
    if fraction >= 1:
        return True
    if fraction <= 0:
        return False
    h = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    return h < fraction * 2**64


# ---- failures and reports ----------------------------------------------------------------

#: Failures, problems and listing errors a report keeps in memory; the rest are counted (and
#: every one is in the artifact tables of the task that met it).
KEPT = 1000

#: Examples of failures in the run's final error, and in its return value.
ERROR_EXAMPLES, RESULT_EXAMPLES = 5, 100


def kept(held: list, more: Iterable, limit: int = KEPT) -> list:
    """`held` plus `more`, at most `limit` items."""
    out = list(held[:limit])
    for item in more:
        if len(out) >= limit:
            break
        out.append(item)
    return out


@dataclass(frozen=True)
class Failure:
    key: str
    target: str
    error: str
    retryable: bool = False


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def changed_since_listed(listed: ObjectMeta, read_etag: str | None = None, copied: ObjectMeta | None = None) -> bool:
    """Whether a copy took another version of the object than the one its listing showed: the
    version read (its ETag, from the read request) differs from the listed one, or, for a server
    side copy, the copy's MD5 differs from the listed MD5. Unknown on either side: False."""
    if read_etag and listed.etag:
        return read_etag.strip('"') != listed.etag.strip('"')
    if copied is not None:
        before, after = listed.hashes.get("md5"), copied.hashes.get("md5")
        return bool(before and after and before != after)
    return False


@dataclass
class BatchResult:
    """What one copy batch did. `failures` keeps the first KEPT of `failed`; `started` and
    `finished` are epoch seconds, `worker` the host:pid that ran it."""

    target: str = ""
    copied: int = 0
    bytes: int = 0
    server_side: int = 0
    encoded_metadata: int = 0
    decoded_metadata: int = 0
    changed_since_listed: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    worker: str | None = None

    def add(self, other: "BatchResult") -> None:
        _add_copies(self, other)


_COPY_COUNTERS = ("copied", "bytes", "server_side", "encoded_metadata", "decoded_metadata", "changed_since_listed",
                  "failed")


def _add_copies(into: "BatchResult | ShardReport", result: BatchResult) -> None:
    for name in _COPY_COUNTERS:
        setattr(into, name, getattr(into, name) + getattr(result, name))
    into.failures = kept(into.failures, result.failures)


_COUNTERS = ("listed_source", "listed_target", "to_copy", "copied", "skipped", "failed", "bytes", "server_side",
             "encoded_keys", "encoded_metadata", "decoded_keys", "decoded_metadata", "delete_candidates", "deleted",
             "tombstoned", "purged", "listing_errors", "from_manifest", "spooled", "changed_since_listed")


@dataclass
class ShardReport:
    """What one (target, shard) pass saw and did; reports of shards add up per target.
    `errors` and `failures` keep the first KEPT; `listing_errors` and `failed` count all."""

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
    decoded_keys: int = 0  # source keys listed encoded, planned (and written) as their original name
    decoded_metadata: int = 0
    # copied objects whose bytes came from a newer version than the one listed (the source
    # changed meanwhile): the target holds the newer bytes, so its manifest must not be trusted
    changed_since_listed: int = 0
    delete_candidates: int = 0
    deleted: int = 0
    tombstoned: int = 0
    purged: int = 0
    listing_errors: int = 0
    from_manifest: int = 0  # shards whose target side was read from the target's manifest, not listed
    spooled: int = 0  # copy batches the plans wrote to the target's spool instead of holding them
    oldest_pending: datetime | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    workers: tuple[str, ...] = ()
    started: float | None = None
    finished: float | None = None
    delete_refused: str | None = None
    deletion: str = ""

    @property
    def seconds(self) -> float:
        return max(0.0, self.finished - self.started) if self.started is not None and self.finished is not None else 0.0

    def tally(self, decisions: Iterable[Decision], candidates: list[Decision], keep: int) -> Iterator[Decision]:
        """Count each decision as it streams by; yield those to copy and keep the first `keep`
        target-only ones in `candidates`. Decisions to copy lose their target description (a copy
        never reads it), so a plan holds only what the copy needs."""
        for d in decisions:
            self._count(d)
            if d.action == "delete" and len(candidates) < keep:
                candidates.append(d)
            elif d.action == "copy":
                yield replace(d, target=None)

    def _count(self, d: Decision) -> None:
        self.reasons[d.reason] = self.reasons.get(d.reason, 0) + 1
        self.listed_source += d.source is not None
        self.listed_target += d.target is not None
        self.encoded_keys += d.target_key != d.key
        self.decoded_keys += d.source is not None and d.source.key != d.key
        if d.action == "skip":
            self.skipped += 1
        elif d.action == "delete":
            self.delete_candidates += 1
        else:
            self.to_copy += 1
            when = d.source.last_modified
            if when and (self.oldest_pending is None or when < self.oldest_pending):
                self.oldest_pending = when

    def add_batch(self, result: BatchResult) -> None:
        _add_copies(self, result)
        self.started, self.finished = _earliest(self.started, result.started), _latest(self.finished, result.finished)
        self.workers = tuple(sorted(set(self.workers) | ({result.worker} if result.worker else set())))

    def merge(self, other: "ShardReport") -> "ShardReport":
        out = ShardReport(self.target)
        for name in _COUNTERS:
            setattr(out, name, getattr(self, name) + getattr(other, name))
        olds = [t for t in (self.oldest_pending, other.oldest_pending) if t]
        out.oldest_pending = min(olds) if olds else None
        out.reasons = dict(self.reasons)
        for reason, n in other.reasons.items():
            out.reasons[reason] = out.reasons.get(reason, 0) + n
        out.errors, out.failures = kept(self.errors, other.errors), kept(self.failures, other.failures)
        out.workers = tuple(sorted(set(self.workers) | set(other.workers)))
        out.started, out.finished = _earliest(self.started, other.started), _latest(self.finished, other.finished)
        return out


@dataclass
class ShardPlan:
    """A planned (target, shard): what its listings showed, the batches to copy (none on a dry
    run or a failed listing), its first target-only objects, and what became of its manifest."""

    report: ShardReport
    batches: list[CopyBatch] = field(default_factory=list)
    candidates: list[Decision] = field(default_factory=list)
    manifest: "ManifestNote | None" = None


def failed_plan(shard: Shard, error: str) -> ShardPlan:
    """The plan of a shard whose listing failed: nothing to copy, and every deletion of its
    target refused (delete_refusal reads `listing_errors`)."""
    where = f"{shard.target} shard {shard.prefix!r}"
    return ShardPlan(ShardReport(shard.target, listing_errors=1, errors=[f"{where}: {error}"]))


def target_report(target: str, plans: Iterable[ShardPlan], results: Iterable[BatchResult]
                  ) -> tuple[ShardReport, list[Decision]]:
    """One target's report from its shards' plans and its copy batches' results, and its
    target-only objects (across shards)."""
    report, candidates = ShardReport(target), []
    for plan in plans:
        if plan.report.target == target:
            report = report.merge(plan.report)
            candidates.extend(plan.candidates)
    for result in results:
        if result.target == target:
            report.add_batch(result)
    return report, candidates


def settle(report: ShardReport, outcome: TargetOutcome, removed: int | None, purged: int | None) -> ShardReport:
    """The target's final report: what its outcome removed and purged, and why."""
    return replace(report, deleted=(removed or 0) if outcome.removal == "delete" else 0,
                   tombstoned=(removed or 0) if outcome.removal == "tombstone" else 0, purged=purged or 0,
                   delete_refused=outcome.refused, deletion=outcome.why)


def target_row(r: ShardReport, now: datetime) -> dict:
    """The target's row in its table artifact and in the run's result."""
    seconds = max(r.seconds, 1e-9)
    return {
        "target": r.target, "listed_source": r.listed_source, "listed_target": r.listed_target,
        "to_copy": r.to_copy, "copied": r.copied, "skipped": r.skipped, "deleted": r.deleted + r.tombstoned, "purged": r.purged, "failed": r.failed,
        "bytes": r.bytes, "seconds": round(r.seconds, 2), "mb_per_s": round(r.bytes / 1e6 / seconds, 2),
        "objects_per_s": round(r.copied / seconds, 1), "server_side": r.server_side,
        "delete_candidates": r.delete_candidates, "encoded_keys": r.encoded_keys,
        "encoded_metadata": r.encoded_metadata, "decoded_keys": r.decoded_keys,
        "decoded_metadata": r.decoded_metadata, "from_manifest": r.from_manifest, "spooled_batches": r.spooled,
        "listing_errors": r.listing_errors, "changed_since_listed": r.changed_since_listed,
        "oldest_pending": r.oldest_pending.isoformat() if r.oldest_pending else None,
        "lag_seconds": round(lag_seconds(r.oldest_pending, now), 3), "workers": ", ".join(r.workers),
    }


def summary_markdown(rule_name: str, source: str, reports: list[ShardReport], now: datetime, dry_run: bool) -> str:
    """The run's summary: per target counts, replication lag, deletion decisions, failed shards."""
    lines = [f"# Replication `{rule_name}`{' (dry run)' if dry_run else ''}", "", f"Source: `{source}`", ""]
    lines += ["| target | copied | skipped | deleted | failed | MB | lag before run |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in reports:
        lines.append(f"| `{r.target}` | {r.copied:,} | {r.skipped:,} | {r.deleted + r.tombstoned:,} | {r.failed:,} | "
                     f"{r.bytes / 1e6:,.1f} | {age(lag_seconds(r.oldest_pending, now))} |")
    lines.append("")
    for r in reports:
        lines += _target_lines(r)
    errors = [e for r in reports for e in r.errors]
    if errors:
        lines += ["", "## Shards that failed", ""] + [f"- {e}" for e in errors]
    lines += ["", "Lag: age of the oldest source change that was not yet on the target when this run started."]
    return "\n".join(lines) + "\n"


def _target_lines(r: ShardReport) -> list[str]:
    why = ", ".join(f"{k}: {v:,}" for k, v in sorted(r.reasons.items()))
    lines = [f"- `{r.target}`: {why or 'nothing listed'}"]
    if r.delete_refused:
        lines.append(f"  - **no object deleted**: {r.delete_refused}")
    elif r.delete_candidates:
        lines.append(f"  - {r.deletion}")
    if r.encoded_keys or r.encoded_metadata:
        lines.append(f"  - stored encoded: {r.encoded_keys:,} key(s), {r.encoded_metadata:,} metadata name(s)")
    if r.decoded_keys or r.decoded_metadata:
        lines.append(f"  - read encoded, written as the original: {r.decoded_keys:,} key(s), "
                     f"{r.decoded_metadata:,} metadata name(s)")
    if r.from_manifest:
        lines.append(f"  - target side read from its manifest on {r.from_manifest:,} shard(s), not listed")
    if r.changed_since_listed:
        lines.append(f"  - {r.changed_since_listed:,} object(s) changed on the source while copied: the target "
                     "has the newer bytes; the next run lists it in full")
    if r.purged:
        lines.append(f"  - purged {r.purged:,} expired tombstone(s)")
    return lines


def age(seconds: float) -> str:
    """A lag as a person reads it."""
    if seconds <= 0:
        return "none"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def failure_rows(reports: Iterable[ShardReport], limit: int = KEPT) -> list[dict]:
    """The run's failed objects as table rows, at most `limit`."""
    return kept([], ({"key": f.key, "target": f.target, "error": f.error} for r in reports for f in r.failures), limit)


def failure_summary(rule_name: str, reports: list[ShardReport]) -> str | None:
    """The run's final error when any object or shard failed (a few examples), else None."""
    failed = sum(r.failed for r in reports)
    shards = sum(r.listing_errors for r in reports)
    if not failed and not shards:
        return None
    examples = [f"{row['key']} -> {row['target']}: {row['error']}" for row in failure_rows(reports, ERROR_EXAMPLES)]
    examples += kept([], (e for r in reports for e in r.errors), 3)
    return f"replication {rule_name}: {failed} object(s) failed, {shards} shard(s) failed; " + "; ".join(examples)


def run_result(rule_name: str, dry_run: bool, reports: list[ShardReport], now: datetime) -> dict:
    """The flow's return value: one row per target and a bounded number of examples."""
    return {"rule": rule_name, "dry_run": dry_run, "targets": [target_row(r, now) for r in reports],
            "failed": sum(r.failed for r in reports), "failures": failure_rows(reports, RESULT_EXAMPLES),
            "shard_errors": kept([], (e for r in reports for e in r.errors), RESULT_EXAMPLES)}


# ---- verification ------------------------------------------------------------------------

VERIFY_PROBLEMS = ("missing", "differs", "extra", "hash_mismatch")


@dataclass
class VerifyReport:
    """One target's verification: objects checked and re-hashed, problems counted by kind
    (VERIFY_PROBLEMS), and the first KEPT problems."""

    target: str
    checked: int = 0
    rehashed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERIFY_PROBLEMS, 0))
    problems: list[dict] = field(default_factory=list)
    worker: str | None = None

    @property
    def problem_count(self) -> int:
        return sum(self.counts.values())

    def see(self, d: Decision) -> dict | None:
        """Count one decision of the merged listings; the problem it shows, if any."""
        self.checked += 1
        if d.action == "copy":
            return self._problem("missing" if d.target is None else "differs", d.key, d.reason)
        if d.action == "delete":
            return self._problem("extra", d.key, "only on the target")
        return None

    @staticmethod
    def rehash(d: Decision, fraction: float) -> bool:
        """Whether the target's bytes of this key are re-read: present on both sides, and sampled."""
        return d.action == "skip" and sampled(d.key, fraction)

    def hashed(self, key: str, expected: str, actual: str) -> dict | None:
        """Count one re-hash; the problem when the target's bytes are not the source's."""
        self.rehashed += 1
        if actual == expected:
            return None
        return self._problem("hash_mismatch", key, f"target bytes hash {actual[:12]}…, source {expected[:12]}…")

    def _problem(self, kind: str, key: str, text: str) -> dict:
        self.counts[kind] += 1
        row = {"target": self.target, "key": key, "problem": text}
        self.problems = kept(self.problems, [row])
        return row

    def row(self) -> dict:
        return {"target": self.target, "checked": self.checked, "rehashed": self.rehashed, **self.counts,
                "problems": self.problem_count, "worker": self.worker}


def problem_rows(reports: Iterable[VerifyReport], limit: int = KEPT) -> list[dict]:
    """Every target's kept problems as table rows, at most `limit`."""
    return kept([], (p for r in reports for p in r.problems), limit)


def verify_failure_summary(rule_name: str, reports: list[VerifyReport]) -> str | None:
    """The verification's final error when any problem was found (a few examples), else None."""
    total = sum(r.problem_count for r in reports)
    if not total:
        return None
    examples = [f"{p['key']} on {p['target']}: {p['problem']}" for p in problem_rows(reports, 3)]
    return f"verify {rule_name}: {total} problem(s), e.g. " + "; ".join(examples)
