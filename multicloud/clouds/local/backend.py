"""`file:///path`: the directory backend's registry entry."""

from multicloud.clouds.registry import Backend, ContractEnv, ContractFixture, lazy
from multicloud.core.objects import Capabilities
from multicloud.core.schemes import KeyRules

_STORAGE = "multicloud.clouds.local.storage"


def _fresh(env: ContractEnv, backend: Backend) -> str:
    return f"file://{env.tmp_dir()}"


def _missing(env: ContractEnv, backend: Backend) -> str:
    return f"file://{env.tmp_dir()}/nonexistent"


BACKEND = Backend(
    scheme="file",
    cloud=None,
    open=lazy(_STORAGE, "LocalStore"),
    create_bucket=lazy(_STORAGE, "create_bucket"),
    list_buckets=None,
    # Listings read directories only, not the metadata sidecars; no digest is kept beside the SHA-256.
    capabilities=Capabilities(),
    contract=ContractFixture(fresh=_fresh, missing=_missing),
    # Keys are relative paths: ".", "..", empty segments and a trailing "/" cannot be files.
    keys=KeyRules(dot_segments=True, trailing_slash=True, empty_segments=True),
    url_form="path",
    description="a directory; metadata in a sidecar JSON under .multicloud/",
)
