"""A restic repository (format version 2) over any ObjectStore: create or open it with a password,
read and write its unpacked files (config, keys, index, snapshots, locks), packs and blobs."""

from __future__ import annotations

import ctypes
import getpass
import hashlib
import io
import json
import os
import socket
import struct
import threading
import time
from datetime import datetime, timezone
from typing import Iterator

import numpy
import zstandard

from multicloud.core.backups.chunker import is_irreducible, random_polynomial
from multicloud.core.backups.retention import SnapshotTime
from multicloud.core.backups.format import DATA, TREE, PackEntry, decode_tree, format_datetime, index_entries
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.objects import ObjectStore
from multicloud.core.redact import redact_url
from multicloud.engine.restic.crypto import Key, KdfParams, make_key_file, open_key_file
from multicloud.engine.restic.errors import (
    CorruptData, NotARepository, RepositoryLocked, UnsupportedVersion, WrongPassword,
)

VERSION = 2
KINDS = ("keys", "index", "snapshots", "locks")
_ENTRY = struct.Struct("<IIII")  # pack number, offset, length, raw length
_TYPE_BYTE = {DATA: b"d", TREE: b"t"}
_KEY = 33  # type byte + blob id
LOCK_REFRESH_SECONDS = 300
LOCK_STALE_SECONDS = 1800


def _put(store: ObjectStore, key: str, data: bytes) -> None:
    store.write(key, io.BytesIO(data), size=len(data))


def _get(store: ObjectStore, key: str, start: int | None = None, end: int | None = None) -> bytes:
    reader = store.open(key, start, end)
    try:
        return reader.read()
    finally:
        reader.close()


class _Parts:
    """A read-only stream over a pack's parts (sealed blobs, header, length), so a pack is never
    joined into one more buffer before its upload."""

    def __init__(self, parts: list[bytes]):
        self._parts, self._i, self._at = parts, 0, 0

    def read(self, n: int = -1) -> bytes:
        out = []
        while self._i < len(self._parts) and n != 0:
            part = self._parts[self._i]
            view = memoryview(part)[self._at:]
            if 0 < n < len(view):
                view = view[:n]
            out.append(view)
            self._at += len(view)
            n -= len(view) if n > 0 else 0
            if self._at == len(part):
                self._i, self._at = self._i + 1, 0
        return b"".join(out)

    def readable(self) -> bool:
        return True


def node_time_ns(text: str) -> int:
    """Epoch nanoseconds of a node's RFC 3339 time; our writer's own form (UTC, nine digits) without
    the general parser, as restore and incremental backups read two or three per file. InvalidInput."""
    if len(text) == 30 and text[19] == "." and text[-1] == "Z" and text[20:29].isdigit():
        try:
            seconds = datetime.fromisoformat(text[:19]).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise InvalidInput("node time is not RFC 3339", target=repr(text)) from None
        return int(seconds) * 1_000_000_000 + int(text[20:29])
    return SnapshotTime.parse(text).epoch_ns


def decompress(payload: bytes, size: int | None, what: str) -> bytes:
    """A zstd frame's bytes; restic's frames may omit the content size, so stream when unknown."""
    try:
        if size:
            return zstandard.ZstdDecompressor().decompress(payload, max_output_size=size)
        return zstandard.ZstdDecompressor().decompressobj().decompress(payload)
    except zstandard.ZstdError as exc:
        raise CorruptData(f"zstd frame does not decompress: {exc}", target=what) from None


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
COMPRESSION_LEVELS = {"auto": 3, "max": 11}
_allocator_tuned = False


def keep_freed_buffers() -> None:
    """Have glibc keep freed buffers of up to 32 MiB for reuse (up to 128 MiB idle) instead of giving
    each chunk, sealed blob and pack its own fresh mmap: the page faults of fresh mappings cost
    more than the crypto (measured here: sealing 1 MiB took 3.1 ms, 0.7 ms with this). A no-op
    on other C libraries."""
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 128 << 20)
    except (OSError, AttributeError):
        pass


class BlobIndex:
    """Where every blob is. Settled entries live in sorted flat arrays (the 33-byte type+id key, an
    8-byte search prefix and a 16-byte location: 57 bytes per blob); entries added since the last
    merge sit in a dict (about 170 bytes each) until `SETTLE_EVERY` of them are merged in."""

    SETTLE_EVERY = 50_000

    def __init__(self) -> None:
        self.packs: list[str] = []
        self._pack_number: dict[str, int] = {}
        self._recent: dict[bytes, bytes] = {}
        self._prefixes = numpy.empty(0, dtype=numpy.uint64)  # sorted: the first 8 key bytes, read big-endian
        self._keys = numpy.empty((0, _KEY), dtype=numpy.uint8)  # the full keys, in the same order
        self._locations = numpy.empty((0, _ENTRY.size), dtype=numpy.uint8)  # _ENTRY-packed, same order

    def add(self, pack_id: str, entry: PackEntry) -> None:
        number = self._pack_number.get(pack_id)
        if number is None:
            number = self._pack_number[pack_id] = len(self.packs)
            self.packs.append(pack_id)
        self._recent[_TYPE_BYTE[entry.blob_type] + entry.blob_id] = _ENTRY.pack(
            number, entry.offset, entry.length, entry.raw_length)
        if len(self._recent) >= self.SETTLE_EVERY:
            self.settle()

    def settle(self) -> None:
        """Merge the recent entries into the sorted arrays (a recent entry wins over a settled one).
        Each step drops what it replaced, so a merge needs about twice the arrays, not more."""
        if not self._recent:
            return
        fresh = len(self._recent)
        keys = numpy.concatenate([self._keys, numpy.frombuffer(b"".join(self._recent), numpy.uint8).reshape(fresh, _KEY)])
        locations = numpy.concatenate([self._locations, numpy.frombuffer(
            b"".join(self._recent.values()), numpy.uint8).reshape(fresh, _ENTRY.size)])
        self._recent, self._keys, self._locations, self._prefixes = {}, keys[:0], locations[:0], self._prefixes[:0]
        words = [keys[:, at:at + 8].copy().view(">u8").ravel() for at in (24, 16, 8)]
        order = numpy.lexsort((keys[:, 32], *words, keys[:, :8].copy().view(">u8").ravel()))
        del words  # by the whole key, stable: equal keys side by side, the newest last
        keys = keys[order]
        locations = locations[order]
        del order
        keep = numpy.ones(len(keys), dtype=bool)
        keep[:-1] = (keys[:-1] != keys[1:]).any(axis=1)  # a blob indexed again keeps its newest location
        if not keep.all():
            keys, locations = keys[keep], locations[keep]
        self._keys, self._locations = keys, locations
        # Native byte order: numpy.searchsorted on a big-endian array converts the array on every call.
        self._prefixes = keys[:, :8].copy().view(">u8").ravel().astype(numpy.uint64)

    def _location(self, key: bytes) -> bytes | None:
        found = self._recent.get(key)
        if found is not None or not len(self._prefixes):
            return found
        prefix = numpy.uint64(int.from_bytes(key[:8], "big"))  # a numpy scalar: a Python int makes it slow
        i = int(numpy.searchsorted(self._prefixes, prefix, side="left"))
        while i < len(self._prefixes) and self._prefixes[i] == prefix:
            if self._keys[i].tobytes() == key:
                return self._locations[i].tobytes()
            i += 1
        return None

    def has(self, blob_type: str, blob_id: bytes) -> bool:
        return self._location(_TYPE_BYTE[blob_type] + blob_id) is not None

    def find(self, blob_type: str, blob_id: bytes) -> tuple[str, PackEntry]:
        """(pack id, entry) of a blob. Raises NotFound."""
        packed = self._location(_TYPE_BYTE[blob_type] + blob_id)
        if packed is None:
            raise NotFound(f"{blob_type} blob is in no index", target=blob_id.hex())
        number, offset, length, raw = _ENTRY.unpack(packed)
        return self.packs[number], PackEntry(blob_id, blob_type, offset, length, raw)

    def _recent_only(self) -> list[bytes]:
        recent, self._recent = self._recent, {}
        try:
            return [key for key in recent if self._location(key) is None]
        finally:
            self._recent = recent

    def count(self, blob_type: str) -> int:
        code = _TYPE_BYTE[blob_type][0]
        return int((self._keys[:, 0] == code).sum()) + sum(1 for key in self._recent_only() if key[0] == code)

    def __len__(self) -> int:
        return len(self._prefixes) + len(self._recent_only())


class Repository:
    """An open repository: its store, master key and config."""

    def __init__(self, store: ObjectStore, key: Key, config: dict):
        self.store, self.key, self.config = store, key, config
        self.name = redact_url(store.url)
        self._local = threading.local()  # a zstd compressor is not thread safe: one per thread
        self.compression_level = COMPRESSION_LEVELS["auto"]
        keep_freed_buffers()

    def use_compression(self, mode: str) -> None:
        """restic's --compression: `auto` (zstd level 3, restic's default) or `max` (level 11, about
        what restic's best setting gives); `off` is the writer's choice per blob (trees are always
        compressed)."""
        self.compression_level = COMPRESSION_LEVELS.get(mode, COMPRESSION_LEVELS["auto"])
        self._local = threading.local()

    @property
    def _zstd(self) -> zstandard.ZstdCompressor:
        compressor = getattr(self._local, "zstd", None)
        if compressor is None:
            compressor = self._local.zstd = zstandard.ZstdCompressor(level=self.compression_level)
        return compressor

    # -- create and open ------------------------------------------------------------------------
    @classmethod
    def create(cls, store: ObjectStore, password: str, kdf: KdfParams = KdfParams()) -> "Repository":
        """Initialise a new v2 repository. Raises InvalidInput when the store already holds one or files."""
        name = redact_url(store.url)
        if not password:
            raise InvalidInput("the repository password is empty", target=name)
        try:
            existing = next(iter(store.list()), None)
        except NotFound:
            existing = None
        if existing is not None:
            raise InvalidInput(f"cannot create a repository in a store that is not empty (holds {existing.key!r})",
                               target=name)
        master = Key.generate()
        poly = random_polynomial(lambda: int.from_bytes(os.urandom(8), "little"))
        config = {"version": VERSION, "id": os.urandom(32).hex(), "chunker_polynomial": f"{poly:x}"}
        key_file = make_key_file(master, password, kdf, format_datetime(datetime.now(timezone.utc)),
                                 getpass.getuser(), socket.gethostname())
        _put(store, "keys/" + hashlib.sha256(key_file).hexdigest(), key_file)
        _put(store, "config", master.seal(json.dumps(config).encode()))  # raw JSON, never compressed
        return cls(store, master, config)

    @classmethod
    def open(cls, store: ObjectStore, password: str) -> "Repository":
        """Open with `password`. Raises NotARepository, WrongPassword, UnsupportedVersion, CorruptData."""
        name = redact_url(store.url)
        try:
            sealed_config = _get(store, "config")
        except NotFound:
            raise NotARepository("not a restic repository: it has no config file", target=name) from None
        key_ids = [m.key for m in store.list("keys/")]
        if not key_ids:
            raise NotARepository("not a restic repository: it has no key files under keys/", target=name)
        key = None
        for key_name in key_ids:
            key = open_key_file(_get(store, key_name), password, f"{name} {key_name}")
            if key is not None:
                break
        if key is None:
            raise WrongPassword(f"wrong password: none of the {len(key_ids)} key file(s) opens with it", target=name)
        try:
            config = json.loads(key.open(sealed_config, f"{name} config"))
        except ValueError as exc:
            raise NotARepository(f"config is not restic JSON: {exc}", target=name) from None
        if config.get("version") != VERSION:
            raise UnsupportedVersion(f"repository format version {config.get('version')!r} is not supported; "
                                     f"this engine reads and writes version {VERSION} "
                                     "(restic migrate upgrade_repo_v2 upgrades it)", target=name)
        if not is_irreducible(int(config.get("chunker_polynomial", "0"), 16)):
            raise CorruptData("config's chunker polynomial is not irreducible", target=name)
        return cls(store, key, config)

    # -- unpacked files -------------------------------------------------------------------------
    def save_unpacked(self, kind: str, doc: dict) -> str:
        """Seal `0x02 || zstd(JSON)` into `kind/<sha256 of file>`; returns the id."""
        plain = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
        sealed = self.key.seal(b"\x02" + self._zstd.compress(plain))
        file_id = hashlib.sha256(sealed).hexdigest()
        _put(self.store, f"{kind}/{file_id}", sealed)
        return file_id

    def load_unpacked(self, kind: str, file_id: str) -> dict:
        """Read, verify (name = hash), open and parse one unpacked file. Raises NotFound, CorruptData."""
        what = f"{self.name} {kind}/{file_id}"
        sealed = _get(self.store, f"{kind}/{file_id}")
        if hashlib.sha256(sealed).hexdigest() != file_id:
            raise CorruptData("file content does not match its name (sha256)", target=what)
        plain = self.key.open(sealed, what)
        if plain[:1] == b"\x02":
            plain = decompress(plain[1:], None, what)
        elif plain[:1] not in (b"{", b"["):
            raise CorruptData(f"unsupported encoding byte {plain[:1]!r}", target=what)
        try:
            return json.loads(plain)
        except ValueError as exc:
            raise CorruptData(f"not JSON: {exc}", target=what) from None

    def list_ids(self, kind: str) -> Iterator[str]:
        prefix = kind + "/"
        for meta in self.store.list(prefix):
            name = meta.key[len(prefix):]
            if len(name) == 64 and "/" not in name:
                yield name

    # -- packs and blobs -----------------------------------------------------------------------
    def save_pack(self, pack: bytes) -> str:
        return self.save_pack_parts([pack])

    def save_pack_parts(self, parts: list[bytes]) -> str:
        """Store a pack given as its parts in order (never joined: one less copy); returns its id."""
        digest = hashlib.sha256()
        for part in parts:
            digest.update(part)
        pack_id = digest.hexdigest()
        self.store.write(f"data/{pack_id[:2]}/{pack_id}", _Parts(parts), size=sum(len(p) for p in parts))
        return pack_id

    def seal_blob(self, plain: bytes, compress: bool) -> tuple[bytes, int]:
        """(ciphertext, raw length or 0): zstd first when asked and when it makes the blob smaller."""
        if compress and plain:
            packed = self._zstd.compress(plain)
            if len(packed) < len(plain):
                return self.key.seal(packed), len(plain)
        return self.key.seal(plain), 0

    def load_index(self) -> BlobIndex:
        index = BlobIndex()
        for file_id in self.list_ids("index"):
            for pack_id, entry in index_entries(self.load_unpacked("index", file_id)):
                index.add(pack_id, entry)
        index.settle()
        return index

    def read_blob(self, index: BlobIndex, blob_type: str, blob_id: bytes) -> bytes:
        """A blob's plaintext, its hash checked. Raises NotFound, CorruptData."""
        pack_id, entry = index.find(blob_type, blob_id)
        sealed = _get(self.store, f"data/{pack_id[:2]}/{pack_id}", entry.offset, entry.offset + entry.length)
        return self.open_blob(pack_id, entry, sealed)

    def open_blob(self, pack_id: str, entry: PackEntry, sealed: bytes | memoryview) -> bytes:
        """The plaintext of `entry`'s ciphertext `sealed` (read from pack `pack_id`): MAC, zstd and
        SHA-256 checked. Raises CorruptData naming the pack and the blob."""
        what = f"{self.name} data/{pack_id[:2]}/{pack_id} {entry.blob_type} blob {entry.blob_id.hex()}"
        if len(sealed) != entry.length:
            raise CorruptData(f"pack is shorter than the index says ({len(sealed)} of {entry.length} bytes)",
                              target=what)
        plain = self.key.open(sealed, what)
        if entry.raw_length:
            plain = decompress(plain, entry.raw_length, what)
        if hashlib.sha256(plain).digest() != entry.blob_id:
            raise CorruptData("blob content does not match its id (sha256)", target=what)
        return plain

    def read_pack_range(self, pack_id: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of a pack, in one read."""
        return _get(self.store, f"data/{pack_id[:2]}/{pack_id}", start, end)

    def read_tree(self, index: BlobIndex, tree_id: str) -> list[dict]:
        return decode_tree(self.read_blob(index, TREE, bytes.fromhex(tree_id)))

    # -- snapshots and locks --------------------------------------------------------------------
    def snapshots(self) -> list[dict]:
        """Every snapshot's JSON with its `id`, oldest first."""
        found = [{**self.load_unpacked("snapshots", sid), "id": sid} for sid in self.list_ids("snapshots")]
        return sorted(found, key=lambda s: SnapshotTime.parse(s["time"]).epoch_ns)

    def lock(self, exclusive: bool = False) -> "Lock":
        return Lock(self, exclusive)


class Lock:
    """restic's lock protocol: write our lock, look again after 200 ms, give way to any conflicting
    lock (an exclusive one, or any when we are exclusive), refresh every 5 minutes, remove at the end."""

    def __init__(self, repo: Repository, exclusive: bool):
        self.repo, self.exclusive = repo, exclusive
        self.file_id: str | None = None
        self._written = 0.0

    def __enter__(self) -> "Lock":
        self._check_others()
        self._write()
        time.sleep(0.2)
        try:
            self._check_others()
        except RepositoryLocked:
            self.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _write(self) -> None:
        doc = {"time": datetime.now(timezone.utc).isoformat(), "exclusive": self.exclusive,
               "hostname": socket.gethostname(), "username": getpass.getuser(), "pid": os.getpid(),
               "uid": os.getuid(), "gid": os.getgid()}
        self.file_id = self.repo.save_unpacked("locks", doc)
        self._written = time.monotonic()

    def _check_others(self) -> None:
        for file_id in self.repo.list_ids("locks"):
            if file_id == self.file_id:
                continue
            try:
                doc = self.repo.load_unpacked("locks", file_id)
            except (NotFound, CorruptData):
                continue  # removed meanwhile, or not ours to read: restic ignores these too
            if self.exclusive or doc.get("exclusive"):
                raise RepositoryLocked(f"repository is locked by PID {doc.get('pid')} on {doc.get('hostname')} "
                                       f"since {doc.get('time')} (exclusive: {doc.get('exclusive')})",
                                       target=self.repo.name)

    def check(self) -> None:
        """Raise RepositoryLocked when a conflicting lock has appeared."""
        self._check_others()

    def refresh(self) -> None:
        """Every 5 minutes (cheap otherwise): give way to a conflicting lock, else replace ours by a fresh one."""
        if time.monotonic() - self._written >= LOCK_REFRESH_SECONDS:
            self._check_others()
            old = self.file_id
            self._write()
            self.repo.store.delete([f"locks/{old}"])

    def release(self) -> None:
        if self.file_id:
            self.repo.store.delete([f"locks/{self.file_id}"])
            self.file_id = None
