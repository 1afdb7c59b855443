"""`file:///path`: a directory as an object store. Keys are relative paths; content type,
cache control, user metadata and the SHA-256 live in a sidecar JSON under `.multicloud/`."""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Mapping

from multicloud.clouds.common import BoundedReader
from multicloud.clouds.local.backend import BACKEND
from multicloud.core.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from multicloud.core.objects import (
    DEFAULT_CONTENT_TYPE, SHA256_METADATA_KEY, HashingReader, ObjectMeta, StoreUrl, check_key, check_stream,
    user_metadata,
)

_CHUNK = 1 << 20
_SIDE = ".multicloud"


def create_bucket(conn: None, path: str) -> None:
    """Make the directory (and its parents). Raises PermissionDenied, InvalidInput if a file is in the way."""
    try:
        os.makedirs(path, exist_ok=True)
    except PermissionError as exc:
        raise PermissionDenied("cannot create the directory", target=f"file://{path}") from exc
    except (FileExistsError, NotADirectoryError) as exc:
        raise InvalidInput("a file is in the way of the directory", target=f"file://{path}") from exc


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class LocalStore:
    """One directory. Writes go to a temporary file first and appear atomically."""

    capabilities = BACKEND.capabilities

    def __init__(self, url: StoreUrl, conn: None = None):
        """Raises nothing: a missing directory is NotFound at the first listing, made by the first write."""
        self.url = str(url)
        # Paths of keys are plain strings, not Path objects: pathlib interns every segment it
        # parses, and with a copy's worker threads each resize of the interpreter's table of
        # interned strings left memory behind (measured, 100,000 keys copied: the process grew
        # by 18 MiB with Path objects, 5 MiB without).
        self._root = os.path.abspath(url.bucket)
        self._inside = os.path.join(self._root, "")  # what a path below the root starts with
        self._tmp_dir = os.path.join(self._root, _SIDE, "tmp")

    # -- paths ---------------------------------------------------------------------------
    def _check(self, key: str) -> str:
        check_key(key, self.url)
        parts = key.split("/")
        if any(p in ("", ".", "..") for p in parts) or parts[0] == _SIDE:
            raise InvalidInput("a local key may not have empty, '.' or '..' segments or start with "
                               f"'{_SIDE}/'", target=f"{self.url} key={key!r}")
        return key

    def _data(self, key: str) -> str:
        return os.path.join(self._root, self._check(key))

    def local_path(self, key: str) -> Path:
        """The file behind `key`, for readers that need random access (Parquet)."""
        return Path(self._data(key))

    def _side(self, key: str) -> str:
        return os.path.join(self._root, _SIDE, "meta", self._check(key) + ".json")

    def _tmp(self) -> str:
        os.makedirs(self._tmp_dir, exist_ok=True)
        return os.path.join(self._tmp_dir, uuid.uuid4().hex)

    def _missing(self, key: str) -> NotFound:
        return NotFound("no such object", target=f"{self.url}/{key}")

    # -- contract ------------------------------------------------------------------------
    def list(self, prefix: str = "") -> Iterator[ObjectMeta]:
        """Files under `prefix` in key order, one directory read at a time. Raises NotFound."""
        if not os.path.isdir(self._root):
            raise NotFound("directory does not exist", target=self.url)
        yield from self._walk(self._root, "", prefix)

    def _walk(self, folder: str, rel: str, prefix: str) -> Iterator[ObjectMeta]:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return
        # A directory's keys all start with "name/", so it sorts as that string.
        ordered = sorted(((e.name + "/" if e.is_dir(follow_symlinks=False) else e.name), e) for e in entries)
        for sort_name, entry in ordered:
            path = rel + sort_name
            if not rel and sort_name == _SIDE + "/":
                continue
            if sort_name.endswith("/"):
                if path.startswith(prefix) or prefix.startswith(path):
                    yield from self._walk(entry.path, path, prefix)
            elif path.startswith(prefix):
                st = entry.stat()
                yield ObjectMeta(key=path, size=st.st_size, etag=f"{st.st_mtime_ns:x}-{st.st_size:x}",
                                 last_modified=datetime.fromtimestamp(st.st_mtime, timezone.utc))

    def stat(self, key: str) -> ObjectMeta:
        """Size, times and the sidecar's metadata. Raises NotFound, InvalidInput for a bad key."""
        try:
            st = os.stat(self._data(key))
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(key) from None
        try:
            with open(self._side(key), "rb") as f:
                side = json.loads(f.read())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            side = {"content_type": mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE, "metadata": {}}
        metadata = side.get("metadata", {})
        hashes = {"sha256": metadata[SHA256_METADATA_KEY]} if SHA256_METADATA_KEY in metadata else {}
        return ObjectMeta(
            key=key, size=st.st_size, last_modified=datetime.fromtimestamp(st.st_mtime, timezone.utc),
            etag=f"{st.st_mtime_ns:x}-{st.st_size:x}", content_type=side.get("content_type"),
            cache_control=side.get("cache_control"), metadata=metadata, hashes=hashes,
        )

    def open(self, key: str, start: int | None = None, end: int | None = None) -> BinaryIO:
        """A reader over bytes [start, end). Raises NotFound, InvalidInput for a bad key."""
        try:
            f = open(self._data(key), "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise self._missing(key) from None
        f.seek(start or 0)
        remaining = None if end is None else max(0, end - (start or 0))

        def chunks() -> Iterator[bytes]:
            nonlocal remaining
            while remaining is None or remaining > 0:
                data = f.read(_CHUNK if remaining is None else min(_CHUNK, remaining))
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                yield data

        return BoundedReader(chunks(), close=f.close)

    def write(
        self,
        key: str,
        stream: BinaryIO,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        cache_control: str | None = None,
        expected_sha256: str | None = None,
    ) -> ObjectMeta:
        """Stream into a temporary file, then link it in place. Raises AlreadyExists (if_absent and the
        file exists), InvalidInput (bad key or metadata, size mismatch, a file where a folder must be),
        PreconditionFailed (SHA-256 mismatch), PermissionDenied."""
        dest, side = self._data(key), self._side(key)
        target = f"{self.url}/{key}"
        tmp = self._tmp()
        try:
            reader = HashingReader(stream)
            with open(tmp, "wb") as out:
                while data := reader.read(_CHUNK):
                    out.write(data)
            check_stream(reader, size, expected_sha256, target)
            meta = user_metadata(metadata, reader.hexdigest(), target)
            record = {"content_type": content_type or DEFAULT_CONTENT_TYPE, "cache_control": cache_control,
                      "metadata": meta}
            try:
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                os.makedirs(os.path.dirname(side), exist_ok=True)
                if if_absent:
                    os.link(tmp, dest)  # atomic create-if-absent
                    _write_text(side, json.dumps(record))
                else:
                    _write_text(side, json.dumps(record))
                    os.replace(tmp, dest)
            except FileExistsError:
                raise AlreadyExists("object exists", target=target) from None
            except (NotADirectoryError, IsADirectoryError) as exc:
                raise InvalidInput("a key cannot be both an object and a folder of others here", target=target) from exc
            except PermissionError as exc:
                raise PermissionDenied("cannot write", target=target) from exc
        finally:
            _remove(tmp)
        return ObjectMeta(key=key, size=reader.bytes_read, content_type=record["content_type"],
                          cache_control=cache_control, metadata=meta, hashes={"sha256": reader.hexdigest()})

    def delete(self, keys: Iterable[str]) -> int:
        """Remove files and sidecars; missing keys are not an error. Raises InvalidInput for a bad key."""
        count = 0
        for key in keys:
            count += 1
            for path in (self._data(key), self._side(key)):
                try:
                    os.unlink(path)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                self._prune(os.path.dirname(path))
        return count

    def _prune(self, folder: str) -> None:
        # Empty folders would otherwise linger as phantom prefixes.
        while folder.startswith(self._inside):
            try:
                os.rmdir(folder)
            except OSError:
                return
            folder = os.path.dirname(folder)

    def copy(self, src_key: str, dst_key: str) -> ObjectMeta:
        """Copy file and sidecar. Raises NotFound for a missing source, InvalidInput for a bad key."""
        src, dest = self._data(src_key), self._data(dst_key)
        if not os.path.isfile(src):
            raise self._missing(src_key)
        tmp = self._tmp()
        try:
            shutil.copyfile(src, tmp)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if os.path.exists(self._side(src_key)):
                os.makedirs(os.path.dirname(self._side(dst_key)), exist_ok=True)
                shutil.copyfile(self._side(src_key), self._side(dst_key))
            os.replace(tmp, dest)
        finally:
            _remove(tmp)
        return self.stat(dst_key)

    def copy_from(self, source, src_key: str, dst_key: str) -> ObjectMeta | None:
        """No server-side copy between buckets here: always None, the caller streams. Raises nothing."""
        return None

    def close(self) -> None:
        """Nothing to release: every reader closes its own file; raises nothing."""
