"""The backup flow against the emulated clouds, a real Prefect server and restic 0.14 as the oracle:
a bucket with keys a tree cannot hold mirrored to Azure and GCS, an unchanged second run that reads
listings only, shards on Dask, a mirror failing mid-backup, and bad input refused before any write."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
import yaml

from flows.backups import backup
from multicloud.clouds import create_bucket, open_store
from multicloud.core.backups.runs import BackupFailed
from multicloud.core.backups.tree import tree_key
from multicloud.core.errors import InvalidInput
from multicloud.engine.restic import Repository, SnapshotReader
from multicloud.testing.restic_oracle import Restic, restic_path
from multicloud.testing.fakes.faulty_proxy import FaultyProxy
from tests.support import unique_name

PASSWORD = "backup flow password"
CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}
KEYS = {"a": b"file a", "a/b": b"file under a", "a//double": b"double slash", "/leading": b"leading",
        "trail/": b"marker", "x/./y": b"dot segment", "big.bin": os.urandom(3 << 20), "empty": b"",
        "logs/2026/app.log": b"GET /\n" * 50_000, "ünï ☃": b"unicode"}

needs_restic = pytest.mark.skipif(restic_path() is None, reason="RESTIC ORACLE NOT RUN: restic is not on PATH")


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("MCOPS_TEST_BACKUP_PASSWORD", PASSWORD)


def bucket(profile, scheme: str) -> str:
    name = unique_name("bk")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return f"{scheme}://{name}"


def seed(profile, url: str, keys: dict[str, bytes]) -> None:
    store = open_store(url, profile)
    for key, data in keys.items():
        store.write(key, io.BytesIO(data), size=len(data), content_type="text/x-test", metadata={"owner": "team-a"})


def plans_file(tmp_path: Path, **plan) -> str:
    path = tmp_path / f"plans-{unique_name('p')}.yaml"
    plan.setdefault("password", {"env": "MCOPS_TEST_BACKUP_PASSWORD"})
    path.write_text(yaml.safe_dump({"plans": [plan]}))
    return str(path)


def mirror_to_folder(url: str, profile, folder: Path) -> Path:
    store, target = open_store(url, profile), open_store(f"file://{folder}")
    for meta in store.list():
        with store.open(meta.key) as stream:
            target.write(meta.key, stream, size=meta.size)
    return folder


def restic_check(folder: Path) -> Restic:
    restic = Restic(folder, PASSWORD)
    out = restic.run("check", "--read-data")
    text = out.stdout + out.stderr
    assert "no errors were found" in text and "error" not in text.lower().replace("no errors were found", ""), text
    return restic


def restored_objects(url: str, profile) -> dict[str, bytes]:
    """key -> bytes of the newest snapshot, read by our reader with tree paths decoded to keys."""
    reader = SnapshotReader(Repository.open(open_store(url, profile), PASSWORD))
    snap = reader.find("latest")
    root = len(snap["paths"][0].strip("/").split("/"))
    return {tree_key(path[root:]): reader.open_file(node).read()
            for path, node in reader.walk(snap["tree"]) if node["type"] == "file"}


@needs_restic
def test_bucket_backup_to_two_clouds_is_valid_for_restic_and_incremental(local_profile, tmp_path):
    src = bucket(local_profile, "s3")
    seed(local_profile, src, KEYS)
    repos = [f"{bucket(local_profile, 'az')}/repo", f"{bucket(local_profile, 'gs')}/repo"]
    plans = plans_file(tmp_path, name="two-clouds", source={"url": src}, repositories=repos)

    (first,) = backup(plans_file=plans, profile="local")
    assert first["failure"] is None and first["read"] == len(KEYS) and first["reused"] == 0
    (second,) = backup(plans_file=plans, profile="local")
    assert second["read"] == 0 and second["reused"] == len(KEYS)  # listings only

    for n, url in enumerate(repos):
        assert restored_objects(url, local_profile) == KEYS
        folder = mirror_to_folder(url, local_profile, tmp_path / f"mirror{n}")
        restic = restic_check(folder)
        try:
            snaps = restic.snapshots()
            assert len(snaps) == 2 and {s["id"] for s in snaps} == {first["snapshot"], second["snapshot"]}
            assert snaps[0]["paths"] == [f"/s3/{src[5:]}"] and "plan=two-clouds" in snaps[0]["tags"]
            restic.run("restore", second["snapshot"][:8], "--target", str(tmp_path / f"out{n}"), "--verify")
            out = tmp_path / f"out{n}" / "s3" / src[5:]
            on_disk = {tree_key(p.relative_to(out).parts): p.read_bytes() for p in out.rglob("*") if p.is_file()}
            assert on_disk == KEYS
            assert not list(open_store(url, local_profile).list("locks/"))
        finally:
            restic.close()


@needs_restic
def test_sharded_backup_on_dask_joins_one_snapshot(local_profile, tmp_path):
    src = bucket(local_profile, "gs")
    keys = {f"{p}/{i:03d}": hashlib.sha256(f"{p}{i}".encode()).digest() * 100 for p in ("one", "two") for i in range(20)}
    keys["loose"] = b"outside every shard prefix"
    seed(local_profile, src, keys)
    repo = f"file://{tmp_path / 'repo'}"
    plans = plans_file(tmp_path, name="sharded", source={"url": src, "shards": ["one/", "two/"]}, repositories=[repo])
    (result,) = backup(plans_file=plans, profile="local", task_runner="dask")
    assert result["failure"] is None and result["objects"] == len(keys)
    assert restored_objects(repo, local_profile) == keys
    restic_check(tmp_path / "repo").close()


def test_a_mirror_failing_mid_backup_gets_no_snapshot_and_the_next_run_completes(local_profile, tmp_path):
    from deployments import cloudstack

    src = bucket(local_profile, "s3")
    seed(local_profile, src, {k: v for k, v in KEYS.items() if k != "big.bin"})
    good, bad = f"{bucket(local_profile, 'gs')}/repo", bucket(local_profile, "s3")
    moto = cloudstack.local_profile().connection_for("aws")
    port = int(moto.endpoint.rsplit(":", 1)[1])
    with FaultyProxy(port, refuse=f"/{bad[5:]}/repo/index/") as proxy:
        conns = [c.model_dump() for c in local_profile.connections]
        conns.append({**next(c for c in conns if c["cloud"] == "aws"), "name": "aws-faulty",
                      "endpoint": f"http://127.0.0.1:{proxy.port}"})
        faulty = tmp_path / "faulty.yaml"
        faulty.write_text(yaml.safe_dump({"name": "faulty", "connections": conns[::-1]}))
        plans = plans_file(tmp_path, name="faulty", source={"url": src},
                           repositories=[good, f"{bad}/repo"])
        with pytest.raises(BackupFailed, match=f"repository {bad}/repo/ got no snapshot.*AccessDenied"):
            backup(plans_file=plans, profile=str(faulty))
        assert proxy.refused
    assert not list(open_store(f"{bad}/repo", local_profile).list("snapshots/"))
    assert len(list(open_store(good, local_profile).list("snapshots/"))) == 1
    (again,) = backup(plans_file=plans, profile="local")
    assert again["failure"] is None
    assert restored_objects(f"{bad}/repo", local_profile) == restored_objects(good, local_profile)


def test_wrong_password_and_foreign_store_are_refused_naming_the_plan(local_profile, tmp_path, monkeypatch):
    src = bucket(local_profile, "s3")
    seed(local_profile, src, {"k": b"v"})
    repo = f"{bucket(local_profile, 'az')}/repo"
    plans = plans_file(tmp_path, name="guarded", source={"url": src}, repositories=[repo])
    backup(plans_file=plans, profile="local")
    monkeypatch.setenv("MCOPS_TEST_BACKUP_PASSWORD", "not the password")
    with pytest.raises(Exception, match="wrong password.*plan guarded, repository"):
        backup(plans_file=plans, profile="local")

    foreign = bucket(local_profile, "gs")
    seed(local_profile, foreign, {"report.csv": b"a,b\n"})
    plans = plans_file(tmp_path, name="foreign", source={"url": src}, repositories=[foreign])
    with pytest.raises(Exception, match="not a restic repository.*plan foreign, repository"):
        backup(plans_file=plans, profile="local")
    assert [m.key for m in open_store(foreign, local_profile).list()] == ["report.csv"]

    plans = plans_file(tmp_path, name="unknown", source={"url": src, "connection": "nope"}, repositories=[repo])
    with pytest.raises(InvalidInput, match="plan unknown, field source"):
        backup(plans_file=plans, profile="local")
