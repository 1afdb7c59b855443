"""boto3 clients built from a connection: timeouts on every request, the SDK's own retries off
(the taxonomy drives retries), one cached client per connection and service; the connection's
credential chain and an HTTP pool for the requests signed outside a client."""

from __future__ import annotations

import threading
import urllib.request

import boto3
import urllib3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.httpsession import get_cert_path

from multicloud.config import Connection
from multicloud.core.errors import InvalidInput

_CLIENTS: dict[tuple, object] = {}
_SESSIONS: dict[tuple, boto3.session.Session] = {}
_POOLS: dict[tuple, urllib3.PoolManager] = {}
_LOCK = threading.Lock()
_RAW_POOL = 64  # as the SDK's pool: one connection per copy thread
# The emulator accepts any keys; these are not secrets.
_EMULATOR_KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def _conn_key(conn: Connection) -> tuple:
    return (conn.name, conn.endpoint, conn.region, conn.credentials, conn.block)


def _session(conn: Connection) -> boto3.session.Session:
    key = _conn_key(conn)
    if key not in _SESSIONS:
        options = {"region_name": conn.region or "us-east-1"}
        if conn.credentials == "emulator":
            options.update(_EMULATOR_KEYS)
        elif conn.credentials == "block":
            options.update(_block_options(conn))
        _SESSIONS[key] = boto3.session.Session(**options)
    return _SESSIONS[key]


def _block_options(conn: Connection) -> dict:
    """Session options from the connection's AwsCredentials-shaped block: keys, or a profile name."""
    from multicloud.clouds.credential_blocks import block_credentials

    block = block_credentials(conn)
    if block.has("aws_access_key_id", "aws_secret_access_key"):
        options = {"aws_access_key_id": block.get("aws_access_key_id"),
                   "aws_secret_access_key": block.get("aws_secret_access_key"),
                   "aws_session_token": block.get("aws_session_token")}
    elif block.has("profile_name"):
        options = {"profile_name": block.get("profile_name")}
    else:
        raise InvalidInput(f"credentials block {block.block} holds neither access keys nor a profile name",
                           target=conn.name)
    if not conn.region and block.has("region_name"):
        options["region_name"] = block.get("region_name")
    return options


def credentials(conn: Connection) -> Credentials:
    """The connection's credentials from the SDK's own chain (refreshed by botocore when they
    expire), for requests signed outside a client."""
    with _LOCK:
        return _session(conn).get_credentials()


def http_pool(conn: Connection) -> urllib3.PoolManager:
    """One pooled urllib3 manager per connection for raw signed requests: the connection's
    timeouts, botocore's CA bundle, the environment's proxy, no retries and no redirects."""
    key = _conn_key(conn)
    with _LOCK:
        if key not in _POOLS:
            options = dict(num_pools=16, maxsize=_RAW_POOL, retries=False, ca_certs=get_cert_path(True),
                           timeout=urllib3.Timeout(connect=conn.connect_timeout_seconds, read=conn.timeout_seconds))
            endpoint = conn.endpoint or "https://s3.amazonaws.com"
            scheme, host = endpoint.split("://", 1)
            proxy = urllib.request.getproxies().get(scheme)
            bypass = urllib.request.proxy_bypass(host.split("/", 1)[0])
            _POOLS[key] = urllib3.ProxyManager(proxy, **options) if proxy and not bypass else \
                urllib3.PoolManager(**options)
        return _POOLS[key]


def client(conn: Connection, service: str, max_pool: int = 64):
    """A thread-safe boto3 client for `service` on `conn`."""
    key = (*_conn_key(conn), service, max_pool)
    with _LOCK:
        if key not in _CLIENTS:
            config = Config(
                connect_timeout=conn.connect_timeout_seconds,
                read_timeout=conn.timeout_seconds,
                retries={"total_max_attempts": 1, "mode": "standard"},  # max_attempts=1 meant one retry
                max_pool_connections=max_pool,
                s3={"addressing_style": "path"} if conn.endpoint else None,
                # Presigned URLs too are SigV4 (botocore would presign SigV2, refused by newer regions).
                signature_version="s3v4" if service == "s3" else None,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            _CLIENTS[key] = _session(conn).client(service, endpoint_url=conn.endpoint, config=config)
        return _CLIENTS[key]
