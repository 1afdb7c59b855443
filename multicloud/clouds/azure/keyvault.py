"""Azure Key Vault key wrapping (RSA-OAEP-256 through `azure-keyvault-keys`' CryptographyClient) for
small secrets such as a repository password; Key Vault's challenge authentication, the connection's
timeouts, no SDK retries (the taxonomy drives them), errors mapped to the taxonomy."""

from __future__ import annotations

from functools import partial
from typing import Any

from azure.core.exceptions import HttpResponseError

from multicloud.clouds.azure.dns import StaticTokenCredential
from multicloud.clouds.azure.errors import map_error
from multicloud.clouds.azure.session import default_token_credential
from multicloud.clouds.common import retried
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, PermissionDenied

ALGORITHM = "RSA-OAEP-256"


def _client(conn: Connection, key_url: str):
    """A CryptographyClient for `key_url` (https://VAULT/keys/NAME[/VERSION]). 'emulator' credentials
    send a fixed token and accept a local vault's challenge resource; 'default' uses
    DefaultAzureCredential and checks the challenge resource against the vault's domain. TLS is always
    required (the SDK refuses plain HTTP); a local vault's CA is trusted through REQUESTS_CA_BUNDLE."""
    from azure.core.pipeline.transport import RequestsTransport
    from azure.keyvault.keys.crypto import CryptographyClient

    if not key_url.lower().startswith("https://") or "/keys/" not in key_url:
        raise InvalidInput("an Azure Key Vault key is a URL https://VAULT.vault.azure.net/keys/NAME[/VERSION]",
                           target=key_url)
    if conn.credentials not in ("emulator", "default"):
        raise InvalidInput(f"credentials {conn.credentials!r} cannot open Key Vault: use 'default' "
                           "(or 'emulator' for a local vault)", target=conn.name)
    credential: Any = StaticTokenCredential() if conn.credentials == "emulator" else default_token_credential(conn)
    transport = RequestsTransport(connection_timeout=conn.connect_timeout_seconds, read_timeout=conn.timeout_seconds)
    try:
        return CryptographyClient(key_url, credential, transport=transport, retry_total=0,
                                  verify_challenge_resource=conn.credentials != "emulator")
    except ValueError as exc:  # the SDK's own check of the key URL
        raise InvalidInput(f"not a Key Vault key URL: {exc}", target=key_url) from None


def _map_unwrap(exc: Exception, key: str) -> Exception:
    # Key Vault answers 400 when the bytes do not unwrap with this key: another key wrapped them, or they changed.
    if isinstance(exc, HttpResponseError) and exc.status_code == 400:
        return PermissionDenied("Key Vault cannot unwrap the wrapped bytes with this key (another key wrapped "
                                "them, or they were altered)", target=key)
    return map_error(exc, target=key)


def wrap(conn: Connection, key_url: str, plaintext: bytes) -> bytes:
    """`plaintext` wrapped by the vault key (RSA-OAEP-256). Raises NotFound (no such key),
    PermissionDenied, InvalidInput, Throttled, Transient."""
    from azure.keyvault.keys.crypto import KeyWrapAlgorithm

    client = _client(conn, key_url)
    with client:
        result = retried(lambda: client.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, plaintext),
                         partial(map_error, target=key_url))
    return result.encrypted_key


def unwrap(conn: Connection, key_url: str, wrapped: bytes) -> bytes:
    """The plaintext of bytes `wrap` made with this key. Raises PermissionDenied when they do not
    unwrap with it, and the errors of `wrap`."""
    from azure.keyvault.keys.crypto import KeyWrapAlgorithm

    client = _client(conn, key_url)
    with client:
        result = retried(lambda: client.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped),
                         partial(_map_unwrap, key=key_url))
    return result.key
