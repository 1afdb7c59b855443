"""`az://container/prefix`: the Azure Blob Storage backend's registry entry."""

from multicloud.clouds.registry import CLOUD_CONTRACT, Backend, lazy
from multicloud.core.objects import Capabilities
from multicloud.core.schemes import KeyRules, MetadataRules

_STORAGE = "multicloud.clouds.azure.storage"

BACKEND = Backend(
    scheme="az",
    cloud="azure",
    open=lazy(_STORAGE, "AzureBlobStore"),
    create_bucket=lazy(_STORAGE, "create_bucket"),
    list_buckets=lazy(_STORAGE, "list_buckets"),
    # md5: Content-MD5, which our writes set on every blob (staged uploads included).
    capabilities=Capabilities(hashes=frozenset({"md5"}), list_returns_metadata=True, cross_bucket_copy=True),
    contract=CLOUD_CONTRACT,
    # Azure turns "\" into "/", and normalises "." / ".." segments, a trailing "/" or ".".
    keys=KeyRules(control_chars=True, backslash=True, dot_segments=True, trailing_slash=True, trailing_dot=True),
    metadata=MetadataRules(name_pattern=r"[A-Za-z_][A-Za-z0-9_]*"),  # a C# identifier
    description="Azure Blob Storage (block blobs)",
)
