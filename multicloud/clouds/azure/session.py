"""Blob service clients built from a connection, one per account and credential: a pooled requests
transport carrying the connection's timeouts, small download chunks, and no SDK retries (the
taxonomy drives retries)."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient
from urllib3.util.retry import Retry

from multicloud.clouds.credential_blocks import block_credentials
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput

#: Azurite's public, documented development account; it only ever opens the local emulator.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"

# The SDK's first download request defaults to 32 MiB held in memory; keep every GET small.
GET_CHUNK = 4 << 20
HTTP_POOL_SIZE = 32  # above the delete and part-upload concurrency, so connections are reused, not discarded

_CLIENTS: dict[tuple, BlobServiceClient] = {}
_CLIENTS_LOCK = threading.Lock()


def _transport(conn: Connection) -> RequestsTransport:
    # The SDK's own session pools 10 connections; concurrent part uploads and deletes would
    # keep discarding and reopening them. Retries stay off here as in the SDK's own adapter.
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(
        pool_maxsize=HTTP_POOL_SIZE, max_retries=Retry(total=False, redirect=False, raise_on_status=False)
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(
        session=session, session_owner=False, connection_timeout=conn.connect_timeout_seconds,
        read_timeout=conn.timeout_seconds, connection_data_block_size=GET_CHUNK,
    )


def _new_client(conn: Connection, conn_str: str | None) -> BlobServiceClient:
    options: dict[str, Any] = dict(
        transport=_transport(conn),  # carries the timeouts: the client's own timeout options go unused with it
        retry_total=0,  # retried() retries from the taxonomy; SDK retries would multiply them
        max_single_get_size=GET_CHUNK,
        max_chunk_get_size=GET_CHUNK,
    )
    if conn.credentials == "emulator":
        if not conn.endpoint:
            raise InvalidInput("an emulator connection needs an endpoint", target=conn.name)
        credential = {"account_name": conn.account or AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
        return BlobServiceClient(conn.endpoint, credential=credential, **options)
    if conn.credentials == "connection-string-env":
        if not conn_str:
            raise InvalidInput(f"environment variable {CONNECTION_STRING_ENV} is not set", target=conn.name)
        try:
            return BlobServiceClient.from_connection_string(conn_str, **options)
        except ValueError:
            # `from None`: the SDK's error could quote the string, and with it the key.
            raise InvalidInput(f"{CONNECTION_STRING_ENV} is not a valid connection string", target=conn.name) from None
    if conn.credentials == "block":
        return _block_client(conn, options)
    url = conn.endpoint or (f"https://{conn.account}.blob.core.windows.net" if conn.account else None)
    if not url:
        raise InvalidInput("an Azure connection needs an endpoint or an account name", target=conn.name)
    return BlobServiceClient(url, credential=default_token_credential(conn), **options)


def _block_client(conn: Connection, options: dict) -> BlobServiceClient:
    """A client from the connection's block: a connection string, an account key, or a service principal."""
    block = block_credentials(conn)
    if block.has("connection_string"):
        try:
            return BlobServiceClient.from_connection_string(block.get("connection_string"), **options)
        except ValueError:
            raise InvalidInput(f"credentials block {block.block}: connection_string is not valid",
                               target=conn.name) from None  # the SDK's error could quote the key
    account = conn.account or block.get("account_name") or block.get("account_url")
    url = conn.endpoint or (account if "://" in (account or "") else
                            f"https://{account}.blob.core.windows.net" if account else None)
    if not url:
        raise InvalidInput(f"credentials block {block.block} with no connection string needs an endpoint or an "
                           "account name", target=conn.name)
    if block.has("account_key"):
        credential = {"account_name": conn.account or block.get("account_name"), "account_key": block.get("account_key")}
        return BlobServiceClient(url, credential=credential, **options)
    return BlobServiceClient(url, credential=default_token_credential(conn), **options)


def default_token_credential(conn: Connection):
    """A token credential for the blob, management and Key Vault clients: the block's service
    principal (credentials 'block'), else azure-identity's DefaultAzureCredential. Raises
    InvalidInput naming the connection when azure-identity is not installed or the block holds
    no service principal."""
    try:
        from azure.identity import ClientSecretCredential, DefaultAzureCredential
    except ImportError:
        raise InvalidInput(f"Azure credentials {conn.credentials!r} need azure-identity: pip install azure-identity",
                           target=conn.name) from None
    if conn.credentials != "block":
        return DefaultAzureCredential()
    block = block_credentials(conn)
    if not block.has("tenant_id", "client_id", "client_secret"):
        raise InvalidInput(f"credentials block {block.block} holds no connection string, account key or service "
                           "principal (tenant_id, client_id, client_secret)", target=conn.name)
    return ClientSecretCredential(block.get("tenant_id"), block.get("client_id"), block.get("client_secret"))


def client_for(conn: Connection) -> BlobServiceClient:
    """The shared client of a connection, made once. Raises InvalidInput for a bad connection."""
    conn_str = os.environ.get(CONNECTION_STRING_ENV) if conn.credentials == "connection-string-env" else None
    key = (
        conn.endpoint, conn.account, conn.credentials, conn.block, conn.timeout_seconds, conn.connect_timeout_seconds,
        hashlib.sha256(conn_str.encode()).hexdigest() if conn_str else None,
    )
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = _new_client(conn, conn_str)
        return client


def plain_url(url: str) -> str:
    """`url` without its query string, which may hold a SAS token."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
