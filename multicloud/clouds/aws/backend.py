"""`s3://bucket/prefix`: the S3 backend's registry entry."""

from multicloud.clouds.registry import CLOUD_CONTRACT, Backend, lazy
from multicloud.core.objects import Capabilities
from multicloud.core.schemes import MetadataRules

_STORAGE = "multicloud.clouds.aws.storage"

BACKEND = Backend(
    scheme="s3",
    cloud="aws",
    open=lazy(_STORAGE, "S3Store"),
    create_bucket=lazy(_STORAGE, "create_bucket"),
    list_buckets=lazy(_STORAGE, "list_buckets"),
    # md5: the ETag of every object our writes leave (multipart uploads end in a single-request
    # metadata copy, whose ETag is the MD5). ListObjectsV2 returns no user metadata.
    capabilities=Capabilities(hashes=frozenset({"md5"}), list_returns_metadata=False, cross_bucket_copy=True),
    contract=CLOUD_CONTRACT,
    # S3 lowercases user-metadata names; keep to the characters every S3 client sends as is.
    metadata=MetadataRules(name_pattern=r"[a-z0-9_.\-]+"),
    description="Amazon S3 (or an S3-compatible endpoint)",
)
