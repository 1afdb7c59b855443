"""I/O only: one folder per cloud, each filling in the ObjectStore contract.

`open_store(url)` picks the backend from the URL scheme and the connection from the
active profile (see `multicloud.config`)."""

from __future__ import annotations

from multicloud.config import Connection, Profile, load_profile
from multicloud.core.errors import InvalidInput
from multicloud.core.objects import ObjectStore, StoreUrl

_CLOUD_OF_SCHEME = {"s3": "aws", "az": "azure", "gs": "gcp"}


def open_store(url: str, profile: Profile | None = None, connection: str | None = None) -> ObjectStore:
    """Open the store at `url` (s3://, az://, gs://, mem://, file://).

    Cloud URLs use `connection` (a name in the profile) or the profile's first connection
    of that cloud. Raises InvalidInput for a malformed URL or an unknown connection."""
    parsed = StoreUrl.parse(url)
    if parsed.scheme == "mem":
        from multicloud.clouds.memory.storage import MemoryStore

        return MemoryStore(parsed)
    if parsed.scheme == "file":
        from multicloud.clouds.local.storage import LocalStore

        return LocalStore(parsed)
    conn = (profile or load_profile()).connection_for(_CLOUD_OF_SCHEME[parsed.scheme], connection)
    return store_for(conn, parsed)


def store_for(conn: Connection, parsed: StoreUrl) -> ObjectStore:
    """The store of one connection's bucket."""
    if conn.cloud == "aws":
        from multicloud.clouds.aws.storage import S3Store

        return S3Store(parsed, conn)
    if conn.cloud == "azure":
        from multicloud.clouds.azure.storage import AzureBlobStore

        return AzureBlobStore(parsed, conn)
    if conn.cloud == "gcp":
        from multicloud.clouds.gcp.storage import GcsStore

        return GcsStore(parsed, conn)
    raise InvalidInput(f"unknown cloud {conn.cloud!r}", target=conn.name)


def list_buckets(conn: Connection) -> list[str]:
    """Names of every bucket or container the connection can see."""
    if conn.cloud == "aws":
        from multicloud.clouds.aws.storage import list_buckets as fn
    elif conn.cloud == "azure":
        from multicloud.clouds.azure.storage import list_buckets as fn
    else:
        from multicloud.clouds.gcp.storage import list_buckets as fn
    return fn(conn)


def create_bucket(conn: Connection, name: str) -> None:
    """Create a bucket or container; an existing one is left as it is."""
    if conn.cloud == "aws":
        from multicloud.clouds.aws.storage import create_bucket as fn
    elif conn.cloud == "azure":
        from multicloud.clouds.azure.storage import create_bucket as fn
    else:
        from multicloud.clouds.gcp.storage import create_bucket as fn
    fn(conn, name)


def ensure_bucket(url: str, profile: Profile) -> None:
    """Create the bucket or container of a cloud URL (a directory for file://) if it is missing."""
    parsed = StoreUrl.parse(url)
    if parsed.scheme in _CLOUD_OF_SCHEME:
        create_bucket(profile.connection_for(_CLOUD_OF_SCHEME[parsed.scheme]), parsed.bucket)
    elif parsed.scheme == "file":
        import os

        os.makedirs(parsed.bucket, exist_ok=True)
