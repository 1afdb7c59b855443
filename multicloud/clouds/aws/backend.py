"""`s3://bucket/prefix`: the S3 backend's registry entry."""

from multicloud.clouds.registry import declare
from multicloud.core.objects import Capabilities
from multicloud.core.schemes import MetadataRules

# md5: the ETag of every object our writes leave (a multipart upload ends in a single-request
# metadata copy, whose ETag is the MD5). ListObjectsV2 returns no user metadata.
# Metadata names: S3 lowercases them; keep to the characters every S3 client sends as they are.
BACKEND = declare(
    "s3", "aws", "multicloud.clouds.aws.storage", "S3Store",
    Capabilities(hashes=frozenset({"md5"}), list_returns_metadata=False, cross_bucket_copy=True,
                 signed_urls=True),
    metadata=MetadataRules(name_pattern=r"[a-z0-9_.\-]+"), description="Amazon S3 (or an S3-compatible endpoint)",
)
