"""The backup engine against restic 0.14 and real stores: the run's lock makes `restic prune` refuse,
a worker killed mid-backup leaves the repository valid and the next run completes, an object changing
while it is read is never stored half old, half new, and a version 1 repository is refused first."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from multicloud.clouds import open_store
from multicloud.core.backups.runs import ShardCounts
from multicloud.core.backups.shards import BackupShard
from multicloud.core.backups.tree import beside_folder, tree_key
from multicloud.core.errors import InvalidInput
from multicloud.engine.restic import KdfParams, Repository, SnapshotReader, UnsupportedVersion
from multicloud.engine.restic.bucket import ParentTree, back_up_entries, bucket_entries
from multicloud.engine.restic.mirror import HeldLock, Mirrors
from multicloud.engine.restic.writer import SnapshotWriter
from multicloud.testing.restic_oracle import Restic, restic_path
from tests.support import unique_name

PASSWORD = "engine password"
needs_restic = pytest.mark.skipif(restic_path() is None, reason="RESTIC ORACLE NOT RUN: restic is not on PATH")
ROOT = ("mem", "src")


def mirrors(*urls: str, create: bool = True) -> Mirrors:
    return Mirrors.open("p", {u: open_store(u) for u in urls}, {u: PASSWORD for u in urls}, create=create,
                        kdf=KdfParams(n=1024, r=8, p=1))


def run_once(m: Mirrors, src, parent_tree: str | None = None) -> tuple[str, ShardCounts]:
    with SnapshotWriter(m.repository, rename_beside_folder=beside_folder, index_loader=m.shared_index) as writer:
        counts = back_up_entries(writer, ROOT, bucket_entries(src, BackupShard("")),
                                 ParentTree(m.repository, writer.index, parent_tree))
        tree = writer.finish()
        snapshot = m.publish({"time": "2026-01-01T00:00:00Z", "tree": tree, "paths": ["/mem/src"],
                              "hostname": "mcops-p", "tags": ["plan=p"]})
    return snapshot, counts


def restic_clean(folder: Path) -> None:
    restic = Restic(folder, PASSWORD)
    try:
        out = restic.run("check", "--read-data")
        assert "no errors were found" in out.stdout + out.stderr
    finally:
        restic.close()


@needs_restic
def test_the_runs_lock_makes_restic_prune_refuse(tmp_path):
    m = mirrors(f"file://{tmp_path / 'repo'}")
    restic = Restic(tmp_path / "repo", PASSWORD)
    try:
        with HeldLock(m):
            refused = restic.run("prune", check=False)
            assert refused.returncode != 0 and "already locked" in refused.stderr
        assert not list(open_store(f"file://{tmp_path / 'repo'}").list("locks/"))
        assert restic.run("prune", check=False).returncode == 0
    finally:
        restic.close()


def test_a_second_mirror_is_the_same_repository_and_an_unchanged_run_reads_nothing(tmp_path):
    src = open_store(f"mem://{unique_name('src')}/")
    for key in ("a", "a/b", "x/.", "z//w"):
        src.write(key, io.BytesIO(key.encode() * 1000))
    first_url = f"mem://{unique_name('r1')}/repo"
    snapshot, counts = run_once(mirrors(first_url), src)
    assert counts.read == 4
    both = mirrors(first_url, f"mem://{unique_name('r2')}/repo")  # the new mirror copies config and keys
    tree = both.repos[first_url].load_unpacked("snapshots", snapshot)["tree"]
    second, counts = run_once(both, src, tree)
    # The new mirror holds none of the blobs yet: everything is read and sent again, to both.
    assert counts.read == 4 and counts.reused == 0
    third, counts = run_once(both, src, both.repository.load_unpacked("snapshots", second)["tree"])
    assert counts.read == 0 and counts.reused == 4
    for url in both.repos:
        reader = SnapshotReader(Repository.open(open_store(url), PASSWORD))
        files = {tree_key(p[2:]): reader.open_file(n).read() for p, n in reader.walk(reader.find(third)["tree"])
                 if n["type"] == "file"}
        assert files == {k: k.encode() * 1000 for k in ("a", "a/b", "x/.", "z//w")}


class ChangingStore:
    """A store whose object `key` gets new bytes after it was listed, `times` times."""

    def __init__(self, store, key: str, times: int):
        self.store, self.key, self.times = store, key, times
        self.url, self.capabilities = store.url, store.capabilities

    def list(self, prefix=""):
        return self.store.list(prefix)

    def stat(self, key):
        return self.store.stat(key)

    def open(self, key, start=None, end=None):
        if key == self.key and self.times:
            self.times -= 1
            data = os.urandom(1000)
            self.store.write(key, io.BytesIO(data))
        return self.store.open(key, start, end)


@pytest.mark.parametrize("changes, stored", [(1, True), (5, False)])
def test_an_object_changing_while_read_is_retried_or_reported(tmp_path, local_profile, changes, stored):
    from multicloud.clouds import create_bucket

    name = unique_name("chg")
    create_bucket(local_profile.connection_for("aws"), name)
    store = open_store(f"s3://{name}/", local_profile)
    store.write("moving", io.BytesIO(b"old bytes" * 100))
    store.write("still", io.BytesIO(b"still"))
    m = mirrors(f"file://{tmp_path / 'repo'}")
    snapshot, counts = run_once(m, ChangingStore(store, "moving", changes))
    reader = SnapshotReader(Repository.open(open_store(f"file://{tmp_path / 'repo'}"), PASSWORD))
    files = {tree_key(p[2:]): reader.open_file(n).read() for p, n in reader.walk(reader.find(snapshot)["tree"])
             if n["type"] == "file"}
    assert files["still"] == b"still"
    if stored:
        assert files["moving"] == store.open("moving").read() and counts.failed == 0
    else:
        assert "moving" not in files and counts.failed == 1
        assert "changed while it was read" in counts.failures[0]["error"]


def test_a_version_1_repository_is_refused_before_any_write(tmp_path):
    import json

    store = open_store(f"file://{tmp_path / 'v1'}")
    repo = Repository.create(store, PASSWORD, KdfParams(n=1024, r=8, p=1))
    store.write("config", io.BytesIO(repo.key.seal(json.dumps({**repo.config, "version": 1}).encode())))
    empty = f"file://{tmp_path / 'new'}"
    with pytest.raises(UnsupportedVersion, match="version 1.*plan p, repository"):
        mirrors(empty, f"file://{tmp_path / 'v1'}")
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").iterdir())
    with pytest.raises(InvalidInput, match="another restic repository"):
        other = f"file://{tmp_path / 'other'}"
        mirrors(other)
        fresh = f"file://{tmp_path / 'fresh'}"
        mirrors(fresh)
        mirrors(other, fresh)


KILLED = textwrap.dedent('''
    import io, sys
    from multicloud.clouds import open_store
    from multicloud.engine.restic import KdfParams
    from multicloud.engine.restic.mirror import Mirrors
    from multicloud.engine.restic.writer import SnapshotWriter
    url = sys.argv[1]
    m = Mirrors.open("p", {url: open_store(url)}, {url: "engine password"}, create=True, kdf=KdfParams(n=1024))
    with SnapshotWriter(m.repository, index_loader=m.shared_index, pack_size=1 << 20) as writer:
        for i in range(10_000):
            writer.add_file(["f%05d" % i], io.BytesIO(open("/dev/urandom", "rb").read(600_000)))
            if i == 8:
                print("packs written", flush=True)
''')


@needs_restic
def test_a_worker_killed_mid_backup_leaves_the_repository_valid(tmp_path):
    url = f"file://{tmp_path / 'repo'}"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, url], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        assert proc.stdout.readline().strip() == "packs written"
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert list(open_store(url).list("data/")), "the killed run had uploaded packs"
    restic = Restic(tmp_path / "repo", PASSWORD)
    try:
        restic.run("unlock")  # the dead process's lock, as an operator (or a lock older than 30 min) would
        restic_clean(tmp_path / "repo")
    finally:
        restic.close()
    src = open_store(f"mem://{unique_name('src')}/")
    src.write("after", io.BytesIO(b"the next run"))
    snapshot, counts = run_once(mirrors(url), src)
    assert snapshot and counts.read == 1
    restic_clean(tmp_path / "repo")
