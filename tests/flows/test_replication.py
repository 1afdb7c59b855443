"""The replication flow against the emulated clouds and a real Prefect server: every direction,
delete modes and their safety cases, unsafe keys, metadata, injected failures, verify, Dask."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import socket
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from deployments import cloudstack
from flows.replicate import replicate, verify
from multicloud.clouds import create_bucket, open_store
from multicloud.config import ReplicationRule
from multicloud.core.errors import InvalidInput
from multicloud.core.objects import SHA256_METADATA_KEY
from multicloud.core.replication import KEPT, ReplicationFailed, VerificationFailed, age, tombstone_key
from tests.support import replica, unique_name
from multicloud.testing.fakes.faulty_proxy import FaultyProxy

CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}
BIG = 9 * (1 << 20)  # over one part: multipart / staged blocks / resumable


def bucket(profile, scheme: str) -> str:
    name = unique_name("r")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return f"{scheme}://{name}"


def put(store, key: str, data: bytes, **kw):
    return store.write(key, io.BytesIO(data), size=len(data), **kw)


def read(store, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


def rule(source: str, *targets: str, **kw) -> ReplicationRule:
    return ReplicationRule(name=kw.pop("name", "t"), source=source, targets=list(targets), **kw)


def only(result: dict) -> dict:
    (row,) = result["targets"]
    return row


def artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def fetch():  # the newest version of the key
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                                sort=ArtifactSort.CREATED_DESC, limit=1)
            return found[0] if found else None

    return asyncio.run(fetch())


def run_tables(flow_run_id, containing: str) -> list[list[dict]]:
    """The rows of every table artifact of one flow run whose description contains `containing`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType

    async def fetch():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), type=ArtifactFilterType(any_=["table"])))

    return [rows(a) for a in asyncio.run(fetch()) if containing in (a.description or "")]


def rows(art) -> list[dict]:
    return json.loads(art.data) if isinstance(art.data, str) else art.data


def pids(row: dict) -> set[int]:
    """Process ids of the workers that ran a target's tasks (host:pid, ...)."""
    return {int(w.rsplit(":", 1)[1]) for w in row["workers"].split(", ")}


@pytest.mark.parametrize("src_scheme,dst_scheme", [
    ("s3", "az"), ("s3", "gs"), ("az", "s3"), ("az", "gs"), ("gs", "s3"), ("gs", "az"), ("s3", "s3")])
def test_every_direction_copies_verifies_and_reruns_as_noop(local_profile, src_scheme, dst_scheme):
    src_url, dst_url = bucket(local_profile, src_scheme), bucket(local_profile, dst_scheme)
    src = open_store(src_url, local_profile)
    data = {f"d/{i}.txt": f"object {i}".encode() * (i + 1) for i in range(20)}
    data["big.bin"] = os.urandom(BIG)
    for key, body in data.items():
        put(src, key, body, content_type="text/plain", cache_control="max-age=30", metadata={"team": "sre"})

    first = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (first["copied"], first["failed"], first["bytes"]) == (21, 0, sum(map(len, data.values())))
    assert first["server_side"] == (21 if src_scheme == dst_scheme else 0)
    dst = open_store(dst_url, local_profile)
    assert [m.key for m in replica(dst)] == sorted(data)
    for key in ("d/3.txt", "big.bin"):
        meta = dst.stat(key)
        assert read(dst, key) == data[key]
        assert meta.sha256 == hashlib.sha256(data[key]).hexdigest()
        assert meta.content_type == "text/plain"
        assert meta.cache_control == "max-age=30"
        assert meta.metadata["team"] == "sre"

    again = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (again["copied"], again["skipped"]) == (0, 21)

    put(src, "d/3.txt", b"changed")
    third = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (third["copied"], third["skipped"]) == (1, 20)
    assert read(dst, "d/3.txt") == b"changed"
    checked = verify(rule=rule(src_url, dst_url), profile="local")
    assert [(r["checked"], r["rehashed"], r["problems"]) for r in checked] == [(21, 21, 0)]


def test_two_targets_artifacts_and_lag(local_profile):
    src_url = bucket(local_profile, "s3")
    src = open_store(src_url, local_profile)
    put(src, "a", b"1")
    put(src, "b", b"22")
    changed = min(m.last_modified for m in src.list())
    fanout = rule(src_url, bucket(local_profile, "az"), bucket(local_profile, "gs"), name="fanout")
    targets = fanout.targets  # as the rule normalises them
    before = datetime.now(timezone.utc)
    result = replicate(rule=fanout, profile="local")
    after = datetime.now(timezone.utc)
    assert [(t["target"], t["copied"], t["bytes"]) for t in result["targets"]] == [(t, 2, 3) for t in targets]
    for row in result["targets"]:
        # the lag is the run's start less the oldest change it copied; the run started in [before, after]
        assert row["oldest_pending"] == changed.isoformat()
        assert (before - changed).total_seconds() - 0.001 <= row["lag_seconds"] <= (after - changed).total_seconds()
        assert row["workers"] == f"{socket.gethostname()}:{os.getpid()}"  # threads: this process
    summary = artifact("replication-fanout-summary").data
    for t, row in zip(targets, result["targets"]):
        assert f"| `{t}` | 2 | 0 | 0 | 0 | 0.0 | {age(row['lag_seconds'])} |" in summary
    (table,) = rows(artifact(f"replication-fanout-{targets[1].lower().replace('://', '-').rstrip('/')}"))
    assert table == result["targets"][1]

    again = replicate(rule=fanout, profile="local")
    assert [(t["copied"], t["skipped"], t["oldest_pending"], t["lag_seconds"]) for t in again["targets"]] == [
        (0, 2, None, 0.0)] * 2
    assert all(f"| `{t}` | 0 | 2 | 0 | 0 | 0.0 | none |" in artifact("replication-fanout-summary").data
               for t in targets)


def test_lag_of_old_unreplicated_changes(local_profile, tmp_path):
    (tmp_path / "src").mkdir()
    old = (datetime.now(timezone.utc) - timedelta(days=2)).replace(microsecond=0)
    for name, when in (("old", old), ("older", old - timedelta(days=1))):
        (tmp_path / "src" / name).write_bytes(name.encode())
        os.utime(tmp_path / "src" / name, (when.timestamp(), when.timestamp()))
    before = datetime.now(timezone.utc)
    row = only(replicate(rule=rule(f"file://{tmp_path}/src", bucket(local_profile, "gs"), name="lagging"),
                         profile="local"))
    after = datetime.now(timezone.utc)
    assert row["oldest_pending"] == (old - timedelta(days=1)).isoformat()
    lowest, highest = ((t - old).total_seconds() + 86400 for t in (before, after))
    assert lowest - 0.001 <= row["lag_seconds"] <= highest
    assert f"| {age(row['lag_seconds'])} |" in artifact("replication-lagging-summary").data


def _seed_pair(profile, n_src: int, extra: list[str]):
    src_url, dst_url = bucket(profile, "gs"), bucket(profile, "az")
    src, dst = open_store(src_url, profile), open_store(dst_url, profile)
    for i in range(n_src):
        put(src, f"k{i:03d}", b"x")
        put(dst, f"k{i:03d}", b"x")
    for key in extra:
        put(dst, key, b"only on target")
    return src_url, dst_url, dst


def test_delete_never_keeps_target_only_objects(local_profile):
    src_url, dst_url, dst = _seed_pair(local_profile, 5, ["gone"])
    row = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (row["deleted"], row["delete_candidates"]) == (0, 1)
    assert dst.stat("gone").size == len(b"only on target")


def test_mirror_deletes_target_only_objects(local_profile):
    src_url, dst_url, dst = _seed_pair(local_profile, 50, ["gone1", "gone2"])
    row = only(replicate(rule=rule(src_url, dst_url, delete="mirror", max_delete=5), profile="local"))
    assert (row["deleted"], row["delete_candidates"], row["skipped"], row["copied"]) == (2, 2, 50, 0)
    assert [m.key for m in replica(dst)] == [f"k{i:03d}" for i in range(50)]


def test_tombstone_moves_then_purges(local_profile):
    src_url, dst_url, dst = _seed_pair(local_profile, 50, ["gone"])
    stale = tombstone_key(".tombstones/", "ancient", datetime.now(timezone.utc) - timedelta(days=40))
    put(dst, stale, b"old")
    row = only(replicate(rule=rule(src_url, dst_url, delete="tombstone", tombstone_days=30), profile="local"))
    assert (row["deleted"], row["purged"], row["listed_target"]) == (1, 1, 51)
    keys = [m.key for m in replica(dst)]
    assert "gone" not in keys and stale not in keys
    (moved,) = [k for k in keys if k.startswith(".tombstones/")]
    assert moved.endswith("/gone") and read(dst, moved) == b"only on target"
    again = only(replicate(rule=rule(src_url, dst_url, delete="tombstone"), profile="local"))
    assert (again["deleted"], again["delete_candidates"], again["purged"]) == (0, 0, 0)  # tombstones: not target-only


def test_no_delete_when_source_listing_fails(local_profile):
    _, dst_url, dst = _seed_pair(local_profile, 3, ["x"])
    missing = f"gs://{unique_name('missing')}"
    with pytest.raises(ReplicationFailed, match=r"0 object\(s\) failed, 1 shard\(s\) failed; .* shard '': NotFound"):
        replicate(rule=rule(missing, dst_url, delete="mirror", max_delete=100, max_delete_percent=100),
                  profile="local")
    assert len(list(replica(dst))) == 4
    summary = artifact("replication-t-summary").data
    assert "**no object deleted**: a listing failed (1 error(s))" in summary and "## Shards that failed" in summary


def test_no_delete_when_source_is_empty(local_profile):
    src_url, dst_url, dst = _seed_pair(local_profile, 0, ["a", "b"])
    row = only(replicate(rule=rule(src_url, dst_url, delete="mirror", max_delete=100, max_delete_percent=100),
                         profile="local"))
    assert row["deleted"] == 0 and len(list(replica(dst))) == 2
    assert "refusing to empty the target" in artifact("replication-t-summary").data


@pytest.mark.parametrize("limits,why", [({"max_delete": 2}, "exceed max_delete=2"),
                                         ({"max_delete": 100, "max_delete_percent": 5}, "max_delete_percent=5")])
def test_no_delete_over_limits(local_profile, limits, why):
    src_url, dst_url, dst = _seed_pair(local_profile, 20, ["a", "b", "c"])
    row = only(replicate(rule=rule(src_url, dst_url, delete="mirror", **limits), profile="local"))
    assert row["deleted"] == 0 and len(list(replica(dst))) == 23
    assert why in artifact("replication-t-summary").data


def test_dry_run_changes_nothing(local_profile):
    src_url, dst_url, dst = _seed_pair(local_profile, 3, ["extra"])
    put(open_store(src_url, local_profile), "new", b"n")
    row = only(replicate(rule=rule(src_url, dst_url, delete="mirror", dry_run=True, max_delete_percent=100),
                         profile="local"))
    assert (row["to_copy"], row["copied"], row["delete_candidates"], row["deleted"]) == (1, 0, 1, 0)
    assert sorted(m.key for m in replica(dst)) == ["extra", "k000", "k001", "k002"]
    assert "dry run: 1 target-only object(s) would be deleted" in artifact("replication-t-summary").data


def test_unsafe_keys_are_encoded_reversibly_and_rerun_is_noop(local_profile):
    src_url, dst_url = bucket(local_profile, "s3"), bucket(local_profile, "az")
    src = open_store(src_url, local_profile)
    keys = ["plain", "dot/./seg", "trailing.", "back\\slash", "pct\uff05sign", "up/../x"]
    for key in keys:
        put(src, key, key.encode())
    row = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert row["copied"] == 6 and row["encoded_keys"] == 4  # "pct％sign" spells no other key: stored as it is
    dst = open_store(dst_url, local_profile)
    from multicloud.core.keys import decode_key

    stored = {decode_key(m.key, "az"): m.key for m in replica(dst)}
    assert sorted(stored) == sorted(keys)
    assert all(read(dst, stored[k]) == k.encode() for k in keys)
    again = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (again["copied"], again["skipped"], again["delete_candidates"]) == (0, 6, 0)


def test_metadata_names_round_trip_through_a_stricter_cloud(local_profile):
    gs1, az, gs2 = bucket(local_profile, "gs"), bucket(local_profile, "az"), bucket(local_profile, "gs")
    original = {"Owner-Name": "Ana", "cost_center": "42", "x.y": "z"}
    put(open_store(gs1, local_profile), "doc", b"d", content_type="application/pdf", metadata=original)
    assert only(replicate(rule=rule(gs1, az), profile="local"))["encoded_metadata"] == 2
    replicate(rule=rule(az, gs2), profile="local")
    back = open_store(gs2, local_profile).stat("doc")
    assert {k: v for k, v in back.metadata.items() if k != SHA256_METADATA_KEY} == original
    assert back.content_type == "application/pdf"


def test_refused_writes_fail_the_run_listing_each_and_copy_the_rest(local_profile, tmp_path):
    moto = [s for s in cloudstack.services() if s.name == "moto"][0]
    src_url = bucket(local_profile, "az")
    dst_url = bucket(local_profile, "s3")
    src = open_store(src_url, local_profile)
    for i in range(30):
        put(src, f"{'poison' if i % 10 == 0 else 'ok'}-{i:02d}", b"payload")
    with FaultyProxy(moto.port, refuse="poison") as proxy:
        profile_file = tmp_path / "faulty.yaml"
        conns = [c.model_dump() for c in local_profile.connections]
        for c in conns:
            if c["cloud"] == "aws":
                c["endpoint"] = f"http://127.0.0.1:{proxy.port}"
                c["name"] = "aws-faulty"
        profile_file.write_text(yaml.safe_dump({"name": "faulty", "connections": conns}))
        with pytest.raises(ReplicationFailed, match="3 object\\(s\\) failed, 0 shard"):
            replicate(rule=rule(src_url, dst_url, name="faulty", batch_objects=10), profile=str(profile_file))
    assert sorted(proxy.refused) == [f"/{dst_url[5:]}/poison-{i:02d}" for i in (0, 10, 20)]
    copied = [m.key for m in replica(open_store(dst_url, local_profile))]
    assert copied == [f"ok-{i:02d}" for i in range(30) if i % 10]
    failures = artifact("replication-faulty-failures")
    assert sorted(r["key"] for r in rows(failures)) == ["poison-00", "poison-10", "poison-20"]
    assert all(r["error"].startswith("PermissionDenied") for r in rows(failures))
    # the poison keys sort last: the third batch of 10 met every refusal and tabled them in its copy task
    (per_batch,) = run_tables(failures.flow_run_id, "that failed")
    assert sorted(r["key"] for r in per_batch) == ["poison-00", "poison-10", "poison-20"]


def test_verify_finds_corrupted_target_bytes(local_profile, tmp_path):
    src_url = bucket(local_profile, "gs")
    put(open_store(src_url, local_profile), "a/file", b"good bytes")
    put(open_store(src_url, local_profile), "b", b"also good")
    (tmp_path / "replica").mkdir()
    dst_url = f"file://{tmp_path}/replica"
    replicate(rule=rule(src_url, dst_url), profile="local")
    (tmp_path / "replica" / "a" / "file").write_bytes(b"badd bytes")  # same size: only a re-hash sees it
    with pytest.raises(VerificationFailed, match="1 problem"):
        verify(rule=rule(src_url, dst_url), profile="local")
    (problem,) = rows(artifact("verify-t-problems"))
    assert (problem["key"], problem["target"]) == ("a/file", dst_url)
    assert problem["problem"].startswith("target bytes hash")
    (counts,) = rows(artifact("verify-t"))
    assert {k: counts[k] for k in ("checked", "rehashed", "hash_mismatch", "problems")} == {
        "checked": 2, "rehashed": 2, "hash_mismatch": 1, "problems": 1}


def test_verify_keeps_every_problem_in_its_task_tables_and_the_first_kept_in_memory(local_profile):
    src_url, dst_url = f"mem://{unique_name('vsrc')}", f"mem://{unique_name('vdst')}"
    src = open_store(src_url)
    for i in range(KEPT + 5):
        put(src, f"k{i:05d}", b"x")
    with pytest.raises(VerificationFailed, match=f"verify many: {KEPT + 5} problem"):
        verify(rule=rule(src_url, dst_url, name="many"), profile="local")
    shown = artifact("verify-many-problems")
    assert len(rows(shown)) == KEPT and f"{KEPT + 5:,} problem(s)" in shown.description
    pages = run_tables(shown.flow_run_id, "problems on")
    assert sorted(len(page) for page in pages) == [5, KEPT]
    assert sorted(r["key"] for page in pages for r in page) == [f"k{i:05d}" for i in range(KEPT + 5)]


def test_rules_file_and_bad_rules_name_the_field(local_profile, tmp_path):
    src_url, dst_url = bucket(local_profile, "s3"), bucket(local_profile, "gs")
    put(open_store(src_url, local_profile), "k", b"v")
    good = tmp_path / "rules.yaml"
    good.write_text(yaml.safe_dump({"rules": [{"name": "from-file", "source": src_url, "targets": [dst_url]}]}))
    assert only(replicate(rules_file=str(good), rule_name="from-file", profile="local"))["copied"] == 1
    with pytest.raises(InvalidInput, match="no rule named 'other'"):
        replicate(rules_file=str(good), rule_name="other", profile="local")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"rules": [{"name": "x", "source": "ftp://nope", "targets": [dst_url]}]}))
    with pytest.raises(InvalidInput, match=r"rules\.0\.source"):
        replicate(rules_file=str(bad), rule_name="x", profile="local")


def test_shards_on_a_two_worker_dask_cluster(local_profile):
    src_url, dst_url = bucket(local_profile, "s3"), bucket(local_profile, "gs")
    src = open_store(src_url, local_profile)
    for prefix in "ab":
        for i in range(10):
            put(src, f"{prefix}/{i}", f"{prefix}{i}".encode())
    # each shard's second batch is spooled to the target: its copy task reads it back in a worker
    result = replicate(rule=rule(src_url, dst_url, shards=["a/", "b/"], batch_objects=5, spool_after=5),
                       profile="local", task_runner="dask", dask_workers=2)
    row = only(result)
    assert (row["copied"], row["listed_source"], row["bytes"], row["spooled_batches"]) == (20, 20, 40, 2)
    dst = open_store(dst_url, local_profile)
    assert len(list(replica(dst))) == 20 and [m.key for m in dst.list(".multicloud-state/spool/")] == []
    # plans and copy batches ran in Dask worker processes, not in this one (nor the flow's)
    assert row["workers"] and os.getpid() not in pids(row)
    assert 1 <= len(pids(row)) <= 2
