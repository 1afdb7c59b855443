"""The listing index of the benchmark's own moto (multicloud/testing/moto_server.py --listing-index):
every ListObjectsV2 page it answers is the page stock moto answers for the same requests, also after
the bucket changes between pages, so a million-object source can be listed without changing what
any listing returns."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import boto3
import pytest
import urllib3

from multicloud.testing.moto_server import BULK_PUT_PATH, MotoServer

BUCKET = "listed"


@pytest.fixture(scope="module")
def both():
    with MotoServer(bulk_put=True) as stock, MotoServer(bulk_put=True, listing_index=True) as indexed:
        yield [client(moto) for moto in (stock, indexed)]


def client(moto: MotoServer):
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket=BUCKET)
    query = urlencode({"bucket": BUCKET, "prefix": "huge/", "start": 0, "count": 2500, "size": 16})
    resp = urllib3.PoolManager().request("POST", f"{moto.url}{BULK_PUT_PATH}?{query}")
    assert resp.status == 200, json.loads(resp.data)
    for key in ("a", "huge/0000/00000005.bin", "huge/", "hugé/x", "z/ü.txt", "huge/0001/0001000.bin.tmp"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    return s3


def pages(s3, **request) -> list[tuple[list[tuple[str, int]], bool, int]]:
    out, token = [], None
    while True:
        page = s3.list_objects_v2(Bucket=BUCKET, **request, **({"ContinuationToken": token} if token else {}))
        out.append(([(o["Key"], o["Size"]) for o in page.get("Contents", ())], page["IsTruncated"], page["KeyCount"]))
        if not page["IsTruncated"]:
            return out
        token = page["NextContinuationToken"]


@pytest.mark.parametrize("request_", [
    {}, {"MaxKeys": 7}, {"Prefix": "huge/0001/"}, {"Prefix": "huge/0001/", "MaxKeys": 333},
    {"StartAfter": "huge/0001/0001500.bin", "MaxKeys": 400}, {"Prefix": "hug"}, {"Prefix": "nothing/"},
    {"MaxKeys": 0}, {"Delimiter": "/"}, {"Prefix": "huge/", "Delimiter": "/", "MaxKeys": 2},
], ids=repr)
def test_pages_are_stock_motos_pages(both, request_):
    stock, indexed = (pages(s3, **request_) for s3 in both)
    assert indexed == stock
    assert sum(len(keys) for keys, _, _ in stock) > 0 or request_.get("Prefix") == "nothing/" or request_.get("MaxKeys") == 0


def test_changes_between_pages_show_as_in_stock_moto(both):
    firsts = [s3.list_objects_v2(Bucket=BUCKET, MaxKeys=1000) for s3 in both]
    assert [o["Key"] for o in firsts[1]["Contents"]] == [o["Key"] for o in firsts[0]["Contents"]]
    for s3 in both:  # after the first page: one key before the token, one after, one gone after, one replaced
        s3.put_object(Bucket=BUCKET, Key="huge/0000/0000001.bin.new", Body=b"before")
        s3.put_object(Bucket=BUCKET, Key="huge/0002/0002001.bin.new", Body=b"after!")
        s3.delete_object(Bucket=BUCKET, Key="huge/0002/0002002.bin")
        s3.put_object(Bucket=BUCKET, Key="huge/0002/0002003.bin", Body=b"bigger than before")
    rests = []
    for s3, first in zip(both, firsts):
        rest = s3.list_objects_v2(Bucket=BUCKET, ContinuationToken=first["NextContinuationToken"], MaxKeys=5000)
        rests.append({o["Key"]: o["Size"] for o in rest["Contents"]})
    assert rests[1] == rests[0]
    assert rests[1]["huge/0002/0002001.bin.new"] == 6 and rests[1]["huge/0002/0002003.bin"] == 18
    assert "huge/0002/0002002.bin" not in rests[1] and "huge/0000/0000001.bin.new" not in rests[1]
    assert pages(both[1]) == pages(both[0])
