"""The manifest over in-process memory stores: a plan after a clean one reads the manifest and
lists nothing on the target yet decides the same; a corrupt, truncated, old-format or missing
manifest falls back to a full listing with its reason logged; deletions always come from a full
listing; staged manifests are committed or dropped; a verify rewrites what no run changed."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import zstandard

from multicloud.clouds.memory.storage import MemoryStore
from multicloud.core.objects import ObjectMeta, StoreUrl
from multicloud.core.replication import Decision, DeletePolicy, Shard, SyncOptions
from multicloud.core.replication_manifest import (
    STAGED_SUFFIX, ManifestHeader, ManifestSettings, manifest_key, scope_of,
)
from multicloud.engine.manifest import (
    ManifestPlanning, ManifestReader, ManifestWriter, ShardManifests, header_of, planned_shard, settle_staged,
)
from multicloud.engine.transfer import copy_batch, planned
from tests.support import unique_name

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
OPTIONS = SyncOptions(ignore_target_prefix=(".tombstones/", ".multicloud-state/"))
SETTINGS = ManifestSettings("r")


class CountingStore:
    """An ObjectStore that counts the listings made of it, delegating everything to `inner`."""

    def __init__(self, inner: MemoryStore):
        self._inner, self.lists = inner, 0
        self.url, self.capabilities = inner.url, inner.capabilities

    def list(self, prefix: str = ""):
        self.lists += 1
        return self._inner.list(prefix)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def put(s, key: str, data: bytes) -> None:
    s.write(key, io.BytesIO(data), size=len(data))


def stores(n: int = 50):
    src = MemoryStore(StoreUrl.parse(f"mem://{unique_name('src')}"))
    dst = CountingStore(MemoryStore(StoreUrl.parse(f"mem://{unique_name('dst')}")))
    for i in range(n):
        put(src, f"k/{i:03d}", f"object {i}".encode())
    return src, dst


def plan(src, dst, policy=DeletePolicy(), now=NOW, settings=SETTINGS, dry_run=False, prefix=""):
    return planned_shard(src, dst, OPTIONS, Shard(dst.url, prefix), ManifestPlanning(settings, policy, dry_run, now))


def run(src, dst, **kw):
    """Plan, copy every batch, and commit the staged manifest as a clean run does."""
    p = plan(src, dst, **kw)
    for batch in p.batches:
        assert copy_batch(src, dst, batch.decisions, 4).failed == 0
    settle_staged(dst, [p.manifest], True)
    return p


def test_a_clean_run_leaves_a_manifest_the_next_plan_reads_instead_of_listing():
    src, dst = stores()
    first = run(src, dst)
    assert (first.report.to_copy, first.manifest.step, dst.lists) == (50, "stage", 1)
    key = manifest_key("r", "")
    assert header_of(dst, key).generation == 1 and not dst._inner._bucket.objects.get(key + STAGED_SUFFIX)

    dst.lists = 0
    second = plan(src, dst, now=NOW + timedelta(minutes=15))
    assert dst.lists == 0  # the target's side came from its manifest
    assert second.manifest.from_manifest and second.manifest.step == "keep"
    assert (second.report.skipped, second.report.to_copy, second.report.from_manifest) == (50, 0, 1)


def test_a_change_at_the_source_is_copied_from_the_manifest_and_the_manifest_moves_on():
    src, dst = stores()
    run(src, dst)
    put(src, "k/007", b"changed")
    put(src, "k/new", b"new")
    dst.lists = 0
    second = run(src, dst, now=NOW + timedelta(minutes=15))
    assert dst.lists == 0
    assert second.report.reasons == {"same": 49, "changed: size": 1, "new": 1}
    header = header_of(dst, manifest_key("r", ""))
    assert header.generation == 2 and header.listed_at == NOW  # the full listing it descends from
    third = plan(src, dst, now=NOW + timedelta(minutes=30))
    assert (third.report.skipped, third.report.to_copy, dst.lists) == (51, 0, 0)


def test_a_manifest_older_than_the_max_age_means_a_full_listing():
    src, dst = stores()
    run(src, dst)
    dst.lists = 0
    late = plan(src, dst, now=NOW + timedelta(hours=25))
    assert dst.lists == 1 and not late.manifest.from_manifest
    assert "listed in full 25.0 h ago" in late.manifest.listing
    assert late.manifest.step == "write" and header_of(dst, manifest_key("r", "")).listed_at == NOW + timedelta(hours=25)


def _rewrite(dst, data: bytes) -> None:
    dst.write(manifest_key("r", ""), io.BytesIO(data), size=len(data))


def _manifest_bytes(dst) -> bytes:
    with dst.open(manifest_key("r", "")) as f:
        return f.read()


def _lines(dst) -> list:
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(_manifest_bytes(dst))
    return [orjson.loads(line) for line in raw.splitlines()]


def _compressed(lines: list) -> bytes:
    return zstandard.ZstdCompressor().compress(b"".join(orjson.dumps(v) + b"\n" for v in lines))


@pytest.mark.parametrize("damage,reason", [
    (lambda dst: b"not zstd at all", "corrupt"),
    (lambda dst: _manifest_bytes(dst)[:-7], "truncated"),
    (lambda dst: _compressed(_lines(dst)[:-1]), "truncated"),
    (lambda dst: _compressed(_lines(dst)[:10] + [_lines(dst)[-1]]), "trailer counts"),
    (lambda dst: _compressed(_lines(dst)[:1] + _lines(dst)[1:-1][::-1] + _lines(dst)[-1:]), "out of order"),
    (lambda dst: _compressed([{**_lines(dst)[0], "version": 0}] + _lines(dst)[1:]), "format version 0"),
    (lambda dst: b"", "empty or truncated"),
])
def test_a_damaged_manifest_falls_back_to_a_full_listing_with_its_reason_logged(damage, reason, caplog):
    src, dst = stores()
    run(src, dst)
    _rewrite(dst, damage(dst))
    dst.lists = 0
    with caplog.at_level(logging.INFO, logger="multicloud.engine.manifest"):
        again = plan(src, dst, now=NOW + timedelta(minutes=15))
    assert dst.lists == 1 and not again.manifest.from_manifest
    assert reason in again.manifest.listing and reason in caplog.text
    assert (again.report.skipped, again.report.to_copy) == (50, 0)  # the same plan a listing makes
    assert again.manifest.step == "write"
    assert plan(src, dst, now=NOW + timedelta(minutes=30)).manifest.from_manifest  # repaired


def test_deletions_are_planned_from_a_full_listing_even_with_a_manifest():
    src, dst = stores()
    run(src, dst)
    src.delete(["k/003"])
    dst.lists = 0
    # delete: never keeps the target-only object in the manifest, and needs no listing
    never = plan(src, dst, now=NOW + timedelta(minutes=15))
    assert (dst.lists, never.report.delete_candidates, never.manifest.step) == (0, 1, "keep")
    mirror = plan(src, dst, policy=DeletePolicy("mirror"), now=NOW + timedelta(minutes=15))
    assert dst.lists == 1 and not mirror.manifest.from_manifest
    assert "only from a full listing" in mirror.manifest.listing
    assert [d.target_key for d in mirror.candidates] == ["k/003"]
    assert mirror.manifest.step == "stage"


def test_a_failed_run_leaves_no_manifest():
    src, dst = stores()
    p = plan(src, dst)
    settle_staged(dst, [p.manifest], False)
    assert header_of(dst, manifest_key("r", "")) is None
    keys = [m.key for m in dst._inner.list(".multicloud-state/")]
    assert keys == []
    assert not plan(src, dst).manifest.from_manifest


def test_a_staged_plan_removes_the_manifest_it_read_until_committed():
    src, dst = stores()
    run(src, dst)
    put(src, "k/new", b"new")
    staged = plan(src, dst, now=NOW + timedelta(minutes=15))
    assert staged.manifest.step == "stage"
    assert header_of(dst, manifest_key("r", "")) is None  # a run that stops here leaves none


def test_manifest_off_lists_every_time_and_removes_a_stale_manifest():
    src, dst = stores()
    run(src, dst)
    put(src, "k/new", b"new")
    dst.lists = 0
    off = plan(src, dst, settings=ManifestSettings("r", enabled=False), now=NOW + timedelta(minutes=15))
    assert dst.lists == 1 and "manifest off" in off.manifest.listing and off.manifest.step == "remove"
    assert header_of(dst, manifest_key("r", "")) is None


def test_a_dry_run_reads_the_manifest_and_writes_nothing():
    src, dst = stores()
    run(src, dst)
    put(src, "k/new", b"new")
    dry = plan(src, dst, dry_run=True, now=NOW + timedelta(minutes=15))
    assert dry.manifest.from_manifest and dry.manifest.step == "none" and dry.report.to_copy == 1
    assert header_of(dst, manifest_key("r", "")).generation == 1


def test_encoded_target_keys_are_merged_into_key_order():
    dst = MemoryStore(StoreUrl.parse(f"mem://{unique_name('m')}"))
    header = ManifestHeader(scope_of("r", dst.url, "", OPTIONS), 1, NOW, NOW)
    writer = ManifestWriter(header)
    metas = {k: ObjectMeta(k, 1) for k in ("a", "b％2E", "c", "z")}
    decisions = [Decision("a", "a", "skip", "same", metas["a"], metas["a"]),
                 Decision("c", "c", "skip", "same", metas["c"], metas["c"]),
                 Decision("z", "z", "delete", "target-only", None, metas["z"]),
                 Decision("b.", "b％2E", "skip", "same", ObjectMeta("b.", 1), metas["b％2E"])]
    assert list(writer.record(decisions)) == decisions
    body, size = writer.finish()
    dst.write("m", body, size=size)
    reader = ManifestReader(dst, "m")
    assert reader.header == header
    assert [m.key for m in reader.entries()] == ["a", "b％2E", "c", "z"]


def test_a_verify_rewrites_manifests_no_run_changed_meanwhile():
    src, dst = stores(20)
    for shard in ("k/00", "k/01"):
        run(src, dst, prefix=shard)
    dst._inner.delete(["k/005", "k/015"])  # outside the tool: the manifests do not know
    manifests = ShardManifests(dst, SETTINGS, dst.url, ["k/00", "k/01"], OPTIONS, NOW + timedelta(hours=3))
    # a run commits shard k/01 while the verify lists: its manifest is left to the run
    put(src, "k/01x", b"x")
    run(src, dst, prefix="k/01", now=NOW + timedelta(hours=3))
    list(manifests.record(planned(src, dst, OPTIONS)))
    assert manifests.commit() == 1
    assert header_of(dst, manifest_key("r", "k/00")).listed_at == NOW + timedelta(hours=3)
    fresh = plan(src, dst, prefix="k/00", now=NOW + timedelta(hours=4))
    assert fresh.manifest.from_manifest and fresh.report.reasons == {"same": 9, "new": 1}  # k/005 comes back


def test_listings_are_handed_over_in_chunks_in_order_and_an_error_after_the_items_before_it():
    from multicloud.core.errors import Transient
    from multicloud.engine.transfer import prefetch

    assert list(prefetch(range(1234), depth=2, chunk=100)) == list(range(1234))

    def failing():
        yield from range(150)
        raise Transient("page 2 failed")

    got = []
    with pytest.raises(Transient, match="page 2"):
        for item in prefetch(failing(), chunk=100):
            got.append(item)
    assert got == list(range(150))
