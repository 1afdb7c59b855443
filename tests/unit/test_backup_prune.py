"""The prune decision without a repository: which packs are kept, repacked or deleted given the
index, the packs in the store and the used blobs, and what max_unused means."""

from __future__ import annotations

import hashlib

import pytest

from multicloud.core.backups.format import DATA, TREE, PackEntry
from multicloud.core.backups.prune import DELETE, KEEP, REPACK, MaxUnused, pack_size, plan_prune
from multicloud.core.errors import InvalidInput

MIB = 1 << 20


def blob(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def pack(*blobs: tuple[str, str, int], compressed: bool = True) -> list[PackEntry]:
    """Entries of a pack of (type, name, length) blobs, offsets accumulated."""
    entries, offset = [], 0
    for blob_type, name, length in blobs:
        entries.append(PackEntry(blob(name), blob_type, offset, length, length * 2 if compressed else 0))
        offset += length
    return entries


def stored(index: dict) -> dict:
    return {pid: pack_size(entries) for pid, entries in index.items()}


def actions(plan) -> dict:
    return {p.pack_id: p.action for p in plan.packs}


def test_fully_used_kept_unused_deleted_partly_used_repacked_over_max_unused():
    index = {"a" * 64: pack((DATA, "a1", MIB), (DATA, "a2", MIB)),           # fully used
             "b" * 64: pack((DATA, "b1", MIB)),                               # nothing used
             "c" * 64: pack((DATA, "c1", MIB), (DATA, "c2", 3 * MIB)),       # 3/4 unused
             "d" * 64: pack((TREE, "t1", 2000))}
    used = {(DATA, blob(n)) for n in ("a1", "a2", "c1")} | {(TREE, blob("t1"))}
    plan = plan_prune(index, stored(index), used)
    assert actions(plan) == {"a" * 64: KEEP, "b" * 64: DELETE, "c" * 64: REPACK, "d" * 64: KEEP}
    assert [(pid, e.blob_id) for pid, e in plan.repack] == [("c" * 64, blob("c1"))]
    assert set(plan.kept) == {"a" * 64, "d" * 64}
    assert plan.kept["a" * 64] == tuple(index["a" * 64])  # a kept pack keeps every index entry
    reasons = {p.pack_id: p.reason for p in plan.packs}
    assert reasons["b" * 64] == "no blob is used" and "over max_unused 5%" in reasons["c" * 64]
    assert plan.unused_after == 0 and not plan.problems


def test_max_unused_keeps_partly_used_packs_within_the_limit():
    # 1 MiB unused beside ~10 MiB used: 10% of the repository.
    index = {"a" * 64: pack((DATA, "a1", 10 * MIB)), "c" * 64: pack((DATA, "c1", MIB), (DATA, "c2", MIB))}
    used = {(DATA, blob("a1")), (DATA, blob("c1"))}
    assert actions(plan_prune(index, stored(index), used, MaxUnused.parse("5%")))["c" * 64] == REPACK
    within = plan_prune(index, stored(index), used, MaxUnused.parse("15%"))
    assert actions(within)["c" * 64] == KEEP and "within max_unused 15%" in within.packs[-1].reason
    assert within.unused_after == MIB and not within.repack
    assert actions(plan_prune(index, stored(index), used, MaxUnused.parse("unlimited")))["c" * 64] == KEEP
    assert actions(plan_prune(index, stored(index), used, MaxUnused.parse("2M")))["c" * 64] == KEEP
    assert actions(plan_prune(index, stored(index), used, MaxUnused.parse("500k")))["c" * 64] == REPACK


def test_most_wasteful_pack_is_repacked_first_and_repacking_stops_at_the_limit():
    index = {"1" * 64: pack((DATA, "x1", 4 * MIB), (DATA, "x2", MIB)),      # 1/5 unused
             "2" * 64: pack((DATA, "y1", MIB), (DATA, "y2", 4 * MIB)),      # 4/5 unused
             "3" * 64: pack((DATA, "z1", 20 * MIB))}
    used = {(DATA, blob(n)) for n in ("x1", "y1", "z1")}
    # 25 MiB used: 20% allows 6.25 MiB unused; 5 MiB are unused, so nothing; 10% allows 2.8 MiB.
    assert not plan_prune(index, stored(index), used, MaxUnused.parse("20%")).of(REPACK)
    plan = plan_prune(index, stored(index), used, MaxUnused.parse("10%"))
    assert actions(plan) == {"1" * 64: KEEP, "2" * 64: REPACK, "3" * 64: KEEP}


def test_mixed_and_uncompressed_tree_packs_are_always_repacked():
    index = {"m" * 64: pack((DATA, "d1", MIB), (TREE, "t1", 1000)),
             "u" * 64: pack((TREE, "t2", 1000), compressed=False)}
    used = {(DATA, blob("d1")), (TREE, blob("t1")), (TREE, blob("t2"))}
    plan = plan_prune(index, stored(index), used, MaxUnused.parse("unlimited"))
    assert actions(plan) == {"m" * 64: REPACK, "u" * 64: REPACK}
    assert [e.blob_type for _, e in plan.repack] == [TREE, TREE, DATA]  # trees first
    assert {p.reason for p in plan.packs} == {"mixes tree and data blobs",
                                              "tree blobs stored uncompressed (version 2 compresses trees)"}


def test_small_packs_are_merged_only_from_ten_on():
    index = {f"{i:064x}": pack((DATA, f"s{i}", 1000)) for i in range(9)}
    used = {(DATA, blob(f"s{i}")) for i in range(10)}
    assert set(actions(plan_prune(index, stored(index), used)).values()) == {KEEP}
    index[f"{9:064x}"] = pack((DATA, "s9", 1000))
    plan = plan_prune(index, stored(index), used)
    assert set(actions(plan).values()) == {REPACK} and len(plan.repack) == 10


def test_duplicate_blob_counts_once_and_is_not_copied_when_a_kept_pack_holds_it():
    index = {"a" * 64: pack((DATA, "dup", MIB), (DATA, "a2", MIB)),
             "b" * 64: pack((DATA, "dup", MIB), (DATA, "b2", 5 * MIB))}
    used = {(DATA, blob("dup")), (DATA, blob("a2"))}
    plan = plan_prune(index, stored(index), used)
    assert actions(plan) == {"a" * 64: KEEP, "b" * 64: DELETE}
    assert not plan.repack


def test_unindexed_packs_are_deleted_and_missing_data_is_a_problem():
    index = {"a" * 64: pack((DATA, "a1", MIB)), "g" * 64: pack((DATA, "g1", MIB))}
    store = {"a" * 64: pack_size(index["a" * 64]), "e" * 64: 1234}  # g... is gone from the store
    used = {(DATA, blob("a1")), (DATA, blob("g1")), (DATA, blob("nowhere"))}
    plan = plan_prune(index, store, used)
    reasons = {p.pack_id: (p.action, p.reason) for p in plan.packs}
    assert reasons["e" * 64] == (DELETE, "in no index (left by an interrupted backup)")
    assert any("missing from the store" in p for p in plan.problems)
    assert any(blob("nowhere").hex() in p and "data seems to be missing" in p for p in plan.problems)


def test_a_pack_of_the_wrong_size_is_a_problem():
    index = {"a" * 64: pack((DATA, "a1", MIB))}
    plan = plan_prune(index, {"a" * 64: pack_size(index["a" * 64]) - 1}, {(DATA, blob("a1"))})
    assert plan.problems == (f"pack {'a' * 64} is {pack_size(index['a' * 64]) - 1} bytes, the index says "
                             f"{pack_size(index['a' * 64])}",)


def test_pack_size_is_blobs_plus_sealed_header():
    entries = pack((DATA, "a", 100), (DATA, "b", 50), compressed=False) + [PackEntry(blob("c"), DATA, 150, 10, 20)]
    assert pack_size(entries) == 160 + 2 * 37 + 41 + 32 + 4


@pytest.mark.parametrize("text,limit", [("5%", 5 / 95 * 1000), ("0%", 0), ("unlimited", float("inf")),
                                        ("1k", 1024), ("2MiB", 2 << 20), ("1.5G", 1.5 * (1 << 30)), ("700", 700)])
def test_max_unused_parses_restics_forms(text, limit):
    assert MaxUnused.parse(text).limit(1000) == pytest.approx(limit)


@pytest.mark.parametrize("text", ["", "100%", "-1%", "five", "5x"])
def test_bad_max_unused_is_refused_naming_it(text):
    with pytest.raises(InvalidInput, match="max_unused"):
        MaxUnused.parse(text)
