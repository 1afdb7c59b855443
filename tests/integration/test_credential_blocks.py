"""Connections whose credentials live in Prefect blocks on a real Prefect server: the emulators'
well-known credentials stored in blocks drive a replication S3 -> Azure; a wrong key in a block
fails with PermissionDenied naming the connection, and no secret reaches a repr or an error."""

from __future__ import annotations

import io

import pytest
import yaml

from flows.replicate import replicate
from multicloud.clouds import create_bucket, list_buckets, open_store
from multicloud.clouds.azure.session import AZURITE_KEY
from multicloud.clouds.credential_blocks import (
    MulticloudAwsCredentials, MulticloudAzureCredentials, MulticloudGcpCredentials, block_credentials,
)
from multicloud.config import Connection, Profile, ReplicationRule
from multicloud.core.errors import InvalidInput, PermissionDenied
from tests.support import unique_name

WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3Jvbmc="
AWS_SECRET = "secret-kept-in-the-block"


def block_profile(local: Profile, aws_block: str, azure_block: str) -> Profile:
    aws, azure = local.connection_for("aws"), local.connection_for("azure")
    return Profile(name="blocks", connections=[
        aws.model_copy(update={"name": "aws-block", "credentials": "block", "block": aws_block}),
        azure.model_copy(update={"name": "azure-block", "credentials": "block", "block": azure_block}),
    ])


def saved(block, prefix: str) -> str:
    name = unique_name(prefix)
    block.save(name, overwrite=True)
    return f"{block.get_block_type_slug()}/{name}"


def test_replication_through_credentials_kept_in_blocks(prefect_api, local_profile, tmp_path):
    aws_block = saved(MulticloudAwsCredentials(aws_access_key_id="test", aws_secret_access_key=AWS_SECRET), "aws")
    azure_block = saved(MulticloudAzureCredentials(account_name="devstoreaccount1", account_key=AZURITE_KEY), "az")
    profile = block_profile(local_profile, aws_block, azure_block)
    source, target = unique_name("blk"), unique_name("blk")
    create_bucket(profile.connection_for("aws"), source)
    create_bucket(profile.connection_for("azure"), target)
    store = open_store(f"s3://{source}/", profile)
    for i in range(3):
        store.write(f"k{i}", io.BytesIO(b"x" * (i + 1)), size=i + 1)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json")))

    result = replicate(rule=ReplicationRule(name="blocks", source=f"s3://{source}/", targets=[f"az://{target}/"]),
                       profile=str(path))

    assert result["targets"][0]["copied"] == 3
    assert [m.key for m in open_store(f"az://{target}/", profile).list() if not m.key.startswith(".")] == ["k0", "k1", "k2"]
    read = block_credentials(profile.connection_for("aws"))
    assert read.get("aws_secret_access_key") == AWS_SECRET  # the block's keys, not the emulator default
    for shown in (repr(read), str(read), repr(profile), repr(MulticloudAwsCredentials.load(aws_block.split("/")[1]))):
        assert AWS_SECRET not in shown


def test_a_wrong_key_in_the_block_fails_clearly_and_shows_no_secret(prefect_api, local_profile):
    azure_block = saved(MulticloudAzureCredentials(account_name="devstoreaccount1", account_key=WRONG_KEY), "az")
    conn = block_profile(local_profile, "multicloud-aws-credentials/unused", azure_block).connection_for("azure")
    with pytest.raises(PermissionDenied) as raised:
        list_buckets(conn)
    text = f"{raised.value} {raised.value!r} {raised.value.__cause__!r}"
    assert "devstoreaccount1" in text and WRONG_KEY not in text and AZURITE_KEY not in text


@pytest.mark.parametrize("block, message", [
    ("multicloud-azure-credentials/no-such-block", "does not exist on the Prefect server"),
    ("multicloud-aws-credentials/wrong-type", "is not one of multicloud-azure-credentials/NAME"),
])
def test_a_missing_or_mistyped_block_names_the_connection(prefect_api, local_profile, block, message):
    conn = local_profile.connection_for("azure").model_copy(update={"name": "azure-x", "credentials": "block",
                                                                    "block": block})
    with pytest.raises(InvalidInput, match=message) as raised:
        list_buckets(conn)
    assert raised.value.target == "azure-x"


def test_a_gcp_block_without_a_service_account_key_is_refused(prefect_api, local_profile):
    block = saved(MulticloudGcpCredentials(service_account_info={"type": "service_account",
                                                                 "private_key": "-----BEGIN nonsense"}), "gcp")
    conn = local_profile.connection_for("gcp").model_copy(update={"credentials": "block", "block": block})
    with pytest.raises(InvalidInput, match="is not a service account key") as raised:
        list_buckets(conn)
    assert "nonsense" not in f"{raised.value} {raised.value!r}"


def test_a_block_is_named_exactly_when_credentials_say_block():
    with pytest.raises(ValueError, match="exactly when credentials is 'block'"):
        Connection(name="a", cloud="aws", credentials="block")
    with pytest.raises(ValueError, match="exactly when credentials is 'block'"):
        Connection(name="a", cloud="aws", block="aws-credentials/x")
