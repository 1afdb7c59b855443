"""The replication decisions after planning, as values: the delete policy and each target's
outcome (with the limits' boundaries), the per-target tally and merge, the bounded failure and
problem lists, the summary and the run's final error texts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from multicloud.config import ReplicationRule
from multicloud.core.objects import ObjectMeta
from multicloud.core.replication import (
    KEPT, BatchResult, Decision, DeletePolicy, Failure, Shard, ShardPlan, ShardReport, SyncOptions, VerifyReport,
    changed_since_listed, delete_refusal, failed_plan, failure_rows, failure_summary, problem_rows, progress_percent,
    run_result, settle, shards_of, summary_markdown, target_outcome, target_report, target_row,
    verify_failure_summary,
)

T0 = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def report(candidates: int, source: int = 100, target: int | None = None, errors: int = 0) -> ShardReport:
    return ShardReport("gs://t", listed_source=source, listed_target=source + candidates if target is None else target,
                       delete_candidates=candidates, listing_errors=errors)


MIRROR = DeletePolicy("mirror", max_delete=5, max_delete_percent=10)


def test_rule_gives_its_delete_policy_and_sync_options():
    rule = ReplicationRule(name="r", source="s3://a", targets=["gs://b"], delete="tombstone", max_delete=7,
                           max_delete_percent=2.5, tombstone_prefix=".tomb/", tombstone_days=9, include=["x/**"],
                           exclude=["*.tmp"], compare="size", concurrency=3, batch_objects=50, batch_bytes=999)
    assert rule.delete_policy == DeletePolicy("tombstone", 7, 2.5, ".tomb/", 9)
    assert rule.delete_policy.candidates_kept == 8
    assert rule.sync_options == SyncOptions("size", ("x/**",), ("*.tmp",), (".tomb/", ".multicloud-state/"), 3, 50, 999)
    assert DeletePolicy("never", max_delete=7).candidates_kept == 0


@pytest.mark.parametrize("candidates,target,allowed", [
    (5, 100, True),     # exactly max_delete (5) and 5 % of the target
    (6, 1000, False),   # one over max_delete, 0.6 % of the target
    (5, 50, True),      # exactly max_delete_percent (10 %)
    (5, 49, False),     # 10.2 %: over the percentage
    (1, 10, True),      # exactly 10 %
    (2, 19, False),     # 10.5 %
])
def test_delete_limits_are_inclusive(candidates, target, allowed):
    refusal = delete_refusal(report(candidates, target=target), MIRROR)
    assert (refusal is None) == allowed
    if not allowed:
        assert "max_delete=5" in refusal if candidates > 5 else "max_delete_percent=10" in refusal


def test_max_delete_zero_refuses_any_deletion():
    assert delete_refusal(report(1, target=1000), DeletePolicy("mirror", 0, 100)) == "1 deletions exceed max_delete=0"
    assert delete_refusal(report(0, target=1000), DeletePolicy("mirror", 0, 100)) is None


def test_refusals_name_their_reason():
    assert delete_refusal(report(3, errors=1), MIRROR).startswith("a listing failed (1 error(s))")
    assert "refusing to empty the target" in delete_refusal(report(3, source=0, target=3), DeletePolicy("mirror", 100, 100))
    assert delete_refusal(report(11, target=100), DeletePolicy("mirror", 100, 10)) == (
        "11 deletions are 11.0% of the target, over max_delete_percent=10")


@pytest.mark.parametrize("mode,dry_run,candidates,errors,expected", [
    ("never", False, 3, 0, (None, False, "3 target-only object(s) kept (delete: never)", None)),
    ("never", False, 0, 0, (None, False, "no target-only objects", None)),
    ("mirror", False, 0, 0, (None, False, "no target-only objects", None)),
    ("mirror", False, 2, 0, ("delete", False, "2 target-only object(s) deleted", None)),
    ("tombstone", False, 2, 0, ("tombstone", True, "2 target-only object(s) moved under the tombstone prefix", None)),
    ("tombstone", False, 0, 0, (None, True, "no target-only objects", None)),
    ("mirror", True, 2, 0, (None, False, "dry run: 2 target-only object(s) would be deleted", None)),
    ("tombstone", True, 2, 0, (None, False, "dry run: 2 target-only object(s) would be moved under the tombstone "
                                            "prefix", None)),
    ("mirror", False, 6, 0, (None, False, "no object deleted: 6 deletions exceed max_delete=5",
                             "6 deletions exceed max_delete=5")),
    # Limits refuse deletions, but old tombstones are still purged; a failed listing stops both.
    ("tombstone", False, 6, 0, (None, True, "no object deleted: 6 deletions exceed max_delete=5",
                                "6 deletions exceed max_delete=5")),
    ("tombstone", False, 2, 1, (None, False, "no object deleted: a listing failed (1 error(s)): deleting now could "
                                             "remove live data",
                                "a listing failed (1 error(s)): deleting now could remove live data")),
    ("tombstone", False, 0, 1, (None, False, "no object deleted: a listing failed (1 error(s)): deleting now could "
                                             "remove live data",
                                "a listing failed (1 error(s)): deleting now could remove live data")),
    ("never", False, 2, 1, (None, False, "2 target-only object(s) kept (delete: never)", None)),
])
def test_target_outcome(mode, dry_run, candidates, errors, expected):
    policy = DeletePolicy(mode, max_delete=5, max_delete_percent=50)
    got = target_outcome(report(candidates, errors=errors), policy, dry_run)
    assert (got.removal, got.purge_tombstones, got.why, got.refused) == expected


def decision(key: str, action: str, reason: str, when: datetime | None = None, size: int = 1) -> Decision:
    src = ObjectMeta(key=key, size=size, last_modified=when) if action != "delete" else None
    dst = ObjectMeta(key=key, size=size) if reason != "new" else None
    return Decision(key, key, action, reason, src, dst)


def test_tally_counts_keeps_candidates_and_yields_copies_without_target_meta():
    r, candidates = ShardReport("gs://t"), []
    decisions = [decision("a", "copy", "new", T0), decision("b", "copy", "changed: size", T0 - timedelta(hours=1)),
                 decision("c", "skip", "same"), decision("d", "delete", "target-only"),
                 decision("e", "delete", "target-only"), decision("f", "delete", "target-only")]
    copies = list(r.tally(decisions, candidates, keep=2))
    assert [d.key for d in copies] == ["a", "b"] and all(d.target is None for d in copies)
    assert [d.key for d in candidates] == ["d", "e"]
    assert (r.listed_source, r.listed_target, r.to_copy, r.skipped, r.delete_candidates) == (3, 5, 2, 1, 3)
    assert r.reasons == {"new": 1, "changed: size": 1, "same": 1, "target-only": 3}
    assert r.oldest_pending == T0 - timedelta(hours=1)


def test_target_report_merges_shards_and_batches_of_that_target_only():
    a = ShardPlan(ShardReport("gs://t", listed_source=3, to_copy=2, oldest_pending=T0, workers=("h:1",), started=10.0,
                              finished=11.0, reasons={"new": 2}), candidates=[decision("x", "delete", "target-only")])
    b = ShardPlan(ShardReport("gs://t", listed_source=4, to_copy=1, oldest_pending=T0 - timedelta(minutes=5),
                              workers=("h:2",), started=10.5, finished=12.0, reasons={"new": 1, "same": 3}))
    other = ShardPlan(ShardReport("az://o", listed_source=99))
    results = [BatchResult("gs://t", copied=2, bytes=20, failed=0, started=12.0, finished=15.0, worker="h:3"),
               BatchResult("gs://t", copied=0, failed=1, failures=[Failure("k", "gs://t", "boom")], started=12.0,
                           finished=13.0, worker="h:1"),
               BatchResult("az://o", copied=50, bytes=500)]
    merged, candidates = target_report("gs://t", [a, other, b], results)
    assert (merged.listed_source, merged.to_copy, merged.copied, merged.failed, merged.bytes) == (7, 3, 2, 1, 20)
    assert merged.oldest_pending == T0 - timedelta(minutes=5)
    assert merged.reasons == {"new": 3, "same": 3}
    assert merged.workers == ("h:1", "h:2", "h:3")
    assert merged.seconds == 5.0  # first plan's start to the last batch's end
    assert [f.key for f in merged.failures] == ["k"] and [d.key for d in candidates] == ["x"]


def test_failure_and_error_lists_are_capped_but_counted():
    many = [Failure(f"k{i}", "gs://t", "PermissionDenied: no") for i in range(KEPT + 500)]
    r = ShardReport("gs://t")
    r.add_batch(BatchResult("gs://t", failed=len(many), failures=many[:KEPT]))
    r.add_batch(BatchResult("gs://t", failed=3, failures=many[:3]))
    assert r.failed == KEPT + 503 and len(r.failures) == KEPT
    merged = r.merge(r)
    assert merged.failed == 2 * (KEPT + 503) and len(merged.failures) == KEPT
    assert len(failure_rows([merged, merged])) == KEPT
    plans = [failed_plan(Shard("gs://t", f"p{i}/"), "NotFound: no such bucket") for i in range(KEPT + 2)]
    total, _ = target_report("gs://t", plans, [])
    assert total.listing_errors == KEPT + 2 and len(total.errors) == KEPT
    result = run_result("r", False, [merged], T0)
    assert result["failed"] == 2 * (KEPT + 503) and len(result["failures"]) == 100


def test_failure_summary():
    ok = ShardReport("gs://t", copied=3)
    assert failure_summary("r", [ok]) is None
    bad = ShardReport("gs://t", failed=7, failures=[Failure(f"k{i}", "gs://t", "PermissionDenied: no") for i in range(7)])
    shard = failed_plan(Shard("az://u", "a/"), "NotFound: no such container [az://u]").report
    text = failure_summary("r", [ok, bad, shard])
    assert text == ("replication r: 7 object(s) failed, 1 shard(s) failed; " + "; ".join(
        f"k{i} -> gs://t: PermissionDenied: no" for i in range(5)) + "; az://u shard 'a/': NotFound: no such container "
        "[az://u]")


def test_settle_row_and_summary():
    r = ShardReport("gs://t", listed_source=10, listed_target=12, copied=4, skipped=6, bytes=4_000_000,
                    delete_candidates=2, oldest_pending=T0 - timedelta(hours=3), started=100.0, finished=102.0,
                    workers=("h:1",), reasons={"new": 4, "same": 6, "target-only": 2})
    outcome = target_outcome(r, DeletePolicy("tombstone", 5, 50), dry_run=False)
    final = settle(r, outcome, removed=2, purged=1)
    assert (final.deleted, final.tombstoned, final.purged) == (0, 2, 1)
    row = target_row(final, T0)
    assert {k: row[k] for k in ("copied", "deleted", "purged", "seconds", "mb_per_s", "objects_per_s", "lag_seconds",
                                "oldest_pending", "workers", "to_copy")} == {
        "copied": 4, "deleted": 2, "purged": 1, "seconds": 2.0, "mb_per_s": 2.0, "objects_per_s": 2.0,
        "lag_seconds": 10800.0, "oldest_pending": "2026-11-01T09:00:00+00:00", "workers": "h:1", "to_copy": 0}
    md = summary_markdown("r", "s3://s", [final, failed_plan(Shard("az://u", ""), "NotFound: gone").report], T0, False)
    assert "| `gs://t` | 4 | 6 | 2 | 0 | 4.0 | 3.0 h |" in md
    assert "  - 2 target-only object(s) moved under the tombstone prefix" in md
    assert "  - purged 1 expired tombstone(s)" in md
    assert "## Shards that failed\n\n- az://u shard '': NotFound: gone" in md
    refused = settle(r, target_outcome(r, DeletePolicy("mirror", 1, 50), False), None, None)
    assert "  - **no object deleted**: 2 deletions exceed max_delete=1" in summary_markdown("r", "s3://s", [refused], T0,
                                                                                         False)


def test_shards_of_and_labels():
    shards = shards_of(["gs://B/x", "az://c"], ["", "a/"])
    assert [(s.target, s.prefix, s.label) for s in shards] == [
        ("gs://B/x", "", "gs-b-x-all"), ("gs://B/x", "a/", "gs-b-x-a"), ("az://c", "", "az-c-all"),
        ("az://c", "a/", "az-c-a")]
    assert shards[1].batch(3, []).label == "gs-b-x-a-3"


def test_verify_report_counts_keeps_problems_and_summarises():
    r = VerifyReport("gs://t")
    seen = [r.see(decision("a", "copy", "new")), r.see(decision("b", "copy", "changed: size")),
            r.see(decision("c", "delete", "target-only")), r.see(decision("d", "skip", "same"))]
    assert [p and p["problem"] for p in seen] == ["new", "changed: size", "only on the target", None]
    assert VerifyReport.rehash(decision("d", "skip", "same"), 1.0)
    assert not VerifyReport.rehash(decision("a", "copy", "new"), 1.0)
    assert not VerifyReport.rehash(decision("d", "skip", "same"), 0.0)
    assert r.hashed("d", "ab" * 32, "ab" * 32) is None
    assert r.hashed("e", "ab" * 32, "cd" * 32)["problem"] == "target bytes hash cdcdcdcdcdcd…, source abababababab…"
    assert r.row() == {"target": "gs://t", "checked": 4, "rehashed": 2, "missing": 1, "differs": 1, "extra": 1,
                       "hash_mismatch": 1, "problems": 4, "worker": None}
    assert verify_failure_summary("r", [VerifyReport("gs://u")]) is None
    assert verify_failure_summary("r", [r]) == ("verify r: 4 problem(s), e.g. a on gs://t: new; b on gs://t: changed: "
                                                "size; c on gs://t: only on the target")
    for i in range(KEPT + 10):
        r.see(decision(f"m{i}", "copy", "new"))
    assert r.problem_count == KEPT + 14 and len(r.problems) == KEPT and len(problem_rows([r, r])) == KEPT


@pytest.mark.parametrize("listed_etag,listed_md5,read_etag,copied_md5,changed", [
    ('"abc"', None, "abc", None, False),  # the version listed, quoted or not
    ("abc", None, '"def"', None, True),  # another version was read
    ("0x8DC1", None, '"0x8DC2"', None, True),  # Azure's opaque ETags
    (None, None, "abc", None, False),  # nothing listed to compare with
    ("abc", "11" * 16, None, "11" * 16, False),  # a server-side copy of the same bytes
    ("abc", "11" * 16, None, "22" * 16, True),  # a server-side copy of other bytes
    ("abc", None, None, "22" * 16, False),  # no MD5 listed (a multipart object): unknown
])
def test_a_copy_knows_when_it_took_another_version_than_listed(listed_etag, listed_md5, read_etag, copied_md5,
                                                                  changed):
    listed = ObjectMeta("k", 3, None, listed_etag, hashes={"md5": listed_md5} if listed_md5 else {})
    copied = ObjectMeta("k", 3, None, "x", hashes={"md5": copied_md5}) if copied_md5 else None
    assert changed_since_listed(listed, read_etag, copied) is changed


@pytest.mark.parametrize("done,total,percent", [(0, 0, 100), (0, 1000, 0), (9, 1000, 0), (10, 1000, 1),
                                                (999, 1000, 99), (1000, 1000, 100), (1001, 1000, 100)])
def test_progress_moves_by_whole_percent(done, total, percent):
    assert progress_percent(done, total) == percent
