"""Azure batch deletes against Azurite behind a proxy that answers the Blob Batch API itself: the
store falls back to one request per blob only when the endpoint says the API is not offered."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.core.errors import InvalidInput
from multicloud.testing.fakes.faulty_proxy import FaultyProxy
from tests.support import unique_name


def _azure_error(status: int, code: str) -> tuple[int, dict, bytes]:
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
            "<Message>from the test proxy</Message></Error>")
    return status, {"Content-Type": "application/xml", "x-ms-error-code": code}, body.encode()


def _batch_answer(status: int, code: str):
    return lambda method, path: _azure_error(status, code) if method == "POST" and "comp=batch" in path else None


@pytest.fixture
def through_proxy(local_profile):
    """Opens a fresh container (with three blobs) through a proxy answering batches as told."""
    conn = local_profile.connection_for("azure")
    name = unique_name("batch")
    create_bucket(conn, name)
    proxies = []

    def open_with(answer):
        proxy = FaultyProxy(urlsplit(conn.endpoint).port, answer=answer).__enter__()
        proxies.append(proxy)
        proxied = conn.model_copy(update={"name": f"azure-batch-{proxy.port}", "endpoint": proxy.endpoint(conn.endpoint)})
        store = open_store(f"az://{name}", profile=local_profile.model_copy(update={"connections": [proxied]}))
        for key in ("a", "b", "c"):
            store.write(key, io.BytesIO(b"x"), size=1)
        return store, proxy

    yield open_with
    for proxy in proxies:
        proxy.__exit__(None, None, None)


def _batches(proxy) -> int:
    return sum(1 for method, path in proxy.requests if method == "POST" and "comp=batch" in path)


def test_not_implemented_batch_falls_back_to_single_deletes_for_good(through_proxy):
    store, proxy = through_proxy(_batch_answer(501, "APINotImplemented"))
    assert store.delete(["a", "b"]) == 2
    assert [m.key for m in store.list()] == ["c"]
    assert _batches(proxy) == 1
    store.delete(["c"])
    assert _batches(proxy) == 1  # switched off: no batch is tried again
    assert list(store.list()) == []


def test_another_batch_error_is_raised_and_the_batch_stays_on(through_proxy):
    store, proxy = through_proxy(_batch_answer(400, "InvalidHeaderValue"))
    with pytest.raises(InvalidInput):
        store.delete(["a", "b"])
    assert [m.key for m in store.list()] == ["a", "b", "c"]  # nothing deleted behind the error
    with pytest.raises(InvalidInput):
        store.delete(["c"])
    assert _batches(proxy) == 2
