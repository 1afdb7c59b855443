"""The one sync engine over in-process memory stores: the replication's shard plan and the
failover's sync pass plan alike (filters, tombstone area, batches), failures are bounded, and
copy_object reads listing metadata only where the backend's capabilities say listings carry it."""

from __future__ import annotations

import io
from dataclasses import replace

from multicloud.clouds.memory.storage import MemoryStore, reset
from multicloud.core.objects import ObjectMeta, StoreUrl
from multicloud.core.replication import KEPT, Shard, SyncOptions
from multicloud.engine.transfer import copy_object, planned, shard_plan, source_sha256, sync_pass
from tests.support import unique_name


def store(name: str) -> MemoryStore:
    return MemoryStore(StoreUrl.parse(f"mem://{name}"))


def put(s: MemoryStore, key: str, data: bytes, **kw) -> None:
    s.write(key, io.BytesIO(data), size=len(data), **kw)


def seeded():
    src, dst = store(unique_name("src")), store(unique_name("dst"))
    for key in ("a/1", "a/2", "a/skip.tmp", "b/1", "b/2", "c/1"):
        put(src, key, key.encode())
    put(dst, "a/2", b"a/2")                     # same
    put(dst, "b/1", b"old bytes")               # changed: size
    put(dst, "z/only-on-target", b"z")          # target-only
    put(dst, ".tombstones/20260101T000000Z/x", b"x")  # tombstone area: never planned
    return src, dst


OPTIONS = SyncOptions(exclude=("**.tmp",), ignore_target_prefix=".tombstones/", batch_objects=2)


def test_shard_plan_and_sync_pass_plan_the_same_objects():
    src, dst = seeded()
    plan = shard_plan(src, dst, OPTIONS, Shard(dst.url, ""), keep_candidates=10, dry_run=False)
    to_copy = [d.key for b in plan.batches for d in b.decisions]
    assert to_copy == ["a/1", "b/1", "b/2", "c/1"]
    assert [len(b.decisions) for b in plan.batches] == [2, 2]
    assert [d.key for d in plan.candidates] == ["z/only-on-target"]
    r = plan.report
    assert (r.listed_source, r.listed_target, r.to_copy, r.skipped, r.delete_candidates) == (5, 3, 4, 1, 1)
    assert r.reasons == {"new": 3, "changed: size": 1, "same": 1, "target-only": 1}

    dry = sync_pass(src, dst, OPTIONS, dry_run=True)
    assert (dry.pending, dry.copied, dry.failed) == (4, 0, 0)
    assert dry.oldest_pending == min(src.stat(k).last_modified for k in to_copy)
    done = sync_pass(src, dst, OPTIONS)
    assert (done.pending, done.copied, done.bytes, done.failed) == (4, 4, len(b"a/1b/1b/2c/1"), 0)
    assert sync_pass(src, dst, OPTIONS, dry_run=True).pending == 0
    assert shard_plan(src, dst, OPTIONS, Shard(dst.url, ""), 10, dry_run=False).batches == []


def test_shard_plan_lists_only_its_prefix_and_a_dry_run_keeps_no_batches():
    src, dst = seeded()
    plan = shard_plan(src, dst, OPTIONS, Shard(dst.url, "b/"), keep_candidates=10, dry_run=False)
    assert [d.key for b in plan.batches for d in b.decisions] == ["b/1", "b/2"]
    assert plan.batches[0].label.endswith("-b-1") and plan.batches[0].target == dst.url
    dry = shard_plan(src, dst, OPTIONS, Shard(dst.url, ""), keep_candidates=0, dry_run=True)
    assert (dry.batches, dry.candidates, dry.report.to_copy, dry.report.delete_candidates) == ([], [], 4, 1)


class RefusingStore(MemoryStore):
    """A memory target that refuses every write, as a target without permission would."""

    def write(self, key, stream, **kw):
        from multicloud.core.errors import PermissionDenied

        raise PermissionDenied("refused", target=key)


def test_sync_pass_counts_every_failure_and_keeps_the_first_kept():
    src = store(unique_name("src"))
    for i in range(KEPT + 5):
        put(src, f"k{i:05d}", b"x")
    dst = RefusingStore(StoreUrl.parse(f"mem://{unique_name('dst')}"))
    out = sync_pass(src, dst, SyncOptions(batch_objects=300, concurrency=4))
    assert (out.pending, out.copied, out.failed, len(out.failures)) == (KEPT + 5, 0, KEPT + 5, KEPT)
    assert out.failures[0].error.startswith("PermissionDenied: refused")


class CountingStats(MemoryStore):
    """A memory store that counts its `stat` calls."""

    def __init__(self, url):
        super().__init__(url)
        self.stats = 0

    def stat(self, key: str):
        self.stats += 1
        return super().stat(key)


class ListingWithoutMetadata(CountingStats):
    """A memory source whose listings carry no content type or metadata, like S3's."""

    capabilities = replace(MemoryStore.capabilities, list_returns_metadata=False)

    def list(self, prefix: str = ""):
        for meta in super().list(prefix):
            yield ObjectMeta(key=meta.key, size=meta.size, last_modified=meta.last_modified, hashes={})


def listed_sha256(s: MemoryStore) -> str:
    return next(s.list()).sha256


def copy_listed(src, dst, key: str):
    (decision,) = [d for d in planned(src, dst, SyncOptions()) if d.key == key]
    return copy_object(src, dst, decision)


def test_copy_reads_listing_metadata_only_where_the_capability_says_so():
    name = unique_name("src")
    plain = CountingStats(StoreUrl.parse(f"mem://{name}"))
    put(plain, "doc", b"pdf bytes", content_type="application/pdf", metadata={"team": "sre"}, cache_control="no-cache")
    described_dst = store(unique_name("dst"))
    assert plain.capabilities.list_returns_metadata
    copy_listed(plain, described_dst, "doc")
    assert plain.stats == 0  # the listing entry described the object

    bare = ListingWithoutMetadata(StoreUrl.parse(f"mem://{name}"))  # the same bucket, listed like S3
    bare_dst = store(unique_name("dst"))
    copy_listed(bare, bare_dst, "doc")
    assert bare.stats == 1  # the memory GET carries no description: one stat per object
    for dst in (described_dst, bare_dst):
        meta = dst.stat("doc")
        assert (meta.content_type, meta.cache_control, meta.metadata["team"]) == ("application/pdf", "no-cache", "sre")
    listed = next(bare.list())
    assert source_sha256(bare, listed) == described_dst.stat("doc").sha256 and bare.stats == 2
    assert source_sha256(plain, next(plain.list())) == listed_sha256(plain) and plain.stats == 0
    reset(name)
