"""PostgreSQL as a backup source and restore target: `pg_dump` streamed as one uncompressed file (the
chunker and zstd do better than a pre-compressed dump), `pg_restore` into a named database, and the
query a restore drill runs. Passwords travel in PGPASSWORD only, never on a command line or in a message."""

from __future__ import annotations

import collections
import csv
import importlib.util
import io
import os
import shutil
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Iterator

from multicloud.core.backups.postgres import (
    PgDsn, dump_path, parse_dsn, quote_ident, quote_literal, restore_decision, snapshot_path, tool_error,
)
from multicloud.core.errors import InvalidInput
from multicloud.engine.restic.sources import SourceEntry

__all__ = ["QueryResult", "RestoreResult", "drill_query", "drill_restore", "drop_database", "dump_entries",
           "open_dump", "pg_tool", "restore_dump", "run_sql", "scratch_database", "snapshot_path"]

#: A folder holding pg_dump, pg_restore and psql; overrides the bundled and PATH ones.
PG_BIN_ENV = "MULTICLOUD_PG_BIN"
CONNECT_TIMEOUT_SECONDS = "10"
STDERR_LINES = 20  # the tail of a tool's stderr kept for its error message
COPY_CHUNK = 1 << 20
# Objects that make a database "not empty": relations, routines, types and schemas outside the system ones
# (an empty `public` schema does not count).
_USER_OBJECTS = """
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_ns})
     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_ns})
     + (SELECT count(*) FROM pg_namespace n WHERE {user_ns} AND n.nspname <> 'public')
""".format(user_ns="n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
           "AND n.nspname NOT LIKE 'pg\\_temp%'")


def _bundled_bin() -> Path | None:
    # Located, not imported: importing pgserver sets up its own server manager and runtime folders.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client tool: from $MULTICLOUD_PG_BIN, else the pgserver wheel's
    PostgreSQL 16 (its pg_dump reads servers 9.2-16), else PATH. Raises InvalidInput when none is found."""
    configured = os.environ.get(PG_BIN_ENV)
    for folder in ([Path(configured)] if configured else [p for p in [_bundled_bin()] if p]):
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise InvalidInput(f"{name} is not installed: pip install pgserver, install the Debian postgresql-client, "
                           f"or set {PG_BIN_ENV}", target=name)
    return found


def _env(target: PgDsn) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_SECONDS)
    env.pop("PGPASSWORD", None)
    if target.password:
        env["PGPASSWORD"] = target.password
    return env


class _StderrTail:
    """Drains a child's stderr in a thread (a full pipe would stall it), keeping the last lines."""

    def __init__(self, pipe):
        self._lines: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True, name="pg-stderr")
        self._thread.start()

    def _drain(self, pipe) -> None:
        for line in iter(pipe.readline, b""):
            self._lines.append(line.decode("utf-8", "replace").rstrip())
        pipe.close()

    def text(self) -> str:
        self._thread.join(timeout=30)
        return "\n".join(self._lines)


class DumpStream(io.RawIOBase):
    """pg_dump's standard output as a binary stream. End of data is reported only after pg_dump
    exited 0: a failed dump raises (naming the database) instead of ending, so a truncated dump is
    never taken for a whole one."""

    def __init__(self, proc: subprocess.Popen, target: PgDsn):
        super().__init__()
        self._proc, self._target = proc, target
        self._stderr = _StderrTail(proc.stderr)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    @property
    def pid(self) -> int:
        return self._proc.pid

    def readinto(self, buffer) -> int:
        count = self._proc.stdout.readinto(buffer)
        if not count:
            self._finish()
            return 0
        self.bytes_read += count
        return count

    def _finish(self) -> None:
        returncode = self._proc.wait()
        if returncode != 0:
            raise tool_error("pg_dump", self._target.database, returncode, self._stderr.text(),
                             password=self._target.password)

    def close(self) -> None:
        if self._proc.poll() is None:  # closed before the end: the reader chose to stop
            self._proc.kill()
        self._proc.wait()
        self._proc.stdout.close()
        super().close()


@contextmanager
def open_dump(dsn: str) -> Iterator[DumpStream]:
    """A running `pg_dump --format=custom --compress=0` of the DSN's database, as a stream
    (see DumpStream). Raises InvalidInput for a bad DSN or a missing pg_dump."""
    target = parse_dsn(dsn)
    proc = subprocess.Popen([pg_tool("pg_dump"), "--format=custom", "--compress=0", "--no-sync",
                             f"--dbname={target.conninfo}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(target))
    stream = DumpStream(proc, target)
    try:
        yield stream
    finally:
        stream.close()


def dump_entries(dsn: str) -> Iterator[SourceEntry]:
    """The one entry a database contributes to its snapshot (at `snapshot_path(dsn)`): the file
    `<database>.dump`, size unknown, no identity (every run dumps it anew), read through `open_dump`."""
    target = parse_dsn(dsn)
    yield SourceEntry(path=dump_path(target), size=None, mtime_ns=time.time_ns(), open=partial(open_dump, dsn),
                      mode=0o600)


@dataclass(frozen=True)
class QueryResult:
    """What a query returned: column names and rows of text values (psql's CSV; NULL as '')."""

    columns: list[str]
    rows: list[tuple[str, ...]]

    @property
    def count(self) -> int:
        return len(self.rows)


def run_sql(dsn: str | PgDsn, sql: str, *, database: str | None = None, timeout: float = 600.0) -> QueryResult:
    """Run `sql` through psql (one statement gives its rows; errors stop it) in `database` (default:
    the DSN's). Raises NotFound, PermissionDenied, Transient or StoreError naming the database."""
    target = parse_dsn(dsn) if isinstance(dsn, str) else dsn
    if database is not None:
        target = target.with_database(database)
    try:
        proc = subprocess.run([pg_tool("psql"), "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1",
                               f"--dbname={target.conninfo}", "-c", sql],
                              stdin=subprocess.DEVNULL, capture_output=True, env=_env(target), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise tool_error("psql", target.database, -1, f"timeout expired after {timeout:g} s") from None
    if proc.returncode != 0:
        raise tool_error("psql", target.database, proc.returncode, proc.stderr.decode("utf-8", "replace"),
                         password=target.password)
    table = list(csv.reader(io.StringIO(proc.stdout.decode("utf-8"))))
    return QueryResult(table[0], [tuple(row) for row in table[1:]]) if table else QueryResult([], [])


def _database_state(server: PgDsn, database: str) -> tuple[bool, bool]:
    """(exists, empty) of `database` on the DSN's server."""
    found = run_sql(server, f"SELECT 1 FROM pg_database WHERE datname = {quote_literal(database)}")
    if not found.rows:
        return False, True
    return True, run_sql(server, _USER_OBJECTS, database=database).rows[0][0] == "0"


def drop_database(dsn: str, database: str) -> None:
    """Drop `database` if it exists, closing its sessions (PostgreSQL 13+)."""
    run_sql(dsn, f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: the database, the action taken first (and why) and the dump bytes read."""

    database: str
    action: str
    why: str
    bytes_read: int


def restore_dump(stream: BinaryIO, dsn: str, database: str, *, create: bool = True, overwrite: bool = False,
                 keep_owners: bool = False) -> RestoreResult:
    """`pg_restore` a custom-format dump read from `stream` into `database` on the DSN's server, in
    one transaction (all or nothing). A missing database is created (unless `create` is off:
    NotFound); an existing one must be empty unless `overwrite`, which drops and recreates it
    (InvalidInput otherwise, before anything changes). Owners and grants are left out unless
    `keep_owners` (the roles may not exist on the target server). A database this call created is
    dropped again when the restore fails. Raises the taxonomy error naming the database."""
    server = parse_dsn(dsn)
    exists, empty = _database_state(server, database)
    decision = restore_decision(database, exists=exists, empty=empty, create=create, overwrite=overwrite)
    if decision.action == "recreate":
        drop_database(dsn, database)
    if decision.action != "restore_into_empty":
        run_sql(server, f"CREATE DATABASE {quote_ident(database)} TEMPLATE template0")
    try:
        copied = _pg_restore(stream, server.with_database(database), keep_owners)
    except BaseException:
        if decision.action != "restore_into_empty":
            drop_database(dsn, database)
        raise
    return RestoreResult(database, decision.action, decision.why, copied)


def _pg_restore(stream: BinaryIO, target: PgDsn, keep_owners: bool) -> int:
    args = [pg_tool("pg_restore"), "--exit-on-error", "--single-transaction", f"--dbname={target.conninfo}"]
    if not keep_owners:
        args += ["--no-owner", "--no-privileges"]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=_env(target))
    stderr = _StderrTail(proc.stderr)
    copied = 0
    try:
        while chunk := stream.read(COPY_CHUNK):
            proc.stdin.write(chunk)
            copied += len(chunk)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # pg_restore stopped reading: its exit status and stderr say why
    except BaseException:
        proc.kill()  # the dump could not be read whole: the transaction is abandoned
        proc.wait()
        raise
    returncode = proc.wait()
    if returncode != 0:
        raise tool_error("pg_restore", target.database, returncode, stderr.text(), password=target.password)
    return copied


def drill_query(dsn: str, database: str, query: str) -> QueryResult:
    """Run the drill's query in `database` (a scratch database a drill restored) on the DSN's server."""
    return run_sql(dsn, query, database=database)


@contextmanager
def scratch_database(dsn: str, prefix: str = "multicloud_drill") -> Iterator[str]:
    """The name of a database that does not exist yet on the DSN's server, dropped at exit
    whatever happened (a restore into it creates it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        drop_database(dsn, name)


def drill_restore(stream: BinaryIO, dsn: str, query: str) -> tuple[RestoreResult, QueryResult]:
    """A database drill: restore the dump into a scratch database, run `query` there, drop it."""
    with scratch_database(dsn) as scratch:
        restored = restore_dump(stream, dsn, scratch)
        return restored, drill_query(dsn, scratch, query)
