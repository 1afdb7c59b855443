"""Restoring a snapshot of a plan: open its repository with the plan's password, write each file
node back as the object it was (key decoded, content type, cache control and user metadata put
back) to any store or folder, every object's SHA-256 checked against the snapshot before the target
commits it; a PostgreSQL snapshot goes to `pg_restore`; a drill restores a sample to a scratch store."""

from __future__ import annotations

import time
from typing import Callable, Iterator

from multicloud.core.backups.restore import (
    RestoreItem, RestoreReport, drill_sample, is_postgres, key_filter, restore_item, snapshot_roots, target_decision,
)
from multicloud.core.errors import InvalidInput, NotFound, StoreError
from multicloud.core.keys import encode_key, encode_metadata
from multicloud.core.objects import HashingReader, ObjectStore, StoreUrl
from multicloud.core.redact import redact_url
from multicloud.engine.restic.errors import WrongPassword
from multicloud.engine.restic.reader import SnapshotReader
from multicloud.engine.restic.repository import Repository


def open_plan_repository(store: ObjectStore, password: str, plan_name: str) -> Repository:
    """The plan's repository. Raises WrongPassword naming the plan and the repository (and the
    errors of `Repository.open` for a store that is not a repository)."""
    try:
        return Repository.open(store, password)
    except WrongPassword:
        raise WrongPassword(f"backup plan {plan_name!r}: its password opens none of the repository's key files "
                            "(wrong password, or the password source of the plan changed)",
                            target=redact_url(store.url)) from None


def file_items(reader: SnapshotReader, snapshot: dict) -> Iterator[tuple[RestoreItem, dict]]:
    """Every file of the snapshot as (object, node), in tree order."""
    roots = snapshot_roots(snapshot)
    for path, node in reader.walk(snapshot["tree"]):
        if node["type"] == "file":
            yield restore_item(path, node, roots), node


def first_key(store: ObjectStore) -> str | None:
    try:
        return next((m.key for m in store.list()), None)
    except NotFound:
        return None  # no bucket yet: the write creates nothing but the objects


def restore_to_store(reader: SnapshotReader, snapshot: dict, target: ObjectStore, include: list[str] | None = None,
                     overwrite: bool = False, selected: Callable[[str], bool] | None = None) -> RestoreReport:
    """Write the snapshot's objects (those passing `include` globs and `selected`) into `target`.
    A failed object is counted in the report with its error (naming the pack and repository for a
    damaged blob), the others go on. Raises InvalidInput when the target is not empty and
    `overwrite` is off, before anything is written."""
    started = time.monotonic()
    name = redact_url(target.url)
    decision = target_decision(name, first_key(target), overwrite)
    if not decision.proceed:
        raise InvalidInput(decision.why, target=name)
    report = RestoreReport(reader.repo.name, snapshot["id"], name)
    wanted, scheme = key_filter(include or []), StoreUrl.parse(target.url).scheme
    for item, node in file_items(reader, snapshot):
        if not wanted(item.key) or (selected is not None and not selected(item.key)):
            report.skipped += 1
            continue
        try:
            report.restored(item, _write(reader, node, item, target, scheme))
        except StoreError as exc:
            report.failed(item, f"{type(exc).__name__}: {exc}")
    report.seconds = time.monotonic() - started
    return report


def _write(reader: SnapshotReader, node: dict, item: RestoreItem, target: ObjectStore, scheme: str) -> str:
    """Stream one object into the target; the store refuses to commit bytes whose SHA-256 is not the
    snapshot's (PreconditionFailed). Returns the SHA-256 of the bytes written."""
    metadata, _ = encode_metadata(item.metadata, scheme)
    stream = reader.open_file(node)
    hashed = HashingReader(stream)
    try:
        target.write(encode_key(item.key, scheme), hashed, size=item.size, content_type=item.content_type,
                     metadata=metadata, cache_control=item.cache_control, expected_sha256=item.sha256)
    finally:
        stream.close()
    return hashed.hexdigest()


def restore_postgres(reader: SnapshotReader, snapshot: dict, dsn: str, database: str) -> RestoreReport:
    """Stream a PostgreSQL snapshot's dump into `pg_restore` (engine/postgres.py `restore_dump`), its
    SHA-256 checked against the snapshot. Raises InvalidInput when the snapshot is not one dump file."""
    from multicloud.engine.postgres import restore_dump  # the database side is engine/postgres.py

    return _stream_dump(reader, snapshot, f"postgresql database {database}",
                        lambda stream: restore_dump(stream, dsn, database))


def drill_postgres(reader: SnapshotReader, snapshot: dict, dsn: str, query: str) -> tuple[RestoreReport, int]:
    """A database drill: the dump restored into a scratch database on the server of `dsn`, `query` run
    there, the scratch database dropped. Returns the report and how many rows the query returned."""
    from multicloud.engine.postgres import drill_restore

    rows: list[int] = []
    report = _stream_dump(reader, snapshot, "a scratch database",
                          lambda stream: rows.append(drill_restore(stream, dsn, query)[1].count))
    return report, rows[0] if rows else 0


def _stream_dump(reader: SnapshotReader, snapshot: dict, target: str, consume) -> RestoreReport:
    if not is_postgres(snapshot):
        raise InvalidInput("snapshot is not of a PostgreSQL source (its paths are not under /postgresql/)",
                           target=snapshot["id"][:8])
    items = list(file_items(reader, snapshot))
    if len(items) != 1:
        raise InvalidInput(f"a PostgreSQL snapshot holds one dump file, this one {len(items)}",
                           target=snapshot["id"][:8])
    (item, node), started = items[0], time.monotonic()
    report = RestoreReport(reader.repo.name, snapshot["id"], target)
    hashed = HashingReader(reader.open_file(node))
    consume(hashed)  # every blob is checked against its SHA-256 as it is read
    if item.sha256 and hashed.hexdigest() != item.sha256:
        report.failed(item, f"dump SHA-256 {hashed.hexdigest()} is not the snapshot's {item.sha256}")
    else:
        report.restored(item, hashed.hexdigest())
    report.seconds = time.monotonic() - started
    return report


def drill(reader: SnapshotReader, snapshot: dict, scratch: ObjectStore, sample_objects: int, seed: int
          ) -> tuple[RestoreReport, int]:
    """Restore `sample_objects` objects, chosen at random by `seed`, into the (empty) scratch store,
    verified like any restore, then remove them. Returns the report and how many were sampled."""
    sample = set(drill_sample([item.key for item, _ in file_items(reader, snapshot)], sample_objects, seed))
    try:
        report = restore_to_store(reader, snapshot, scratch, selected=sample.__contains__)
    finally:
        scheme = StoreUrl.parse(scratch.url).scheme
        scratch.delete([encode_key(k, scheme) for k in sample])
    return report, len(sample)
