"""The pure rules of PostgreSQL sources and wrapped repository passwords: DSN parsing without leaking
the password, snapshot paths, SQL quoting, the restore decision, tool errors, and where and how a
wrapped password is stored."""

from __future__ import annotations

import pytest

import multicloud.clouds.registry  # noqa: F401  (registers the schemes URL parsing reads)
from multicloud.core.backups.passwords import WrappedPassword, decode_wrapped, wrapped_location
from multicloud.core.backups.postgres import (
    dump_path, parse_dsn, quote_ident, quote_literal, restore_decision, snapshot_path, tool_error,
)
from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied, StoreError, Transient


def test_dsn_password_leaves_the_conninfo():
    dsn = parse_dsn("postgresql://app:s%40cr%3Et@db.example.com:5433/sales?sslmode=require&password=other")
    assert dsn.password == "s@cr>t" and dsn.database == "sales" and dsn.host == "db.example.com" and dsn.port == 5433
    assert "s%40cr" not in dsn.conninfo and "other" not in dsn.conninfo and "sslmode=require" in dsn.conninfo
    assert dsn.conninfo.startswith("postgresql://app@db.example.com:5433/sales")
    assert "s%40cr" not in dsn.shown and "other" not in dsn.shown
    assert parse_dsn("postgres://u@h/db?password=p").password == "p"


def test_database_from_path_dbname_or_user():
    assert parse_dsn("postgresql://h/my%20db").database == "my db"
    assert parse_dsn("postgresql://h?dbname=other").database == "other"
    assert parse_dsn("postgresql://alice@h").database == "alice"
    assert parse_dsn("postgresql:///db?host=/var/run/postgresql").host == "localhost"
    for bad in ("postgresql://h", "mysql://h/db", "postgresql://h:notaport/db", "postgresql://h/a%2Fb"):
        with pytest.raises(InvalidInput):
            parse_dsn(bad)


def test_with_database_keeps_server_and_credentials():
    other = parse_dsn("postgresql://u:pw@h:6000/a?dbname=a&application_name=x").with_database('we"ird')
    assert other.database == 'we"ird' and other.password == "pw" and "application_name=x" in other.conninfo
    assert "dbname" not in other.conninfo and "/we%22ird" in other.conninfo


def test_snapshot_and_dump_paths():
    assert snapshot_path("postgresql://u:pw@db1/sales") == "/postgresql/db1/sales"
    assert snapshot_path("postgresql://db1:5432/sales") == "/postgresql/db1/sales"
    assert snapshot_path("postgresql://db1:6432/sales") == "/postgresql/db1:6432/sales"
    assert dump_path("postgresql://db1/sales") == ("sales.dump",)


def test_quoting():
    assert quote_ident('a"b') == '"a""b"' and quote_literal("it's") == "'it''s'"
    with pytest.raises(InvalidInput):
        quote_literal("nul\x00")


@pytest.mark.parametrize("exists, empty, create, overwrite, action", [
    (False, True, True, False, "create"),
    (True, True, True, False, "restore_into_empty"),
    (True, False, True, True, "recreate"),
])
def test_restore_decision(exists, empty, create, overwrite, action):
    decision = restore_decision("db", exists=exists, empty=empty, create=create, overwrite=overwrite)
    assert decision.action == action and decision.why


def test_restore_decision_refusals():
    with pytest.raises(InvalidInput, match="not empty"):
        restore_decision("db", exists=True, empty=False, create=True, overwrite=False)
    with pytest.raises(NotFound, match="create is off"):
        restore_decision("db", exists=False, empty=True, create=False, overwrite=False)


def test_tool_errors_are_classified_and_scrubbed():
    assert isinstance(tool_error("pg_dump", "x", 1, 'FATAL:  database "x" does not exist'), NotFound)
    denied = tool_error("pg_dump", "x", 1, 'password authentication failed for user "u" (hunter2)', password="hunter2")
    assert isinstance(denied, PermissionDenied) and "hunter2" not in str(denied) and "[x]" in str(denied)
    assert isinstance(tool_error("psql", "x", 2, "could not connect to server: Connection refused"), Transient)
    assert isinstance(tool_error("pg_dump", "x", -9, ""), Transient)
    other = tool_error("pg_restore", "x", 1, "error: invalid input syntax")
    assert type(other) is StoreError and "pg_restore failed (exit 1)" in str(other)


def test_wrapped_location_is_beside_the_repository():
    loc = wrapped_location("s3://b/backups/db/")
    assert (loc.parent, loc.key) == ("s3://b/backups/", "db.password.wrapped")
    assert (wrapped_location("gs://b/db").parent, wrapped_location("gs://b/db").key) == ("gs://b/", "db.password.wrapped")
    loc = wrapped_location("file:///srv/repos/db")
    assert (loc.parent, loc.key) == ("file:///srv/repos", "db.password.wrapped")
    assert wrapped_location("file:///db").parent == "file:///"
    for bad in ("s3://b/", "az://c", "file:///"):
        with pytest.raises(InvalidInput, match="beside"):
            wrapped_location(bad)


def test_wrapped_document_round_trip_and_refusals():
    doc = WrappedPassword("gcp", "projects/p/locations/l/keyRings/r/cryptoKeys/k", b"\x00\x01cipher").encode()
    assert decode_wrapped(doc, "here") == WrappedPassword("gcp", "projects/p/locations/l/keyRings/r/cryptoKeys/k",
                                                          b"\x00\x01cipher")
    for bad in (b"{}", b"[]", b"not json", b'{"format": "multicloud-wrapped-password/1", "provider": "aws"}',
                b'{"format": "multicloud-wrapped-password/1", "provider": "aws", "key": "k", "ciphertext": "!!"}',
                b'{"format": "multicloud-wrapped-password/1", "provider": "aws", "key": "k", "ciphertext": ""}'):
        with pytest.raises(InvalidInput, match="here"):
            decode_wrapped(bad, "here")
