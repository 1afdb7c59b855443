"""Pure logic: URLs, scheme rules, keys, retry policy, part splitting, profiles, inventory decisions."""

from __future__ import annotations

import io
import random
import threading
import time

import pytest

from multicloud.clouds.common import BoundedReader, iter_parts, retried
from multicloud.config import Profile, load_profile, read_profile
from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied, Throttled, Transient
from multicloud.core.inventory import (
    BucketSummary, choose_connections, count_objects, human_bytes, summary_markdown, unread_buckets_problem,
    unreadable_bucket,
)
from multicloud.core.keys import decode_key, encode_key, encode_metadata
from multicloud.core.objects import Capabilities, HashingReader, ObjectMeta, StoreUrl, check_key
from multicloud.core.schemes import KeyRules, MetadataRules, SchemeRules, register_scheme, unregister_scheme
from multicloud.core.retry import RetryPolicy, call_with_retry


@pytest.mark.parametrize("url,expected", [
    ("s3://bucket", ("s3", "bucket", "")),
    ("s3://bucket/", ("s3", "bucket", "")),
    ("az://container/a/b", ("az", "container", "a/b/")),
    ("gs://b/with%20space/", ("gs", "b", "with space/")),
    ("mem://name/p", ("mem", "name", "p/")),
    ("file:///tmp/x/", ("file", "/tmp/x", "")),
])
def test_store_url_parse(url, expected):
    u = StoreUrl.parse(url)
    assert (u.scheme, u.bucket, u.prefix) == expected


@pytest.mark.parametrize("url,shown", [("bucket/key", "bucket/key"), ("ftp://x/y", "ftp://x/y"),
                                       ("s3:///nobucket", "s3:///nobucket"), ("file://host/x", "file://host/x"),
                                       ("s3://b/k?x=1", "s3://b/k?<redacted>"), (3, "3")])
def test_bad_store_urls_name_the_input(url, shown):
    with pytest.raises(InvalidInput) as info:
        StoreUrl.parse(url)
    assert shown in str(info.value)


def test_unknown_scheme_names_the_url_and_the_registered_schemes():
    with pytest.raises(InvalidInput) as info:
        StoreUrl.parse("ftp://x/y")
    assert "ftp://x/y" in str(info.value)
    assert "s3" in str(info.value) and "file" in str(info.value)


def test_a_registered_scheme_brings_its_url_form_and_rules():
    register_scheme(SchemeRules("tmpx", url_form="path", keys=KeyRules(trailing_dot=True),
                                metadata=MetadataRules(name_pattern="[a-z]+")))
    try:
        assert StoreUrl.parse("tmpx:///var/data/") == StoreUrl("tmpx", "/var/data", "")
        assert str(StoreUrl.parse("tmpx:///var/data")) == "tmpx:///var/data"
        assert encode_key("a.", "tmpx") == "a\uff052E"
        assert encode_metadata({"ok": "1", "Not-OK": "2"}, "tmpx") == (
            {"ok": "1", "mcenc_" + "Not-OK".encode().hex(): "2"}, 1)
    finally:
        unregister_scheme("tmpx")
    with pytest.raises(InvalidInput, match="tmpx"):
        encode_key("a.", "tmpx")


@pytest.mark.parametrize("rules,key,stored", [
    (KeyRules(), "a/./b\\c/", "a/./b\\c/"),  # no rules: every key as it is, escapes included
    (KeyRules(), "a\uff052E", "a\uff052E"),
    (KeyRules(trailing_dot=True), "a\uff052E", "a\uff05EF\uff05BC\uff05852E"),  # would read back as "a."
    (KeyRules(backslash=True), "a\\b", "a\uff055Cb"),
    (KeyRules(control_chars=True), "a\tb", "a\uff0509b"),
    (KeyRules(dot_segments=True), "a/../b", "a/\uff052E\uff052E/b"),
    (KeyRules(dot_keys=True), "a/../b", "a/../b"),
    (KeyRules(dot_keys=True), "..", "\uff052E\uff052E"),
    (KeyRules(trailing_slash=True), "dir/", "dir\uff052F"),
    (KeyRules(empty_segments=True), "/a//b", "\uff052Fa/\uff052Fb"),
])
def test_key_rules_are_values(rules, key, stored):
    assert encode_key(key, rules) == stored
    assert decode_key(stored, rules) == key


@pytest.mark.parametrize("key", ["", "a\x00b", "x" * 1025])
def test_bad_keys(key):
    with pytest.raises(InvalidInput):
        check_key(key, "mem://t/")


def test_retry_retries_only_retryable_errors_and_gives_up():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise Throttled("slow down")
        return "ok"

    assert call_with_retry(flaky, RetryPolicy(attempts=5), sleeps.append, random.Random(1)) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2

    def denied():
        calls.append(1)
        raise PermissionDenied("no")

    calls.clear()
    with pytest.raises(PermissionDenied):
        call_with_retry(denied, RetryPolicy(attempts=5), sleeps.append)
    assert len(calls) == 1

    calls.clear()
    with pytest.raises(Transient):
        call_with_retry(lambda: calls.append(1) or (_ for _ in ()).throw(Transient("x")), RetryPolicy(attempts=4),
                        lambda s: None)
    assert len(calls) == 4


def test_backoff_is_bounded_jittered_and_growing():
    policy = RetryPolicy(attempts=8, base_seconds=0.5, cap_seconds=4)
    delays = list(policy.delays(random.Random(3)))
    assert len(delays) == 7
    assert all(0 <= d <= min(4, 0.5 * 2**i) for i, d in enumerate(delays))
    assert len(set(delays)) == 7  # jittered, not a fixed ladder


def test_retried_maps_and_chains_the_original():
    original = KeyError("sdk says missing")
    with pytest.raises(NotFound) as info:
        retried(lambda: (_ for _ in ()).throw(original), lambda e: NotFound("gone", target="k"))
    assert info.value.__cause__ is original


@pytest.mark.parametrize("size,part,expected", [(0, 4, [0]), (3, 4, [3]), (4, 4, [4]), (9, 4, [4, 4, 1])])
def test_iter_parts(size, part, expected):
    reader = HashingReader(io.BytesIO(b"x" * size))
    assert [len(p) for p in iter_parts(reader, part)] == expected
    assert reader.bytes_read == size


def test_bounded_reader_reads_across_chunks():
    r = BoundedReader(iter([b"abc", b"", b"defg", b"h"]))
    assert r.read(2) == b"ab"
    assert r.read(4) == b"cdef"
    assert r.read() == b"gh"
    assert r.read(3) == b""


def test_profile_validation_names_file_and_field(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("connections:\n  - {name: a, cloud: oracle}\n")
    with pytest.raises(InvalidInput) as info:
        read_profile(bad)
    assert str(bad) in str(info.value) and "connections.0.cloud" in str(info.value)
    dup = tmp_path / "d.yaml"
    dup.write_text("connections:\n  - {name: a, cloud: aws}\n  - {name: a, cloud: gcp}\n")
    with pytest.raises(InvalidInput, match="repeated: a"):
        read_profile(dup)
    with pytest.raises(InvalidInput, match="not found"):
        load_profile(str(tmp_path / "missing.yaml"))


def test_connection_choice():
    p = Profile.model_validate({"name": "x", "connections": [
        {"name": "a1", "cloud": "aws"}, {"name": "a2", "cloud": "aws"}, {"name": "g", "cloud": "gcp"}]})
    assert p.connection_for("aws").name == "a1"
    assert p.connection_for("aws", "a2").name == "a2"
    with pytest.raises(InvalidInput, match="not aws"):
        p.connection_for("aws", "g")
    with pytest.raises(InvalidInput, match="no a azure connection"):
        p.connection_for("azure")


def test_connection_choice_for_the_inventory():
    p = Profile.model_validate({"name": "x", "connections": [
        {"name": "a1", "cloud": "aws"}, {"name": "a2", "cloud": "aws"}, {"name": "g", "cloud": "gcp"}]})
    assert [c.name for c in choose_connections(p.connections, None)] == ["a1", "a2", "g"]
    assert [c.name for c in choose_connections(p.connections, [])] == ["a1", "a2", "g"]
    assert [c.name for c in choose_connections(p.connections, ["g", "a1"])] == ["a1", "g"]  # profile order
    with pytest.raises(InvalidInput) as info:
        choose_connections(p.connections, ["g", "nope", "gone"])
    assert info.value.target == "connections"
    assert "['nope', 'gone']" in str(info.value) and "['a1', 'a2', 'g']" in str(info.value)


def test_unreadable_bucket_decision():
    assert unreadable_bucket("a", "aws", "b", Transient("reset")) is None  # retried, not reported
    assert unreadable_bucket("a", "aws", "b", Throttled("slow")) is None
    row = unreadable_bucket("a", "aws", "b", PermissionDenied("no", target="s3://b/"))
    assert row == BucketSummary("a", "aws", "b", 0, 0, "PermissionDenied: no [s3://b/]")
    ok = BucketSummary("a", "aws", "ok", 3, 30)
    assert unread_buckets_problem([ok]) is None
    assert unread_buckets_problem([ok, row, BucketSummary("g", "gcp", "c", error="NotFound: x")]) == \
        "2 bucket(s) could not be read: a/b, g/c"


def test_inventory_counts_and_summary():
    metas = (ObjectMeta(key=str(i), size=i) for i in range(5))
    assert count_objects(metas) == (5, 10)
    rows = [BucketSummary("a", "aws", "b1", 3, 2048), BucketSummary("g", "gcp", "b2", error="PermissionDenied: no")]
    md = summary_markdown(rows)
    assert "| aws | 1 | 3 | 2.0 KiB |" in md
    assert "1 bucket(s) could not be read" in md and "`b2`" in md
    assert human_bytes(5 * 1024**3) == "5.0 GiB"


def test_redact_url_hides_userinfo_query_and_fragment_and_keeps_the_rest():
    from multicloud.core.redact import redact_url

    assert redact_url("https://ops:s3cret@admin.example.com:8443/admin/mode?token=abc#frag") == \
        "https://<redacted>@admin.example.com:8443/admin/mode?<redacted>#<redacted>"
    assert redact_url("http://app.example.internal:8080/health") == "http://app.example.internal:8080/health"
    assert redact_url("http://[::1]:80/x?k=v") == "http://[::1]:80/x?<redacted>"
    assert "s3cret" not in redact_url("not a url user:s3cret@host?x")


@pytest.mark.parametrize("url", ["az://container/p?sv=2026&sig=S3CRET", "s3://AKIA:S3CRET@bucket/p"])
def test_store_url_errors_never_repeat_a_credential(url):
    with pytest.raises(InvalidInput) as info:
        StoreUrl.parse(url)
    assert "S3CRET" not in str(info.value) and "<redacted>" in str(info.value)
