"""The backend registry (rclone's `fs.Register`): each backend folder declares one `Backend` in its
`backend.py` (scheme, cloud, constructor, bucket listing and creation, key and metadata rules,
capabilities, and how the contract suite gets a fresh store of it); `BACKEND_MODULES` lists them.
`open_store`, the scheme lists, core's key rules and `tests/contract` all read this table."""

from __future__ import annotations

import importlib
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

from multicloud.core.errors import InvalidInput
from multicloud.core.objects import Capabilities, ObjectStore, StoreUrl
from multicloud.core.schemes import KeyRules, MetadataRules, SchemeRules, register_scheme

if TYPE_CHECKING:
    from multicloud.config import Connection, Profile

#: One line per backend: the module holding its `BACKEND`. Adding a backend = its folder + one line here.
BACKEND_MODULES = (
    "multicloud.clouds.memory.backend",
    "multicloud.clouds.local.backend",
    "multicloud.clouds.aws.backend",
    "multicloud.clouds.azure.backend",
    "multicloud.clouds.gcp.backend",
)


def lazy(module: str, name: str) -> Callable:
    """`module.name`, imported at the first call, so the registry loads without any cloud SDK."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"{module}.{name}"
    return call


@dataclass(frozen=True)
class ContractEnv:
    """What the contract suite hands a backend's test-store factory: a fresh temporary directory
    and the local emulator profile, each made only when asked for."""

    tmp_dir: Callable[[], str]
    profile: Callable[[], "Profile"]

    @staticmethod
    def unique_name(prefix: str = "c") -> str:
        """A bucket name valid on every cloud: lowercase, digits, dashes, 3-63 chars."""
        return f"{prefix}-{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True)
class ContractFixture:
    """How `tests/contract` exercises a backend.

    - fresh: URL of a new, empty bucket (made through the backend's own bucket creation).
    - missing: URL of a bucket that does not exist; None when naming a bucket creates it.
    - refused_bucket_name: a bucket name the backend refuses with InvalidInput; None: no naming rules.
    """

    fresh: Callable[[ContractEnv, "Backend"], str]
    missing: Callable[[ContractEnv, "Backend"], str] | None = None
    refused_bucket_name: str | None = None


def fresh_cloud_bucket(env: ContractEnv, backend: "Backend") -> str:
    """A new bucket on the backend's cloud connection of the local profile."""
    name = env.unique_name()
    backend.create_bucket(env.profile().connection_for(backend.cloud), name)
    return f"{backend.scheme}://{name}/"


def missing_cloud_bucket(env: ContractEnv, backend: "Backend") -> str:
    return f"{backend.scheme}://no-such-bucket-{os.getpid()}-{uuid.uuid4().hex[:8]}"


CLOUD_CONTRACT = ContractFixture(fresh_cloud_bucket, missing_cloud_bucket, refused_bucket_name="Bad_Bucket!")


@dataclass(frozen=True)
class Backend:
    """One backend, declared in one place (usually through `declare`).

    `open(url, conn)` makes the store (`conn` is None for backends without a cloud);
    `list_buckets(conn)` and `create_bucket(conn, name)` (an existing bucket is left as it is) work
    on the connection's account. `keys` and `metadata` are the rules core's encoders apply for
    targets of this scheme; `capabilities` are the store's (the store class reads them from here)."""

    scheme: str
    cloud: str | None
    open: Callable[[StoreUrl, "Connection | None"], ObjectStore]
    create_bucket: Callable[["Connection | None", str], None]
    list_buckets: Callable[["Connection"], list[str]] | None
    capabilities: Capabilities
    contract: ContractFixture
    keys: KeyRules = field(default_factory=KeyRules)
    metadata: MetadataRules = field(default_factory=MetadataRules)
    url_form: str = "bucket"
    description: str = ""


def declare(scheme: str, cloud: str | None, storage: str, store_class: str, capabilities: Capabilities,
            contract: ContractFixture = CLOUD_CONTRACT, **rules) -> Backend:
    """A Backend whose store class and `create_bucket` (and, on a cloud, `list_buckets`) live in the
    module `storage`, imported at first use. `rules`: keys, metadata, url_form, description."""
    return Backend(
        scheme=scheme, cloud=cloud, open=lazy(storage, store_class), create_bucket=lazy(storage, "create_bucket"),
        list_buckets=lazy(storage, "list_buckets") if cloud else None, capabilities=capabilities, contract=contract,
        **rules,
    )


_BACKENDS: dict[str, Backend] = {}
_LOCK = threading.Lock()


def register(backend: Backend) -> Backend:
    """Add a backend (replacing one of the same scheme) and its rules to core's scheme table."""
    with _LOCK:
        _BACKENDS[backend.scheme] = backend
        register_scheme(SchemeRules(backend.scheme, backend.url_form, backend.keys, backend.metadata))
    return backend


def backends() -> Iterator[Backend]:
    """Every registered backend, in registration order."""
    return iter(list(_BACKENDS.values()))


def backend(scheme: str) -> Backend:
    """The backend of `scheme`. Raises InvalidInput naming it."""
    found = _BACKENDS.get(scheme)
    if found is None:
        raise InvalidInput(f"unknown store scheme {scheme!r}; expected one of {', '.join(_BACKENDS)}", target=scheme)
    return found


def backend_of_cloud(cloud: str) -> Backend:
    """The object-storage backend of a cloud ("aws", "azure", "gcp"). Raises InvalidInput naming it."""
    for candidate in _BACKENDS.values():
        if candidate.cloud == cloud:
            return candidate
    raise InvalidInput(f"no storage backend for cloud {cloud!r}", target=cloud)


def _load() -> None:
    for name in BACKEND_MODULES:
        register(importlib.import_module(name).BACKEND)


_load()
