"""Restore and check decisions without a repository: which snapshot a reference names, whether a
target may be written, how a tree path becomes the object key and metadata, the drill sample, the
rotating read subset and the freshness table."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from multicloud.core.backups.check import CheckReport, check_problem, freshness_row, in_subset, subset_bucket
from multicloud.core.backups.forget import retention_rows, forget_decision
from multicloud.core.backups.restore import (
    RestoreReport, choose_snapshot, drill_problem, drill_sample, is_postgres, restore_item, restore_problem,
    snapshot_roots, target_decision,
)
from multicloud.config.backups import RetentionPolicy
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.backups.tree import tree_path

SNAPS = [{"id": "ab12" + "0" * 60, "time": "2026-01-01T04:00:00Z", "tags": ["plan=p"], "paths": ["/s3/b"]},
         {"id": "ab34" + "0" * 60, "time": "2026-01-01T08:00:00Z", "tags": ["plan=p"], "paths": ["/s3/b"]},
         {"id": "cd56" + "0" * 60, "time": "2026-01-01T06:00:00+02:00", "tags": ["plan=p"], "paths": ["/s3/b"]},
         {"id": "ef78" + "0" * 60, "time": "2026-01-02T00:00:00Z", "tags": ["plan=other"], "paths": ["/s3/b"]}]


def test_latest_is_the_newest_snapshot_of_the_plan():
    choice = choose_snapshot(SNAPS, "latest", "p")
    assert choice.snapshot["id"].startswith("ab34") and "newest of 3" in choice.why
    assert choose_snapshot(SNAPS, "latest").snapshot["id"].startswith("ef78")  # no plan: every snapshot


def test_id_prefix_must_be_unique_and_of_the_plan():
    assert choose_snapshot(SNAPS, "cd56", "p").snapshot["time"] == "2026-01-01T06:00:00+02:00"
    assert choose_snapshot(SNAPS, SNAPS[0]["id"], "p").why == "its id"
    with pytest.raises(NotFound, match="no snapshot of plan p has this id"):
        choose_snapshot(SNAPS, "ef78", "p")


def test_ambiguous_prefix_is_refused():
    with pytest.raises(InvalidInput, match="matches 2 snapshots of plan p"):
        choose_snapshot([*SNAPS[:2], {**SNAPS[1], "id": "ab12" + "1" * 60}], "ab12", "p")


def test_a_time_names_the_newest_snapshot_at_or_before_it_across_offsets():
    # 06:00+02:00 is 04:00Z, the same instant as the first: ordered by the instant, ties in listing order.
    assert choose_snapshot(SNAPS, "2026-01-01T07:59:59Z", "p").snapshot["time"] == "2026-01-01T06:00:00+02:00"
    assert choose_snapshot(SNAPS, "2026-01-01T08:00:00", "p").snapshot["id"].startswith("ab34")  # naive: UTC
    assert choose_snapshot(SNAPS, "2026-01-01T10:00:00+02:00", "p").snapshot["id"].startswith("ab34")
    with pytest.raises(NotFound, match="no snapshot taken at or before"):
        choose_snapshot(SNAPS, "2025-12-31", "p")
    with pytest.raises(InvalidInput, match="latest"):
        choose_snapshot(SNAPS, "yesterday", "p")
    with pytest.raises(NotFound, match="plan nope has no snapshots"):
        choose_snapshot(SNAPS, "latest", "nope")


def test_target_must_be_empty_unless_overwrite():
    assert target_decision("gs://t", None, False).proceed
    refused = target_decision("gs://t", "a.txt", False)
    assert not refused.proceed and "gs://t is not empty (holds 'a.txt')" in refused.why
    assert target_decision("gs://t", "a.txt", True).proceed


def xattrs(**values: str) -> list[dict]:
    return [{"name": k, "value": base64.b64encode(v.encode()).decode()} for k, v in values.items()]


@pytest.mark.parametrize("key", ["a/b.txt", "a//b", "/lead", "dir/", "./x/../y", "..", "plain"])
def test_tree_path_decodes_to_the_original_key_with_metadata(key):
    path = ("s3", "bucket", "pre", *tree_path(key))
    node = {"size": 5, "extended_attributes": xattrs(**{
        "user.multicloud.sha256": "f" * 64, "user.multicloud.content_type": "text/plain",
        "user.multicloud.cache_control": "max-age=60", "user.multicloud.meta.team": "sre",
        "user.multicloud.meta.Ünï": "ä"})}
    item = restore_item(path, node, snapshot_roots({"paths": ["/s3/bucket/pre"]}))
    assert item.key == key
    assert (item.size, item.sha256, item.content_type, item.cache_control) == (5, "f" * 64, "text/plain",
                                                                               "max-age=60")
    assert item.metadata == {"team": "sre", "Ünï": "ä"}


def test_a_restic_snapshot_of_a_folder_maps_under_its_own_path():
    roots = snapshot_roots({"paths": ["/tmp/x/src", "/tmp/other"]})
    item = restore_item(("tmp", "x", "src", "sub", "f.bin"), {"size": 3}, roots)
    assert (item.key, item.sha256, item.content_type, item.metadata) == ("sub/f.bin", None, None, {})


def test_postgres_snapshots_are_recognised_by_their_paths():
    assert is_postgres({"paths": ["/postgresql/db1"]})
    assert not is_postgres({"paths": ["/s3/postgresql"]}) and not is_postgres({"paths": []})


def test_drill_sample_is_stable_per_seed_and_bounded():
    keys = [f"k{i}" for i in range(100)]
    assert drill_sample(keys, 10, 7) == drill_sample(keys, 10, 7) != drill_sample(keys, 10, 8)
    assert len(drill_sample(keys, 10, 7)) == 10 and drill_sample(keys[:3], 10, 7) == keys[:3]


def test_restore_report_counts_sha256_and_blob_only_verification_and_names_failures():
    from multicloud.core.backups.restore import RestoreItem

    report = RestoreReport("az://r", "ab" * 32, "gs://t")
    report.restored(RestoreItem(("a",), "a", 3, sha256="x"), "x")
    report.restored(RestoreItem(("b",), "b", 4), "y")
    assert (report.objects, report.bytes, report.verified_sha256, report.verified_blobs_only) == (2, 7, 1, 1)
    assert restore_problem(report) is None and drill_problem("p", report, 2) is None
    assert drill_problem("p", report, 3) == "drill of plan p restored 2 of 3 sampled object(s)"
    report.failed(RestoreItem(("c",), "c", 1), "CorruptData: MAC does not match [az://r data/aa/aa…]")
    assert "1 object(s) failed; first 'c': CorruptData: MAC does not match [az://r data/aa" in restore_problem(report)


def test_read_subset_rotates_through_every_pack_once_per_n_periods():
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    buckets = [subset_bucket(start + timedelta(days=d), 7) for d in range(7)]
    assert sorted(buckets) == list(range(1, 8))
    assert subset_bucket(start + timedelta(days=7), 7) == buckets[0]
    assert subset_bucket(start + timedelta(hours=23), 7) == buckets[0]  # same day, same bucket
    packs = [f"{i:02x}" + "0" * 62 for i in range(256)]
    chosen = [[p for p in packs if in_subset(p, n, 7)] for n in range(1, 8)]
    assert sorted(p for c in chosen for p in c) == packs  # every pack in exactly one subset
    assert all(len(c) in (36, 37) for c in chosen)
    assert in_subset("0a" + "0" * 62, 10 % 7 + 1, 7)  # restic: first byte % N == n - 1


def test_check_problem_names_each_damaged_repository():
    good, bad = CheckReport("az://a", "p"), CheckReport("gs://b", "p")
    bad.add("error", "pack content does not match its name (sha256): the pack is damaged", "gs://b data/ab/ab12")
    bad.add("note", "pack is in no index", "gs://b data/cd/cd")
    assert check_problem([good]) is None
    assert check_problem([good, bad]) == ("check of plan p: gs://b: 1 error(s), first: pack content does not "
                                               "match its name (sha256): the pack is damaged [gs://b data/ab/ab12]")


def test_freshness_is_the_age_of_the_newest_verified_snapshot():
    now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    fresh = freshness_row("p", {"id": "ab" * 32, "time": "2026-01-01T08:00:00Z"}, now, 8)
    assert (fresh["age hours"], fresh["state"], fresh["snapshot"]) == (4.0, "fresh", "abababab")
    assert freshness_row("p", {"id": "x", "time": "2026-01-01T03:00:00Z"}, now, 8)["state"] == "stale: older than 8 h"
    assert freshness_row("p", None, now, 8, "drill failed")["state"] == "stale: no verified snapshot (drill failed)"


def test_retention_table_gives_the_reason_for_every_kept_snapshot():
    snaps = [{"id": f"{i:02x}" * 32, "time": f"2026-01-{i:02d}T12:00:00Z", "hostname": "h", "paths": ["/s3/b"],
              "tags": ["plan=p"]} for i in range(1, 11)]
    decision = forget_decision(snaps + [{**snaps[0], "id": "ff" * 32, "tags": ["plan=q"]}], "p",
                               RetentionPolicy(daily=3, weekly=0, monthly=0, yearly=0), datetime(2026, 2, 1,
                                                                                                  tzinfo=timezone.utc))
    rows = retention_rows(decision)
    assert [(r["snapshot"], r["action"], r["reasons"]) for r in rows[:4]] == [
        ("0a0a0a0a", "keep", "daily snapshot"), ("09090909", "keep", "daily snapshot"),
        ("08080808", "keep", "daily snapshot"), ("07070707", "remove", "no keep rule matched")]
    assert len(rows) == 10  # the other plan's snapshot is not touched
