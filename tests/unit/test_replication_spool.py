"""The copy spool: which batches a plan keeps in memory, the spool's names, what a settling run
sweeps (its own, and runs older than the age), when it lists the spool area at all, its rows;
then over in-process memory stores: a plan beyond the limit spools its batches, they read back
as planned, a damaged one is refused naming its key, and a sweep leaves young runs alone."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from multicloud.clouds.memory.storage import MemoryStore
from multicloud.core.errors import InvalidInput
from multicloud.core.objects import ObjectMeta, StoreUrl
from multicloud.core.replication import Decision, DeletePolicy, Shard, ShardReport, SyncOptions
from multicloud.core.replication_manifest import RESERVED_PREFIX, ManifestSettings
from multicloud.core.replication_spool import (
    SPOOL_MAX_AGE, RunSpool, SpoolUnusable, decision_row, row_decision, run_spool, swept, sweep_needed,
    unread_batch,
)
from multicloud.engine.manifest import ManifestPlanning, planned_shard
from multicloud.engine.spool import batch_decisions, read_batch, sweep_spool, write_batch
from multicloud.engine.transfer import copy_batch
from tests.support import unique_name

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
OPTIONS = SyncOptions(ignore_target_prefix=(".tombstones/", RESERVED_PREFIX), batch_objects=10)


def test_a_run_spool_is_named_by_rule_start_and_token_under_the_reserved_area():
    spool = run_spool("daily", NOW, "ab12")
    assert spool.run == "20261201T120000Z-ab12"
    assert spool.key("az-c-all", 7) == ".multicloud-state/spool/daily/20261201T120000Z-ab12/az-c-all/000007.jsonl.zst"
    assert spool.key("x", 1).startswith(spool.prefix) and spool.prefix.startswith(spool.rule_prefix)
    with pytest.raises(InvalidInput, match="letters and digits"):
        run_spool("daily", NOW, "../x")


@pytest.mark.parametrize("in_memory,planned,kept", [(2000, 1000, True), (2000, 2000, True), (2000, 2001, False),
                                                    (0, 1, False)])
def test_batches_stay_in_memory_up_to_the_limit_and_every_later_one_is_spooled(in_memory, planned, kept):
    assert RunSpool("r", "run", in_memory).kept_in_memory(planned) is kept


def test_a_sweep_takes_this_runs_batches_and_runs_older_than_the_age_only():
    spool = run_spool("r", NOW, "mine")
    old = run_spool("r", NOW - SPOOL_MAX_AGE - timedelta(minutes=1), "old")
    young = run_spool("r", NOW - SPOOL_MAX_AGE + timedelta(minutes=1), "young")
    other_rule = run_spool("q", NOW - SPOOL_MAX_AGE * 10, "old")
    assert swept(spool.key("s", 1), spool, NOW)
    assert swept(old.key("s", 1), spool, NOW)
    assert not swept(young.key("s", 1), spool, NOW)
    assert not swept(other_rule.key("s", 1), spool, NOW)
    assert not swept(f"{spool.rule_prefix}not-a-run/x", spool, NOW)


@pytest.mark.parametrize("spooled,from_manifest,dry_run,why", [
    (3, 1, False, "spooled 3"), (0, 0, False, "listed in full"), (0, 1, False, None), (0, 0, True, None)])
def test_the_spool_area_is_listed_only_by_a_run_that_spooled_or_listed_the_target_in_full(spooled, from_manifest,
                                                                                         dry_run, why):
    found = sweep_needed(ShardReport("t", spooled=spooled, from_manifest=from_manifest), 1, dry_run)
    assert (found is None) if why is None else why in found


def test_a_spool_row_reads_back_as_the_decision_to_copy():
    when = datetime(2026, 11, 30, 8, 1, 2, 345000, tzinfo=timezone.utc)
    src = ObjectMeta("a%2E", 7, when, '"e"', "text/plain", {"team": "sre"}, "max-age=3", {"md5": "ab", "sha256": "cd"})
    d = Decision("a.", "a％2E", "copy", "new", src, None)
    assert row_decision(decision_row(d), "k line 1") == d
    bare = Decision("b", "b", "copy", "changed: size", ObjectMeta("b", 0), None)
    assert row_decision(decision_row(bare), "k line 2") == bare
    with pytest.raises(SpoolUnusable, match="k line 3 is not a spooled decision"):
        row_decision(["b", "b", "new"], "k line 3")


def test_an_unreadable_spooled_batch_fails_every_object_of_it_naming_the_key():
    batch = Shard("mem://t", "").batch(4, None, write_batch(MemoryStore(StoreUrl.parse(f"mem://{unique_name('s')}")),
                                                            "k", [_copy("x")]))
    result = unread_batch(batch, "NotFound: gone", False)
    assert (result.failed, result.copied, [f.key for f in result.failures]) == (1, 0, ["k"])
    assert "not copied: spooled batch unreadable: NotFound: gone" in result.failures[0].error


def _copy(key: str) -> Decision:
    return Decision(key, key, "copy", "new", ObjectMeta(key, 3, NOW, hashes={"md5": "00"}), None)


def _stores(n: int):
    src = MemoryStore(StoreUrl.parse(f"mem://{unique_name('src')}"))
    dst = MemoryStore(StoreUrl.parse(f"mem://{unique_name('dst')}"))
    for i in range(n):
        src.write(f"k/{i:03d}", io.BytesIO(b"obj"), size=3)
    return src, dst


def _plan(src, dst, spool):
    return planned_shard(src, dst, OPTIONS, Shard(dst.url, ""), ManifestPlanning(ManifestSettings("r"),
                                                                                  DeletePolicy(), False, NOW, spool))


def test_a_plan_beyond_the_limit_spools_its_later_batches_and_they_copy_as_planned():
    src, dst = _stores(45)
    spool = run_spool("r", NOW, "t1", in_memory=20)
    plan = _plan(src, dst, spool)
    assert [b.spooled is None for b in plan.batches] == [True, True, False, False, False]
    assert plan.report.spooled == 3 and [b.objects for b in plan.batches] == [10, 10, 10, 10, 5]
    assert [m.key for m in dst.list(spool.prefix)] == [spool.key(Shard(dst.url, "").label, n) for n in (3, 4, 5)]
    keys = [d.key for b in plan.batches for d in batch_decisions(dst, b)]
    assert keys == [f"k/{i:03d}" for i in range(45)]
    for batch in plan.batches:
        assert copy_batch(src, dst, batch_decisions(dst, batch), 4).copied == batch.objects
    assert plan.batches[2].spooled.bytes == 30


def test_a_spooled_batch_that_is_damaged_or_short_is_refused_naming_its_key():
    _, dst = _stores(0)
    ref = write_batch(dst, "sp/1", [_copy("a"), _copy("b")])
    dst.write("sp/1", io.BytesIO(b"\x28\xb5\x2f\xfd junk"), size=9)
    with pytest.raises(SpoolUnusable, match="sp/1 is corrupt"):
        read_batch(dst, ref)
    short = write_batch(dst, "sp/2", [_copy("a")])
    with pytest.raises(SpoolUnusable, match="sp/2 holds 1 decision"):
        read_batch(dst, type(short)(short.key, 2, short.bytes))


def test_a_sweep_removes_this_run_and_stale_runs_and_keeps_young_ones_and_other_state():
    _, dst = _stores(0)
    spool, old = run_spool("r", NOW, "now"), run_spool("r", NOW - timedelta(days=3), "old")
    young = run_spool("r", NOW - timedelta(hours=1), "young")
    for s in (spool, old, young):
        write_batch(dst, s.key("a", 1), [_copy("x")])
    dst.write(f"{RESERVED_PREFIX}manifest/r/all.jsonl.zst", io.BytesIO(b"m"), size=1)
    assert sweep_spool(dst, spool, NOW) == 2
    assert [m.key for m in dst.list(RESERVED_PREFIX)] == [f"{RESERVED_PREFIX}manifest/r/all.jsonl.zst",
                                                          young.key("a", 1)]
