"""`gs://bucket/prefix`: the Cloud Storage backend's registry entry."""

from multicloud.clouds.registry import CLOUD_CONTRACT, Backend, lazy
from multicloud.core.objects import Capabilities
from multicloud.core.schemes import KeyRules

_STORAGE = "multicloud.clouds.gcp.storage"

BACKEND = Backend(
    scheme="gs",
    cloud="gcp",
    open=lazy(_STORAGE, "GcsStore"),
    create_bucket=lazy(_STORAGE, "create_bucket"),
    list_buckets=lazy(_STORAGE, "list_buckets"),
    # md5 and crc32c: kept for every object our writes make (none are composite).
    capabilities=Capabilities(hashes=frozenset({"md5", "crc32c"}), list_returns_metadata=True,
                              cross_bucket_copy=True),
    contract=CLOUD_CONTRACT,
    keys=KeyRules(control_chars=True, dot_keys=True),  # object names "." and ".." are refused
    description="Google Cloud Storage (JSON API)",
)
