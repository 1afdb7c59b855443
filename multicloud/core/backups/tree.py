"""Object keys as snapshot tree paths and back: keys a tree cannot hold are encoded reversibly with the
project's key escapes (strict: every literal escape escaped too), so the key of every file node is
`unescape_key("/".join(path))` (`tree_key`); plus the snapshot
root path of a store URL and the identity that lets an unchanged object reuse its parent's content."""

from __future__ import annotations

import base64
from typing import Mapping, Sequence

from multicloud.core.errors import InvalidInput
from multicloud.core.keys import ESCAPE, escape_key, unescape_key
from multicloud.core.schemes import KeyRules

#: What a tree cannot hold where it stands: empty segments (`//`, a leading `/`), a trailing `/`,
#: and `.`/`..` segments (restic cannot restore such names).
TREE_KEY_RULES = KeyRules(dot_segments=True, dot_keys=True, trailing_slash=True, empty_segments=True)

# Extended-attribute names a backed-up object's metadata travels under (our restore puts them back).
XATTR_CONTENT_TYPE = "user.multicloud.content_type"
XATTR_CACHE_CONTROL = "user.multicloud.cache_control"
XATTR_ETAG = "user.multicloud.etag"
XATTR_SHA256 = "user.multicloud.sha256"
XATTR_META_PREFIX = "user.multicloud.meta."  # + the user-metadata name, as the source stores it, decoded


def tree_path(key: str) -> tuple[str, ...]:
    """The path segments of `key` in a snapshot tree: every segment non-empty, never `.` or `..`."""
    if not key:
        raise InvalidInput("an object key may not be empty", target=repr(key))
    return tuple(escape_key(key, TREE_KEY_RULES).split("/"))


def tree_key(path: Sequence[str]) -> str:
    """The object key of a file node at `path` (the exact inverse of `tree_path` and `beside_folder`)."""
    return unescape_key("/".join(path))


def beside_folder(name: str) -> str:
    """Another name for a file whose name a folder also needs (key `a` beside `a/b`): its last
    character not already escaped is escaped, so the name differs and still decodes to the same key.
    Raises InvalidInput when every character is already escaped (a `.` file beside a `./x` folder)."""
    i = len(name)
    while i >= 3 and name[i - 3] == ESCAPE:
        i -= 3  # skip whole escapes: re-escaping their characters would change what they decode to
    if i == 0:
        raise InvalidInput("the key is both a file and a folder and has no character left to escape",
                           target=repr(unescape_key(name)))
    char = name[i - 1]
    return name[:i - 1] + "".join(f"{ESCAPE}{b:02X}" for b in char.encode("utf-8")) + name[i:]


def snapshot_root(scheme: str, bucket: str, prefix: str) -> tuple[str, ...]:
    """The folders of a store URL's snapshot path, `/<scheme>/<bucket>/<prefix>` (a file:// path keeps
    its own folders under `/file`)."""
    parts = [scheme, *bucket.strip("/").split("/"), *prefix.strip("/").split("/")]
    segments = tuple(p for p in parts if p)
    for segment in segments:
        if segment in (".", "..") or "\x00" in segment:
            raise InvalidInput("a store URL's path may not hold '.', '..' or NUL segments",
                               target=f"{scheme}://{bucket}/{prefix}")
    return segments


def snapshot_path(root: Sequence[str]) -> str:
    return "/" + "/".join(root)


def entry_identity(size: int | None, etag: str | None, sha256: str | None) -> str | None:
    """What says an object is unchanged without reading it: its size with its etag, or else with its
    SHA-256; None (always read) when the store gives neither, or no size."""
    if size is None:
        return None
    if etag:
        return f"{size}:etag:{etag.strip(chr(34))}"
    if sha256:
        return f"{size}:sha256:{sha256.lower()}"
    return None


def node_identity(node: Mapping) -> str | None:
    """The identity a file node of an earlier snapshot recorded in its extended attributes."""
    attrs = {a.get("name"): a.get("value") for a in node.get("extended_attributes") or ()}
    etag, sha = (_b64(attrs.get(XATTR_ETAG)), _b64(attrs.get(XATTR_SHA256)))
    return entry_identity(node.get("size"), etag, sha) if node.get("type") == "file" else None


def _b64(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value).decode("utf-8")
    except ValueError:
        return None


def source_root(url: str | None = None, postgres: str | None = None) -> tuple[str, ...]:
    """The snapshot root of a plan's source: `/<scheme>/<bucket>/<prefix>` for a store,
    `/postgresql/<host>[:port]/<database>` for a PostgreSQL DSN."""
    if postgres is not None:
        from multicloud.core.backups.postgres import snapshot_path as postgres_path

        return tuple(p for p in postgres_path(postgres).split("/") if p)
    from multicloud.core.objects import StoreUrl

    parsed = StoreUrl.parse(url or "")
    return snapshot_root(parsed.scheme, parsed.bucket, parsed.prefix)
