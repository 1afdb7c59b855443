"""`file:///path`: the directory backend's registry entry."""

from multicloud.clouds.registry import Backend, ContractEnv, ContractFixture, declare
from multicloud.core.objects import Capabilities
from multicloud.core.schemes import KeyRules


def _fresh(env: ContractEnv, backend: Backend) -> str:
    return f"file://{env.tmp_dir()}"


def _missing(env: ContractEnv, backend: Backend) -> str:
    return f"file://{env.tmp_dir()}/nonexistent"


# Listings read directories only, not the metadata sidecars; no digest is kept beside the SHA-256.
# Keys are relative paths: ".", "..", empty segments and a trailing "/" cannot be files.
BACKEND = declare(
    "file", None, "multicloud.clouds.local.storage", "LocalStore", Capabilities(),
    ContractFixture(fresh=_fresh, missing=_missing),
    keys=KeyRules(dot_segments=True, trailing_slash=True, empty_segments=True), url_form="path",
    description="a directory; metadata in a sidecar JSON under .multicloud/",
)
