"""`az://container/prefix`: the Azure Blob Storage backend's registry entry."""

from multicloud.clouds.registry import declare
from multicloud.core.objects import Capabilities
from multicloud.core.schemes import KeyRules, MetadataRules

# md5: Content-MD5, which our writes set on every blob (staged uploads included).
# Keys: Azure turns "\" into "/", and normalises "." / ".." segments, a trailing "/" or ".".
# Metadata names: C# identifiers.
BACKEND = declare(
    "az", "azure", "multicloud.clouds.azure.storage", "AzureBlobStore",
    Capabilities(hashes=frozenset({"md5"}), list_returns_metadata=True, cross_bucket_copy=True,
                 signed_urls=True),
    keys=KeyRules(control_chars=True, backslash=True, dot_segments=True, trailing_slash=True, trailing_dot=True),
    metadata=MetadataRules(name_pattern=r"[A-Za-z_][A-Za-z0-9_]*"), description="Azure Blob Storage (block blobs)",
)
