"""Repository passwords from each source a plan may name, end to end: an environment variable, a
Prefect Secret block on a real Prefect server, and a password wrapped by AWS KMS (moto), Azure Key Vault
and Google Cloud KMS (local servers answering the real SDKs' requests), stored beside the repository;
a wrong key, altered bytes or a missing source give a clear error naming the plan."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import pytest

from multicloud.clouds import ensure_bucket, open_store
from multicloud.config.backups import KmsWrap, PasswordSource
from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied
from multicloud.engine.passwords import repository_password
from multicloud.testing.fakes.fake_gcp_kms import FakeCloudKms
from multicloud.testing.fakes.fake_keyvault import FakeKeyVault
from tests.support import unique_name

PLAN = "nightly-db"


def tamper(path: Path) -> None:
    """Flip one bit of the stored ciphertext, keeping the document well-formed."""
    doc = json.loads(path.read_bytes())
    raw = bytearray(base64.b64decode(doc["ciphertext"]))
    raw[len(raw) // 2] ^= 0x01
    doc["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    path.write_text(json.dumps(doc))


def round_trip(source: PasswordSource, profile, tmp_path: Path) -> str:
    """Create the password for a repository and two mirrors, then read it back from each."""
    repos = [f"file://{tmp_path}/{name}" for name in ("primary", "mirror-1", "mirror-2")]
    password = repository_password(source, profile, repos[0], PLAN, mirrors=repos[1:])
    assert len(password) >= 32
    for repo in repos:
        assert repository_password(source, profile, repo, PLAN, create=False) == password
        stored = (tmp_path / f"{Path(repo).name}.password.wrapped").read_bytes()
        assert password.encode() not in stored and json.loads(stored)["provider"] == source.kms.provider
    assert repository_password(source, profile, repos[0], PLAN, mirrors=repos[1:]) == password  # not renewed
    return password


# ---- environment and Prefect Secret -----------------------------------------------------------------

def test_env_password(monkeypatch, local_profile):
    monkeypatch.setenv("MCOPS_TEST_REPO_PASSWORD", "from the environment")
    source = PasswordSource(env="MCOPS_TEST_REPO_PASSWORD")
    assert repository_password(source, local_profile, "file:///nowhere/repo", PLAN) == "from the environment"
    monkeypatch.delenv("MCOPS_TEST_REPO_PASSWORD")
    with pytest.raises(InvalidInput, match=f"plan '{PLAN}'.*MCOPS_TEST_REPO_PASSWORD is not set"):
        repository_password(source, local_profile, "file:///nowhere/repo", PLAN)


def test_prefect_secret_password(prefect_api, local_profile):
    from prefect.blocks.system import Secret

    name = unique_name("repo-pw")
    Secret(value="from a secret block").save(name, overwrite=True)
    assert repository_password(PasswordSource(secret=name), local_profile, "file:///x/repo", PLAN) == \
        "from a secret block"
    with pytest.raises(NotFound, match=f"plan '{PLAN}'.*no Prefect Secret block named 'no-such-block'"):
        repository_password(PasswordSource(secret="no-such-block"), local_profile, "file:///x/repo", PLAN)


# ---- AWS KMS on moto ----------------------------------------------------------------------------------

@pytest.fixture
def aws_keys(local_profile):
    conn = local_profile.connection_for("aws")
    kms = boto3.client("kms", endpoint_url=conn.endpoint, region_name=conn.region, aws_access_key_id="test",
                       aws_secret_access_key="test")
    return [kms.create_key(Description="multicloud test")["KeyMetadata"]["Arn"] for _ in range(2)]


def test_aws_kms_round_trip_wrong_key_and_tampering(aws_keys, local_profile, tmp_path):
    source = PasswordSource(kms=KmsWrap(provider="aws", key=aws_keys[0]))
    round_trip(source, local_profile, tmp_path)
    other = PasswordSource(kms=KmsWrap(provider="aws", key=aws_keys[1]))
    with pytest.raises(PermissionDenied, match=f"plan '{PLAN}'.*does not unwrap"):
        repository_password(other, local_profile, f"file://{tmp_path}/primary", PLAN, create=False)
    tamper(tmp_path / "primary.password.wrapped")
    with pytest.raises(PermissionDenied, match=f"plan '{PLAN}'.*primary.*altered"):
        repository_password(source, local_profile, f"file://{tmp_path}/primary", PLAN, create=False)


def test_aws_kms_password_beside_an_s3_repository(aws_keys, local_profile):
    bucket = unique_name("pw")
    ensure_bucket(f"s3://{bucket}/", local_profile)
    source = PasswordSource(kms=KmsWrap(provider="aws", key=aws_keys[0]))
    password = repository_password(source, local_profile, f"s3://{bucket}/backups/db/", PLAN)
    store = open_store(f"s3://{bucket}/", profile=local_profile)
    assert [m.key for m in store.list()] == ["backups/db.password.wrapped"]  # beside, the repository left empty
    assert repository_password(source, local_profile, f"s3://{bucket}/backups/db", PLAN, create=False) == password


def test_missing_and_malformed_wrapped_passwords(aws_keys, local_profile, tmp_path):
    source = PasswordSource(kms=KmsWrap(provider="aws", key=aws_keys[0]))
    with pytest.raises(NotFound, match=f"plan '{PLAN}'.*no wrapped password beside"):
        repository_password(source, local_profile, f"file://{tmp_path}/fresh", PLAN, create=False)
    assert not (tmp_path / "fresh.password.wrapped").exists()  # a restore never invents one
    (tmp_path / "junk.password.wrapped").write_text("not json")
    with pytest.raises(InvalidInput, match="junk.password.wrapped"):
        repository_password(source, local_profile, f"file://{tmp_path}/junk", PLAN)
    with pytest.raises(InvalidInput, match=f"plan '{PLAN}'.*folder in its bucket"):
        repository_password(source, local_profile, "s3://some-bucket/", PLAN)


def test_mirrors_share_one_password(aws_keys, local_profile, tmp_path):
    source = PasswordSource(kms=KmsWrap(provider="aws", key=aws_keys[0]))
    first = repository_password(source, local_profile, f"file://{tmp_path}/a", PLAN)
    # A mirror added later gets the same password, whichever repository is named first.
    assert repository_password(source, local_profile, f"file://{tmp_path}/new", PLAN,
                               mirrors=[f"file://{tmp_path}/a"]) == first
    assert (tmp_path / "new.password.wrapped").read_bytes() == (tmp_path / "a.password.wrapped").read_bytes()
    repository_password(source, local_profile, f"file://{tmp_path}/stranger", PLAN)  # another password
    with pytest.raises(InvalidInput, match="cannot be mirrors"):
        repository_password(source, local_profile, f"file://{tmp_path}/a", PLAN,
                            mirrors=[f"file://{tmp_path}/stranger"])


# ---- Azure Key Vault (local HTTPS server) ---------------------------------------------------------------

@pytest.fixture
def vault(monkeypatch):
    with FakeKeyVault() as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))  # the SDK speaks HTTPS only
        yield server


def test_azure_key_vault_round_trip_wrong_key_and_tampering(vault, local_profile, tmp_path):
    source = PasswordSource(kms=KmsWrap(provider="azure", key=vault.add_key("backup-key")))
    round_trip(source, local_profile, tmp_path)
    assert vault.requests[0].authorization is None  # the challenge flow: first unauthenticated, then Bearer
    assert all(r.authorization == "Bearer multicloud-emulator-token" for r in vault.requests[1:])
    assert any(r.path.endswith("/unwrapkey") and r.body["alg"] == "RSA-OAEP-256" for r in vault.requests)

    other = PasswordSource(kms=KmsWrap(provider="azure", key=vault.add_key("other-key")))
    with pytest.raises(PermissionDenied, match=f"plan '{PLAN}'.*does not unwrap"):
        repository_password(other, local_profile, f"file://{tmp_path}/primary", PLAN, create=False)
    tamper(tmp_path / "mirror-1.password.wrapped")
    with pytest.raises(PermissionDenied, match=f"plan '{PLAN}'.*mirror-1"):
        repository_password(source, local_profile, f"file://{tmp_path}/mirror-1", PLAN, create=False)
    missing = PasswordSource(kms=KmsWrap(provider="azure", key=vault.key_url("never-made")))
    with pytest.raises(NotFound, match="never-made"):
        repository_password(missing, local_profile, f"file://{tmp_path}/elsewhere", PLAN)


# ---- Google Cloud KMS (local REST server) ---------------------------------------------------------------

@pytest.fixture
def cloud_kms():
    with FakeCloudKms() as server:
        yield server


def test_gcp_kms_round_trip_wrong_key_and_tampering(cloud_kms, local_profile, tmp_path):
    key = cloud_kms.add_key("local-project", "global", "backups", "repo-password")
    source = PasswordSource(kms=KmsWrap(provider="gcp", key=key, endpoint=cloud_kms.url))
    round_trip(source, local_profile, tmp_path)
    encrypt = next(r for r in cloud_kms.requests if r.path.endswith(":encrypt"))
    assert {"plaintextCrc32c", "additionalAuthenticatedData", "additionalAuthenticatedDataCrc32c"} <= set(encrypt.body)

    other = PasswordSource(kms=KmsWrap(provider="gcp", key=cloud_kms.add_key("local-project", "global", "backups",
                                                                              "other"), endpoint=cloud_kms.url))
    with pytest.raises(PermissionDenied, match=f"plan '{PLAN}'.*does not unwrap"):
        repository_password(other, local_profile, f"file://{tmp_path}/primary", PLAN, create=False)
    tamper(tmp_path / "primary.password.wrapped")
    with pytest.raises(PermissionDenied, match=f"plan '{PLAN}'.*altered"):
        repository_password(source, local_profile, f"file://{tmp_path}/primary", PLAN, create=False)


def test_gcp_kms_damaged_answer_is_caught_by_crc32c_and_retried(cloud_kms, local_profile, tmp_path):
    key = cloud_kms.add_key("local-project", "global", "backups", "crc")
    source = PasswordSource(kms=KmsWrap(provider="gcp", key=key, endpoint=cloud_kms.url))
    cloud_kms.corrupt_next_answer()
    password = repository_password(source, local_profile, f"file://{tmp_path}/repo", PLAN)
    assert sum(r.path.endswith(":encrypt") for r in cloud_kms.requests) == 2  # the damaged answer was refused
    assert repository_password(source, local_profile, f"file://{tmp_path}/repo", PLAN, create=False) == password
