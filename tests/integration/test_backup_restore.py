"""Restore, check, forget and prune on real repositories: restores to Azurite and fake-gcs with
metadata and SHA-256 verification from a repository in moto's S3; prune checked by the real restic
(`check --read-data`, the kept snapshots listed); a repository restic wrote restored byte-exact;
a tampered pack named by check and restore; a wrong password naming the plan."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import datetime, timedelta, timezone

import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.config.backups import RetentionPolicy
from multicloud.core.backups.prune import DELETE, REPACK, MaxUnused
from multicloud.core.errors import InvalidInput
from multicloud.engine.restic import KdfParams, Repository, RepositoryLocked, SnapshotReader, WrongPassword
from multicloud.engine.restic.check import check
from multicloud.engine.restic.prune import can_replay, forget, maintain, prune, replay
from multicloud.engine.restic.restore import drill, open_plan_repository, restore_to_store
from multicloud.testing.backup_snapshots import SampleObject, write_bucket_snapshot
from multicloud.testing.restic_oracle import Restic, restic_path
from tests.support import unique_name

PASSWORD = "restore drills matter"
FAST_KDF = KdfParams(n=1024, r=8, p=1)
NOW = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)
CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}
needs_restic = pytest.mark.skipif(restic_path() is None, reason="RESTIC ORACLE NOT RUN: restic is not on PATH")

OBJECTS = {
    "docs/readme.txt": SampleObject(b"read me\n" * 100, "text/plain", "max-age=60", {"team": "sre", "tier": "1"}),
    "big/random.bin": SampleObject(os.urandom(1_500_000), "application/x-bin"),
    "a/b": SampleObject(b"inside a", "text/csv"),
    "odd//double": SampleObject(b"double slash"),
    "dir/": SampleObject(b"", "application/x-directory"),
    "./dot/../segments": SampleObject(b"dots"),
    "empty.txt": SampleObject(b"", "text/plain"),
}


def assert_restic_check_clean(restic: Restic) -> None:
    out = restic.run("check", "--read-data")
    text = out.stdout + out.stderr
    assert "no errors were found" in text
    assert not any(word in text.lower() for word in ("error:", "hint:", "not referenced", "warning")), text


def bucket_url(profile, scheme: str, prefix: str = "") -> str:
    name = unique_name("rs")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return f"{scheme}://{name}/{prefix}"


def read(store, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


def new_repo(url: str, profile=None) -> Repository:
    return Repository.create(open_store(url, profile), PASSWORD, FAST_KDF)


@pytest.fixture(scope="module")
def s3_repo(local_profile):
    """A repository in S3 holding one snapshot of OBJECTS as the bucket s3://source-bucket/data/."""
    repo = new_repo(bucket_url(local_profile, "s3", "backups/plan-a"), local_profile)
    snapshot = write_bucket_snapshot(repo, "s3://source-bucket/data/", OBJECTS, NOW, "plan-a")
    return repo, snapshot


@pytest.mark.parametrize("scheme", ["az", "gs"])
def test_restore_from_s3_to_another_cloud_puts_keys_bytes_and_metadata_back(local_profile, s3_repo, scheme):
    repo, snapshot_id = s3_repo
    target = open_store(bucket_url(local_profile, scheme, "restored/"), local_profile)
    with SnapshotReader(Repository.open(repo.store, PASSWORD)) as reader:
        report = restore_to_store(reader, reader.find(snapshot_id[:10]), target)
    assert (report.objects, report.verified_sha256, report.failures, report.bytes) == (
        len(OBJECTS), len(OBJECTS), [], sum(len(o.body) for o in OBJECTS.values()))
    from multicloud.core.keys import decode_key

    listed = {decode_key(m.key, scheme): m for m in target.list()}
    assert set(listed) == set(OBJECTS)
    for key, obj in OBJECTS.items():
        stored_key = listed[key].key
        assert read(target, stored_key) == obj.body, key
        meta = target.stat(stored_key)
        assert meta.sha256 == hashlib.sha256(obj.body).hexdigest()
        assert meta.content_type == obj.content_type
        assert meta.cache_control == obj.cache_control
        assert {k: v for k, v in (meta.metadata or {}).items() if k in obj.metadata} == dict(obj.metadata)


def test_restore_refuses_a_non_empty_target_and_filters_by_include(local_profile, s3_repo, tmp_path):
    repo, _ = s3_repo
    target = open_store(f"file://{tmp_path / 'out'}")
    target.write("already-here", io.BytesIO(b"x"))
    with SnapshotReader(Repository.open(repo.store, PASSWORD)) as reader:
        latest = reader.find("latest")
        with pytest.raises(InvalidInput, match="is not empty \\(holds 'already-here'\\).*overwrite"):
            restore_to_store(reader, latest, target)
        assert [m.key for m in target.list()] == ["already-here"]
        report = restore_to_store(reader, latest, target, include=["docs/**", "a/?"], overwrite=True)
    assert (report.objects, report.skipped) == (2, len(OBJECTS) - 2)
    assert (tmp_path / "out/docs/readme.txt").read_bytes() == OBJECTS["docs/readme.txt"].body
    assert (tmp_path / "out/a/b").read_bytes() == OBJECTS["a/b"].body


def test_an_object_whose_bytes_differ_from_the_snapshot_sha256_is_not_committed(tmp_path):
    """A snapshot whose recorded SHA-256 disagrees with its blobs (a writer's bug or a forged node):
    the target never gets the object, and the report names it."""
    repo = new_repo(f"mem://{unique_name('sha')}/repo")
    from multicloud.engine.restic import SnapshotWriter
    from multicloud.engine.restic.sources import XATTR_SHA256

    with SnapshotWriter(repo) as writer:
        writer.add_file(["s3", "b", "k.txt"], io.BytesIO(b"actual bytes"),
                        extended_attributes={XATTR_SHA256: b"0" * 64})
        writer.commit(["/s3/b"], NOW, tags=["plan=p"])
    target = open_store(f"file://{tmp_path / 't'}")
    with SnapshotReader(repo) as reader:
        report = restore_to_store(reader, reader.find("latest"), target)
    assert report.objects == 0 and report.failures[0]["key"] == "k.txt"
    assert "PreconditionFailed" in report.failures[0]["error"] and not list(target.list())


def test_tampered_pack_is_named_by_check_and_by_restore(tmp_path):
    repo = new_repo(f"mem://{unique_name('tamper')}/repo")
    write_bucket_snapshot(repo, "gs://src/", OBJECTS, NOW, "plan-t")
    clean = check(repo)
    assert not clean.errors and clean.packs_read == clean.packs == 2 and clean.trees > 3
    data_pack = max(repo.store.list("data/"), key=lambda m: m.size).key
    body = bytearray(read(repo.store, data_pack))
    body[100] ^= 0xFF
    repo.store.write(data_pack, io.BytesIO(bytes(body)))

    report = check(repo)
    assert report.errors and all(data_pack in f.target and repo.name in f.target for f in report.errors)
    assert any("pack content does not match its name" in f.what for f in report.errors)
    assert any("MAC does not match" in f.what for f in report.errors)
    with SnapshotReader(repo) as reader:
        restored = restore_to_store(reader, reader.find("latest"), open_store(f"file://{tmp_path / 'out'}"))
    assert restored.failures and all(data_pack in f["error"] and repo.name in f["error"] for f in restored.failures)
    assert restored.objects == len(OBJECTS) - len(restored.failures)


def test_check_reads_only_this_runs_subset_and_every_pack_over_n_runs(tmp_path):
    repo = new_repo(f"mem://{unique_name('subset')}/repo")
    for i in range(6):
        write_bucket_snapshot(repo, "s3://src/", {f"k{i}": SampleObject(os.urandom(2000))}, NOW + timedelta(hours=i),
                              "plan-s")
    runs = [check(repo, n, 3) for n in (1, 2, 3)]
    assert not any(r.errors for r in runs)
    assert sum(r.packs_read for r in runs) == runs[0].packs == 12


def test_structure_check_finds_a_missing_pack(tmp_path):
    repo = new_repo(f"mem://{unique_name('struct')}/repo")
    write_bucket_snapshot(repo, "s3://src/", OBJECTS, NOW, "plan-x")
    tree_pack = min(repo.store.list("data/"), key=lambda m: m.size).key
    repo.store.delete([tree_pack])
    errors = check(repo).errors
    assert any("missing from the store" in f.what and tree_pack in f.target for f in errors), errors
    assert any("its pack is missing from the store" in f.what for f in errors)  # the snapshots' trees


def test_wrong_password_names_the_plan_and_the_repository():
    repo = new_repo(f"mem://{unique_name('pw')}/repo")
    with pytest.raises(WrongPassword, match="backup plan 'nightly'.*password.*mem://"):
        open_plan_repository(repo.store, "not it", "nightly")


def test_drill_restores_a_sample_to_scratch_verifies_it_and_cleans_up(s3_repo):
    repo, _ = s3_repo
    scratch = open_store(f"mem://{unique_name('drill')}/scratch")
    with SnapshotReader(Repository.open(repo.store, PASSWORD)) as reader:
        report, sampled = drill(reader, reader.find("latest"), scratch, 3, seed=11)
    assert sampled == 3 and report.objects == report.verified_sha256 == 3 and not report.failures
    assert not list(scratch.list())


def history(repo: Repository, plan: str, days: int) -> list[str]:
    """A snapshot a day; each adds a fresh object and replaces `churn` (so old versions become unused)."""
    ids = []
    for day in range(days):
        objects = {"stable.bin": SampleObject(b"s" * 700_000), "churn.bin": SampleObject(os.urandom(600_000)),
                   f"day-{day}.txt": SampleObject(f"day {day}\n".encode() * 50, "text/plain")}
        ids.append(write_bucket_snapshot(repo, "s3://src/", objects, NOW + timedelta(days=day), plan))
    return ids


@needs_restic
def test_forget_and_prune_leave_a_repository_restic_checks_clean_with_only_the_kept_snapshots(tmp_path):
    repo = new_repo(f"file://{tmp_path / 'repo'}")
    ids = history(repo, "plan-p", 6)
    policy = RetentionPolicy(daily=2, weekly=0, monthly=0, yearly=0)
    dry_forget, dry_prune = maintain(repo, "plan-p", policy, NOW + timedelta(days=6), MaxUnused(), dry_run=True)
    assert len(list(repo.list_ids("snapshots"))) == 6 and dry_prune.plan.of(DELETE) and not dry_prune.deleted_packs
    forgotten, pruned = maintain(repo, "plan-p", policy, NOW + timedelta(days=6), MaxUnused())
    assert sorted(forgotten.removed) == sorted(ids[:4])
    assert pruned.plan.summary() == dry_prune.plan.summary()  # the dry run said what the prune did
    assert pruned.deleted_packs and pruned.new_index and not pruned.plan.problems
    assert set(repo.list_ids("index")) == set(pruned.new_index)
    assert not list(repo.list_ids("locks"))

    restic = Restic(tmp_path / "repo", PASSWORD)
    try:
        assert_restic_check_clean(restic)
        assert sorted(s["id"] for s in restic.snapshots()) == sorted(ids[4:])
        again = restic.run("prune", "--dry-run")  # restic finds nothing left to remove
        assert "total prune:           0 blobs / 0 B" in again.stdout, again.stdout
        restic.run("restore", ids[5][:8], "--target", str(tmp_path / "out"), "--verify")
    finally:
        restic.close()
    with SnapshotReader(repo) as reader:
        report = restore_to_store(reader, reader.find(ids[4]), open_store(f"file://{tmp_path / 'ours'}"))
    assert report.objects == report.verified_sha256 == 3


@needs_restic
def test_prune_repacks_partly_used_packs_and_restic_agrees(tmp_path):
    repo = new_repo(f"file://{tmp_path / 'repo'}")
    from multicloud.engine.restic import SnapshotWriter

    # One pack holding a kept and a dropped object: prune must copy the kept blob out of it.
    with SnapshotWriter(repo) as writer:
        writer.add_file(["s3", "b", "keep.bin"], io.BytesIO(os.urandom(600_000)))
        writer.add_file(["s3", "b", "drop.bin"], io.BytesIO(os.urandom(3_000_000)))
        writer.commit(["/s3/b"], NOW, hostname="h", tags=["plan=r"])
    with SnapshotWriter(repo) as writer:
        writer.add_file(["s3", "b", "keep.bin"], SnapshotReader(repo).open_file(
            next(n for p, n in SnapshotReader(repo).walk(SnapshotReader(repo).find("latest")["tree"])
                 if n["name"] == "keep.bin")))
        kept = writer.commit(["/s3/b"], NOW + timedelta(days=1), hostname="h", tags=["plan=r"])
    forget(repo, "r", RetentionPolicy(keep_last=1, daily=0, weekly=0, monthly=0, yearly=0), NOW + timedelta(days=2))
    result = prune(repo)
    assert [p.reason.split(" (")[0] for p in result.plan.of(REPACK)] == ["partly used"]
    assert len(result.plan.repack) == 1 and len(result.new_packs) == 1
    restic = Restic(tmp_path / "repo", PASSWORD)
    try:
        assert_restic_check_clean(restic)
        assert [s["id"] for s in restic.snapshots()] == [kept]
    finally:
        restic.close()


@needs_restic
def test_our_prune_refuses_while_restic_or_a_backup_holds_a_lock(tmp_path):
    repo = new_repo(f"file://{tmp_path / 'repo'}")
    history(repo, "plan-l", 1)
    with repo.lock(exclusive=False):  # a backup in progress
        with pytest.raises(RepositoryLocked, match="locked by PID"):
            prune(repo)
    assert len(list(repo.list_ids("index"))) == 1


def test_a_mirror_replays_the_primary_prune_file_by_file(tmp_path):
    primary = new_repo(f"mem://{unique_name('primary')}/repo")
    history(primary, "plan-m", 4)
    mirror_store = open_store(f"file://{tmp_path / 'mirror'}")
    for meta in primary.store.list():
        with primary.store.open(meta.key) as stream:
            mirror_store.write(meta.key, stream, size=meta.size)
    mirror = Repository.open(mirror_store, PASSWORD)
    index_before, snaps_before = set(primary.list_ids("index")), set(primary.list_ids("snapshots"))
    forgotten, pruned = maintain(primary, "plan-m", RetentionPolicy(daily=1, weekly=0, monthly=0, yearly=0),
                                 NOW + timedelta(days=5), MaxUnused())
    assert can_replay(primary, mirror, index_before, snaps_before)
    replay(primary, mirror, forgotten, pruned)
    names = lambda store: sorted(m.key for m in store.list() if not m.key.startswith("locks/"))  # noqa: E731
    assert names(mirror_store) == names(primary.store)
    assert not check(mirror).errors


@needs_restic
def test_a_repository_restic_wrote_restores_byte_exact_with_our_restore(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    rng = __import__("random").Random(3)
    files = {"random.bin": rng.randbytes(5 << 20), "sub/text.log": ("".join(
        f"{i} GET /x/{rng.randrange(999)}\n" for i in range(80_000))).encode(), "empty": b"",
        "sub/small": b"tiny", "ünï ☃.txt": b"names"}
    for name, body in files.items():
        (src / name).write_bytes(body)
    restic = Restic(tmp_path / "repo", PASSWORD)
    try:
        restic.init()
        restic.run("backup", "-q", "--host", "restic-host", str(src))
        restic.run("backup", "-q", "--compression", "max", "--host", "restic-host", str(src))
    finally:
        restic.close()
    repo = Repository.open(open_store(f"file://{tmp_path / 'repo'}"), PASSWORD)
    assert not check(repo).errors
    with SnapshotReader(repo) as reader:
        report = restore_to_store(reader, reader.find("latest"), open_store(f"file://{tmp_path / 'out'}"))
    assert (report.objects, report.failures, report.verified_blobs_only) == (len(files), [], len(files))
    for name, body in files.items():
        assert (tmp_path / "out" / name).read_bytes() == body, name


