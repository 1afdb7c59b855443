"""The restic v2 repository layouts as pure encoders and decoders: tree nodes and tree blobs,
snapshot and index JSON, pack headers, Go mode bits, Go-quoted names and RFC 3339 times."""

from __future__ import annotations

import json
import stat
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator, Mapping, Sequence

from multicloud.core.errors import InvalidInput

DATA, TREE = "data", "tree"
#: Pack header entry types: plain and compressed, per blob type.
_TYPE_CODE = {(DATA, False): 0, (TREE, False): 1, (DATA, True): 2, (TREE, True): 3}
_CODE_TYPE = {v: k for k, v in _TYPE_CODE.items()}
PLAIN_ENTRY = struct.Struct("<BI32s")  # type, encrypted length, id
COMPRESSED_ENTRY = struct.Struct("<BII32s")  # type, encrypted length, plaintext length, id
NODE_TYPES = ("file", "dir", "symlink", "dev", "chardev", "fifo", "socket")

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}
_GO_UNESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
                 '"': '"', "'": "'"}


@dataclass(frozen=True)
class PackEntry:
    """One blob in a pack: where it is, how long its ciphertext is and its plaintext length
    (`raw_length` 0 means stored uncompressed)."""

    blob_id: bytes
    blob_type: str
    offset: int
    length: int
    raw_length: int = 0


def go_quote_name(name: str) -> str:
    """Go's `strconv.Quote(name)` without the quotes, as restic stores node names; bytes that are
    not UTF-8 (surrogate escapes from `os.fsdecode`) become `\\xNN`."""
    if name.isascii() and name.isprintable() and "\\" not in name and '"' not in name:
        return name  # nothing to escape: the common case, without the loop
    out = []
    for ch in name:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append("\\x%02x" % (code - 0xDC00))
        elif code < 0x20 or code == 0x7F:
            out.append("\\x%02x" % code)
        elif not ch.isprintable():
            out.append("\\u%04x" % code if code < 0x10000 else "\\U%08x" % code)
        else:
            out.append(ch)
    return "".join(out)


def go_unquote_name(text: str) -> str:
    """The inverse of `go_quote_name` (Go's `strconv.Unquote`); `\\xNN` above 0x7f gives a surrogate
    escape, so `os.fsencode` returns the original bytes. InvalidInput on a malformed escape."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "\\":
            out.append(text[i])
            i += 1
            continue
        char, used = _unescape(text, i + 1)
        out.append(char)
        i += 1 + used
    return "".join(out)


def _unescape(text: str, at: int) -> tuple[str, int]:
    """The character of the escape starting after a backslash at `at`, and how many characters it used."""
    kind = text[at:at + 1]
    if kind in _GO_UNESCAPES:
        return _GO_UNESCAPES[kind], 1
    width = {"x": 2, "u": 4, "U": 8}.get(kind, 0)
    digits = text[at + 1:at + 1 + width]
    if not width or len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise InvalidInput("tree node name has an invalid escape", target=repr(text))
    code = int(digits, 16)
    return (chr(0xDC00 + code) if kind == "x" and code >= 0x80 else chr(code)), 1 + width


def go_mode(st_mode: int) -> int:
    """Go `os.FileMode` bits of a POSIX `st_mode`, as restic stores `mode`."""
    mode = st_mode & 0o777
    if st_mode & stat.S_ISUID:
        mode |= 1 << 23
    if st_mode & stat.S_ISGID:
        mode |= 1 << 22
    if st_mode & stat.S_ISVTX:
        mode |= 1 << 20
    return mode | {stat.S_IFDIR: 1 << 31, stat.S_IFLNK: 1 << 27}.get(stat.S_IFMT(st_mode), 0)


def posix_permissions(go_mode_bits: int) -> int:
    """The permission and setuid/setgid/sticky bits of a Go file mode, for `os.chmod`."""
    mode = go_mode_bits & 0o777
    for go_bit, posix_bit in ((1 << 23, stat.S_ISUID), (1 << 22, stat.S_ISGID), (1 << 20, stat.S_ISVTX)):
        if go_mode_bits & go_bit:
            mode |= posix_bit
    return mode


def format_time(epoch_ns: int) -> str:
    """RFC 3339 in UTC with nanoseconds, as our writer always stores times."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    d = datetime.fromtimestamp(seconds, timezone.utc)  # fields, not strftime: three per node, and much faster
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{nanos:09d}Z"


def format_datetime(moment: datetime) -> str:
    """An aware datetime as an RFC 3339 UTC time."""
    if moment.tzinfo is None:
        raise InvalidInput("time must carry a time zone", target=repr(moment))
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return format_time((delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000)


def check_name(name: str) -> str:
    """Refuse node names restic cannot restore (empty, '.', '..', a '/' or NUL)."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise InvalidInput("a tree node name may not be empty, '.', '..', or hold '/' or NUL", target=repr(name))
    return name


def file_node(name: str, size: int, content: Sequence[str], *, mode: int = 0o644, mtime_ns: int = 0,
              atime_ns: int | None = None, ctime_ns: int | None = None, uid: int = 0, gid: int = 0,
              extended_attributes: Mapping[str, bytes] | None = None) -> dict:
    """A file node; `size` and a list (maybe empty) `content` are what restore relies on, and no
    `links` is written, so restic never hard-links unrelated files (reference §10)."""
    node = _base_node(name, "file", go_mode(stat.S_IFREG | mode), mtime_ns, atime_ns, ctime_ns, uid, gid)
    node["size"] = size
    node["content"] = list(content)
    if extended_attributes:
        node["extended_attributes"] = _xattrs(extended_attributes)
    return node


def dir_node(name: str, subtree: str, *, mode: int = 0o755, mtime_ns: int = 0, atime_ns: int | None = None,
             ctime_ns: int | None = None, uid: int = 0, gid: int = 0) -> dict:
    node = _base_node(name, "dir", go_mode(stat.S_IFDIR | mode), mtime_ns, atime_ns, ctime_ns, uid, gid)
    node["content"] = None
    node["subtree"] = subtree
    return node


def symlink_node(name: str, target: str, *, mtime_ns: int = 0, uid: int = 0, gid: int = 0) -> dict:
    node = _base_node(name, "symlink", go_mode(stat.S_IFLNK | 0o777), mtime_ns, None, None, uid, gid)
    node["linktarget"] = target
    node["content"] = None
    return node


def _base_node(name, kind, mode, mtime_ns, atime_ns, ctime_ns, uid, gid) -> dict:
    return {"name": check_name(name), "type": kind, "mode": mode, "mtime": format_time(mtime_ns),
            "atime": format_time(mtime_ns if atime_ns is None else atime_ns),
            "ctime": format_time(mtime_ns if ctime_ns is None else ctime_ns), "uid": uid, "gid": gid}


def _xattrs(attrs: Mapping[str, bytes]) -> list[dict]:
    import base64

    return [{"name": k, "value": base64.b64encode(v).decode()} for k, v in sorted(attrs.items())]


def encode_tree(nodes: Iterable[dict]) -> bytes:
    """A tree blob: nodes sorted by the bytes of their names, names Go-quoted, compact JSON plus a
    newline. InvalidInput on a duplicate name."""
    # restic sorts by the name's bytes: the file-system encoding on POSIX (UTF-8, with undecodable
    # bytes kept as surrogates), which is what os.fsencode would give.
    ordered = sorted(nodes, key=lambda n: n["name"].encode("utf-8", "surrogateescape"))
    for a, b in zip(ordered, ordered[1:]):
        if a["name"] == b["name"]:
            raise InvalidInput("a tree cannot hold two nodes of the same name", target=repr(a["name"]))
    quoted = [{**n, "name": go_quote_name(n["name"])} for n in ordered]
    return json.dumps({"nodes": quoted}, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode_tree(blob: bytes) -> list[dict]:
    """Nodes of a tree blob, names unquoted. InvalidInput when it is not a tree."""
    try:
        nodes = json.loads(blob)["nodes"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"not a restic tree blob: {exc}", target="tree") from None
    for node in nodes:
        node["name"] = go_unquote_name(node["name"])
        if node.get("type") not in NODE_TYPES:
            raise InvalidInput(f"tree node of unknown type {node.get('type')!r}", target=repr(node["name"]))
    return nodes


def snapshot_document(tree: str, paths: Sequence[str], time: str, *, hostname: str = "", username: str = "",
                      tags: Sequence[str] = (), parent: str | None = None, uid: int = 0, gid: int = 0) -> dict:
    """A snapshot's JSON; `paths` must be absolute POSIX-style strings (reference §4.5)."""
    for path in paths:
        if not path.startswith("/"):
            raise InvalidInput("snapshot paths must be absolute, like /s3/bucket/prefix", target=repr(path))
    doc: dict = {"time": time}
    if parent:
        doc["parent"] = parent
    doc.update({"tree": tree, "paths": list(paths), "hostname": hostname, "username": username, "uid": uid,
                "gid": gid})
    if tags:
        doc["tags"] = list(tags)
    return doc


def index_document(packs: Mapping[str, Sequence[PackEntry]], supersedes: Sequence[str] = ()) -> dict:
    """An index file's JSON for `packs` (pack id -> its entries)."""
    doc: dict = {"supersedes": list(supersedes)} if supersedes else {}
    doc["packs"] = [{"id": pack_id, "blobs": [_index_blob(e) for e in entries]} for pack_id, entries in packs.items()]
    return doc


def _index_blob(entry: PackEntry) -> dict:
    blob = {"id": entry.blob_id.hex(), "type": entry.blob_type, "offset": entry.offset, "length": entry.length}
    if entry.raw_length:
        blob["uncompressed_length"] = entry.raw_length
    return blob


def index_entries(doc: Mapping) -> Iterator[tuple[str, PackEntry]]:
    """(pack id, entry) for every blob of an index file's JSON."""
    try:
        for pack in doc["packs"]:
            for blob in pack["blobs"]:
                yield pack["id"], PackEntry(bytes.fromhex(blob["id"]), blob["type"], blob["offset"], blob["length"],
                                            blob.get("uncompressed_length", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"not a restic index: {exc!r}", target="index") from None


def encode_pack_header(entries: Sequence[PackEntry]) -> bytes:
    """The plaintext pack header: one 37- or 41-byte entry per blob, in pack order."""
    out = bytearray()
    for e in entries:
        code = _TYPE_CODE[(e.blob_type, bool(e.raw_length))]
        if e.raw_length:
            out += COMPRESSED_ENTRY.pack(code, e.length, e.raw_length, e.blob_id)
        else:
            out += PLAIN_ENTRY.pack(code, e.length, e.blob_id)
    return bytes(out)


def decode_pack_header(header: bytes) -> list[PackEntry]:
    """Entries of a plaintext pack header, offsets accumulated. InvalidInput when malformed."""
    entries, pos, offset = [], 0, 0
    while pos < len(header):
        code = header[pos]
        if code not in _CODE_TYPE:
            raise InvalidInput(f"pack header has an unknown blob type {code}", target="pack")
        blob_type, compressed = _CODE_TYPE[code]
        layout = COMPRESSED_ENTRY if compressed else PLAIN_ENTRY
        if pos + layout.size > len(header):
            raise InvalidInput("pack header is truncated", target="pack")
        fields = layout.unpack_from(header, pos)
        length, raw, blob_id = (fields[1], fields[2], fields[3]) if compressed else (fields[1], 0, fields[2])
        entries.append(PackEntry(blob_id, blob_type, offset, length, raw))
        offset += length
        pos += layout.size
    return entries
