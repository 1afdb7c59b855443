"""`gs://bucket/prefix`: the Cloud Storage backend's registry entry."""

from multicloud.clouds.registry import declare
from multicloud.core.objects import Capabilities
from multicloud.core.schemes import KeyRules

# md5 and crc32c: kept for every object our writes make (none are composite).
# Keys: object names "." and ".." and control characters are refused.
BACKEND = declare(
    "gs", "gcp", "multicloud.clouds.gcp.storage", "GcsStore",
    Capabilities(hashes=frozenset({"md5", "crc32c"}), list_returns_metadata=True, cross_bucket_copy=True,
                 signed_urls=True),
    keys=KeyRules(control_chars=True, dot_keys=True), description="Google Cloud Storage (JSON API)",
)
