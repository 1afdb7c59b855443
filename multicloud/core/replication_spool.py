"""The copy spool's decisions as values: which of a shard's copy batches a plan keeps in memory and
which it writes to the target's reserved area for its copy task to read back, the spool's names,
its rows, and what a run sweeps from it when it settles (its own batches, and those of runs that
ended long ago without sweeping). Pure: the caller passes `now` and the run's random token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from multicloud.core.errors import InvalidInput
from multicloud.core.objects import ObjectMeta
from multicloud.core.replication import (  # noqa: F401  SpooledBatch: this module's API too
    BatchResult, CopyBatch, Decision, Failure, ShardReport, SpooledBatch,
)
from multicloud.core.replication_manifest import RESERVED_PREFIX

SPOOL_PREFIX = f"{RESERVED_PREFIX}spool/"

#: Objects to copy a shard's plan keeps in memory before it spools its batches: two default batches
#: (about 2 MB of decisions), so a small or incremental run writes and reads no spool at all.
DEFAULT_IN_MEMORY = 2000

#: A spool left by a run that did not settle (crashed, killed) is swept by a later run once it is
#: this old: far longer than any run lasts (a run of a million objects takes well under an hour),
#: so the spool of a run still copying is never swept; meanwhile it costs ~70 bytes per object.
SPOOL_MAX_AGE = timedelta(days=2)

_STAMP = "%Y%m%dT%H%M%SZ"


class SpoolUnusable(InvalidInput):
    """A spooled batch that cannot be read back as the plan wrote it (its text names key and line)."""


@dataclass(frozen=True)
class RunSpool:
    """One run's spool of one rule: `run` names it (its start time, then a random token), and a
    shard's plan keeps its first `in_memory` objects to copy in memory (0: spool every batch)."""

    rule: str
    run: str
    in_memory: int = DEFAULT_IN_MEMORY

    @property
    def rule_prefix(self) -> str:
        return f"{SPOOL_PREFIX}{self.rule}/"

    @property
    def prefix(self) -> str:
        return f"{self.rule_prefix}{self.run}/"

    def key(self, shard_label: str, number: int) -> str:
        """Batch `number` of the shard labelled `shard_label` (see Shard.label)."""
        return f"{self.prefix}{shard_label}/{number:06d}.jsonl.zst"

    def kept_in_memory(self, planned: int) -> bool:
        """Whether a batch stays in memory when the shard's objects to copy, this batch's
        included, number `planned`: every batch from the first over the limit on is spooled."""
        return planned <= self.in_memory


def run_spool(rule: str, now: datetime, token: str, in_memory: int = DEFAULT_IN_MEMORY) -> RunSpool:
    """The spool of a run of `rule` starting at `now`; `token` tells runs started in the same second apart."""
    if not token.isalnum():
        raise InvalidInput(f"spool token {token!r} must be letters and digits", target="spool")
    return RunSpool(rule, f"{now.astimezone(timezone.utc):{_STAMP}}-{token}", in_memory)


def swept(key: str, spool: RunSpool, now: datetime, max_age: timedelta = SPOOL_MAX_AGE) -> bool:
    """Whether a key listed under the rule's spool area is removed when `spool`'s run settles: its
    own batches, and those of a run that started more than `max_age` ago. Anything else (a run
    still young, a name not of the spool's form) is left alone."""
    if not key.startswith(spool.rule_prefix):
        return False
    run = key[len(spool.rule_prefix):].split("/", 1)[0]
    if run == spool.run:
        return True
    try:
        started = datetime.strptime(run.split("-", 1)[0], _STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return False
    return now - started > max_age


def sweep_needed(report: ShardReport, shards: int, dry_run: bool) -> str | None:
    """Why the rule's spool area on a target is listed and swept when the run settles, or None;
    `report` is the target's, merged over its `shards`.
    A run that spooled sweeps its own batches. One that listed any shard of the target in full
    sweeps too, for the spool a run that stopped half way may have left: such a run never commits
    its manifest, so the run after it always lists in full. A run that read every shard from the
    manifest and spooled nothing makes no request for it (a no-op stays one GET), and a dry run
    removes nothing."""
    if dry_run:
        return None
    if report.spooled:
        return f"this run spooled {report.spooled:,} copy batch(es)"
    if report.from_manifest < shards:
        return "the target was listed in full: a stopped run may have left a spool"
    return None


def unread_batch(batch: CopyBatch, error: str, retryable: bool) -> BatchResult:
    """The result of a spooled batch its copy task could not read back: every object of it failed,
    one failure naming the spool key and why, so the run reports it and fails at the end."""
    where = batch.spooled.key if batch.spooled else batch.label
    return BatchResult(target=batch.target, failed=batch.objects, failures=[
        Failure(where, batch.target, f"{batch.objects:,} object(s) not copied: spooled batch unreadable: {error}",
                retryable)])


# ---- rows ------------------------------------------------------------------------------------

def decision_row(d: Decision) -> list:
    """One spool line's value for a decision to copy: [key, target key, reason, source object]."""
    s = d.source
    when = s.last_modified.isoformat() if s.last_modified else None
    meta = None if s.metadata is None else dict(s.metadata)
    return [d.key, d.target_key, d.reason, [s.key, s.size, when, s.etag, s.content_type, meta, s.cache_control,
                                            dict(s.hashes)]]


def row_decision(row: object, where: str) -> Decision:
    """The decision to copy of one spool line. Raises SpoolUnusable naming `where` (key and line)."""
    try:
        key, target_key, reason, (skey, size, when, etag, ctype, meta, cache, hashes) = row  # type: ignore[misc]
        if not all(isinstance(v, str) for v in (key, target_key, reason, skey)) or not isinstance(size, int):
            raise ValueError("wrong field types")
        source = ObjectMeta(key=skey, size=size, last_modified=datetime.fromisoformat(when) if when else None,
                            etag=etag, content_type=ctype, metadata=meta, cache_control=cache, hashes=dict(hashes))
    except (TypeError, ValueError) as exc:
        raise SpoolUnusable(f"{where} is not a spooled decision: {exc}", target=where) from None
    return Decision(key, target_key, "copy", reason, source, None)
