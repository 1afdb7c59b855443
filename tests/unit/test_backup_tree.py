"""Object keys as snapshot tree paths: byte-exact round trips for keys a tree cannot hold, names for a
file beside a folder of its name, shards, parent choice and the failure text of a backup run."""

from __future__ import annotations

import pytest

from multicloud.core.backups.runs import ShardCounts, choose_parent, repository_rows, run_failure
from multicloud.core.backups.shards import BackupShard, plan_shards
from multicloud.core.backups.tree import (
    beside_folder, entry_identity, node_identity, snapshot_root, source_root, tree_key, tree_path,
)
from multicloud.core.errors import InvalidInput

AWKWARD = ["a", "a/b", "a//b", "/lead", "//", "/", "trail/", "x/./y", "x/../y", ".", "..", "dir/.", "ünï ☃/x",
           "back\\slash", "％literal", "a/b/", "..hidden", "a/.../b", "tab\there", "a///b//"]


@pytest.mark.parametrize("key", AWKWARD)
def test_every_key_round_trips_through_a_tree_path(key):
    path = tree_path(key)
    assert all(segment and segment not in (".", "..") and "/" not in segment for segment in path)
    assert tree_key(path) == key


def test_plain_keys_keep_their_segments():
    assert tree_path("logs/2026/01/app.log") == ("logs", "2026", "01", "app.log")


@pytest.mark.parametrize("key", ["a", "x/abc", "ünï", "trail/", "a/b％", "dir/x..y"])
def test_a_file_beside_a_folder_gets_another_name_that_decodes_to_its_key(key):
    path = tree_path(key)
    renamed = path[:-1] + (beside_folder(path[-1]),)
    assert renamed[-1] != path[-1]
    assert tree_key(renamed) == key


def test_a_wholly_escaped_name_beside_a_folder_is_refused_by_name():
    with pytest.raises(InvalidInput, match="both a file and a folder"):
        beside_folder(tree_path("x/.")[-1])


def test_snapshot_roots():
    assert snapshot_root("s3", "bucket", "data/2026/") == ("s3", "bucket", "data", "2026")
    assert source_root("gs://b/p/") == ("gs", "b", "p")
    assert source_root("file:///srv/data") == ("file", "srv", "data")
    assert source_root(postgres="postgresql://u@h:5432/shop") == ("postgresql", "h", "shop")


def test_identity_prefers_the_etag_and_matches_the_stored_node():
    import base64

    assert entry_identity(5, '"abc"', None) == "5:etag:abc"
    assert entry_identity(5, None, "AB") == "5:sha256:ab"
    assert entry_identity(5, None, None) is None and entry_identity(None, "e", None) is None
    node = {"type": "file", "size": 5, "extended_attributes": [
        {"name": "user.multicloud.etag", "value": base64.b64encode(b"abc").decode()}]}
    assert node_identity(node) == "5:etag:abc"
    assert node_identity({**node, "size": 6}) != entry_identity(5, "abc", None)


def test_shards_cover_every_key_once():
    shards = plan_shards(["logs/", "data/"], "plan p, field source.shards")
    assert [s.prefix for s in shards] == ["data/", "logs/", ""]
    for key in ["logs/x", "data/y", "other", "logsx"]:
        assert sum(s.holds(key) for s in shards) == 1
    assert plan_shards([""], "w") == [BackupShard("")]
    with pytest.raises(InvalidInput, match="overlap.*plan p, field source.shards"):
        plan_shards(["a/", "a/b/"], "plan p, field source.shards")


def test_parent_is_the_newest_snapshot_of_the_plan_with_the_same_paths():
    snaps = [{"id": "1" * 64, "time": "2026-01-01T00:00:00Z", "paths": ["/s3/b"], "tags": ["plan=p"], "tree": "t1"},
             {"id": "2" * 64, "time": "2026-01-01T04:00:00Z", "paths": ["/s3/b"], "tags": ["plan=p"], "tree": "t2"},
             {"id": "3" * 64, "time": "2026-01-01T08:00:00Z", "paths": ["/s3/other"], "tags": ["plan=p"]},
             {"id": "4" * 64, "time": "2026-01-01T09:00:00Z", "paths": ["/s3/b"], "tags": ["plan=q"]}]
    choice = choose_parent(snaps, "p", ["/s3/b"])
    assert choice.id == "2" * 64 and choice.tree == "t2" and "22222222" in choice.reason
    assert choose_parent(snaps, "z", ["/s3/none"]).snapshot is None


def test_a_repository_without_its_snapshot_fails_the_run_by_name():
    counts = ShardCounts(objects=3, read=3, bytes_new=100, bytes_stored=50, logical_bytes=200)
    rows = repository_rows(["az://a/r", "gs://b/r"], {"gs://b/r": "PermissionDenied: refused"}, "f" * 64, counts, 1.0)
    assert [r["status"] for r in rows] == ["published", "failed"]
    assert rows[0]["dedup ratio"] == "2.00" and rows[0]["compression ratio"] == "2.00"
    message = run_failure("p", rows, counts)
    assert "gs://b/r" in message and "az://a/r" not in message and message.startswith("backup plan p")
    assert run_failure("p", rows[:1], counts) is None
