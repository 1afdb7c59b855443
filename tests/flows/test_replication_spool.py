"""The copy spool through the replicate flow, on the emulated clouds and a real Prefect server: a
run whose plan keeps few decisions in memory spools the rest to the target and still copies every
object byte for byte, leaves no spool behind, sweeps a stopped run's old spool (not a young one),
and re-runs as a no-op; objects that fail and a spooled batch that cannot be read back are
reported and fail the run, and the spool is swept all the same."""

from __future__ import annotations

import io
import os
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import yaml

from deployments import cloudstack
from flows.replicate import replicate
from multicloud.clouds import open_store
from multicloud.config import ReplicationRule
from multicloud.core.replication import ReplicationFailed, Shard
from multicloud.core.replication_spool import SPOOL_MAX_AGE, SPOOL_PREFIX, run_spool
from multicloud.engine.spool import write_batch
from multicloud.testing.fakes.faulty_proxy import _ACCESS_DENIED, FaultyProxy
from tests.support import new_bucket, read_all, replica

N = 30


def seeded(profile, scheme: str, keys: list[str]) -> tuple[str, dict[str, bytes]]:
    url = new_bucket(profile, scheme, "sp")
    src = open_store(url, profile)
    data = {key: os.urandom(100 + 37 * i) for i, key in enumerate(keys)}
    for key, body in data.items():
        src.write(key, io.BytesIO(body), size=len(body), content_type="application/x-test", metadata={"n": key[:3]})
    return url, data


def rule(source: str, target: str, **kw) -> ReplicationRule:
    # 30 objects in batches of 4, at most 5 held in memory: batch 1 in memory, batches 2-8 spooled
    return ReplicationRule(name=kw.pop("name", "sp"), source=source, targets=[target], batch_objects=4,
                           spool_after=5, **kw)


def spool_keys(store) -> list[str]:
    return [m.key for m in store.list(SPOOL_PREFIX)]


def only(result: dict) -> dict:
    (row,) = result["targets"]
    return row


@pytest.mark.parametrize("src_scheme,dst_scheme", [("s3", "az"), ("gs", "s3")])
def test_a_spooled_plan_copies_every_object_sweeps_its_spool_and_an_old_one_and_reruns_as_noop(
        local_profile, src_scheme, dst_scheme):
    src_url, data = seeded(local_profile, src_scheme, [f"d/{i:03d}.bin" for i in range(N)])
    dst_url = new_bucket(local_profile, dst_scheme, "sp")
    dst = open_store(dst_url, local_profile)
    now = datetime.now(timezone.utc)
    stale = run_spool("sp", now - SPOOL_MAX_AGE - timedelta(hours=1), "crashed").key("x-all", 3)
    young = run_spool("sp", now - timedelta(minutes=5), "running").key("x-all", 3)
    other = run_spool("other", now - SPOOL_MAX_AGE * 2, "crashed").key("x-all", 3)
    for key in (stale, young, other):
        write_batch(dst, key, [])

    first = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (first["copied"], first["failed"], first["spooled_batches"]) == (N, 0, 7)
    assert first["bytes"] == sum(map(len, data.values()))
    assert sorted(m.key for m in replica(dst)) == sorted(data)
    for key, body in data.items():
        assert read_all(dst, key) == body
    assert dst.stat("d/007.bin").content_type == "application/x-test"
    # this run's spool and the stopped run's old one are gone; a young run's and another rule's stay
    assert spool_keys(dst) == sorted([young, other])

    again = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (again["copied"], again["skipped"], again["spooled_batches"], again["from_manifest"]) == (0, N, 0, 1)
    assert spool_keys(dst) == sorted([young, other])


def test_failed_objects_and_an_unreadable_spooled_batch_are_reported_and_the_spool_is_still_swept(
        local_profile, tmp_path):
    moto = [s for s in cloudstack.services() if s.name == "moto"][0]
    # batch n (from 1) holds objects 4(n-1) .. 4n-1: 1 is in the in-memory batch, 25 in spooled batch 7
    keys = [f"k{i:02d}{'-poison' if i in (1, 25) else ''}" for i in range(N)]
    src_url, data = seeded(local_profile, "az", keys)
    dst_url = new_bucket(local_profile, "s3", "sp")
    unreadable_path = f"/{Shard(dst_url, '').label}/000005.jsonl.zst"  # spooled batch 5, whatever the run's id

    def answer(method: str, path: str):
        if method == "GET" and urlsplit(path).path.endswith(unreadable_path) and SPOOL_PREFIX in path:
            return 403, {"Content-Type": "application/xml"}, _ACCESS_DENIED
        return None

    with FaultyProxy(moto.port, refuse="poison", answer=answer) as proxy:
        conns = [c.model_dump() for c in local_profile.connections]
        for c in conns:
            if c["cloud"] == "aws":
                c.update(name="aws-faulty", endpoint=f"http://127.0.0.1:{proxy.port}")
        profile_file = tmp_path / "faulty.yaml"
        profile_file.write_text(yaml.safe_dump({"name": "faulty", "connections": conns}))
        with pytest.raises(ReplicationFailed, match=r"6 object\(s\) failed, 0 shard") as failed:
            replicate(rule=rule(src_url, dst_url, name="broken"), profile=str(profile_file))
    assert "spooled batch unreadable: PermissionDenied" in str(failed.value)
    dst = open_store(dst_url, local_profile)
    lost = {keys[i] for i in (1, 16, 17, 18, 19, 25)}
    assert sorted(m.key for m in replica(dst)) == sorted(set(keys) - lost)
    for key in set(keys) - lost:
        assert read_all(dst, key) == data[key]
    assert spool_keys(dst) == []
