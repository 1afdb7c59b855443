"""The target manifest's pure decisions: when a plan trusts it, when it must list in full, what
becomes of it after the plan and after the copies, and its rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from multicloud.core.objects import ObjectMeta
from multicloud.core.replication import Decision, DeletePolicy, ShardReport, SyncOptions, TargetOutcome
from multicloud.core.replication_manifest import (
    ManifestHeader, ManifestUnusable, after_plan, choose_listing, commit_staged, entry_for, entry_meta, entry_row,
    full_listing_needed, manifest_key, next_header, scope_of,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
OPTIONS = SyncOptions(include=("a/**",), ignore_target_prefix=(".tombstones/", ".multicloud-state/"))
SCOPE = scope_of("r", "az://c/", "a/", OPTIONS)
HEADER = ManifestHeader(SCOPE, 3, NOW - timedelta(hours=2), NOW - timedelta(minutes=15))
MIRROR, NEVER = DeletePolicy("mirror"), DeletePolicy("never")


def test_a_fresh_manifest_of_the_same_scope_is_read():
    choice = choose_listing(True, HEADER, None, SCOPE, NOW)
    assert choice.from_manifest
    assert "generation 3" in choice.why and "2.0 h ago" in choice.why


@pytest.mark.parametrize("enabled,header,problem,why", [
    (False, HEADER, None, "manifest off"),
    (True, None, None, "no manifest"),
    (True, None, "corrupt: bad frame", "manifest unusable (corrupt: bad frame)"),
    (True, replace(HEADER, listed_at=NOW - timedelta(hours=25)), None, "last listed in full 25.0 h ago"),
    (True, replace(HEADER, listed_at=NOW + timedelta(hours=1)), None, "listed in full"),  # a clock gone wrong
    (True, replace(HEADER, scope=replace(SCOPE, rule="other")), None, "another rule"),
    (True, replace(HEADER, scope=replace(SCOPE, target="az://d/")), None, "another target"),
    (True, replace(HEADER, scope=replace(SCOPE, prefix="b/")), None, "another prefix"),
    (True, replace(HEADER, scope=scope_of("r", "az://c/", "a/", SyncOptions())), None, "another filters"),
])
def test_otherwise_the_target_is_listed_in_full_saying_why(enabled, header, problem, why):
    choice = choose_listing(enabled, header, problem, SCOPE, NOW)
    assert not choice.from_manifest
    assert why in choice.why


def test_max_age_is_the_rules():
    assert not choose_listing(True, HEADER, None, SCOPE, NOW, max_age=timedelta(hours=1)).from_manifest


def test_a_manifest_written_from_a_manifest_keeps_the_time_of_the_full_listing():
    assert next_header(HEADER, SCOPE, True, NOW) == ManifestHeader(SCOPE, 4, HEADER.listed_at, NOW)
    assert next_header(HEADER, SCOPE, False, NOW) == ManifestHeader(SCOPE, 4, NOW, NOW)
    assert next_header(None, SCOPE, False, NOW).generation == 1


def test_header_round_trips_and_other_formats_are_refused():
    assert ManifestHeader.from_json(HEADER.to_json()) == HEADER
    with pytest.raises(ManifestUnusable, match="version 2"):
        ManifestHeader.from_json({**HEADER.to_json(), "version": 2})
    with pytest.raises(ManifestUnusable, match="no header"):
        ManifestHeader.from_json(["k", 1, None, None, {}])
    with pytest.raises(ManifestUnusable, match="malformed"):
        ManifestHeader.from_json({**HEADER.to_json(), "listed_at": "yesterday"})


def test_deletions_are_only_decided_from_a_full_listing():
    report = ShardReport("t", delete_candidates=2)
    assert "only from a full listing" in full_listing_needed(report, MIRROR)
    assert "only from a full listing" in full_listing_needed(report, DeletePolicy("tombstone"))
    assert full_listing_needed(report, NEVER) is None
    assert full_listing_needed(ShardReport("t"), MIRROR) is None


@pytest.mark.parametrize("enabled,from_manifest,report,policy,dry_run,step", [
    (True, True, ShardReport("t", skipped=5), NEVER, False, "keep"),
    (True, True, ShardReport("t", skipped=5, delete_candidates=1), NEVER, False, "keep"),
    (True, False, ShardReport("t", skipped=5), NEVER, False, "write"),
    (True, True, ShardReport("t", to_copy=1), NEVER, False, "stage"),
    (True, False, ShardReport("t", delete_candidates=1), MIRROR, False, "stage"),
    (True, False, ShardReport("t", to_copy=1), NEVER, True, "none"),
    (False, False, ShardReport("t", to_copy=1), NEVER, False, "remove"),
    (False, False, ShardReport("t", skipped=1), NEVER, False, "none"),
])
def test_what_a_plan_does_with_its_manifest(enabled, from_manifest, report, policy, dry_run, step):
    assert after_plan(enabled, from_manifest, report, policy, dry_run).step == step


@pytest.mark.parametrize("report,outcome,commit,why", [
    (ShardReport("t", copied=3), TargetOutcome(None, False, ""), True, "committed"),
    (ShardReport("t", copied=2, failed=1), TargetOutcome(None, False, ""), False, "1 object(s) failed"),
    (ShardReport("t", listing_errors=1), TargetOutcome(None, False, ""), False, "a listing failed"),
    (ShardReport("t", copied=1), TargetOutcome("delete", False, ""), False, "removed"),
    (ShardReport("t", copied=2, changed_since_listed=1), TargetOutcome(None, False, ""), False,
     "1 object(s) changed on the source while copied"),
])
def test_staged_manifests_are_committed_only_when_the_target_is_as_planned(report, outcome, commit, why):
    done, text = commit_staged(report, outcome)
    assert done is commit and why in text


def test_entries_foresee_copies_and_keep_what_was_listed():
    when = NOW - timedelta(days=1)
    src = ObjectMeta("k", 5, when, "src-etag", hashes={"md5": "ab" * 16, "sha256": "cd" * 32})
    dst = ObjectMeta("k", 4, NOW, "dst-etag", hashes={"md5": "ef" * 16})
    copied = entry_for(Decision("k", "k", "copy", "changed: size", src, dst))
    assert (copied.key, copied.size, copied.last_modified, copied.etag) == ("k", 5, when, None)
    assert copied.hashes == src.hashes
    assert entry_for(Decision("k", "k", "skip", "same", src, dst)) is dst
    assert entry_for(Decision("k", "k", "delete", "target-only", None, dst)) is dst
    assert entry_for(Decision("k.", "k％2E", "copy", "new", src, None)).key == "k％2E"


def test_rows_round_trip_and_bad_rows_name_their_line():
    meta = ObjectMeta("a b/ü", 7, NOW, '"e"', hashes={"md5": "00" * 16})
    assert entry_meta(entry_row(meta), 2) == meta
    assert entry_meta(entry_row(ObjectMeta("k", 0)), 2) == ObjectMeta("k", 0)
    for bad in (["k", -1, None, None, {}], ["k", "1", None, None, {}], ["k", 1, None], {"k": 1},
                ["k", 1, "not a time", None, {}]):
        with pytest.raises(ManifestUnusable, match="line 9"):
            entry_meta(bad, 9)


def test_each_shard_has_its_own_manifest_in_the_reserved_area():
    keys = {manifest_key("r", p) for p in ("", "a/", "a_", "b/")}
    assert len(keys) == 4
    assert all(k.startswith(".multicloud-state/manifest/r/") and k.endswith(".jsonl.zst") for k in keys)


def test_the_summary_says_when_a_target_was_read_from_its_manifest():
    from multicloud.core.replication import summary_markdown

    text = summary_markdown("r", "s3://a/", [ShardReport("az://c/", skipped=3, from_manifest=2)], NOW, False)
    assert "target side read from its manifest on 2 shard(s), not listed" in text
    assert "manifest" not in summary_markdown("r", "s3://a/", [ShardReport("az://c/", skipped=3)], NOW, False)
