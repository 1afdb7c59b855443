"""The copy spool on a target: a plan writes the copy batches it does not keep in memory as
zstd-compressed JSON lines under the target's reserved area, each copy task (on this machine or a
Dask worker) reads its own batch back, and the run sweeps the area when it settles. Decisions:
multicloud.core.replication_spool."""

from __future__ import annotations

import io
from datetime import datetime

import orjson
import zstandard

from multicloud.core.objects import ObjectStore
from multicloud.core.replication import CopyBatch, Decision, Shard
from multicloud.core.replication_spool import (
    RunSpool, SpooledBatch, SpoolUnusable, decision_row, row_decision, swept,
)
from multicloud.engine.zstd_lines import json_lines

CONTENT_TYPE = "application/zstd"
_LEVEL = 3


class ShardSpool:
    """Turns one shard's batches into CopyBatches as the plan streams them: the first in memory,
    the rest (see RunSpool.kept_in_memory) written to `dst` and carried as a reference. Without a
    `spool` every batch stays in memory."""

    def __init__(self, dst: ObjectStore, spool: RunSpool | None, shard: Shard):
        self._dst, self._spool, self._shard = dst, spool, shard
        self.planned = self.spooled = 0

    def batch(self, number: int, decisions: list[Decision]) -> CopyBatch:
        self.planned += len(decisions)
        if self._spool is None or self._spool.kept_in_memory(self.planned):
            return self._shard.batch(number, decisions)
        self.spooled += 1
        return self._shard.batch(number, None, write_batch(self._dst, self._spool.key(self._shard.label, number),
                                                           decisions))


def write_batch(dst: ObjectStore, key: str, decisions: list[Decision]) -> SpooledBatch:
    """Write one batch (bounded by batch_objects, so compressed in memory) and return its reference."""
    body = zstandard.ZstdCompressor(level=_LEVEL).compress(b"".join(orjson.dumps(decision_row(d)) + b"\n"
                                                                    for d in decisions))
    dst.write(key, io.BytesIO(body), size=len(body), content_type=CONTENT_TYPE)
    return SpooledBatch(key, len(decisions), sum(d.size for d in decisions))


def read_batch(dst: ObjectStore, spooled: SpooledBatch) -> list[Decision]:
    """A spooled batch's decisions, decompressed as they stream from the target. Raises what the
    store raises, and SpoolUnusable when the batch is not what its reference says."""
    decisions = []
    with dst.open(spooled.key) as reader:
        try:
            for n, row in enumerate(json_lines(reader), 1):
                decisions.append(row_decision(row, f"{spooled.key} line {n}"))
        except (zstandard.ZstdError, orjson.JSONDecodeError) as exc:
            raise SpoolUnusable(f"{spooled.key} is corrupt: {exc}", target=spooled.key) from None
    if len(decisions) != spooled.objects:
        raise SpoolUnusable(f"{spooled.key} holds {len(decisions)} decision(s), its batch {spooled.objects}",
                            target=spooled.key)
    return decisions


def batch_decisions(dst: ObjectStore, batch: CopyBatch) -> list[Decision]:
    """The decisions of a batch: held in it, or read from its spool on `dst`."""
    return batch.decisions.items if batch.spooled is None else read_batch(dst, batch.spooled)


def sweep_spool(dst: ObjectStore, spool: RunSpool, now: datetime) -> int:
    """Remove from the rule's spool area this run's batches and those of runs too old to be
    running (see core.replication_spool.swept). Returns how many objects were removed."""
    return dst.delete(m.key for m in dst.list(spool.rule_prefix) if swept(m.key, spool, now))
