"""A target's manifest, kept on the target itself under `.multicloud-state/manifest/<rule>/`: the state of
one rule's shard there (key, size, last modified, etag, hashes per object) as zstd-compressed,
key-sorted JSON lines, so a run can read one object instead of listing the target. Writing,
reading, the plan made from it (or from a full listing when it cannot be trusted), the staged
commit after the copies, and the verify's rewrite. Decisions: multicloud.core.replication_manifest."""

from __future__ import annotations

import heapq
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Iterable, Iterator

import orjson
import zstandard

from multicloud.core.errors import NotFound, StoreError
from multicloud.core.objects import ObjectMeta, ObjectStore
from multicloud.core.replication import Decision, DeletePolicy, Shard, ShardPlan, SyncOptions
from multicloud.core.replication_manifest import (
    STAGED_SUFFIX, ListingChoice, ManifestHeader, ManifestNote, ManifestScope, ManifestSettings, ManifestUnusable,
    after_plan, choose_listing, entry_for, entry_meta, entry_row, full_listing_needed, manifest_key, next_header,
    scope_of,
)
from multicloud.core.replication_spool import RunSpool
from multicloud.engine.transfer import shard_plan
from multicloud.engine.zstd_lines import json_lines

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/zstd"
_SPOOL_IN_MEMORY = 8 << 20  # a manifest of ~100k objects stays in memory; beyond, a temporary file
_LEVEL = 3


class ManifestWriter:
    """Collects a plan's target state as its decisions stream by, compressed into a spool: what the
    target will hold once the plan is carried out, or with `observed` what its listing showed (a
    verify). Entries arrive in key order except names either side stores encoded (the plan yields
    those last): any out of order is held aside, sorted, and merged in when the manifest is finished."""

    def __init__(self, header: ManifestHeader, observed: bool = False):
        self.header, self.entries, self._observed = header, 0, observed
        self._aside: list[ObjectMeta] = []
        self._last: str | None = None
        self._spool = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY)
        self._out = zstandard.ZstdCompressor(level=_LEVEL).stream_writer(self._spool, closefd=False)
        self._line(header.to_json())

    def _line(self, value) -> None:
        self._out.write(orjson.dumps(value) + b"\n")

    def _entry(self, meta: ObjectMeta) -> None:
        self._line(entry_row(meta))
        self.entries += 1

    def add(self, d: Decision) -> None:
        entry = d.target if self._observed else entry_for(d)
        if entry is None:
            return
        # The plan yields the names either side stores under another name last, out of key order.
        if self._last is not None and entry.key <= self._last:
            self._aside.append(entry)
        else:
            self._entry(entry)
            self._last = entry.key

    def record(self, decisions: Iterable[Decision]) -> Iterator[Decision]:
        """Pass `decisions` through, recording each."""
        for d in decisions:
            self.add(d)
            yield d

    def finish(self) -> tuple[IO[bytes], int]:
        """The finished manifest (rewound) and its length in bytes."""
        if self._aside:
            return self._merged()
        self._line({"end": True, "entries": self.entries})
        self._out.flush(zstandard.FLUSH_FRAME)
        size = self._spool.tell()
        self._spool.seek(0)
        return self._spool, size

    def _merged(self) -> tuple[IO[bytes], int]:
        self._out.flush(zstandard.FLUSH_FRAME)
        self._spool.seek(0)
        main = (entry_meta(row, n) for n, row in enumerate(json_lines(self._spool), 2) if isinstance(row, list))
        merged = ManifestWriter(self.header, self._observed)
        for meta in heapq.merge(main, sorted(self._aside, key=lambda m: m.key), key=lambda m: m.key):
            merged._entry(meta)
        self.close()
        return merged.finish()

    def close(self) -> None:
        self._spool.close()


class ManifestReader:
    """An open manifest: its header, then its entries in key order, checked as they stream (order,
    types, the trailer's count). Every problem, the store's own errors included, is ManifestUnusable."""

    def __init__(self, store: ObjectStore, key: str):
        """Raises NotFound when there is no manifest, ManifestUnusable when its header is unreadable."""
        self._reader = store.open(key)
        self._rows = _guarded(json_lines(self._reader))
        try:
            self.header = ManifestHeader.from_json(next(self._rows))
        except StopIteration:
            raise ManifestUnusable("empty or truncated manifest: no header") from None
        except ManifestUnusable:
            self.close()
            raise

    def entries(self) -> Iterator[ObjectMeta]:
        previous, count = None, 0
        try:
            for line, row in enumerate(self._rows, 2):
                if isinstance(row, dict) and row.get("end"):
                    if row.get("entries") != count:
                        raise ManifestUnusable(f"trailer counts {row.get('entries')} entries, {count} were read")
                    return
                meta = entry_meta(row, line)
                if previous is not None and meta.key <= previous:
                    raise ManifestUnusable(f"line {line}: key {meta.key!r} out of order after {previous!r}")
                previous, count = meta.key, count + 1
                yield meta
            raise ManifestUnusable(f"truncated after {count} entries (no trailer)")
        finally:
            self.close()

    def close(self) -> None:
        self._reader.close()


def _guarded(rows: Iterator[object]) -> Iterator[object]:
    try:
        yield from rows
    except StoreError as exc:
        raise ManifestUnusable(f"reading it failed: {type(exc).__name__}: {exc}") from exc
    except (zstandard.ZstdError, ValueError) as exc:  # orjson's JSONDecodeError is a ValueError
        raise ManifestUnusable(f"corrupt: {exc}") from exc


def open_manifest(store: ObjectStore, key: str) -> tuple[ManifestReader | None, str | None]:
    """(the open manifest, None), (None, None) when there is none, or (None, why it is unusable)."""
    try:
        return ManifestReader(store, key), None
    except NotFound:
        return None, None
    except StoreError as exc:
        return None, f"reading it failed: {type(exc).__name__}: {exc}"
    except ManifestUnusable as exc:
        return None, str(exc)


def header_of(store: ObjectStore, key: str) -> ManifestHeader | None:
    """The current manifest's header; None when there is none or it is unusable."""
    reader, _ = open_manifest(store, key)
    if reader is None:
        return None
    reader.close()
    return reader.header


def put_manifest(store: ObjectStore, key: str, writer: ManifestWriter) -> None:
    body, size = writer.finish()
    try:
        store.write(key, body, size=size, content_type=CONTENT_TYPE)
    finally:
        body.close()


# ---- replication: the plan and the commit ----------------------------------------------------

@dataclass(frozen=True)
class ManifestPlanning:
    """Everything a shard's plan needs beyond the sync options: the rule's manifest settings, its
    delete policy, whether it is a dry run, the plan's time, and the run's copy spool (None: every
    batch in memory)."""

    settings: ManifestSettings
    policy: DeletePolicy
    dry_run: bool
    now: datetime
    spool: RunSpool | None = None


def planned_shard(src: ObjectStore, dst: ObjectStore, options: SyncOptions, shard: Shard,
                  ctx: ManifestPlanning) -> ShardPlan:
    """Plan one shard taking the target's side from its manifest when it can be trusted, else from
    a full listing: also when the manifest proves unusable while read, and when the plan from it
    has target-only objects the delete policy would remove. Then carry out the manifest step
    (keep, write, stage, remove). Raises what the listings raise."""
    key = manifest_key(ctx.settings.rule, shard.prefix)
    scope = scope_of(ctx.settings.rule, shard.target, shard.prefix, options)
    reader, problem = open_manifest(dst, key) if ctx.settings.enabled else (None, None)
    header = reader.header if reader else None
    choice = choose_listing(ctx.settings.enabled, header, problem, scope, ctx.now, ctx.settings.max_age)
    result = None
    try:
        if choice.from_manifest:
            result, choice = _from_manifest(src, dst, options, shard, ctx, reader, scope, choice)
    finally:
        if reader is not None:
            reader.close()
    if result is None:
        result = _plan(src, dst, options, shard, ctx, None, next_header(header, scope, False, ctx.now))
    plan, writer = result
    if not choice.from_manifest:
        log.info("%s shard %r: %s", shard.target, shard.prefix, choice.why)
    action = after_plan(ctx.settings.enabled, choice.from_manifest, plan.report, ctx.policy, ctx.dry_run)
    try:
        _carry_out(dst, key, action.step, writer)
    finally:
        if writer is not None:
            writer.close()
    plan.report.from_manifest = int(choice.from_manifest)
    plan.manifest = ManifestNote(key, choice.from_manifest, choice.why, action.step, action.why)
    return plan


def _plan(src, dst, options, shard, ctx: ManifestPlanning, listing: Iterable[ObjectMeta] | None,
          header: ManifestHeader) -> tuple[ShardPlan, ManifestWriter | None]:
    writer = None if ctx.dry_run or not ctx.settings.enabled else ManifestWriter(header)
    try:
        plan = shard_plan(src, dst, options, shard, ctx.policy.candidates_kept, ctx.dry_run, listing,
                          writer.record if writer else None, ctx.spool)
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    return plan, writer


def _from_manifest(src, dst, options, shard, ctx, reader: ManifestReader, scope: ManifestScope,
                   choice: ListingChoice):
    """The plan from the manifest, or (None, why a full listing is needed instead)."""
    try:
        plan, writer = _plan(src, dst, options, shard, ctx, reader.entries(),
                             next_header(reader.header, scope, True, ctx.now))
    except ManifestUnusable as exc:
        log.warning("%s shard %r: manifest unusable while read (%s): listing the target in full", shard.target,
                    shard.prefix, exc)
        return None, ListingChoice(False, f"manifest unusable ({exc}): target listed in full")
    again = full_listing_needed(plan.report, ctx.policy)
    if again:
        if writer is not None:
            writer.close()
        return None, ListingChoice(False, again)
    return (plan, writer), choice


def _carry_out(dst: ObjectStore, key: str, step: str, writer: ManifestWriter | None) -> None:
    if step == "write" and writer is not None:
        put_manifest(dst, key, writer)
    elif step == "stage" and writer is not None:
        put_manifest(dst, key + STAGED_SUFFIX, writer)
        dst.delete([key])  # no manifest claims the copies until they are known to be done
    elif step == "remove":
        dst.delete([key])


def settle_staged(dst: ObjectStore, notes: Iterable[ManifestNote], commit: bool) -> int:
    """Commit (copy over the current key) or drop every staged manifest of a target's plans; the
    staged objects are removed either way. Returns how many were committed."""
    staged = [n for n in notes if n.staged]
    if commit:
        for note in staged:
            dst.copy(note.key + STAGED_SUFFIX, note.key)
    dst.delete([n.key + STAGED_SUFFIX for n in staged])
    return len(staged) if commit else 0


# ---- verification: rewrite from the full listings --------------------------------------------

class ShardManifests:
    """During a verify's full listing of a target, one manifest writer per shard of the rule that
    already has a manifest; each is rewritten at the end only if no run changed it meanwhile."""

    def __init__(self, dst: ObjectStore, settings: ManifestSettings, target: str, prefixes: Iterable[str],
                 options: SyncOptions, now: datetime):
        self._dst, self._writers, self._seen = dst, {}, {}
        for prefix in prefixes if settings.enabled else ():
            key = manifest_key(settings.rule, prefix)
            header = header_of(dst, key)
            scope = scope_of(settings.rule, target, prefix, options)
            if header is not None and header.scope == scope:
                self._seen[prefix] = (key, header.generation)
                self._writers[prefix] = ManifestWriter(next_header(header, scope, False, now), observed=True)
        # Longest prefix first, so a key goes to the one shard whose prefix it starts with.
        self._order = sorted(self._writers, key=len, reverse=True)

    def record(self, decisions: Iterable[Decision]) -> Iterator[Decision]:
        for d in decisions:
            prefix = next((p for p in self._order if d.target_key.startswith(p)), None)
            if prefix is not None:
                self._writers[prefix].add(d)
            yield d

    def commit(self) -> int:
        """Write each shard's new manifest whose current one is still the one seen at the start.
        Returns how many were written."""
        written = 0
        for prefix, writer in self._writers.items():
            key, generation = self._seen[prefix]
            current = header_of(self._dst, key)
            if current is not None and current.generation == generation:
                put_manifest(self._dst, key, writer)
                written += 1
            else:
                log.info("manifest %s changed during the verify (a run wrote or staged it): left to that run", key)
            writer.close()
        return written
