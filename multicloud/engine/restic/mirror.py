"""Mirrors: one restic repository kept in several stores that share its config and master key, so a file
encrypted once is valid in all. Files are uploaded to every live mirror (each upload checked against
its SHA-256); a mirror that fails drops out of the run and gets no snapshot while the others go on."""

from __future__ import annotations

import hashlib
import heapq
import io
import threading
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Iterable, Iterator, Mapping, Sequence

from multicloud.core.errors import InvalidInput, NotFound, StoreError
from multicloud.core.objects import Capabilities, ObjectMeta, ObjectStore
from multicloud.engine.restic.crypto import KdfParams, make_key_file, open_key_file
from multicloud.engine.restic.errors import CorruptData, NotARepository, RepositoryLocked
from multicloud.engine.restic.repository import LOCK_REFRESH_SECONDS, BlobIndex, Lock, Repository, _get, _put
from multicloud.engine.restic.writer import SnapshotWriter
from multicloud.core.backups.format import dir_node, format_datetime, index_entries


class MirrorsFailed(StoreError):
    """Every mirror of the run has failed."""


class FanoutStore:
    """An ObjectStore over the live mirrors: a write goes to each of them at once (verified by SHA-256
    and size), a read or listing from the first that has the file. A mirror whose write fails is moved
    to `failed` with its error; deletes still reach it (our locks), failing silently there."""

    capabilities = Capabilities()

    def __init__(self, stores: Mapping[str, ObjectStore]):
        self.live: dict[str, ObjectStore] = dict(stores)
        self.failed: dict[str, str] = {}
        self._all = dict(stores)
        self.url = next(iter(stores))
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(stores)), thread_name_prefix="restic-mirror")
        self._guard = threading.Lock()

    def drop(self, url: str, error: str) -> None:
        with self._guard:
            if self.live.pop(url, None) is not None:
                self.failed[url] = error

    def _live(self) -> list[tuple[str, ObjectStore]]:
        with self._guard:
            if not self.live:
                raise MirrorsFailed("every repository of the run failed: " + "; ".join(
                    f"{u}: {e}" for u, e in self.failed.items()), target=", ".join(self.failed))
            return list(self.live.items())

    def write(self, key: str, stream: BinaryIO, size: int | None = None, **_ignored) -> ObjectMeta:
        data = stream.read()
        sha = hashlib.sha256(data).hexdigest()

        def upload(url: str, store: ObjectStore) -> ObjectMeta | None:
            try:
                meta = store.write(key, io.BytesIO(data), size=len(data), expected_sha256=sha)
                if meta.size != len(data):
                    raise CorruptData(f"stored {meta.size} of {len(data)} bytes", target=f"{url} {key}")
                return meta
            except StoreError as exc:
                self.drop(url, f"{type(exc).__name__}: {exc}")
                return None

        results = [r for r in self._pool.map(lambda item: upload(*item), self._live()) if r is not None]
        if not results:
            self._live()  # raises MirrorsFailed naming every failure
        return results[0]

    def list(self, prefix: str = "") -> Iterator[ObjectMeta]:
        last = None
        for meta in heapq.merge(*(s.list(prefix) for _, s in self._live()), key=lambda m: m.key):
            if meta.key != last:
                last = meta.key
                yield meta

    def _first(self, call):
        error: StoreError | None = None
        for _, store in self._live():
            try:
                return call(store)
            except NotFound as exc:
                error = exc
        raise error or NotFound("no live mirror has it")

    def stat(self, key: str) -> ObjectMeta:
        return self._first(lambda s: s.stat(key))

    def open(self, key: str, start: int | None = None, end: int | None = None) -> BinaryIO:
        return self._first(lambda s: s.open(key, start, end))

    def delete(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        for url, store in self._all.items():
            try:
                store.delete(keys)
            except StoreError:
                if url not in self.failed:
                    raise
        return len(keys)

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _is_empty(store: ObjectStore) -> bool:
    try:
        return next(iter(store.list()), None) is None
    except NotFound:
        return True


def _where(plan: str, url: str) -> str:
    return f"plan {plan}, repository {url}"


def _probe(plan: str, url: str, store: ObjectStore, password: str) -> Repository | None:
    """The open repository, or None when the store is empty. Raises (naming plan and repository)
    NotARepository, UnsupportedVersion, WrongPassword, CorruptData."""
    if _is_empty(store):
        return None
    try:
        return Repository.open(store, password)
    except (NotARepository, CorruptData, InvalidInput, StoreError) as exc:
        raise type(exc)(f"cannot use it as a backup repository: {exc}", target=_where(plan, url)) from None


class Mirrors:
    """The repositories of one plan, opened with their passwords and checked to be one repository."""

    def __init__(self, plan: str, repos: Mapping[str, Repository]):
        self.plan, self.repos = plan, dict(repos)
        _check_one_repository(plan, self.repos)
        first = next(iter(self.repos.values()))
        self.fanout = FanoutStore({u: r.store for u, r in self.repos.items()})
        self.repository = Repository(self.fanout, first.key, first.config)

    @classmethod
    def open(cls, plan: str, stores: Mapping[str, ObjectStore], passwords: Mapping[str, str],
             create: bool = False, kdf: KdfParams = KdfParams()) -> "Mirrors":
        """Open every repository; with `create`, make the missing ones (empty stores) as mirrors of the
        existing one (its config and key files), or as a new repository when none exists. Every store
        is checked before anything is written."""
        found = {url: _probe(plan, url, store, passwords[url]) for url, store in stores.items()}
        missing = [url for url, repo in found.items() if repo is None]
        if missing and not create:
            raise NotARepository("the repository does not exist (the backup creates it)", target=_where(plan, missing[0]))
        existing = {u: r for u, r in found.items() if r is not None}
        _check_one_repository(plan, existing)  # refuses foreign mirrors before any write
        for url in missing:
            source = next(iter(existing.values()), None)
            if source is None:
                existing[url] = Repository.create(stores[url], passwords[url], kdf)
            else:
                existing[url] = _copy_repository(source, stores[url], passwords[url], kdf)
        return cls(plan, {url: existing[url] for url in stores})

    def drop(self, url: str, error: str) -> None:
        self.fanout.drop(url, error)

    @property
    def live(self) -> list[str]:
        return list(self.fanout.live)

    def shared_index(self) -> BlobIndex:
        """Blobs in index files every live mirror holds: only those may be deduplicated against, so a
        mirror that missed a run (a failure) is sent its blobs again rather than referencing missing ones."""
        lists = [set(self.repos[url].list_ids("index")) for url in self.live]
        index = BlobIndex()
        for file_id in sorted(set.intersection(*lists)) if lists else ():
            for pack_id, entry in index_entries(self.repository.load_unpacked("index", file_id)):
                index.add(pack_id, entry)
        return index

    def shared_snapshots(self) -> list[dict]:
        """Snapshots every live mirror holds (encrypted once, they have the same ids), oldest first."""
        ids = [set(self.repos[url].list_ids("snapshots")) for url in self.live]
        common = set.intersection(*ids) if ids else set()
        return [s for s in self.repository.snapshots() if s["id"] in common]

    def publish(self, doc: dict) -> str | None:
        """Write the snapshot to each live mirror no exclusive lock holds (a mirror that has one drops out),
        then read it back from each; returns its id, or None when no mirror is left."""
        for url in self.live:
            try:
                Lock(self.repos[url], exclusive=False).check()
            except RepositoryLocked as exc:
                self.drop(url, f"not published: {exc}")
        if not self.live:
            return None
        snapshot_id = self.repository.save_unpacked("snapshots", doc)
        for url in self.live:
            try:
                self.repos[url].load_unpacked("snapshots", snapshot_id)
            except (StoreError, CorruptData) as exc:
                self.drop(url, f"snapshot does not read back: {exc}")
        return snapshot_id

    def close(self) -> None:
        self.fanout.close()


def _check_one_repository(plan: str, repos: Mapping[str, Repository]) -> None:
    """Raise InvalidInput naming the repository that is not the same repository as the first."""
    first_url, first = next(iter(repos.items()), (None, None))
    for url, repo in repos.items():
        if repo.config["id"] != first.config["id"] or repo.key.encrypt != first.key.encrypt:
            raise InvalidInput(f"it is another restic repository than {first_url} (config id "
                               f"{repo.config['id'][:8]} vs {first.config['id'][:8]}): mirrors share one "
                               "config and master key", target=_where(plan, url))


def _copy_repository(source: Repository, store: ObjectStore, password: str, kdf: KdfParams) -> Repository:
    """A new mirror of `source`: the same config file and key files, plus a key file for `password`
    when none of those opens with it."""
    opened = False
    for name in (m.key for m in source.store.list("keys/")):
        raw = _get(source.store, name)
        _put(store, name, raw)
        opened = opened or open_key_file(raw, password, name) is not None
    if not opened:
        key_file = make_key_file(source.key, password, kdf, format_datetime(datetime.now(timezone.utc)), "mcops", "mcops")
        _put(store, "keys/" + hashlib.sha256(key_file).hexdigest(), key_file)
    _put(store, "config", _get(source.store, "config"))
    return Repository.open(store, password)


class HeldLock:
    """A non-exclusive lock in every mirror for a whole run (its shards and the join), refreshed from a
    background thread every LOCK_REFRESH_SECONDS so restic never sees it stale; removed on exit."""

    def __init__(self, mirrors: Mirrors):
        self._lock = Lock(mirrors.repository, exclusive=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name="restic-lock-refresh", daemon=True)
        self.error: Exception | None = None

    def _refresh(self) -> None:
        while not self._stop.wait(min(30.0, LOCK_REFRESH_SECONDS)):
            try:
                self._lock.refresh()
            except (StoreError, RepositoryLocked) as exc:
                self.error = exc  # the publish step checks for exclusive locks itself

    def __enter__(self) -> "HeldLock":
        self._lock.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self._lock.release()


def join_trees(writer: SnapshotWriter, root: Sequence[str], tree_ids: Sequence[str]) -> str:
    """One root tree holding every shard's subtree: folders several shards hold are merged (new tree blobs
    only along those), the rest are reused as they are. No shard: the snapshot root's empty folders."""
    if not tree_ids:
        tree = writer.save_tree([])
        for name in reversed(root):
            tree = writer.save_tree([dir_node(name, tree)])
        return tree
    if len(tree_ids) == 1:
        return tree_ids[0]
    by_name: dict[str, list[dict]] = {}
    for tree_id in tree_ids:
        for node in writer.repo.read_tree(writer.index, tree_id):
            by_name.setdefault(node["name"], []).append(node)
    nodes = []
    for name, same in by_name.items():
        if len(same) > 1 and any(n["type"] != "dir" for n in same):
            raise InvalidInput("two shards hold the same path (their prefixes overlap)", target=name)
        if len(same) > 1:
            nodes.append({**same[0], "subtree": join_trees(writer, root, [n["subtree"] for n in same])})
        else:
            nodes.append(same[0])
    return writer.save_tree(nodes)
