"""Google Cloud KMS Encrypt and Decrypt (`google-cloud-kms`, REST transport) for small secrets such as a
repository password, with additional authenticated data and the CRC32C integrity checks Google
recommends; the connection's timeouts, no SDK retries, errors mapped to the taxonomy."""

from __future__ import annotations

import ipaddress
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import google_crc32c
from google.api_core import exceptions as gapi
from google.auth import exceptions as gauth

from multicloud.clouds.common import retried
from multicloud.clouds.gcp.errors import map_error
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, PermissionDenied, StoreError, Transient

_KEY_PARTS = ("projects", None, "locations", None, "keyRings", None, "cryptoKeys", None)


def check_key_name(key: str) -> str:
    """`projects/P/locations/L/keyRings/R/cryptoKeys/K`. Raises InvalidInput naming the key."""
    parts = key.split("/") if isinstance(key, str) else []
    if len(parts) != len(_KEY_PARTS) or any((want and part != want) or not part
                                             for part, want in zip(parts, _KEY_PARTS)):
        raise InvalidInput("a Cloud KMS key is projects/P/locations/L/keyRings/R/cryptoKeys/K", target=str(key))
    return key


def _client(conn: Connection, endpoint: str | None):
    from google.cloud.kms_v1 import KeyManagementServiceClient

    options = {"api_endpoint": endpoint} if endpoint else None
    credentials: Any = None  # application default credentials
    if conn.credentials == "emulator":
        parts = urlsplit(endpoint or "")
        if parts.scheme != "http" or not _loopback(parts.hostname or ""):
            raise InvalidInput("'emulator' credentials need a plain-HTTP Cloud KMS endpoint on this machine",
                               target=conn.name)
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    elif conn.credentials != "default":
        raise InvalidInput(f"credentials {conn.credentials!r} are not available for GCP", target=conn.name)
    try:
        return KeyManagementServiceClient(transport="rest", client_options=options, credentials=credentials)
    except gauth.DefaultCredentialsError as exc:
        raise _mapped(exc, conn.name) from exc


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mapped(exc: Exception, target: str) -> Exception:
    mapped = map_error(exc, target)
    if isinstance(mapped, StoreError) and mapped is not exc:
        # The storage mapping names Cloud Storage; the same classes, said of Cloud KMS.
        return type(mapped)(f"Cloud KMS: {exc}", target=target)
    return mapped


def _map_decrypt(exc: Exception, key: str) -> Exception:
    if isinstance(exc, gapi.BadRequest):  # 400 "Decryption failed: the ciphertext is invalid."
        return PermissionDenied("Cloud KMS cannot decrypt the wrapped bytes with this key (another key wrapped "
                                "them, or they were altered)", target=key)
    return _mapped(exc, key)


def _crc(data: bytes) -> int:
    return google_crc32c.value(data)


def encrypt(conn: Connection, key: str, plaintext: bytes, aad: bytes, endpoint: str | None = None) -> bytes:
    """The ciphertext of `plaintext` under the key's primary version, bound to `aad`; both
    directions' CRC32C checked (Transient when the bytes were damaged on the way). Raises InvalidInput
    (bad key name), NotFound, PermissionDenied, Throttled, Transient."""
    client = _client(conn, endpoint)
    request = {"name": check_key_name(key), "plaintext": plaintext, "additional_authenticated_data": aad,
               "plaintext_crc32c": _crc(plaintext), "additional_authenticated_data_crc32c": _crc(aad)}

    def call():
        answer = client.encrypt(request=request, retry=None, timeout=conn.timeout_seconds)
        if not answer.verified_plaintext_crc32c or not answer.verified_additional_authenticated_data_crc32c or \
                answer.ciphertext_crc32c != _crc(answer.ciphertext):
            raise Transient("Cloud KMS encrypt: the request or the answer was damaged in transit (CRC32C)",
                            target=key)
        return answer.ciphertext

    try:
        return retried(call, partial(_mapped, target=key))
    finally:
        client.transport.close()


def decrypt(conn: Connection, key: str, ciphertext: bytes, aad: bytes, endpoint: str | None = None) -> bytes:
    """The plaintext of a ciphertext `encrypt` made with this key and `aad`. Raises PermissionDenied
    when it does not decrypt with them, and the errors of `encrypt`."""
    client = _client(conn, endpoint)
    request = {"name": check_key_name(key), "ciphertext": ciphertext, "additional_authenticated_data": aad,
               "ciphertext_crc32c": _crc(ciphertext), "additional_authenticated_data_crc32c": _crc(aad)}

    def call():
        answer = client.decrypt(request=request, retry=None, timeout=conn.timeout_seconds)
        if answer.plaintext_crc32c != _crc(answer.plaintext):
            raise Transient("Cloud KMS decrypt: the answer was damaged in transit (CRC32C)", target=key)
        return answer.plaintext

    try:
        return retried(call, partial(_map_decrypt, key=key))
    finally:
        client.transport.close()
