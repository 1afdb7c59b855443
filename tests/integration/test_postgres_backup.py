"""PostgreSQL through the backup engine, against a real server and the real restic: a dump streamed
into a snapshot passes `restic check --read-data`, `restic dump` gives the same bytes, and pg_restore
of them gives the same tables; a failing pg_dump is an error naming the database, never a short dump;
restores refuse a non-empty database unless overwriting; the drill's scratch database is dropped."""

from __future__ import annotations

import hashlib
import io
import os
import signal
from datetime import datetime, timezone

import pytest

from multicloud.clouds import open_store
from multicloud.core.backups.postgres import parse_dsn
from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied, StoreError
from multicloud.core.objects import HashingReader
from multicloud.engine.postgres import (
    drill_query, drill_restore, dump_entries, open_dump, restore_dump, run_sql, snapshot_path,
)
from multicloud.engine.restic import KdfParams, Repository, SnapshotWriter
from multicloud.testing.restic_oracle import Restic, restic_path

PASSWORD = "pg backup password"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
ROWS = 30_000
needs_restic = pytest.mark.skipif(restic_path() is None, reason="RESTIC ORACLE NOT RUN: restic is not on PATH")

SCHEMA = f"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (
    id bigserial PRIMARY KEY, small smallint, amount numeric(20, 6), ratio double precision, flag boolean,
    label text, body bytea, doc jsonb, at timestamptz, day date, tags text[], ident uuid, feeling mood
);
INSERT INTO items (small, amount, ratio, flag, label, body, doc, at, day, tags, ident, feeling)
SELECT g % 30000, g * 1.000001, g / 7.0, g % 3 = 0,
       CASE WHEN g % 50 = 0 THEN NULL ELSE 'row ' || g || ' ünï ☃ ''quoted'' "dq" ' || E'\\nline' || md5(g::text) END,
       decode(md5(g::text) || md5((g + 1)::text), 'hex'), jsonb_build_object('g', g, 'nested', jsonb_build_array(g, 'x')),
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute', date '2026-01-01' + (g % 400),
       ARRAY['a' || g, 'b'], md5(g::text)::uuid, (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood
FROM generate_series(1, {ROWS}) g;
CREATE INDEX items_label ON items (label);
CREATE VIEW happy AS SELECT id, label FROM items WHERE feeling = 'happy';
CREATE SCHEMA audit;
CREATE TABLE audit.log (id int PRIMARY KEY, note text);
INSERT INTO audit.log VALUES (1, 'first'), (2, NULL);
CREATE FUNCTION audit.twice(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2';
"""
SNAPSHOT_OF = ["SELECT * FROM items ORDER BY id", "SELECT * FROM audit.log ORDER BY id", "SELECT audit.twice(21)",
               "SELECT count(*) FROM happy", "SELECT last_value FROM items_id_seq",
               "SELECT indexname FROM pg_indexes WHERE tablename = 'items' ORDER BY 1"]


def contents(dsn: str) -> list:
    return [run_sql(dsn, query).rows for query in SNAPSHOT_OF]


@pytest.fixture(scope="module")
def source_db(postgres) -> str:
    dsn = postgres.create_database("shop db")
    run_sql(dsn, SCHEMA)
    return dsn


def test_dump_entry_shape(source_db, postgres):
    entries = list(dump_entries(source_db))
    assert len(entries) == 1
    (entry,) = entries
    assert entry.path == ("shop db.dump",) and entry.size is None and entry.identity is None
    assert snapshot_path(source_db) == f"/postgresql/127.0.0.1:{postgres.port}/shop db"
    with entry.open() as stream:
        head = stream.read(5)
    assert head == b"PGDMP"  # custom format; -Z0 leaves the table data uncompressed:
    with entry.open() as stream:
        data = stream.read()
    assert b"row 12345 " in data


@needs_restic
def test_dump_backs_up_checks_and_restores_byte_exact(source_db, postgres, tmp_path):
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    repo = Repository.create(open_store(f"file://{repo_dir}"), PASSWORD, KdfParams(n=1024, r=8, p=1))
    root = snapshot_path(source_db)
    (entry,) = dump_entries(source_db)
    with SnapshotWriter(repo) as writer:
        with entry.open() as stream:
            hashed = HashingReader(stream)
            writer.add_file([*root.strip("/").split("/"), *entry.path], hashed, mode=entry.mode,
                            mtime_ns=entry.mtime_ns)
        writer.commit([root], NOW, hostname="pg-test")
    assert hashed.bytes_read > 1 << 20 and writer.stats.data_blobs_new > 1  # more than one chunk

    restic = Restic(repo_dir, PASSWORD)
    try:
        check = restic.run("check", "--read-data")
        assert "no errors were found" in check.stdout + check.stderr
        (snap,) = restic.snapshots()
        assert snap["paths"] == [root]
        restic.run("restore", "latest", "--target", str(tmp_path / "out"))
    finally:
        restic.close()
    dumped = (tmp_path / "out" / root.lstrip("/") / entry.path[0]).read_bytes()
    assert hashlib.sha256(dumped).hexdigest() == hashed.hexdigest()

    result = restore_dump(io.BytesIO(dumped), postgres.dsn(), "shop restored")
    assert result.action == "create" and result.bytes_read == len(dumped)
    assert contents(postgres.dsn("shop restored")) == contents(source_db)
    assert len(contents(source_db)[0]) == ROWS


def test_failing_pg_dump_raises_naming_the_database(postgres):
    with pytest.raises(NotFound, match="pg_dump failed.*no_such_db") as caught:
        with open_dump(postgres.dsn("no_such_db")) as stream:
            while stream.read(1 << 16):
                pass
    assert postgres.password not in str(caught.value)


def test_wrong_password_is_permission_denied_and_never_shown(postgres):
    dsn = f"postgresql://postgres:not-the-password@127.0.0.1:{postgres.port}/postgres"
    with pytest.raises(PermissionDenied, match="password authentication failed") as caught:
        with open_dump(dsn) as stream:
            stream.read()
    assert "not-the-password" not in str(caught.value)


def test_dump_killed_midway_is_an_error_not_an_end(source_db):
    """A pg_dump that dies mid-stream surfaces as an error where its data ends, not as a short file."""
    with pytest.raises(StoreError, match="pg_dump failed") as caught:
        with open_dump(source_db) as stream:
            stream.read(1 << 16)
            os.kill(stream.pid, signal.SIGKILL)
            while stream.read(1 << 16):
                pass
    assert "shop db" in str(caught.value)


def test_restore_refuses_non_empty_unless_overwrite(source_db, postgres):
    with open_dump(source_db) as stream:
        dump = stream.read()
    target = postgres.create_database("busy")
    run_sql(target, "CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (1)")
    with pytest.raises(InvalidInput, match="not empty"):
        restore_dump(io.BytesIO(dump), postgres.dsn(), "busy")
    assert run_sql(target, "SELECT x FROM keep_me").rows == [("1",)]  # untouched
    result = restore_dump(io.BytesIO(dump), postgres.dsn(), "busy", overwrite=True)
    assert result.action == "recreate"
    assert run_sql(target, "SELECT count(*) FROM pg_tables WHERE tablename = 'keep_me'").rows == [("0",)]
    assert contents(target) == contents(source_db)

    postgres.create_database("empty one")
    assert restore_dump(io.BytesIO(dump), postgres.dsn(), "empty one").action == "restore_into_empty"
    with pytest.raises(NotFound, match="does not exist"):
        restore_dump(io.BytesIO(dump), postgres.dsn(), "absent", create=False)


def test_failed_restore_drops_the_database_it_created(postgres):
    with pytest.raises(StoreError, match="pg_restore failed"):
        restore_dump(io.BytesIO(b"PGDMP not really a dump" * 100), postgres.dsn(), "half")
    assert run_sql(postgres.dsn(), "SELECT count(*) FROM pg_database WHERE datname = 'half'").rows == [("0",)]


def test_drill_restores_queries_and_drops_the_scratch_database(source_db, postgres):
    with open_dump(source_db) as stream:
        restored, result = drill_restore(stream, postgres.dsn(), "SELECT count(*) AS n FROM items")
    assert result.columns == ["n"] and result.rows == [(str(ROWS),)]
    assert restored.database.startswith("multicloud_drill_")
    assert run_sql(postgres.dsn(), f"SELECT count(*) FROM pg_database WHERE datname = '{restored.database}'"
                   ).rows == [("0",)]
    with pytest.raises(StoreError, match="psql failed"):
        drill_query(source_db, parse_dsn(source_db).database, "SELECT * FROM no_such_table")
