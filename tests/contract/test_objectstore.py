"""The ObjectStore contract: identical assertions for every backend (mem, file, s3, az, gs)."""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from multicloud.clouds import open_store
from multicloud.core.errors import AlreadyExists, InvalidInput, NotFound, PreconditionFailed
from multicloud.core.objects import SHA256_METADATA_KEY, ObjectStore
from tests.contract.conftest import new_store

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


def test_is_an_object_store(store):
    assert isinstance(store, ObjectStore)
    assert store.capabilities.hashes <= {"md5", "crc32c"}


# ---- listing -------------------------------------------------------------------------------

SEED_KEYS = sorted(
    {f"page/{i:05d}" for i in range(2600)}
    | {"a b/c d.txt", "plus+sign", "unicodé/ñ", "日本/語", "z/last", "page-dash", "page0", "pagé"}
)


@pytest.fixture(scope="module")
def seeded(request, tmp_path_factory):
    """One store per backend holding SEED_KEYS, written once for the module."""
    stores = {}

    def get(backend):
        if backend not in stores:
            s = new_store(backend, request, tmp_path_factory)
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda k: put(s, k, k.encode()), SEED_KEYS))
            stores[backend] = s
        return stores[backend]

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


def test_list_is_lazy(seeded, backend):
    """The listing is an iterator: taking the first items does not fetch every page."""
    it = seeded(backend).list()
    first = [next(it) for _ in range(3)]
    assert [m.key for m in first] == SEED_KEYS[:3]


def test_store_rooted_at_prefix_sees_relative_keys(backend, request, tmp_path_factory):
    outer = new_store(backend, request, tmp_path_factory)
    put(outer, "root/x/1", b"1")
    put(outer, "root/y", b"2")
    put(outer, "rootless", b"3")
    inner_url = outer.url.rstrip("/") + "/root" if backend != "file" else outer.url + "/root"
    profile = request.getfixturevalue("local_profile") if backend in ("s3", "az", "gs") else None
    inner = open_store(inner_url, profile=profile)
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
    listed = next(iter(store.list()))
    if store.capabilities.list_returns_metadata:
        assert listed.sha256 == digest
    if "md5" in store.capabilities.hashes:  # single-request upload: the service's MD5 is known
        assert meta.hashes["md5"] == hashlib.md5(data).hexdigest()
    if "crc32c" in store.capabilities.hashes:
        assert len(meta.hashes["crc32c"]) == 8


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


def test_missing_bucket_is_not_found(backend, request):
    if backend == "file":
        url = "file:///nonexistent/multicloud-contract"
    elif backend == "mem":
        pytest.skip("a memory bucket exists as soon as it is named")
    else:
        url = f"{backend}://no-such-bucket-{os.getpid()}"
    profile = request.getfixturevalue("local_profile") if backend in ("s3", "az", "gs") else None
    store = open_store(url, profile=profile)
    with pytest.raises(NotFound) as info:
        list(store.list())
    assert "no-such-bucket" in str(info.value) or "nonexistent" in str(info.value)


def test_bad_bucket_name_is_invalid_input(backend, request):
    if backend in ("mem", "file"):
        pytest.skip("no naming rules for local names")
    profile = request.getfixturevalue("local_profile")
    with pytest.raises(InvalidInput) as info:
        list(open_store(f"{backend}://Bad_Bucket!/x", profile=profile).list())
    assert "Bad_Bucket!" in str(info.value)


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

def test_copy_from_another_bucket(backend, request, tmp_path_factory):
    first = new_store(backend, request, tmp_path_factory)
    second = new_store(backend, request, tmp_path_factory)
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


def test_copy_from_missing_source_object(backend, request, tmp_path_factory):
    first = new_store(backend, request, tmp_path_factory)
    second = new_store(backend, request, tmp_path_factory)
    if not second.capabilities.cross_bucket_copy:
        assert second.copy_from(first, "missing", "dst") is None
        return
    with pytest.raises(NotFound):
        second.copy_from(first, "missing", "dst")
    with pytest.raises(NotFound):
        second.stat("dst")


def test_copy_from_another_backend_is_none(backend, request, tmp_path_factory):
    other = new_store("file" if backend == "mem" else "mem", request, tmp_path_factory)
    put(other, "k", b"elsewhere")
    dest = new_store(backend, request, tmp_path_factory)
    assert dest.copy_from(other, "k", "copied/k") is None
    with pytest.raises(NotFound):
        dest.stat("copied/k")
