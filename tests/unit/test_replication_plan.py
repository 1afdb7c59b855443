"""The replication planner against a naive set-based oracle, plus the hash choice, batching,
lag, sampling, tombstones and key/metadata encoding."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multicloud.core.keys import decode_key, encode_key, encode_metadata, decode_metadata
from multicloud.core.objects import ObjectMeta
from multicloud.core.replication import (
    KeyFilter, UnsortedListing, batches, comparable_hashes, compare, lag_seconds, plan, sampled, tombstone_expired,
    tombstone_key,
)

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
keys = st.text(alphabet=st.sampled_from("ab/é.+ \\\uff05"), min_size=1, max_size=6)
objects = st.dictionaries(keys, st.tuples(st.integers(0, 3), st.sampled_from(["h1", "h2", None])), max_size=30)


def metas(d: dict, scheme: str | None = None) -> list[ObjectMeta]:
    """A sorted listing; with `scheme`, keys as that target stores them."""
    out = [ObjectMeta(key=encode_key(k, scheme) if scheme else k, size=s, hashes={"sha256": h} if h else {}, last_modified=T0)
           for k, (s, h) in d.items()]
    return sorted(out, key=lambda m: m.key)


def oracle(src: dict, dst: dict, keep) -> dict:
    out = {}
    for k in set(src) | set(dst):
        if not keep(k):
            continue
        if k not in dst:
            out[k] = ("copy", "new")
        elif k not in src:
            out[k] = ("delete", "target-only")
        elif src[k][0] != dst[k][0]:
            out[k] = ("copy", "changed: size")
        elif src[k][1] and dst[k][1]:
            out[k] = ("skip", "same") if src[k][1] == dst[k][1] else ("copy", "changed: hash")
        else:
            out[k] = ("skip", "same")
    return out


@settings(max_examples=300, deadline=None)
@given(objects, objects, st.sampled_from(["mem", "az", "file", "gs"]))
def test_plan_matches_set_oracle(src, dst, scheme):
    decisions = list(plan(metas(src), metas(dst, scheme), target_scheme=scheme))
    got = {d.key: (d.action, d.reason) for d in decisions}
    assert len(got) == len(decisions)  # one decision per key
    assert got == oracle(src, dst, lambda k: True)
    for d in decisions:
        assert d.target_key == encode_key(d.key, scheme)


@settings(max_examples=200, deadline=None)
@given(objects, objects)
def test_plan_with_filters_matches_oracle(src, dst):
    f = KeyFilter(include=["a*", "**/b"], exclude=["*é*"])
    got = {d.key: (d.action, d.reason) for d in plan(metas(src), metas(dst), key_filter=f)}
    assert got == oracle(src, dst, f)


@settings(max_examples=200, deadline=None)
@given(st.lists(keys, min_size=2, max_size=20, unique=True), st.randoms())
def test_unsorted_input_is_detected(ks, rnd):
    listing = [ObjectMeta(key=k, size=1) for k in ks]
    rnd.shuffle(listing)
    is_sorted = [m.key for m in listing] == sorted(ks)
    for side in ("source", "target"):
        args = (listing, []) if side == "source" else ([], listing)
        if is_sorted:
            list(plan(*args))
        else:
            with pytest.raises(UnsortedListing, match=side):
                list(plan(*args))


def test_plan_streams_without_reading_ahead():
    consumed = []

    def source():
        for i in range(10**9):
            consumed.append(i)
            yield ObjectMeta(key=f"{i:012d}", size=1)

    it = plan(source(), iter([]))
    for _ in range(5):
        next(it)
    assert len(consumed) <= 6


def test_compare_chain():
    base = dict(key="k", size=3, last_modified=T0)
    assert compare(ObjectMeta(**base, hashes={"sha256": "a"}), ObjectMeta(**base, hashes={"sha256": "b"})) == "changed: hash"
    assert compare(ObjectMeta(**base, hashes={"md5": "a"}), ObjectMeta(**base, hashes={"md5": "A", "sha256": "x"})) == "same"
    older = ObjectMeta(key="k", size=3, last_modified=T0 - timedelta(seconds=1))
    assert compare(ObjectMeta(**base), older) == "changed: mtime"
    assert compare(ObjectMeta(**base), older, "size") == "same"
    # A target written in the second its source was, listed by a store of whole seconds (S3).
    source = ObjectMeta(key="k", size=3, last_modified=T0 + timedelta(milliseconds=370))
    assert compare(source, ObjectMeta(**base)) == "same"
    assert compare(source, older) == "changed: mtime"
    assert compare(ObjectMeta(key="k", size=4), older, "size") == "changed: size"


def test_ignored_tombstone_prefix_is_never_planned():
    src = [ObjectMeta(key="a", size=1)]
    dst = [ObjectMeta(key=".tombstones/20260101T000000Z/x", size=1), ObjectMeta(key="a", size=1)]
    assert [(d.key, d.reason) for d in plan(src, dst, ignore_target_prefix=".tombstones/")] == [("a", "same")]


@pytest.mark.parametrize("source,target,expected", [
    ({"md5"}, {"md5"}, ("sha256", "md5")),                      # S3 and Azure
    ({"md5", "crc32c"}, {"md5", "crc32c"}, ("sha256", "md5", "crc32c")),  # GCS and GCS
    ({"md5", "crc32c"}, {"md5"}, ("sha256", "md5")),             # GCS and S3
    (set(), {"md5", "crc32c"}, ("sha256",)),                     # a local folder keeps no provider hash
    ({"crc32c"}, {"md5"}, ("sha256",)),
])
def test_comparable_hashes_are_sha256_plus_what_both_backends_keep(source, target, expected):
    assert comparable_hashes(frozenset(source), frozenset(target)) == expected


def test_compare_uses_only_the_hashes_it_is_given():
    base = dict(key="k", size=3, last_modified=T0)
    a = ObjectMeta(**base, hashes={"crc32c": "aaaa", "md5": "1"})
    b = ObjectMeta(**base, hashes={"crc32c": "bbbb", "md5": "1"})
    assert compare(a, b, "hash", ("sha256", "crc32c")) == "changed: hash"
    assert compare(a, b, "hash", ("sha256", "md5")) == "same"
    # crc32c not shared by the two backends: it is not trusted, the modification times decide.
    older = ObjectMeta(key="k", size=3, last_modified=T0 - timedelta(seconds=1), hashes={"crc32c": "aaaa"})
    assert compare(older, b, "hash", ("sha256",)) == "same"
    assert compare(b, older, "hash", ("sha256",)) == "changed: mtime"
    src = [ObjectMeta(**base, hashes={"crc32c": "aaaa"})]
    dst = [ObjectMeta(**base, hashes={"crc32c": "bbbb"})]
    assert [d.reason for d in plan(src, dst, hashes=("sha256", "crc32c"))] == ["changed: hash"]
    assert [d.reason for d in plan(src, dst, hashes=("sha256",))] == ["same"]


def test_batches_by_count_and_bytes():
    from multicloud.core.replication import Decision

    ds = [Decision(str(i), str(i), "copy", "new", ObjectMeta(key=str(i), size=s)) for i, s in enumerate([5, 5, 5, 20, 1, 1, 1])]
    assert [[d.key for d in b] for b in batches(ds, max_objects=2, max_bytes=12)] == [["0", "1"], ["2"], ["3"], ["4", "5"], ["6"]]


def test_lag_and_sampling_and_tombstones():
    assert lag_seconds(None, T0) == 0
    assert lag_seconds(T0 - timedelta(minutes=5), T0) == 300
    picked = [k for k in (f"k{i}" for i in range(10000)) if sampled(k, 0.1)]
    assert 800 < len(picked) < 1200
    assert picked == [k for k in (f"k{i}" for i in range(10000)) if sampled(k, 0.1)]
    t = tombstone_key(".tombstones/", "a/b", T0)
    assert t == ".tombstones/20261101T000000Z/a/b"
    assert not tombstone_expired(t, ".tombstones/", T0 + timedelta(days=29), 30)
    assert tombstone_expired(t, ".tombstones/", T0 + timedelta(days=31), 30)
    assert not tombstone_expired(".tombstones/garbage/x", ".tombstones/", T0 + timedelta(days=999), 30)


@given(st.text(min_size=1, max_size=20), st.sampled_from(["s3", "az", "gs", "file", "mem"]))
def test_key_encoding_round_trips(key, scheme):
    assert decode_key(encode_key(key, scheme), scheme) == key


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=5), max_size=5),
       st.sampled_from(["s3", "az", "gs"]))
def test_metadata_encoding_round_trips(md, scheme):
    encoded, n = encode_metadata(md, scheme)
    assert decode_metadata(encoded, scheme) == (md, n)
    assert n <= len(md)


def test_the_tombstone_area_is_never_planned_on_either_side():
    """A failback from a site that a tombstoning rule replicates to: its `.tombstones/` are not data."""
    source = [ObjectMeta(".tombstones/20260101T000000Z/a", 1), ObjectMeta("b", 1)]
    target = [ObjectMeta(".tombstones/20251201T000000Z/x", 1)]
    decisions = list(plan(source, target, ignore_target_prefix=".tombstones/"))
    assert [(d.key, d.action) for d in decisions] == [("b", "copy")]
