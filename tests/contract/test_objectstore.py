"""The ObjectStore contract: identical assertions for every registered backend."""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import google_crc32c
import pytest

from multicloud.clouds import open_store, registry
from multicloud.core.errors import AlreadyExists, InvalidInput, NotFound, PreconditionFailed
from multicloud.core.objects import SHA256_METADATA_KEY, ObjectStore
from multicloud.testing.fakes.faulty_proxy import FaultyProxy

MIB = 1 << 20


class ChunkStream:
    """A stream of `size` pseudo-random bytes made on the fly, never held whole in memory."""

    def __init__(self, size: int, seed: int = 7):
        self.remaining = size
        self.block = hashlib.sha256(str(seed).encode()).digest() * (MIB // 32)
        self.offset = 0

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        n = self.remaining if n is None or n < 0 else min(n, self.remaining)
        out = bytearray()
        while len(out) < n:
            take = min(n - len(out), len(self.block) - self.offset)
            out += self.block[self.offset : self.offset + take]
            self.offset = (self.offset + take) % len(self.block)
        self.remaining -= n
        return bytes(out)


def put(store: ObjectStore, key: str, data: bytes, **kw):
    return store.write(key, io.BytesIO(data), size=len(data), **kw)


def read_all(store: ObjectStore, key: str, **kw) -> bytes:
    with store.open(key, **kw) as f:
        return f.read()


def digests(data: bytes) -> dict[str, str]:
    """Every digest a backend may declare, computed here from the bytes."""
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(),
            "crc32c": f"{google_crc32c.value(data):08x}"}


def test_is_an_object_store(store, backend):
    assert isinstance(store, ObjectStore)
    assert store.capabilities == backend.capabilities  # one declaration, in the registry entry
    assert store.capabilities.hashes <= {"md5", "crc32c"}


# ---- listing -------------------------------------------------------------------------------

SEED_KEYS = sorted(
    {f"page/{i:05d}" for i in range(2600)}
    | {"a b/c d.txt", "plus+sign", "unicodé/ñ", "日本/語", "z/last", "page-dash", "page0", "pagé"}
)


@pytest.fixture(scope="module")
def seeded(new_store):
    """One store per backend holding SEED_KEYS, written once for the module."""
    stores = {}

    def get(backend):
        if backend.scheme not in stores:
            s = new_store(backend)
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda k: put(s, k, k.encode()), SEED_KEYS))
            stores[backend.scheme] = s
        return stores[backend.scheme]

    return get


def test_list_is_sorted_complete_and_paginated(seeded, backend):
    store = seeded(backend)
    keys = [m.key for m in store.list()]
    assert keys == SEED_KEYS  # > 2,500 keys: several pages on every cloud
    assert len(keys) > 2500


def test_list_prefix(seeded, backend):
    store = seeded(backend)
    assert [m.key for m in store.list("page/001")] == [f"page/{i:05d}" for i in range(100, 200)]
    assert [m.key for m in store.list("page")][:1] + [m.key for m in store.list("page")][-2:] == [
        "page-dash", "page/02599", "page0"]
    assert [m.key for m in store.list("pag")] == [k for k in SEED_KEYS if k.startswith("pag")]
    assert list(store.list("nothing-here/")) == []


def test_list_reports_sizes(seeded, backend):
    store = seeded(backend)
    sizes = {m.key: m.size for m in store.list("a")}
    assert sizes == {"a b/c d.txt": len("a b/c d.txt".encode())}


@pytest.fixture
def counted_profile(backend, contract_env):
    """The contract profile with the backend's connection sent through a proxy that records every
    request, and that proxy."""
    if backend.cloud is None:
        pytest.skip(f"{backend.scheme}:// lists in this process: no requests to count")
    conn = contract_env.profile().connection_for(backend.cloud)
    with FaultyProxy(urlsplit(conn.endpoint).port) as proxy:
        proxied = conn.model_copy(update={"name": f"{conn.name}-counted", "endpoint": proxy.endpoint(conn.endpoint)})
        yield contract_env.profile().model_copy(update={"connections": [proxied]}), proxy


def test_list_fetches_page_by_page(seeded, backend, counted_profile):
    """The listing requests a page only when the consumer reaches it (1,000 keys a page here)."""
    url = seeded(backend).url
    profile, proxy = counted_profile
    it = open_store(url, profile=profile).list()
    assert proxy.requests == []  # nothing is fetched before the first item is asked for
    first = [next(it) for _ in range(3)]
    assert len(proxy.requests) == 1
    first += [next(it) for _ in range(997)]  # the rest of the first page
    assert len(proxy.requests) == 1
    first.append(next(it))
    assert len(proxy.requests) == 2
    rest = list(it)
    assert len(proxy.requests) == 3  # 2,608 keys: three pages, no request beyond the last
    assert {method for method, _ in proxy.requests} == {"GET"}
    assert [m.key for m in first + rest] == SEED_KEYS


def test_store_rooted_at_prefix_sees_relative_keys(backend, new_store, open_url):
    outer = new_store(backend)
    put(outer, "root/x/1", b"1")
    put(outer, "root/y", b"2")
    put(outer, "rootless", b"3")
    inner = open_url(backend, outer.url.rstrip("/") + "/root")
    assert [m.key for m in inner.list()] == ["x/1", "y"]
    assert read_all(inner, "x/1") == b"1"


# ---- keys and bodies ----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["with space/and more", "plus+sign+", "unicodé/日本語/ß", "deep/a/b/c/d.bin", "tilde~&=$@!"])
def test_unusual_keys_round_trip(store, key):
    put(store, key, b"payload")
    assert store.stat(key).key == key
    assert read_all(store, key) == b"payload"
    assert [m.key for m in store.list()] == [key]


def test_zero_byte_object(store):
    meta = put(store, "empty", b"")
    assert meta.size == 0
    assert store.stat("empty").size == 0
    assert read_all(store, "empty") == b""
    assert store.stat("empty").sha256 == hashlib.sha256(b"").hexdigest()
    assert [(m.key, m.size) for m in store.list()] == [("empty", 0)]


def test_large_object_streamed_and_read_by_range(store):
    size = 64 * MIB
    expected = hashlib.sha256()
    src = ChunkStream(size)
    check = ChunkStream(size)
    while data := check.read(MIB):
        expected.update(data)
    meta = store.write("big.bin", src, size=None)  # unknown size: must stream
    assert meta.size == size
    assert store.stat("big.bin").size == size
    assert store.stat("big.bin").sha256 == expected.hexdigest()
    whole = hashlib.sha256()
    with store.open("big.bin") as f:
        while data := f.read(3 * MIB + 17):
            whole.update(data)
    assert whole.hexdigest() == expected.hexdigest()
    ref = ChunkStream(size)
    ref.read(40 * MIB + 5)
    want = ref.read(MIB + 11)
    assert read_all(store, "big.bin", start=40 * MIB + 5, end=41 * MIB + 16) == want
    assert read_all(store, "big.bin", start=size - 10) == ChunkStream(size).read(size)[-10:]
    store.delete(["big.bin"])


def test_range_reads_small(store):
    put(store, "r", b"0123456789")
    assert read_all(store, "r", start=2, end=5) == b"234"
    assert read_all(store, "r", start=7) == b"789"
    assert read_all(store, "r", end=3) == b"012"


def test_metadata_content_type_and_cache_control_round_trip(store):
    put(store, "doc.json", b"{}", content_type="application/json", metadata={"owner": "team_a", "tier": "gold"},
        cache_control="max-age=60")
    meta = store.stat("doc.json")
    assert meta.content_type == "application/json"
    assert meta.cache_control == "max-age=60"
    assert meta.metadata["owner"] == "team_a"
    assert meta.metadata["tier"] == "gold"


def test_sha256_recorded_and_correct(store):
    data = os.urandom(300_000)
    written = put(store, "h", data)
    digest = hashlib.sha256(data).hexdigest()
    assert written.sha256 == digest
    meta = store.stat("h")
    assert meta.sha256 == digest
    assert meta.metadata[SHA256_METADATA_KEY] == digest


@pytest.mark.parametrize("size", [300_000, 20 * MIB])  # one request, and parts on every cloud
def test_declared_capabilities_hold_in_listings_and_stat(store, size):
    """Every hash a backend declares is in the listing and the stat of objects it wrote or copied,
    and correct; a backend declaring list_returns_metadata lists the SHA-256, content type and metadata."""
    data = ChunkStream(size).read(size)
    put(store, "h", data, content_type="text/plain", metadata={"owner": "team_a"})
    store.copy("h", "h-copy")
    want = digests(data)
    listed = {m.key: m for m in store.list()}
    assert sorted(listed) == ["h", "h-copy"]
    for key, entry in listed.items():
        stat = store.stat(key)
        assert {algo: entry.hashes.get(algo) for algo in store.capabilities.hashes} == \
            {algo: want[algo] for algo in store.capabilities.hashes}
        assert {algo: stat.hashes.get(algo) for algo in store.capabilities.hashes | {"sha256"}} == \
            {algo: want[algo] for algo in store.capabilities.hashes | {"sha256"}}
        if store.capabilities.list_returns_metadata:
            assert entry.sha256 == want["sha256"]
            assert entry.content_type == "text/plain"
            assert entry.metadata == stat.metadata
            assert entry.metadata["owner"] == "team_a"


def test_conditional_create_refused_when_key_exists(store):
    put(store, "once", b"first", if_absent=True)
    with pytest.raises(AlreadyExists):
        put(store, "once", b"second", if_absent=True)
    assert read_all(store, "once") == b"first"
    put(store, "once", b"third")  # an unconditional write replaces it
    assert read_all(store, "once") == b"third"


def test_write_with_wrong_size_is_refused_and_writes_nothing(store):
    with pytest.raises(InvalidInput):
        store.write("short", io.BytesIO(b"abc"), size=10)
    with pytest.raises(NotFound):
        store.stat("short")


# ---- delete, copy, errors -----------------------------------------------------------------

def test_delete_batches_and_missing_keys(store):
    keys = [f"d/{i:04d}" for i in range(1100)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: put(store, k, b"x"), keys))
    put(store, "keep", b"k")
    assert store.delete(keys + ["never-existed"]) == len(keys) + 1
    assert [m.key for m in store.list()] == ["keep"]
    store.delete(["keep"])
    store.delete(["keep"])  # idempotent
    assert list(store.list()) == []


def test_not_found_on_missing_key(store):
    with pytest.raises(NotFound):
        store.stat("missing")
    with pytest.raises(NotFound):
        read_all(store, "missing")
    with pytest.raises(NotFound):
        store.copy("missing", "other")


def test_copy_within_store(store):
    put(store, "src", b"copied bytes", content_type="text/plain", metadata={"k": "v"})
    meta = store.copy("src", "dst/copy")
    assert meta.key == "dst/copy"
    got = store.stat("dst/copy")
    assert read_all(store, "dst/copy") == b"copied bytes"
    assert got.content_type == "text/plain"
    assert got.metadata["k"] == "v"
    assert got.sha256 == hashlib.sha256(b"copied bytes").hexdigest()


def test_missing_bucket_is_not_found(backend, contract_env, open_url):
    if backend.contract.missing is None:
        pytest.skip(f"a {backend.scheme}:// bucket exists as soon as it is named")
    url = backend.contract.missing(contract_env, backend)
    with pytest.raises(NotFound) as info:
        list(open_url(backend, url).list())
    assert url.split("://", 1)[1].strip("/") in str(info.value)


def test_bad_bucket_name_is_invalid_input(backend, open_url):
    name = backend.contract.refused_bucket_name
    if name is None:
        pytest.skip(f"{backend.scheme}:// has no bucket naming rules")
    with pytest.raises(InvalidInput) as info:
        list(open_url(backend, f"{backend.scheme}://{name}/x").list())
    assert name in str(info.value)


def test_empty_key_is_invalid_input(store):
    with pytest.raises(InvalidInput):
        put(store, "", b"x")


@pytest.mark.parametrize("size", [1000, 20 * MIB])
def test_expected_sha256_mismatch_writes_nothing_and_keeps_the_old_object(store, size):
    put(store, "guarded", b"old content")
    data = ChunkStream(size).read(size)
    with pytest.raises(PreconditionFailed):
        store.write("guarded", io.BytesIO(data), expected_sha256="0" * 64)
    assert read_all(store, "guarded") == b"old content"
    with pytest.raises(PreconditionFailed):
        store.write("fresh", io.BytesIO(data), size=size, expected_sha256="f" * 64)
    with pytest.raises(NotFound):
        store.stat("fresh")
    good = store.write("guarded", io.BytesIO(data), expected_sha256=hashlib.sha256(data).hexdigest())
    assert good.sha256 == hashlib.sha256(data).hexdigest()
    assert store.stat("guarded").size == size


# ---- copy between buckets -------------------------------------------------------------------

def test_copy_from_another_bucket(backend, new_store):
    first = new_store(backend)
    second = new_store(backend)
    data = b"bytes crossing buckets"
    put(first, "k", data, content_type="text/plain", cache_control="max-age=60", metadata={"owner": "team_a"})
    meta = second.copy_from(first, "k", "copied/k")
    if not second.capabilities.cross_bucket_copy:
        assert meta is None
        with pytest.raises(NotFound):
            second.stat("copied/k")
        assert list(second.list()) == []
        return
    assert meta is not None and meta.key == "copied/k"
    got = second.stat("copied/k")
    assert read_all(second, "copied/k") == data
    assert got.size == len(data)
    assert got.content_type == "text/plain"
    assert got.cache_control == "max-age=60"
    assert got.metadata == first.stat("k").metadata
    assert got.metadata["owner"] == "team_a"
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert read_all(first, "k") == data  # the source is left as it was
    assert [m.key for m in first.list()] == ["k"]


def test_copy_from_missing_source_object(backend, new_store):
    first = new_store(backend)
    second = new_store(backend)
    if not second.capabilities.cross_bucket_copy:
        assert second.copy_from(first, "missing", "dst") is None
        return
    with pytest.raises(NotFound):
        second.copy_from(first, "missing", "dst")
    with pytest.raises(NotFound):
        second.stat("dst")


def test_copy_from_another_backend_is_none(backend, new_store):
    other = new_store(next(b for b in registry.backends() if b.cloud is None and b.scheme != backend.scheme))
    put(other, "k", b"elsewhere")
    dest = new_store(backend)
    assert dest.copy_from(other, "k", "copied/k") is None
    with pytest.raises(NotFound):
        dest.stat("copied/k")


def test_report_files_open_in_a_browser_without_credentials(store):
    """A chart written through the report helper is served by its link alone: a signed URL where
    the backend signs (fetched over plain HTTP), else a data URI holding the same PNG."""
    import base64
    from datetime import datetime, timezone

    from multicloud.engine.report_files import publish_files
    from tests.support import PNG_SIGNATURE, http_get

    png = PNG_SIGNATURE + os.urandom(64)
    now = datetime.now(timezone.utc)
    (chart, table) = publish_files(store, "run 1", {"a chart.png": (png, "image/png"),
                                                    "rows.csv": (b"a,b\n1,2\n", "text/csv")}, now)
    with store.open("run 1/a chart.png") as f:
        assert f.read() == png
    if store.capabilities.signed_urls:
        assert http_get(chart.link) == (png, "image/png") and http_get(table.link)[0] == b"a,b\n1,2\n"
        assert chart.expires > now
    else:
        assert chart.link == "data:image/png;base64," + base64.b64encode(png).decode() and chart.expires is None
        assert not table.opens_in_browser
