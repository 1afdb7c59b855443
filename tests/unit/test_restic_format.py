"""The pure restic layouts: Go-quoted names, tree order, pack headers, index JSON, Go modes,
times and the chunker polynomial test."""

from __future__ import annotations

import stat

import pytest

from multicloud.core.backups.chunker import is_irreducible, random_polynomial
from multicloud.core.backups.format import (
    PackEntry, decode_pack_header, decode_tree, dir_node, encode_pack_header, encode_tree, file_node, format_time,
    go_mode, go_quote_name, go_unquote_name, index_document, index_entries, posix_permissions, snapshot_document,
)
from multicloud.core.errors import InvalidInput

NAMES = ["x\\y", 'a"b', "new\nline", "bad\udcff\udcfebytes", "ünï ☃", "nb\u00a0sp", "tab\there", "ctl\x01"]


def test_names_are_go_quoted_like_restic_and_round_trip():
    assert [go_quote_name(n) for n in NAMES[:4]] == ["x\\\\y", 'a\\"b', "new\\nline", "bad\\xff\\xfebytes"]
    assert go_quote_name("nb\u00a0sp") == "nb\\u00a0sp"
    assert all(go_unquote_name(go_quote_name(n)) == n for n in NAMES)
    with pytest.raises(InvalidInput, match="invalid escape"):
        go_unquote_name("bad\\q")


def test_trees_sort_by_name_bytes_refuse_duplicates_and_decode():
    nodes = [file_node("b", 1, ["00" * 32]), file_node("B", 0, []), dir_node("ä", "11" * 32), file_node("a\\b", 0, [])]
    blob = encode_tree(nodes)
    assert blob.endswith(b"}\n") and b'"name":"a\\\\\\\\b"' in blob
    assert [n["name"] for n in decode_tree(blob)] == ["B", "a\\b", "b", "ä"]
    assert encode_tree([]) == b'{"nodes":[]}\n'
    with pytest.raises(InvalidInput, match="same name"):
        encode_tree([file_node("a", 0, []), file_node("a", 0, [])])
    for bad in ("", ".", "..", "a/b", "nul\x00"):
        with pytest.raises(InvalidInput, match="node name"):
            file_node(bad, 0, [])


def test_file_nodes_carry_size_and_content_and_no_links():
    node = file_node("f", 5, [], mode=0o600, mtime_ns=1_700_000_000_123456789)
    assert node["size"] == 5 and node["content"] == [] and "links" not in node
    assert node["mode"] == 0o600 and node["mtime"] == "2023-11-14T22:13:20.123456789Z"
    assert dir_node("d", "ab" * 32)["mode"] == 2147484141  # restic's value for a 0755 folder


def test_go_modes():
    assert go_mode(stat.S_IFREG | 0o644) == 420
    assert go_mode(stat.S_IFREG | stat.S_ISUID | 0o755) == 8389101
    assert go_mode(stat.S_IFLNK | 0o777) == 134218239
    assert posix_permissions(go_mode(stat.S_IFDIR | stat.S_ISGID | 0o2750)) == stat.S_ISGID | 0o750


def test_pack_header_and_index_round_trip():
    entries = [PackEntry(b"\x01" * 32, "data", 0, 54, 13), PackEntry(b"\x02" * 32, "data", 54, 40, 0)]
    header = encode_pack_header(entries)
    assert len(header) == 41 + 37
    assert decode_pack_header(header) == entries
    doc = index_document({"p" * 64: entries})
    assert "uncompressed_length" not in doc["packs"][0]["blobs"][1]
    assert [e for _, e in index_entries(doc)] == entries
    with pytest.raises(InvalidInput, match="unknown blob type"):
        decode_pack_header(b"\x09" + header[1:])


def test_snapshot_paths_must_be_absolute():
    assert snapshot_document("t" * 64, ["/s3/bucket/prefix"], format_time(0))["time"] == "1970-01-01T00:00:00.000000000Z"
    with pytest.raises(InvalidInput, match="absolute"):
        snapshot_document("t" * 64, ["s3://bucket/prefix"], format_time(0))


def test_chunker_polynomials():
    assert is_irreducible(0x3D443A9668EA1B) and is_irreducible(0x3DA3358B4DC173)
    assert not is_irreducible(0x3D443A9668EA1B ^ 4)
    draws = iter([0, 0x3D443A9668EA1B])  # 0 gives x^53 + 1, which is reducible: drawn again
    assert random_polynomial(lambda: next(draws)) == 0x3D443A9668EA1B
