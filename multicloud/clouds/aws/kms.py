"""AWS KMS Encrypt and Decrypt for small secrets (a repository password), bound to an encryption
context, through the connection's boto3 client; errors mapped to the taxonomy."""

from __future__ import annotations

from functools import partial
from typing import Mapping

from botocore.exceptions import ClientError

from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.session import client
from multicloud.clouds.common import retried
from multicloud.config import Connection
from multicloud.core.errors import PermissionDenied

# The ciphertext does not open with this key or context: it was tampered with or wrapped by another key
# (moto answers AccessDeniedException where AWS answers IncorrectKeyException).
_NOT_OURS = {"InvalidCiphertextException", "IncorrectKeyException"}


def _map(exc: Exception, key: str) -> Exception:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    if code in _NOT_OURS:
        return PermissionDenied("KMS cannot decrypt the wrapped bytes with this key and context (another key "
                                "wrapped them, or they were altered)", target=key)
    if code == "AccessDeniedException":  # KMS's name for it; the S3 table knows AccessDenied
        return PermissionDenied(f"KMS {code}: {exc.response['Error'].get('Message') or 'request refused'}",
                                target=key)
    return map_error(exc, target=key, service="KMS")


def encrypt(conn: Connection, key: str, plaintext: bytes, context: Mapping[str, str]) -> bytes:
    """The CiphertextBlob of `plaintext` under `key` (id, ARN or alias) and `context`. Raises
    NotFound (no such key), PermissionDenied, InvalidInput (e.g. a disabled key), Throttled, Transient."""
    kms = client(conn, "kms", max_pool=4)
    answer = retried(lambda: kms.encrypt(KeyId=key, Plaintext=plaintext, EncryptionContext=dict(context)),
                     partial(_map, key=key))
    return answer["CiphertextBlob"]


def decrypt(conn: Connection, key: str, blob: bytes, context: Mapping[str, str]) -> bytes:
    """The plaintext of a blob `encrypt` made with the same key and context. Raises PermissionDenied
    when the blob does not open with them (another key, another context, altered bytes), and the
    errors of `encrypt`."""
    kms = client(conn, "kms", max_pool=4)
    answer = retried(lambda: kms.decrypt(CiphertextBlob=blob, KeyId=key, EncryptionContext=dict(context)),
                     partial(_map, key=key))
    return answer["Plaintext"]
