"""The target manifest through the replicate and verify flows, on the emulated clouds and a real
Prefect server: a re-run lists nothing on the target (counted at a proxy in front of Azurite), an
object changed or deleted on the target outside the tool is found by the verify and repaired by
the next run, a damaged manifest means a full listing, and the rule can turn it off."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
import yaml

from flows.replicate import replicate, verify
from multicloud.clouds import create_bucket, open_store
from multicloud.config import ReplicationRule
from multicloud.core.replication import VerificationFailed
from multicloud.core.replication_manifest import RESERVED_PREFIX, manifest_key
from multicloud.testing.fakes.faulty_proxy import FaultyProxy
from tests.support import unique_name

CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}
N = 40


def bucket(profile, scheme: str) -> str:
    name = unique_name("m")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return f"{scheme}://{name}"


def put(store, key: str, data: bytes) -> None:
    store.write(key, io.BytesIO(data), size=len(data))


def seeded_source(profile, scheme: str = "s3") -> str:
    url = bucket(profile, scheme)
    src = open_store(url, profile)
    for i in range(N):
        put(src, f"d/{i:03d}", f"object {i}".encode())
    return url


def only(result: dict) -> dict:
    (row,) = result["targets"]
    return row


def rule(source: str, target: str, **kw) -> ReplicationRule:
    return ReplicationRule(name=kw.pop("name", "m"), source=source, targets=[target], **kw)


@pytest.fixture
def azure_through_proxy(local_profile, tmp_path):
    """A profile file whose Azure connection goes through a proxy recording every request."""
    conn = local_profile.connection_for("azure")
    with FaultyProxy(urlsplit(conn.endpoint).port) as proxy:
        conns = [c.model_dump() for c in local_profile.connections]
        for c in conns:
            if c["cloud"] == "azure":
                c.update(name="azure-counted", endpoint=proxy.endpoint(conn.endpoint))
        path = tmp_path / "counted.yaml"
        path.write_text(yaml.safe_dump({"name": "counted", "connections": conns}))
        yield str(path), proxy


def list_requests(proxy) -> list[str]:
    return [path for method, path in proxy.requests if method == "GET" and "comp=list" in path]


def test_a_rerun_reads_the_manifest_and_lists_nothing_on_the_target(local_profile, azure_through_proxy):
    profile, proxy = azure_through_proxy
    src_url, dst_url = seeded_source(local_profile), bucket(local_profile, "az")
    first = only(replicate(rule=rule(src_url, dst_url), profile=profile))
    assert (first["copied"], first["from_manifest"]) == (N, 0)
    assert list_requests(proxy)  # the first run had to list the target

    proxy.requests.clear()
    second = only(replicate(rule=rule(src_url, dst_url), profile=profile))
    assert (second["copied"], second["skipped"], second["from_manifest"]) == (0, N, 1)
    assert list_requests(proxy) == []
    gets = [path for method, path in proxy.requests if method == "GET"]
    assert len(gets) == 1 and gets[0].endswith(manifest_key("m", ""))  # one GET: the manifest

    put(open_store(src_url, local_profile), "d/new", b"new")
    proxy.requests.clear()
    third = only(replicate(rule=rule(src_url, dst_url), profile=profile))
    assert (third["copied"], third["skipped"], third["from_manifest"]) == (1, N, 1)
    assert list_requests(proxy) == []


@pytest.mark.parametrize("dst_scheme", ["az", "gs", "s3"])
def test_a_target_changed_outside_the_tool_is_found_by_verify_and_repaired_by_the_next_run(local_profile,
                                                                                          dst_scheme):
    src_url, dst_url = seeded_source(local_profile, "gs" if dst_scheme == "s3" else "s3"), bucket(local_profile,
                                                                                                  dst_scheme)
    replicate(rule=rule(src_url, dst_url), profile="local")
    dst = open_store(dst_url, local_profile)
    dst.delete(["d/003"])
    put(dst, "d/007", b"tampered")

    # Until a full listing the runs trust the manifest: this is the window the verify closes.
    unseen = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (unseen["copied"], unseen["from_manifest"]) == (0, 1)
    with pytest.raises(VerificationFailed, match="2 problem"):
        verify(rule=rule(src_url, dst_url), profile="local", fraction=0)

    repaired = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (repaired["copied"], repaired["from_manifest"]) == (2, 1)  # from the manifest the verify rewrote
    with dst.open("d/007") as f:
        assert f.read() == b"object 7"
    verify(rule=rule(src_url, dst_url), profile="local", fraction=0)  # nothing left to find


def test_a_damaged_manifest_means_a_full_listing_and_a_fresh_manifest(local_profile):
    src_url, dst_url = seeded_source(local_profile), bucket(local_profile, "gs")
    replicate(rule=rule(src_url, dst_url), profile="local")
    put(open_store(dst_url, local_profile), manifest_key("m", ""), b"\x28\xb5\x2f\xfd garbage")
    again = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (again["copied"], again["skipped"], again["from_manifest"]) == (0, N, 0)
    healed = only(replicate(rule=rule(src_url, dst_url), profile="local"))
    assert (healed["skipped"], healed["from_manifest"]) == (N, 1)


def test_manifest_off_lists_the_target_every_run_and_leaves_nothing_on_it(local_profile, azure_through_proxy):
    profile, proxy = azure_through_proxy
    src_url, dst_url = seeded_source(local_profile), bucket(local_profile, "az")
    for _ in range(2):
        proxy.requests.clear()
        row = only(replicate(rule=rule(src_url, dst_url, manifest=False), profile=profile))
        assert row["from_manifest"] == 0 and list_requests(proxy)
    assert [m.key for m in open_store(dst_url, local_profile).list(RESERVED_PREFIX)] == []
