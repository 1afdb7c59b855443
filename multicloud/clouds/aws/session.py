"""boto3 clients built from a connection: timeouts on every request, the SDK's own retries off
(the taxonomy drives retries), one cached client per connection and service."""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

from multicloud.config import Connection

_CLIENTS: dict[tuple, object] = {}
_LOCK = threading.Lock()
# The emulator accepts any keys; these are not secrets.
_EMULATOR_KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def client(conn: Connection, service: str, max_pool: int = 64):
    """A thread-safe boto3 client for `service` on `conn`."""
    key = (conn.name, conn.endpoint, conn.region, conn.credentials, service, max_pool)
    with _LOCK:
        if key not in _CLIENTS:
            config = Config(
                connect_timeout=conn.connect_timeout_seconds,
                read_timeout=conn.timeout_seconds,
                retries={"max_attempts": 1, "mode": "standard"},
                max_pool_connections=max_pool,
                s3={"addressing_style": "path"} if conn.endpoint else None,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            creds = _EMULATOR_KEYS if conn.credentials == "emulator" else {}
            session = boto3.session.Session(region_name=conn.region or "us-east-1", **creds)
            _CLIENTS[key] = session.client(service, endpoint_url=conn.endpoint, config=config)
        return _CLIENTS[key]
