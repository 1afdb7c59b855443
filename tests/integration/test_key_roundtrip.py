"""Keys and metadata names that leave S3 for a target that must encode them come back byte-exact
when that target becomes the source: the replicate flow, both legs, on the emulated clouds (and a
directory), with the run summary counting what was encoded and what was decoded."""

from __future__ import annotations

import io

import pytest

from flows.replicate import replicate
from multicloud.clouds import create_bucket, open_store
from multicloud.config import ReplicationRule
from multicloud.core.objects import SHA256_METADATA_KEY
from tests.support import replica, unique_name

P = "\uff05"
CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}
# Each key trips some target's rules, or holds a literal escape that S3 stores raw.
KEYS = ["plain", "trailing.", "dot/./seg", "up/../x", "back\\slash", "tab\there", f"lit{P}2E", f"hex{P}41",
        f"pct{P}sign", f"deep{P}EF{P}BC{P}852E", "dir/"]
# Names S3 can hold; Azure refuses "-" and "." in names; "mcenc_6869" is a literal, not an encoding.
METADATA = {"x-owner": "ana", "cost.center": "42", "plain_name": "p", "mcenc_6869": "raw"}
ENCODED_ON = {  # target -> (keys stored encoded, metadata names stored encoded per object)
    "az": ({"trailing.", "dot/./seg", "up/../x", "back\\slash", "tab\there", f"lit{P}2E", f"deep{P}EF{P}BC{P}852E",
            "dir/"}, 2),
    "gs": ({"tab\there"}, 0),
    "file": ({"dot/./seg", "up/../x", "dir/"}, 0),
}


@pytest.fixture(autouse=True)
def _prefect(prefect_api):
    yield prefect_api


def store_url(profile, scheme: str, tmp_path) -> str:
    if scheme == "file":
        folder = tmp_path / unique_name("k")
        folder.mkdir()
        return f"file://{folder}"
    name = unique_name("k")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return f"{scheme}://{name}"


def sync(source: str, target: str, **kw) -> dict:
    rule = ReplicationRule(name="roundtrip", source=source, targets=[target], **kw)
    (row,) = replicate(rule=rule, profile="local")["targets"]
    return row


@pytest.mark.parametrize("middle", ["az", "gs", "file"])
def test_keys_and_metadata_names_come_back_byte_exact(local_profile, tmp_path, middle):
    origin, there, back = (store_url(local_profile, s, tmp_path) for s in ("s3", middle, "s3"))
    src = open_store(origin, local_profile)
    for key in KEYS:
        data = key.encode()
        src.write(key, io.BytesIO(data), size=len(data), content_type="text/x-key", metadata=METADATA)
    encoded_keys, encoded_names = ENCODED_ON[middle]

    out = sync(origin, there)
    assert (out["copied"], out["encoded_keys"], out["decoded_keys"]) == (len(KEYS), len(encoded_keys), 0)
    assert out["encoded_metadata"] == encoded_names * len(KEYS)
    listed = {m.key for m in replica(open_store(there, local_profile))}
    assert {k for k in KEYS if k not in listed} == encoded_keys  # the rest are stored as they are

    home = sync(there, back, delete="mirror", max_delete_percent=100)
    assert (home["copied"], home["decoded_keys"], home["encoded_keys"]) == (len(KEYS), len(encoded_keys), 0)
    assert home["decoded_metadata"] == encoded_names * len(KEYS)
    dst = open_store(back, local_profile)
    assert sorted(m.key for m in replica(dst)) == sorted(KEYS)  # byte-exact keys
    for key in KEYS:
        meta = dst.stat(key)
        assert {k: v for k, v in meta.metadata.items() if k != SHA256_METADATA_KEY} == METADATA
        assert meta.content_type == "text/x-key"
        with dst.open(key) as f:
            assert f.read() == key.encode()

    # Second runs of both legs plan on decoded names: nothing copied, and a mirror deletes nothing.
    again_out, again_home = sync(origin, there), sync(there, back, delete="mirror", max_delete_percent=100)
    for row in (again_out, again_home):
        assert (row["copied"], row["skipped"], row["delete_candidates"], row["deleted"]) == (0, len(KEYS), 0, 0)
    # and mirroring S3 back onto the middle never takes an encoded object there for a target-only one
    reverse = sync(back, there, delete="mirror", max_delete_percent=100)
    assert (reverse["listed_target"], reverse["delete_candidates"]) == (len(KEYS), 0)
    if middle != "file":  # a directory's listing carries no hash: the newer S3 copies count as changed
        assert (reverse["copied"], reverse["skipped"]) == (0, len(KEYS))
    assert len(replica(open_store(there, local_profile))) == len(KEYS)
