"""The in-memory blob index: every added blob is found at its newest location, before and after the
recent entries are merged into the sorted arrays, shared 8-byte prefixes included; and a merged
index costs about 57 bytes per blob."""

from __future__ import annotations

import random
import tracemalloc

from multicloud.core.backups.format import DATA, TREE, PackEntry
from multicloud.engine.restic.repository import BlobIndex


def test_index_finds_every_blob_at_its_newest_location(monkeypatch):
    monkeypatch.setattr(BlobIndex, "SETTLE_EVERY", 500)  # many merges, with entries on both sides
    rng = random.Random(5)
    ids = [rng.randbytes(32) for _ in range(2000)]
    ids += [ids[0][:8] + rng.randbytes(24) for _ in range(4)] + [ids[1][:31] + b"\x00", ids[1][:31] + b"\x01"]
    index, expected = BlobIndex(), {}
    for n in range(6000):
        blob_id, blob_type, pack = rng.choice(ids), rng.choice([DATA, TREE]), f"{rng.randrange(40):064x}"
        entry = PackEntry(blob_id, blob_type, rng.randrange(1 << 30), rng.randrange(1 << 23), rng.randrange(1 << 23))
        index.add(pack, entry)
        expected[(blob_type, blob_id)] = (pack, entry)
        if n % 1777 == 0:
            assert all(index.find(t, b) == where for (t, b), where in expected.items())
    for settled in (False, True):
        if settled:
            index.settle()
        assert all(index.find(t, b) == where for (t, b), where in expected.items())
        assert len(index) == len(expected)
        assert index.count(DATA) == sum(1 for t, _ in expected if t == DATA)
        assert not index.has(DATA, rng.randbytes(32)) and not index.has(TREE, ids[0][:8] + bytes(24))


def test_settled_index_costs_under_64_bytes_per_blob():
    rng = random.Random(6)
    tracemalloc.start()
    try:
        index = BlobIndex()
        for i in range(120_000):
            index.add(f"{i // 5000:064x}", PackEntry(rng.randbytes(32), DATA, i, 1000, 2000))
        index.settle()
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size / len(index) < 64, f"{size / len(index):.0f} bytes per blob"
