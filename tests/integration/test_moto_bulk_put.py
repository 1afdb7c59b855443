"""The local stack's bulk put (multicloud/testing/moto_server.py), with which the replication
benchmark seeds a source of a million objects: what it stores is what S3 then lists and serves,
and a bad request is refused naming what is wrong, storing nothing."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import boto3
import pytest
import urllib3

from multicloud.testing.moto_server import BULK_PUT_PATH, bulk_keys
from tests.support import unique_name


@pytest.fixture
def s3(local_profile):
    conn = local_profile.connection_for("aws")
    client = boto3.client("s3", endpoint_url=conn.endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    bucket = unique_name("bulk")
    client.create_bucket(Bucket=bucket)
    yield conn.endpoint.rstrip("/"), client, bucket
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=bucket)


def bulk_put(endpoint: str, **query) -> tuple[int, dict]:
    resp = urllib3.PoolManager().request("POST", f"{endpoint}{BULK_PUT_PATH}?{urlencode(query)}")
    return resp.status, json.loads(resp.data)


def listed(client, bucket: str) -> dict[str, int]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["Size"] for p in pages for o in p.get("Contents", ())}


def test_bulk_put_stores_objects_that_s3_lists_and_serves(s3):
    endpoint, client, bucket = s3
    assert bulk_put(endpoint, bucket=bucket, prefix="huge/", start=0, count=1500, size=256) == (200, {"stored": 1500})
    assert bulk_put(endpoint, bucket=bucket, prefix="huge/", start=1500, count=700, size=256)[0] == 200
    found = listed(client, bucket)
    assert sorted(found) == sorted(bulk_keys("huge/", 0, 2200))
    assert "huge/0001/0001999.bin" in found and set(found.values()) == {256}
    body = client.get_object(Bucket=bucket, Key="huge/0002/0002199.bin")["Body"].read()
    assert len(body) == 256
    assert client.get_object(Bucket=bucket, Key="huge/0000/0000000.bin")["Body"].read() != bytes(256)


@pytest.mark.parametrize("query, named", [
    ({"prefix": "x/", "count": 5}, "bucket"),
    ({"count": "five"}, "five"),
    ({"count": -1}, "negative"),
])
def test_a_bad_bulk_put_is_refused_naming_the_input(s3, query, named):
    endpoint, client, bucket = s3
    status, body = bulk_put(endpoint, **({"bucket": bucket} if named != "bucket" else {}), **query)
    assert status == 400 and named in body["error"]
    assert listed(client, bucket) == {}


def test_a_bulk_put_into_a_missing_bucket_is_not_found(s3):
    endpoint, _, _ = s3
    status, body = bulk_put(endpoint, bucket=unique_name("absent"), count=3)
    assert status == 404 and "absent-" in body["error"]
