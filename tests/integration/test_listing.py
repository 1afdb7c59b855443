"""The raw listings of S3, Azure Blob and GCS against the emulators: every field the SDK's own
listing gives (awkward keys, entities, empty metadata values), errors mapped to the taxonomy, and
no retry of their own: a refused page is tried exactly as often as the project's policy says
(requests counted at a proxy answering in the service's own error format)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.clouds.common import DEFAULT_RETRY
from multicloud.core.errors import NotFound, PermissionDenied, Throttled, Transient
from multicloud.core.objects import ObjectMeta
from multicloud.testing.fakes.faulty_proxy import FaultyProxy
from tests.support import unique_name

CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}
KEYS = ["a b/c d.txt", "plus+sign", "pct%41", "amp&<>\"'", "unicodé/ñ", "日本/語", "q?x#y", "tab\tin", "z/last"]

# How each service refuses a listing page: (is this a listing request?, throttled answer, denied answer)
XML = {"Content-Type": "application/xml"}
REFUSALS = {
    "s3": (lambda p: "list-type=2" in p,
           (503, XML, b"<Error><Code>SlowDown</Code><Message>slow down</Message></Error>"),
           (403, XML, b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>")),
    "az": (lambda p: "comp=list" in p,
           (503, {**XML, "x-ms-error-code": "ServerBusy"}, b"<Error><Code>ServerBusy</Code></Error>"),
           (403, {**XML, "x-ms-error-code": "AuthorizationFailure"}, b"<Error><Code>AuthorizationFailure</Code>"
                                                                       b"</Error>")),
    "gs": (lambda p: "/o?" in p and "/upload/" not in p,
           (503, {"Content-Type": "application/json"}, b'{"error": {"code": 503, "message": "backend error"}}'),
           (403, {"Content-Type": "application/json"}, b'{"error": {"code": 403, "message": "forbidden"}}')),
}


def sdk_listing(store, scheme: str) -> list[ObjectMeta]:
    """The same objects described through the SDK's own listing call and each store's own mapping
    of it, the way every store listed before its raw pages."""
    cut = len(store._root)
    if scheme == "s3":
        from multicloud.clouds.aws.listing import md5_of

        out = []
        for page in store._s3.get_paginator("list_objects_v2").paginate(Bucket=store._bucket, Prefix=store._root):
            for item in page.get("Contents", ()):
                etag = item["ETag"].strip('"')
                out.append(ObjectMeta(key=item["Key"][cut:], size=item["Size"], last_modified=item["LastModified"],
                                      etag=etag, hashes=md5_of(etag)))
        return out
    if scheme == "az":
        from multicloud.clouds.azure.storage import _meta

        return [_meta(p, p.name[cut:]) for p in store._container.list_blobs(name_starts_with=store._root,
                                                                            include=["metadata"])]
    from multicloud.clouds.gcp.storage import _meta

    return [_meta(b, b.name[cut:]) for b in store._api.client.list_blobs(store._bucket, prefix=store._root)]


@pytest.fixture(scope="module")
def seeded(local_profile):
    stores = {}

    def get(scheme: str):
        if scheme not in stores:
            name = unique_name("ls")
            create_bucket(local_profile.connection_for(CLOUD[scheme]), name)
            store = open_store(f"{scheme}://{name}/root/", local_profile)

            def put(i_key):
                i, key = i_key
                data = key.encode()
                store.write(key, io.BytesIO(data), size=len(data), content_type="text/x; a=b" if i % 2 else None,
                            cache_control="max-age=3" if i % 3 == 0 else None,
                            metadata={"owner": "a&b<c>", "note": f"n{i}"})

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(put, enumerate(KEYS)))
            stores[scheme] = store
        return stores[scheme]

    return get


@pytest.mark.parametrize("scheme", ["s3", "az", "gs"])
def test_raw_pages_describe_objects_as_the_sdk_does(seeded, scheme):
    store = seeded(scheme)
    ours = list(store.list())
    assert [m.key for m in ours] == sorted(KEYS)
    assert ours == sdk_listing(store, scheme)
    if scheme != "s3":  # S3 listings carry no user metadata; the others carry ours, the SHA-256 included
        first = ours[0]
        assert first.metadata["owner"] == "a&b<c>" and first.sha256 == first.metadata["multicloud_sha256"]
        assert {m.content_type for m in ours} == {"text/x; a=b", "application/octet-stream"}
        assert {m.cache_control for m in ours} == {"max-age=3", None}
    assert all(m.hashes.get("md5") and m.last_modified and m.etag for m in ours)


@pytest.mark.parametrize("scheme", ["s3", "az", "gs"])
def test_prefix_listing_and_a_page_size_of_one(seeded, local_profile, scheme):
    store = seeded(scheme)
    conn = local_profile.connection_for(CLOUD[scheme]).model_copy(update={"list_page_size": 1, "name": "one"})
    one = open_store(store.url, local_profile.model_copy(update={"connections": [conn]}))
    assert [m.key for m in one.list("p")] == ["pct%41", "plus+sign"]  # the marker holds a '+'
    for prefix in ("plus+", "a b/", "amp&", "pct%", "q?x#", "日本/"):
        assert [m.key for m in one.list(prefix)] == [k for k in KEYS if k.startswith(prefix)]
    assert list(one.list()) == list(store.list())


@pytest.mark.parametrize("scheme", ["s3", "az", "gs"])
def test_a_missing_bucket_is_not_found(local_profile, scheme):
    with pytest.raises(NotFound):
        next(open_store(f"{scheme}://{unique_name('nobucket')}/", local_profile).list())


@pytest.fixture
def refusing(local_profile, seeded):
    """(store, proxy) with the store's connection through a proxy that answers listing pages with
    `proxy.reply` while it is set."""
    opened = []

    def make(scheme: str):
        conn = local_profile.connection_for(CLOUD[scheme])
        is_list = REFUSALS[scheme][0]
        proxy = FaultyProxy(urlsplit(conn.endpoint).port,
                            answer=lambda method, path: proxy.reply if method == "GET" and is_list(path) else None)
        proxy.reply = None
        proxy.start()
        opened.append(proxy)
        proxied = conn.model_copy(update={"name": f"{conn.name}-refusing", "endpoint": proxy.endpoint(conn.endpoint)})
        return open_store(seeded(scheme).url, local_profile.model_copy(update={"connections": [proxied]})), proxy

    yield make
    for proxy in opened:
        proxy.stop()


def listing_requests(proxy, scheme: str) -> int:
    return sum(1 for method, path in proxy.requests if method == "GET" and REFUSALS[scheme][0](path))


@pytest.mark.parametrize("scheme,error", [("s3", Throttled), ("az", Throttled), ("gs", Transient)])
def test_a_busy_service_is_retried_by_the_projects_policy_alone(refusing, scheme, error):
    store, proxy = refusing(scheme)
    proxy.reply = REFUSALS[scheme][1]
    with pytest.raises(error):
        next(store.list())
    assert listing_requests(proxy, scheme) == DEFAULT_RETRY.attempts  # no SDK retry multiplies them
    proxy.reply = None
    assert [m.key for m in store.list()] == sorted(KEYS)


@pytest.mark.parametrize("scheme", ["s3", "az", "gs"])
def test_a_refusal_is_permission_denied_and_not_retried(refusing, scheme):
    store, proxy = refusing(scheme)
    proxy.reply = REFUSALS[scheme][2]
    with pytest.raises(PermissionDenied):
        next(store.list())
    assert listing_requests(proxy, scheme) == 1
