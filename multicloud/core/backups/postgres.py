"""PostgreSQL sources and restores as pure decisions: what a DSN names (server, database, password),
where its dump lives in a snapshot, how SQL names and values are quoted, what a restore into a
database must do, and what a failed `pg_dump`/`pg_restore`/`psql` run means in the error taxonomy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied, StoreError, Transient
from multicloud.core.redact import redact_url

DEFAULT_PORT = 5432
MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class PgDsn:
    """One PostgreSQL URI split into what the tools need: `conninfo` (the URI without its password,
    safe on a command line), `password` (for PGPASSWORD only) and the names shown in paths and errors."""

    conninfo: str
    password: str | None
    host: str
    port: int | None
    database: str
    shown: str  # the DSN redacted, for logs and errors

    def with_database(self, database: str) -> "PgDsn":
        """The same server and credentials, another database."""
        parts = urlsplit(self.conninfo)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"]
        path = "/" + quote(check_database_name(database), safe="")
        conninfo = urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))
        return PgDsn(conninfo, self.password, self.host, self.port, database, redact_url(conninfo))


def parse_dsn(dsn: str) -> PgDsn:
    """Split a `postgresql://[user[:password]@]host[:port]/database[?params]` URI. The database is
    the path, else the `dbname` parameter, else the user name (libpq's default). Raises InvalidInput
    naming the redacted DSN."""
    shown = redact_url(dsn) if isinstance(dsn, str) else "<not a string>"
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput("not a postgresql:// URI (bad host or port)", target=shown) from None
    if parts.scheme not in _SCHEMES:
        raise InvalidInput("a PostgreSQL source must be a postgresql:// URI", target=shown)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    user_part, netloc, password = _userinfo(parts.netloc, params)
    database = unquote(parts.path.lstrip("/")) or params.get("dbname") or unquote(user_part) or params.get("user")
    if not database:
        raise InvalidInput("the DSN names no database (path, dbname or user)", target=shown)
    check_database_name(database)
    host = parts.hostname or _socket_host(params.get("host", ""))
    kept = urlencode([(k, v) for k, v in query if k != "password"])
    conninfo = urlunsplit((parts.scheme, netloc, parts.path, kept, ""))
    return PgDsn(conninfo, password or None, host, port, database, shown)


def _userinfo(netloc: str, params: dict[str, str]) -> tuple[str, str, str | None]:
    """(user as written, the netloc without the password, the password decoded)."""
    userinfo, _, hostport = netloc.rpartition("@")
    user_part, has_password, password_part = userinfo.partition(":")
    password = unquote(password_part) if has_password else params.get("password")
    return user_part, (user_part + "@" if user_part else "") + hostport, password


def _socket_host(host: str) -> str:
    # A Unix-socket folder is this machine; a host parameter that is a name is the server itself.
    return "localhost" if not host or host.startswith("/") else host.split(",")[0]


def check_database_name(name: str) -> str:
    """A database name PostgreSQL accepts and a snapshot path can hold. Raises InvalidInput."""
    if not isinstance(name, str) or not name or "\x00" in name or "/" in name or name in (".", ".."):
        raise InvalidInput("a database name must be non-empty, without '/' or NUL, and not '.' or '..'",
                           target=repr(name))
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidInput(f"a database name is at most {MAX_NAME_BYTES} bytes", target=repr(name))
    return name


def snapshot_path(dsn: str | PgDsn) -> str:
    """The snapshot path of a database's backups: `/postgresql/<host>/<database>`, the host with
    `:<port>` when the DSN gives a port other than 5432 (two servers on one host stay apart)."""
    target = parse_dsn(dsn) if isinstance(dsn, str) else dsn
    host = target.host if target.port in (None, DEFAULT_PORT) else f"{target.host}:{target.port}"
    return f"/postgresql/{host}/{target.database}"


def dump_path(dsn: str | PgDsn) -> tuple[str, ...]:
    """The dump's file under the snapshot path: `("<database>.dump",)`."""
    target = parse_dsn(dsn) if isinstance(dsn, str) else dsn
    return (f"{target.database}.dump",)


def quote_ident(name: str) -> str:
    """An SQL identifier, double-quoted (embedded quotes doubled)."""
    if "\x00" in name:
        raise InvalidInput("an SQL name may not hold NUL", target=repr(name))
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """An SQL string literal for a server with standard_conforming_strings on (the default since 9.1)."""
    if "\x00" in value:
        raise InvalidInput("an SQL string may not hold NUL", target=repr(value))
    return "'" + value.replace("'", "''") + "'"


RestoreAction = Literal["create", "restore_into_empty", "recreate"]


@dataclass(frozen=True)
class RestoreDecision:
    """What a restore into `database` does first, and why."""

    action: RestoreAction
    why: str


def restore_decision(database: str, *, exists: bool, empty: bool, create: bool, overwrite: bool) -> RestoreDecision:
    """Create a missing database (when allowed), restore into an existing empty one, replace a
    non-empty one only when told to overwrite. Raises NotFound or InvalidInput naming the database."""
    if not exists:
        if not create:
            raise NotFound("the target database does not exist and create is off", target=database)
        return RestoreDecision("create", "the database does not exist: created from template0")
    if empty:
        return RestoreDecision("restore_into_empty", "the database exists and holds no objects")
    if not overwrite:
        raise InvalidInput("the target database is not empty; restore into a new database or set overwrite",
                           target=database)
    return RestoreDecision("recreate", "the database is not empty and overwrite is set: dropped and created anew")


_NOT_FOUND = re.compile(r'database "[^"]*" does not exist|role "[^"]*" does not exist', re.I)
_DENIED = re.compile(r"password authentication failed|permission denied|no pg_hba\.conf entry|"
                     r"authentication failed", re.I)
_TRANSIENT = re.compile(r"could not connect|connection refused|connection to server .* failed|timeout expired|"
                        r"server closed the connection|terminating connection|the database system is (starting|"
                        r"shutting) up|too many connections", re.I)


def tool_error(tool: str, what: str, returncode: int, stderr: str, *, password: str | None = None) -> StoreError:
    """The taxonomy error of a PostgreSQL tool that exited `returncode`: NotFound (no such database
    or role), PermissionDenied (authentication), Transient (the server could not be reached or went
    away), else StoreError; the message names `what` (the database) and quotes the tool's last
    lines, any password scrubbed."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()][-4:]
    detail = " | ".join(lines) or "no message"
    if password:
        detail = detail.replace(password, "<redacted>")
    message = f"{tool} failed (exit {returncode}): {detail}"
    if _NOT_FOUND.search(stderr):
        return NotFound(message, target=what)
    if _DENIED.search(stderr):
        return PermissionDenied(message, target=what)
    if _TRANSIENT.search(stderr) or returncode < 0:
        return Transient(message, target=what)
    return StoreError(message, target=what)
