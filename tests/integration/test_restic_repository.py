"""The restic repository engine against the real restic 0.14: repositories we write pass
`restic check --read-data` and restore byte-exact with restic; repositories restic writes restore
byte-exact with our reader; dedup, and clear errors for wrong passwords and foreign stores."""

from __future__ import annotations

import filecmp
import hashlib
import io
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.core.backups.format import DATA
from multicloud.engine.restic import (
    KdfParams, NotARepository, Repository, RepositoryLocked, SnapshotReader, SnapshotWriter, UnsupportedVersion,
    WriteStats, WrongPassword,
    add_folder,
)
from multicloud.testing.restic_oracle import Restic, restic_path
from tests.support import unique_name

PASSWORD = "correct horse battery staple"
FAST_KDF = KdfParams(n=1024, r=8, p=1)  # restic accepts it; keeps the tests quick
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

needs_restic = pytest.mark.skipif(restic_path() is None, reason="RESTIC ORACLE NOT RUN: restic is not on PATH "
                                  "(apt-get install restic)")


def make_source(root: Path) -> Path:
    """Empty, small, several MiB of random bytes (crossing chunk boundaries), compressible text,
    the random file again under another name, awkward names and a symlink."""
    rng = __import__("random").Random(10)
    src = root / "src"
    (src / "copy").mkdir(parents=True)
    (src / "empty").write_bytes(b"")
    (src / "small.txt").write_bytes(b"hello backups\n" * 1000)
    random_bytes = rng.randbytes(9 << 20)
    (src / "random.bin").write_bytes(random_bytes)
    (src / "copy" / "random-again.bin").write_bytes(random_bytes)
    lines = (f"{i:08d} GET /objects/{rng.randrange(10**6)} 200 {rng.randrange(10**4)}\n" for i in range(120_000))
    (src / "access.log").write_text("".join(lines))
    (src / 'odd x\\y a"b ünï ☃').write_bytes(b"odd name\n")
    (src / "link").symlink_to("small.txt")
    return src


def write_snapshot(repo: Repository, src: Path, now: datetime = NOW):
    with SnapshotWriter(repo) as writer:
        add_folder(writer, src)
        snapshot_id = writer.commit([str(src)], now, hostname="mcops-test", tags=["mcops"])
    return snapshot_id, writer.stats


def assert_restic_check_clean(restic: Restic) -> None:
    out = restic.run("check", "--read-data")
    text = out.stdout + out.stderr
    assert "no errors were found" in text
    assert not any(word in text.lower() for word in ("error:", "hint:", "not referenced", "warning")), text


def assert_same_tree(a: Path, b: Path) -> None:
    compare = filecmp.dircmp(a, b)
    assert not (compare.left_only or compare.right_only or compare.funny_files), (a, b)
    for name in compare.common_files:
        if not (a / name).is_symlink():
            assert filecmp.cmp(a / name, b / name, shallow=False), name
    for sub in compare.common_dirs:
        assert_same_tree(a / sub, b / sub)


@pytest.fixture
def source(tmp_path) -> Path:
    return make_source(tmp_path)


@needs_restic
def test_our_repository_passes_restic_check_and_restores_with_restic(tmp_path, source):
    repo_dir = tmp_path / "repo"
    repo = Repository.create(open_store(f"file://{repo_dir}"), PASSWORD, FAST_KDF)
    first, stats1 = write_snapshot(repo, source)
    data_blobs_after_first = repo.load_index().count(DATA)
    second, stats2 = write_snapshot(repo, source, NOW + timedelta(hours=4))

    # Duplicates inside one snapshot are stored once; the unchanged second snapshot adds no data blob.
    index = Repository.open(repo.store, PASSWORD).load_index()
    nodes = {"/".join(p): n for p, n in SnapshotReader(repo).walk(SnapshotReader(repo).find(first)["tree"])}
    random_node = nodes[str(source / "random.bin").lstrip("/")]
    assert len(random_node["content"]) >= 3  # 9 MiB crosses chunk boundaries
    assert random_node["content"] == nodes[str(source / "copy/random-again.bin").lstrip("/")]["content"]
    unique_blobs = {b for n in nodes.values() if n["type"] == "file" for b in n["content"]}
    assert index.count(DATA) == len(unique_blobs) == stats1.data_blobs_new
    assert stats1.data_blobs_reused == len(random_node["content"])
    assert (stats2.data_blobs_new, stats2.bytes_new) == (0, 0)  # trees may differ: reading moved atimes
    assert index.count(DATA) == data_blobs_after_first
    assert stats2.data_blobs_reused == stats1.data_blobs_new + stats1.data_blobs_reused
    assert stats1.bytes_stored < stats1.bytes_read  # the text log compressed

    restic = Restic(repo_dir, PASSWORD)
    try:
        assert_restic_check_clean(restic)
        listed = restic.snapshots()
        assert sorted(s["id"] for s in listed) == sorted([first, second])
        assert all(s["paths"] == [str(source)] and s["hostname"] == "mcops-test" and s["tags"] == ["mcops"]
                   for s in listed)
        restic.run("restore", second[:8], "--target", str(tmp_path / "out"), "--verify")
        restored = tmp_path / "out" / str(source).lstrip("/")
        assert_same_tree(source, restored)
        assert os.readlink(restored / "link") == "small.txt"
        assert (restored / "random.bin").stat().st_mtime_ns == (source / "random.bin").stat().st_mtime_ns
        dumped = restic.run("dump", first[:8], str(source / "access.log")).stdout
        assert dumped == (source / "access.log").read_text()
    finally:
        restic.close()


def test_our_reader_restores_our_repository(tmp_path, source):
    repo = Repository.create(open_store(f"mem://{unique_name('restic')}/repo"), PASSWORD, FAST_KDF)
    write_snapshot(repo, source)
    reopened = Repository.open(repo.store, PASSWORD)
    reader = SnapshotReader(reopened)
    stats = reader.restore(reader.find("latest"), tmp_path / "out")
    assert_same_tree(source, tmp_path / "out" / str(source).lstrip("/"))
    assert stats.files == 6 and stats.symlinks == 1


@needs_restic
def test_restic_written_repository_restores_byte_exact_with_our_reader(tmp_path, source):
    restic = Restic(tmp_path / "repo", PASSWORD)
    try:
        restic.init()
        restic.run("backup", "-q", "--host", "by-restic", str(source))
        (source / "small.txt").write_text("changed after the first snapshot\n")
        restic.run("backup", "-q", "--host", "by-restic", str(source))

        repo = Repository.open(open_store(f"file://{tmp_path / 'repo'}"), PASSWORD)
        reader = SnapshotReader(repo)
        assert [s["hostname"] for s in reader.snapshots()] == ["by-restic", "by-restic"]
        reader.restore(reader.find("latest"), tmp_path / "out")
        assert_same_tree(source, tmp_path / "out" / str(source).lstrip("/"))

        # Appending to restic's repository with its key and polynomial keeps it valid for restic.
        (source / "new.bin").write_bytes(os.urandom(700_000))
        ours, _ = write_snapshot(repo, source)
        assert_restic_check_clean(restic)
        restic.run("restore", ours[:8], "--target", str(tmp_path / "again"), "--verify")
        assert_same_tree(source, tmp_path / "again" / str(source).lstrip("/"))
    finally:
        restic.close()


def mirror(source_store, folder: Path) -> None:
    """Copy every object of a repository store into a folder, through ObjectStore."""
    target = open_store(f"file://{folder}")
    for meta in source_store.list():
        with source_store.open(meta.key) as stream:
            target.write(meta.key, stream, size=meta.size)


def check_mirror_with_restic(store, tmp_path: Path, source: Path) -> None:
    repo = Repository.create(store, PASSWORD, FAST_KDF)
    snapshot_id, _ = write_snapshot(repo, source)
    assert not list(store.list("locks/")), "the writer's lock is removed at the end"
    mirror(store, tmp_path / "mirror")
    restic = Restic(tmp_path / "mirror", PASSWORD)
    try:
        assert_restic_check_clean(restic)
        restic.run("restore", snapshot_id[:8], "--target", str(tmp_path / "out"), "--verify")
        assert_same_tree(source, tmp_path / "out" / str(source).lstrip("/"))
    finally:
        restic.close()


@needs_restic
def test_repository_in_memory_store_mirrored_to_a_folder_passes_restic_check(tmp_path, source):
    check_mirror_with_restic(open_store(f"mem://{unique_name('restic')}/backups/repo"), tmp_path, source)


@needs_restic
def test_repository_on_emulated_s3_mirrored_to_a_folder_passes_restic_check(tmp_path, source, local_profile):
    bucket = unique_name("restic")
    create_bucket(local_profile.connection_for("aws"), bucket)
    check_mirror_with_restic(open_store(f"s3://{bucket}/backups/repo", profile=local_profile), tmp_path, source)


def test_wrong_password_names_the_repository(tmp_path):
    url = f"file://{tmp_path / 'repo'}"
    Repository.create(open_store(url), PASSWORD, FAST_KDF)
    with pytest.raises(WrongPassword, match=f"wrong password.*{tmp_path / 'repo'}"):
        Repository.open(open_store(url), "not the password")


def test_store_that_is_not_a_repository_is_refused(tmp_path):
    url = f"mem://{unique_name('foreign')}/data"
    store = open_store(url)
    with pytest.raises(NotARepository, match="no config file"):
        Repository.open(store, PASSWORD)
    store.write("reports/2026.csv", io.BytesIO(b"a,b\n"))
    with pytest.raises(NotARepository, match=f"not a restic repository.*{url}"):
        Repository.open(store, PASSWORD)
    store.write("config", io.BytesIO(b"not encrypted at all, just text"))
    store.write("keys/" + "0" * 64, io.BytesIO(b'{"kdf": "scrypt"}'))
    with pytest.raises(Exception, match="not a restic key file") as error:
        Repository.open(store, PASSWORD)
    assert url in str(error.value)
    with pytest.raises(Exception, match="not empty"):
        Repository.create(store, PASSWORD, FAST_KDF)


def test_repository_of_format_version_1_is_refused(tmp_path):
    store = open_store(f"file://{tmp_path / 'v1'}")
    repo = Repository.create(store, PASSWORD, FAST_KDF)
    config = {**repo.config, "version": 1}
    store.write("config", io.BytesIO(repo.key.seal(json.dumps(config).encode())))
    with pytest.raises(UnsupportedVersion, match=f"format version 1 is not supported.*{tmp_path / 'v1'}"):
        Repository.open(store, PASSWORD)


@needs_restic
def test_restic_version_1_repository_is_refused(tmp_path):
    restic = Restic(tmp_path / "v1", PASSWORD)
    try:
        restic.run("init", "--repository-version", "1", "-q")
    finally:
        restic.close()
    with pytest.raises(UnsupportedVersion, match="version 1"):
        Repository.open(open_store(f"file://{tmp_path / 'v1'}"), PASSWORD)


def test_tampered_blob_is_named(tmp_path, source):
    store = open_store(f"mem://{unique_name('tamper')}/repo")
    repo = Repository.create(store, PASSWORD, FAST_KDF)
    write_snapshot(repo, source)
    pack = next(m.key for m in store.list("data/"))
    with store.open(pack) as stream:
        data = bytearray(stream.read())
    data[40] ^= 1
    store.write(pack, io.BytesIO(bytes(data)))
    reader = SnapshotReader(Repository.open(store, PASSWORD))
    with pytest.raises(Exception, match=f"MAC does not match.*{pack}"):
        for _, node in reader.walk(reader.find("latest")["tree"]):
            if node["type"] == "file":
                reader.open_file(node).read()
    with pytest.raises(Exception, match=f"MAC does not match.*{pack}"):
        reader.restore(reader.find("latest"), tmp_path / "out")
    assert hashlib.sha256(bytes(data)).hexdigest() != pack.rsplit("/", 1)[1]


@needs_restic
def test_locks_keep_restic_prune_and_our_writer_apart(tmp_path, source):
    repo_dir = tmp_path / "repo"
    repo = Repository.create(open_store(f"file://{repo_dir}"), PASSWORD, FAST_KDF)
    restic = Restic(repo_dir, PASSWORD)
    try:
        with SnapshotWriter(repo) as writer:
            add_folder(writer, source)
            refused = restic.run("prune", check=False)
            assert refused.returncode != 0 and "already locked" in refused.stderr
            writer.commit([str(source)], NOW)
        assert not list(repo.list_ids("locks"))
        with repo.lock(exclusive=True):  # stands for restic's prune or forget
            with pytest.raises(RepositoryLocked, match=f"locked by PID {os.getpid()}.*exclusive: True"):
                SnapshotWriter(repo).__enter__()
        assert_restic_check_clean(restic)
    finally:
        restic.close()


class GeneratedStream:
    """`size` pseudo-random bytes made as they are read, so the source itself holds no memory."""

    def __init__(self, size: int, seed: int = 7):
        self.left, self._rng = size, __import__("random").Random(seed)

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return self._rng.randbytes(n)


def _peak_writing(repo: Repository, size: int) -> tuple[int, dict, WriteStats]:
    import tracemalloc

    tracemalloc.start()
    try:
        with SnapshotWriter(repo) as writer:
            node = writer.add_file(["big.bin"], GeneratedStream(size, seed=size))
            writer.commit(["/generated"], NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, node, writer.stats


def test_writer_memory_does_not_grow_with_object_size(tmp_path):
    repo = Repository.create(open_store(f"file://{tmp_path / 'repo'}"), PASSWORD, FAST_KDF)
    size = 192 << 20
    peak, node, stats = _peak_writing(repo, size)
    assert node["size"] == size and stats.packs >= 11
    # Chunker buffer (2 x 8 MiB), the pack filling and the one uploading (16 MiB each) and a few
    # blobs being sealed: bounded by that, far below the object's size.
    assert peak < 96 << 20, f"peak {peak >> 20} MiB for a {size >> 20} MiB object"


def _bytes_read_by_this_process() -> int:
    """`rchar` of /proc/self/io: every byte this process got from read calls, whatever read them."""
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


@needs_restic
def test_incremental_folder_backup_reads_only_changed_files(tmp_path, source):
    repo_dir = tmp_path / "repo"
    repo = Repository.create(open_store(f"file://{repo_dir}"), PASSWORD, FAST_KDF)
    first, _ = write_snapshot(repo, source)
    files = sum(1 for p in source.rglob("*") if p.is_file() and not p.is_symlink())
    source_bytes = sum(p.stat().st_size for p in source.rglob("*") if p.is_file() and not p.is_symlink())

    def incremental(now: datetime) -> tuple[str, WriteStats, int]:
        parent = next(s for s in repo.snapshots() if s["time"] == max(x["time"] for x in repo.snapshots()))
        before = _bytes_read_by_this_process()
        with SnapshotWriter(repo) as writer:
            add_folder(writer, source, parent_tree=parent["tree"])
            snapshot = writer.commit([str(source)], now, hostname="mcops-test", parent=parent["id"])
        return snapshot, writer.stats, _bytes_read_by_this_process() - before

    # Unchanged: no file is read (the process reads only the repository's index and trees).
    second, stats, read = incremental(NOW + timedelta(hours=4))
    assert (stats.files_unchanged, stats.bytes_read, stats.data_blobs_new) == (files, 0, 0)
    assert read < source_bytes // 20, f"read {read} bytes for an unchanged {source_bytes}-byte folder"

    # One file rewritten in place at the same size: only it is read, and the snapshot holds its new bytes.
    changed = source / "small.txt"
    changed.write_bytes(b"HELLO BACKUPS\n" * 1000)
    third, stats, read = incremental(NOW + timedelta(hours=8))
    assert (stats.files_unchanged, stats.bytes_read) == (files - 1, changed.stat().st_size)
    assert read < source_bytes // 20

    restic = Restic(repo_dir, PASSWORD)
    try:
        assert_restic_check_clean(restic)
        for snapshot in (second, third):
            out = tmp_path / f"out-{snapshot[:8]}"
            restic.run("restore", snapshot[:8], "--target", str(out), "--verify")
            restored = out / str(source).lstrip("/")
            if snapshot == third:
                assert_same_tree(source, restored)
            else:
                assert (restored / "small.txt").read_bytes() == b"hello backups\n" * 1000
                assert (restored / "random.bin").read_bytes() == (source / "random.bin").read_bytes()
        assert json.loads(restic.run("cat", "snapshot", third).stdout)["parent"] == second
    finally:
        restic.close()


def test_our_restore_reopens_files_when_descriptors_run_out_and_filters(tmp_path, source, monkeypatch):
    from multicloud.engine.restic import reader as reader_module

    repo = Repository.create(open_store(f"mem://{unique_name('restic')}/repo"), PASSWORD, FAST_KDF)
    # Blobs of several files interleave in one pack; with no descriptor kept open, every blob's
    # write reopens its file, which must not truncate what earlier blobs wrote.
    write_snapshot(repo, source)
    monkeypatch.setattr(reader_module._RestorePlan, "MAX_OPEN", 0)
    reader = SnapshotReader(Repository.open(repo.store, PASSWORD))
    reader.restore(reader.find("latest"), tmp_path / "all")
    assert_same_tree(source, tmp_path / "all" / str(source).lstrip("/"))

    only = reader.restore(reader.find("latest"), tmp_path / "some", include=lambda path: path[-1] == "random.bin")
    restored = tmp_path / "some" / str(source).lstrip("/")
    assert only.files == 1 and (restored / "random.bin").read_bytes() == (source / "random.bin").read_bytes()
    assert not (restored / "small.txt").exists() and (restored / "copy").is_dir()


def test_compression_max_stores_compressible_data_smaller_than_auto_and_reads_back():
    rng = __import__("random").Random(7)
    text = "".join(f"{rng.choice(['GET', 'PUT', 'POST'])} /api/v1/items/{rng.randrange(10**6)} "
                   f"{rng.choice([200, 201, 404, 500])} {rng.random():.6f}\n" for _ in range(60_000)).encode()
    stored, now = {}, datetime(2026, 12, 1, tzinfo=timezone.utc)
    for mode in ("auto", "max"):
        repo = Repository.create(open_store(f"mem://{unique_name('zstd')}/repo"), "pw", FAST_KDF)
        repo.use_compression(mode)
        with SnapshotWriter(repo) as writer:
            writer.add_file(["log.txt"], io.BytesIO(text))
            writer.commit(["/logs"], now)
        stored[mode] = sum(m.size for m in repo.store.list("data/"))
        with SnapshotReader(Repository.open(repo.store, "pw")) as reader:
            snap = reader.find("latest")
            (node,) = [n for _, n in reader.walk(snap["tree"]) if n["type"] == "file"]
            assert reader.open_file(node).read() == text, mode
    assert stored["max"] < stored["auto"] < len(text), stored
