"""Repository passwords wrapped by a cloud key, as pure decisions: where the wrapped password of a
repository lives (beside the repository's folder, where restic and our repository checks never look),
and the small self-describing document it is stored as."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from multicloud.core.errors import InvalidInput
from multicloud.core.objects import StoreUrl
from multicloud.core.schemes import scheme_rules

WRAPPED_SUFFIX = ".password.wrapped"
FORMAT = "multicloud-wrapped-password/1"
#: Bound to every wrapping that takes additional data (AWS encryption context, Cloud KMS AAD).
CONTEXT = {"purpose": "multicloud-repository-password"}
MAX_DOCUMENT_BYTES = 64 << 10


@dataclass(frozen=True)
class WrappedLocation:
    """The store (the repository's parent folder) and key of one repository's wrapped password."""

    parent: str
    key: str
    repository: str


def wrapped_location(repository: str) -> WrappedLocation:
    """`s3://b/backups/db/` -> (`s3://b/backups/`, `db.password.wrapped`); `file:///srv/repo` ->
    (`file:///srv`, `repo.password.wrapped`). Beside, not inside: creating a repository needs an empty
    store. Raises InvalidInput for a repository at a bucket's root (nothing is beside it)."""
    url = StoreUrl.parse(repository)
    if scheme_rules(url.scheme).url_form == "path":
        parent, _, name = url.bucket.rstrip("/").rpartition("/")
        if not name:
            raise InvalidInput("a KMS-wrapped password is stored beside the repository's folder: the "
                               "repository cannot be the file system's root", target=repository)
        return WrappedLocation(f"{url.scheme}://{parent or '/'}", name + WRAPPED_SUFFIX, repository)
    parent, _, name = url.prefix.rstrip("/").rpartition("/")
    if not name:
        raise InvalidInput("a KMS-wrapped password is stored beside the repository's folder: give the "
                           "repository a folder in its bucket (e.g. s3://bucket/backups/plan)", target=repository)
    prefix = parent + "/" if parent else ""
    return WrappedLocation(f"{url.scheme}://{url.bucket}/{prefix}", name + WRAPPED_SUFFIX, repository)


@dataclass(frozen=True)
class WrappedPassword:
    """A password as one KMS key wrapped it: the provider, the key as configured, the ciphertext."""

    provider: str
    key: str
    ciphertext: bytes

    def encode(self) -> bytes:
        return json.dumps({"format": FORMAT, "provider": self.provider, "key": self.key,
                           "ciphertext": base64.b64encode(self.ciphertext).decode()}, indent=1).encode() + b"\n"


def decode_wrapped(data: bytes, where: str) -> WrappedPassword:
    """Parse a stored wrapped password. Raises InvalidInput naming `where` when it is not one."""
    try:
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ValueError("too large")
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        wrapped = WrappedPassword(str(doc["provider"]), str(doc["key"]),
                                  base64.b64decode(doc["ciphertext"], validate=True))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput(f"not a wrapped password document ({exc})", target=where) from None
    if not wrapped.ciphertext:
        raise InvalidInput("the wrapped password document holds no ciphertext", target=where)
    return wrapped
