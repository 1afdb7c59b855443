"""The streamed copy path on the emulated clouds: objects over one part copied between clouds
with the SHA-256 checked before commit (resumable session + one streaming PUT on GCS, reused part
buffers on S3 and Azure), known-size writes that are refused leave the old object, and the raw
requests (signed S3 GETs, Azure Put Blob) map their failures to the taxonomy."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from multicloud.clouds import create_bucket, open_store
from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied, PreconditionFailed, Throttled, Transient
from multicloud.core.objects import SHA256_METADATA_KEY
from multicloud.core.replication import Decision
from multicloud.engine.transfer import copy_object
from multicloud.testing.fakes.faulty_proxy import FaultyProxy
from tests.support import closed_port, unique_name

MIB = 1 << 20
BIG = 20 * MIB  # over S3/Azure's 8 MiB parts and GCS's 16 MiB one-request limit
CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}


def new_store(profile, scheme: str):
    name = unique_name("lg")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return open_store(f"{scheme}://{name}", profile)


def read(store, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(BIG)


@pytest.mark.parametrize("src_scheme,dst_scheme", [("s3", "gs"), ("s3", "az"), ("az", "s3"), ("gs", "az")])
def test_large_copy_keeps_bytes_metadata_and_the_checked_sha256(local_profile, data, src_scheme, dst_scheme):
    src, dst = new_store(local_profile, src_scheme), new_store(local_profile, dst_scheme)
    src.write("big.bin", io.BytesIO(data), size=len(data), content_type="application/x-test",
              metadata={"owner": "team_a"})
    listed = src.stat("big.bin")
    size, server_side, *_ = copy_object(src, dst, Decision("big.bin", "big.bin", "copy", "new", listed))
    assert (size, server_side) == (BIG, False)
    got = dst.stat("big.bin")
    assert got.size == BIG
    assert got.sha256 == hashlib.sha256(data).hexdigest() == got.metadata[SHA256_METADATA_KEY]
    assert got.content_type == "application/x-test"
    assert got.metadata["owner"] == "team_a"
    assert hashlib.sha256(read(dst, "big.bin")).hexdigest() == got.sha256


@pytest.mark.parametrize("scheme", ["s3", "az", "gs"])
def test_known_size_write_with_a_wrong_sha256_keeps_the_old_object(local_profile, data, scheme):
    store = new_store(local_profile, scheme)
    store.write("guarded", io.BytesIO(b"old content"), size=11)
    with pytest.raises(PreconditionFailed):
        store.write("guarded", io.BytesIO(data), size=len(data), expected_sha256="0" * 64)
    assert read(store, "guarded") == b"old content"
    good = store.write("guarded", io.BytesIO(data), size=len(data), expected_sha256=hashlib.sha256(data).hexdigest())
    assert good.sha256 == hashlib.sha256(data).hexdigest() == store.stat("guarded").sha256


@pytest.mark.parametrize("scheme", ["s3", "az", "gs"])
@pytest.mark.parametrize("given", [BIG - MIB - 3, BIG + 5 * MIB])
def test_known_size_write_of_a_stream_of_another_length_writes_nothing(local_profile, data, scheme, given):
    store = new_store(local_profile, scheme)
    body = (data * 2)[:given]
    with pytest.raises(InvalidInput):
        store.write("odd", io.BytesIO(body), size=BIG)
    with pytest.raises(NotFound):
        store.stat("odd")


def test_gcs_if_absent_refuses_an_existing_object_before_streaming(local_profile, data):
    from multicloud.core.errors import AlreadyExists

    store = new_store(local_profile, "gs")
    store.write("once", io.BytesIO(b"first"), size=5)
    stream = io.BytesIO(data)
    with pytest.raises(AlreadyExists):
        store.write("once", stream, size=len(data), if_absent=True)
    assert stream.tell() <= 8 * MIB  # refused before the body was streamed
    assert read(store, "once") == b"first"


def _via(profile, cloud: str, endpoint: str):
    return profile.model_copy(update={"connections": [
        c.model_copy(update={"endpoint": endpoint, "name": f"{c.name}-via"}) if c.cloud == cloud else c
        for c in profile.connections]})


def test_s3_raw_reads_map_refusals_and_transport_failures(local_profile):
    store = new_store(local_profile, "s3")
    store.write("k", io.BytesIO(b"payload"), size=7)
    bucket = store.url.split("://", 1)[1].rstrip("/")
    moto = local_profile.connection_for("aws").endpoint
    port = int(moto.rsplit(":", 1)[1])
    slow_down = (503, {"Content-Type": "application/xml"},
                 b"<Error><Code>SlowDown</Code><Message>reduce your rate</Message></Error>")
    with FaultyProxy(port, answer=lambda method, path: slow_down if method == "GET" and "/k" in path else None) as p:
        via = open_store(f"s3://{bucket}", _via(local_profile, "aws", p.endpoint(moto)))
        with pytest.raises(NotFound):
            read(via, "missing")
        with pytest.raises(Throttled) as info:
            read(via, "k")
        assert "SlowDown" in str(info.value) and bucket in str(info.value)
    gone = open_store(f"s3://{bucket}", _via(local_profile, "aws", f"http://127.0.0.1:{closed_port()}"))
    with pytest.raises(Transient):
        read(gone, "k")


def test_azure_raw_put_is_signed_by_the_connection_key(local_profile, monkeypatch):
    """A wrong account key is refused by the service and named PermissionDenied: the Put Blob is
    signed by the SDK's shared-key policy, not sent unsigned."""
    from multicloud.clouds.azure.session import AZURITE_ACCOUNT, CONNECTION_STRING_ENV

    good = new_store(local_profile, "az")
    container = good.url.split("://", 1)[1].rstrip("/")
    endpoint = local_profile.connection_for("azure").endpoint
    wrong_key = "A" * 86 + "=="
    monkeypatch.setenv(CONNECTION_STRING_ENV, f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                                              f"AccountKey={wrong_key};BlobEndpoint={endpoint};")
    profile = local_profile.model_copy(update={"connections": [
        c.model_copy(update={"credentials": "connection-string-env", "name": "az-wrong-key"})
        if c.cloud == "azure" else c for c in local_profile.connections]})
    bad = open_store(f"az://{container}", profile)
    with pytest.raises(PermissionDenied):
        bad.write("k", io.BytesIO(b"x"), size=1)
    with pytest.raises(NotFound):
        good.stat("k")
