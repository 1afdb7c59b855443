"""Reversible encoding of object keys and metadata names a target cannot store.

A key is stored unchanged unless the target refuses some part of it; then every offending
character (and every literal escape character) becomes `％XX` per UTF-8 byte, with `％`
being U+FF05 FULLWIDTH PERCENT SIGN. Because a literal `％` is always escaped, decoding is
exact. Metadata names Azure or S3 cannot hold become `mcenc_<hex of the UTF-8 name>`."""

from __future__ import annotations

import re
from typing import Mapping

ESCAPE = "\uff05"
_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}
_METADATA_PREFIX = "mcenc_"
_AZURE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_S3_NAME = re.compile(r"^[a-z0-9_.\-]+$")
_ENCODED = re.compile(f"(?:{ESCAPE}[0-9A-F]{{2}})+")


def _escape(text: str) -> str:
    return "".join(f"{ESCAPE}{b:02X}" for b in text.encode("utf-8"))


def _bad_positions(key: str, scheme: str) -> set[int]:
    """Indexes of the characters `scheme` cannot store where they stand."""
    bad = {i for i, ch in enumerate(key) if ch == ESCAPE}
    if scheme in ("az", "gs"):
        bad |= {i for i, ch in enumerate(key) if ch in _CONTROL}
    if scheme == "az":
        bad |= {i for i, ch in enumerate(key) if ch == "\\"}  # Azure turns it into "/"
    if scheme in ("az", "file"):
        # Empty, "." and ".." path segments and a trailing "." or "/" are normalised away.
        start = 0
        for segment in key.split("/"):
            if segment in (".", ".."):
                bad |= set(range(start, start + len(segment)))
            start += len(segment) + 1
        if key.endswith("/"):
            bad.add(len(key) - 1)
        if scheme == "az" and key.endswith("."):
            bad.add(len(key) - 1)
        if scheme == "file":
            bad |= {i for i in range(1, len(key)) if key[i] == "/" and key[i - 1] == "/"}
            if key.startswith("/"):
                bad.add(0)
    if scheme == "gs" and key in (".", ".."):
        bad |= set(range(len(key)))
    return bad


def encode_key(key: str, scheme: str) -> str:
    """The key as `scheme` stores it; unchanged for every key the target can hold as is."""
    bad = _bad_positions(key, scheme)
    if not bad:
        return key
    return "".join(_escape(ch) if i in bad else ch for i, ch in enumerate(key))


def decode_key(key: str) -> str:
    """The original key of an encoded one (identity for keys without the escape character)."""
    if ESCAPE not in key:
        return key
    return _ENCODED.sub(lambda m: bytes(int(m.group()[i + 1 : i + 3], 16)
                                        for i in range(0, len(m.group()), 3)).decode("utf-8", "surrogateescape"), key)


def is_encoded(key: str) -> bool:
    return ESCAPE in key


def encode_metadata(metadata: Mapping[str, str], scheme: str) -> tuple[dict[str, str], int]:
    """Metadata the target can store, and how many names had to be encoded."""
    rule = {"az": _AZURE_NAME, "s3": _S3_NAME}.get(scheme)
    out, encoded = {}, 0
    for name, value in metadata.items():
        if rule is not None and (not rule.match(name) or name.startswith(_METADATA_PREFIX)):
            name = _METADATA_PREFIX + name.encode("utf-8").hex()
            encoded += 1
        out[name] = value
    return out, encoded


def decode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The original names of encoded metadata."""
    out = {}
    for name, value in metadata.items():
        if name.startswith(_METADATA_PREFIX):
            try:
                name = bytes.fromhex(name[len(_METADATA_PREFIX):]).decode("utf-8")
            except ValueError:
                pass  # not ours: keep it as stored
        out[name] = value
    return out
