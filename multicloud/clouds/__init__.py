"""I/O only: one folder per cloud, each filling in the ObjectStore contract, found through the
backend registry (`multicloud.clouds.registry`).

`open_store(url)` picks the backend from the URL scheme and the connection from the profile."""

from __future__ import annotations

from multicloud.clouds import registry
from multicloud.config import Connection, Profile, load_profile
from multicloud.core.errors import InvalidInput
from multicloud.core.objects import ObjectStore, StoreUrl


def open_store(url: str, profile: Profile | None = None, connection: str | None = None) -> ObjectStore:
    """Open the store at `url` (any registered scheme: s3://, az://, gs://, mem://, file://...).

    Cloud URLs use `connection` (a name in the profile) or the profile's first connection of that
    cloud; the profile is read only for them. Raises InvalidInput for a malformed URL, an unknown
    scheme or connection, or a bucket name the backend refuses."""
    parsed = StoreUrl.parse(url)
    backend = registry.backend(parsed.scheme)
    if backend.cloud is None:
        return backend.open(parsed, None)
    return backend.open(parsed, (profile or load_profile()).connection_for(backend.cloud, connection))


def store_for(conn: Connection, parsed: StoreUrl) -> ObjectStore:
    """The store of one connection's bucket. Raises InvalidInput when `parsed` is not of the
    connection's cloud or names a bucket the backend refuses."""
    backend = registry.backend(parsed.scheme)
    if backend.cloud != conn.cloud:
        raise InvalidInput(f"{parsed.scheme}:// is not a {conn.cloud} store", target=conn.name)
    return backend.open(parsed, conn)


def bucket_store(conn: Connection, bucket: str) -> ObjectStore:
    """The whole of one bucket of a connection, through its cloud's storage backend."""
    return store_for(conn, StoreUrl(registry.backend_of_cloud(conn.cloud).scheme, bucket, ""))


def list_buckets(conn: Connection) -> list[str]:
    """Names of every bucket or container the connection can see. Raises PermissionDenied,
    InvalidInput for a connection the SDK cannot use."""
    return registry.backend_of_cloud(conn.cloud).list_buckets(conn)


def create_bucket(conn: Connection, name: str) -> None:
    """Create a bucket or container; an existing one is left as it is. Raises InvalidInput for a
    name the cloud refuses, PermissionDenied."""
    registry.backend_of_cloud(conn.cloud).create_bucket(conn, name)


def ensure_bucket(url: str, profile: Profile) -> None:
    """Create the bucket, container or directory of `url` if it is missing (a memory bucket exists
    once named). Raises InvalidInput for a bad URL or name, PermissionDenied."""
    parsed = StoreUrl.parse(url)
    backend = registry.backend(parsed.scheme)
    backend.create_bucket(profile.connection_for(backend.cloud) if backend.cloud else None, parsed.bucket)
