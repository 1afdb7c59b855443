"""A source object that changes between its listing and its copy, on the emulated clouds: the
copy takes the newer bytes and says so (streamed: the version read is not the one listed;
server side: the copy's MD5 is not the listed one), and the target's staged manifest, which
foresaw the listed version, is then not committed, so the next run lists the target in full."""

from __future__ import annotations

import io

import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.core.replication import ShardReport, SyncOptions, TargetOutcome
from multicloud.core.replication_manifest import commit_staged
from multicloud.engine.transfer import copy_batch, planned
from tests.support import unique_name

CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}


def new_store(profile, scheme: str):
    name = unique_name("chg")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return open_store(f"{scheme}://{name}", profile)


def put(store, key: str, data: bytes) -> None:
    store.write(key, io.BytesIO(data), size=len(data))


def read(store, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


@pytest.mark.parametrize("src_scheme,dst_scheme", [("s3", "az"), ("az", "s3"), ("gs", "s3"), ("s3", "s3")])
def test_a_copy_of_an_object_changed_since_listed_is_counted_and_the_manifest_not_trusted(
        local_profile, src_scheme, dst_scheme):
    src, dst = new_store(local_profile, src_scheme), new_store(local_profile, dst_scheme)
    put(src, "doc.txt", b"version A")
    put(src, "same.txt", b"unchanged")
    decisions = [d for d in planned(src, dst, SyncOptions()) if d.action == "copy"]
    put(src, "doc.txt", b"version B, written after the listing")

    result = copy_batch(src, dst, decisions, concurrency=2)

    assert (result.copied, result.failed, result.changed_since_listed) == (2, 0, 1)
    assert read(dst, "doc.txt") == b"version B, written after the listing"
    report = ShardReport(dst.url, to_copy=2)
    report.add_batch(result)
    committed, why = commit_staged(report, TargetOutcome(None, False, ""))
    assert not committed and "changed on the source while copied" in why


@pytest.mark.parametrize("src_scheme,dst_scheme", [("s3", "gs"), ("az", "s3"), ("gs", "s3"), ("s3", "s3")])
def test_copies_of_the_listed_versions_change_nothing(local_profile, src_scheme, dst_scheme):
    src, dst = new_store(local_profile, src_scheme), new_store(local_profile, dst_scheme)
    put(src, "a.txt", b"a")
    put(src, "b.txt", b"b")
    result = copy_batch(src, dst, [d for d in planned(src, dst, SyncOptions()) if d.action == "copy"], 2)
    assert (result.copied, result.changed_since_listed) == (2, 0)
