"""`mem://name/prefix`: the in-process backend's registry entry."""

from multicloud.clouds.registry import Backend, ContractEnv, ContractFixture, declare
from multicloud.core.objects import Capabilities


def _fresh(env: ContractEnv, backend: Backend) -> str:
    return f"mem://{env.unique_name()}/"


# No missing bucket for the contract suite: naming a memory bucket makes it.
BACKEND = declare(
    "mem", None, "multicloud.clouds.memory.storage", "MemoryStore",
    Capabilities(hashes=frozenset({"md5"}), list_returns_metadata=True), ContractFixture(fresh=_fresh),
    description="objects held in this process, shared by every store of the same name",
)
