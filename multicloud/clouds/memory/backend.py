"""`mem://name/prefix`: the in-process backend's registry entry."""

from multicloud.clouds.registry import Backend, ContractEnv, ContractFixture, lazy
from multicloud.core.objects import Capabilities

_STORAGE = "multicloud.clouds.memory.storage"


def _fresh(env: ContractEnv, backend: Backend) -> str:
    return f"mem://{env.unique_name()}/"


BACKEND = Backend(
    scheme="mem",
    cloud=None,
    open=lazy(_STORAGE, "MemoryStore"),
    create_bucket=lazy(_STORAGE, "create_bucket"),
    list_buckets=None,
    capabilities=Capabilities(hashes=frozenset({"md5"}), list_returns_metadata=True),
    contract=ContractFixture(fresh=_fresh),  # no missing bucket: naming one makes it
    description="objects held in this process, shared by every store of the same name",
)
