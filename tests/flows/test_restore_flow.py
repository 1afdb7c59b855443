"""The restore, check-backups, backup-drill and prune-backups flows on a real Prefect server, with
repositories in the emulated S3 and GCS (the GCS one a file-for-file mirror), restoring to Azurite."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from flows.backup_checks import CheckFailed, backup_drill, check_backups, prune_backups
from flows.restore import restore
from multicloud.clouds import create_bucket, open_store
from multicloud.core.backups.restore import RestoreFailed
from multicloud.core.errors import InvalidInput
from multicloud.engine.restic import KdfParams, Repository
from multicloud.engine.restic.errors import WrongPassword
from multicloud.testing.backup_snapshots import SampleObject, write_bucket_snapshot
from tests.support import unique_name

PASSWORD_ENV = "MULTICLOUD_TEST_BACKUP_PASSWORD"
PASSWORD = "flow test password"
CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}
NOW = datetime.now(timezone.utc).replace(microsecond=0)
OBJECTS = {f"logs/{i:02d}.txt": SampleObject(f"line {i}\n".encode() * (50 + i), "text/plain", "no-cache",
                                             {"owner": f"team-{i % 3}"}) for i in range(12)}
OBJECTS["odd//key/"] = SampleObject(b"an odd key", "application/json")


def bucket_url(profile, scheme: str, prefix: str = "") -> str:
    name = unique_name("rf")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return f"{scheme}://{name}/{prefix}"


def rows_of(key: str) -> list[dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def fetch():
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                                sort=ArtifactSort.CREATED_DESC, limit=1)
            return found[0]

    art = asyncio.run(fetch())
    return json.loads(art.data) if isinstance(art.data, str) else art.data


@pytest.fixture
def plan_file(local_profile, tmp_path, monkeypatch):
    """A plan backed up to S3 and mirrored to GCS: two daily snapshots, the mirror a file copy."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    name = unique_name("plan")[:30]
    primary_url, mirror_url = bucket_url(local_profile, "s3", "repo"), bucket_url(local_profile, "gs", "repo")
    primary = Repository.create(open_store(primary_url, local_profile), PASSWORD, KdfParams(n=1024))
    first = write_bucket_snapshot(primary, "s3://source/", {k: SampleObject(b"old " + v.body, v.content_type)
                                                           for k, v in OBJECTS.items()}, NOW - timedelta(days=1), name)
    latest = write_bucket_snapshot(primary, "s3://source/", OBJECTS, NOW - timedelta(hours=1), name)
    mirror = open_store(mirror_url, local_profile)
    for meta in primary.store.list():
        with primary.store.open(meta.key) as stream:
            mirror.write(meta.key, stream, size=meta.size)
    path = tmp_path / "plans.yaml"
    path.write_text(yaml.safe_dump({"plans": [{
        "name": name, "source": {"url": "s3://source/"}, "repositories": [primary_url, mirror_url],
        "password": {"env": PASSWORD_ENV}, "retention": {"keep_last": 1, "daily": 0, "weekly": 0, "monthly": 0,
                                                         "yearly": 0},
        "drill": {"sample_objects": 5, "read_data_fraction": 2, "max_age_hours": 8}}]}))
    return {"file": str(path), "name": name, "primary": primary_url, "mirror": mirror_url, "first": first,
            "latest": latest}


def test_restore_latest_from_the_mirror_to_azure_with_metadata_and_report(local_profile, plan_file):
    target = bucket_url(local_profile, "az", "restored/")
    row = restore(plan=plan_file["name"], target=target, plans_file=plan_file["file"], repository=plan_file["mirror"],
                  profile="local")
    assert (row["objects"], row["sha256 verified"], row["failed"]) == (len(OBJECTS), len(OBJECTS), 0)
    store = open_store(target, local_profile)
    meta = store.stat("logs/03.txt")
    with store.open("logs/03.txt") as f:
        assert f.read() == OBJECTS["logs/03.txt"].body
    assert (meta.content_type, meta.cache_control, meta.metadata["owner"]) == ("text/plain", "no-cache", "team-0")
    assert meta.sha256 == hashlib.sha256(OBJECTS["logs/03.txt"].body).hexdigest()
    (report,) = rows_of(f"restore-{plan_file['name']}")
    assert report["snapshot"] == plan_file["latest"][:8] and report["objects"] == len(OBJECTS)


def test_restore_by_time_with_include_and_the_non_empty_target_refused(local_profile, plan_file, tmp_path):
    folder = tmp_path / "out"
    row = restore(plan=plan_file["name"], target=str(folder), plans_file=plan_file["file"],
                  snapshot=(NOW - timedelta(hours=12)).isoformat(), include=["logs/0*"], profile="local")
    assert row["snapshot"] == plan_file["first"][:8] and row["objects"] == 10
    assert (folder / "logs/01.txt").read_bytes() == b"old " + OBJECTS["logs/01.txt"].body
    with pytest.raises(InvalidInput, match="is not empty"):
        restore(plan=plan_file["name"], target=str(folder), plans_file=plan_file["file"], profile="local")


def test_check_passes_then_names_a_tampered_pack_and_its_repository(local_profile, plan_file):
    # Read every pack in each run (the rotation itself is covered by the unit and engine tests).
    plans = yaml.safe_load(open(plan_file["file"]))
    plans["plans"][0]["drill"]["read_data_fraction"] = 1
    with open(plan_file["file"], "w") as f:
        yaml.safe_dump(plans, f)
    rows = check_backups(plans_file=plan_file["file"], profile="local")
    assert [r["errors"] for r in rows] == [0, 0] and all(r["packs read"] > 0 for r in rows), rows
    mirror = open_store(plan_file["mirror"], local_profile)
    pack = max(mirror.list("data/"), key=lambda m: m.size).key
    with mirror.open(pack) as f:
        body = bytearray(f.read())
    body[50] ^= 1
    mirror.write(pack, io.BytesIO(bytes(body)))
    with pytest.raises(CheckFailed, match=f"{plan_file['name']}.*{plan_file['mirror'].split('/')[2]}.*{pack}"):
        check_backups(plans_file=plan_file["file"], profile="local")


def test_drill_verifies_a_sample_and_shows_freshness_and_fails_loudly_on_a_wrong_password(plan_file, monkeypatch):
    (row,) = backup_drill(plans_file=plan_file["file"], profile="local")
    assert row["state"] == "fresh" and row["snapshot"] == plan_file["latest"][:8] and 0.9 < row["age hours"] < 1.2
    (drill,) = rows_of("backup-drill")
    assert (drill["sampled"], drill["verified"], drill["result"]) == (5, 5, "ok")
    assert drill["restore seconds"] is not None
    monkeypatch.setenv(PASSWORD_ENV, "not the password")
    with pytest.raises(RestoreFailed, match=f"drill of plan {plan_file['name']} could not run: WrongPassword: "
                                            f"backup plan '{plan_file['name']}'"):
        backup_drill(plans_file=plan_file["file"], profile="local")
    assert "no verified snapshot" in asyncio.run(_freshness())


async def _freshness() -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with get_client() as client:
        (art,) = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(
            any_=["backup-freshness"])), sort=ArtifactSort.CREATED_DESC, limit=1)
    return art.data


def test_prune_flow_forgets_by_retention_and_mirrors_replay(local_profile, plan_file):
    dry = prune_backups(plans_file=plan_file["file"], dry_run=True, profile="local")
    assert [r["how"] for r in dry] == ["pruned (dry run)"]
    rows = prune_backups(plans_file=plan_file["file"], profile="local")
    assert [r["how"] for r in rows] == ["pruned", "replayed the primary's prune"]
    assert rows[0]["packs deleted"] >= 1
    retention = rows_of(f"retention-{plan_file['name']}")
    assert [(r["snapshot"], r["action"], r["reasons"]) for r in retention] == [
        (plan_file["latest"][:8], "keep", "last snapshot"), (plan_file["first"][:8], "remove", "no keep rule matched")]
    for url in (plan_file["primary"], plan_file["mirror"]):
        repo = Repository.open(open_store(url, local_profile), PASSWORD)
        assert list(repo.list_ids("snapshots")) == [plan_file["latest"]]
    assert check_backups(plans_file=plan_file["file"], profile="local")[1]["errors"] == 0
    with pytest.raises(WrongPassword):
        Repository.open(open_store(plan_file["mirror"], local_profile), "nope")
