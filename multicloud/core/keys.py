"""Reversible encoding of object keys and metadata names a target cannot store.

A key is stored unchanged unless the target's `KeyRules` refuse some part of it; then every offending
character (and every literal escape character) becomes `％XX` per UTF-8 byte, with `％` being U+FF05
FULLWIDTH PERCENT SIGN. Because a literal `％` is always escaped, decoding is exact. Metadata names the
target's `MetadataRules` refuse become `mcenc_<hex of the UTF-8 name>`. Rules are values declared by each
backend; a scheme string is looked up in the table the backend registry fills."""

from __future__ import annotations

import re
from typing import Mapping

from multicloud.core.schemes import KeyRules, MetadataRules, scheme_rules

ESCAPE = "\uff05"
_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}
_METADATA_PREFIX = "mcenc_"
_ENCODED = re.compile(f"(?:{ESCAPE}[0-9A-F]{{2}})+")


def _escape(text: str) -> str:
    return "".join(f"{ESCAPE}{b:02X}" for b in text.encode("utf-8"))


def _key_rules(rules: KeyRules | str) -> KeyRules:
    return scheme_rules(rules).keys if isinstance(rules, str) else rules


def _metadata_rules(rules: MetadataRules | str) -> MetadataRules:
    return scheme_rules(rules).metadata if isinstance(rules, str) else rules


def _segment_positions(key: str, rules: KeyRules) -> set[int]:
    """Indexes of whole path segments the rules refuse ("." and "..")."""
    bad: set[int] = set()
    if rules.dot_keys and key in (".", ".."):
        bad |= set(range(len(key)))
    if rules.dot_segments:
        start = 0
        for segment in key.split("/"):
            if segment in (".", ".."):
                bad |= set(range(start, start + len(segment)))
            start += len(segment) + 1
    return bad


def _bad_positions(key: str, rules: KeyRules) -> set[int]:
    """Indexes of the characters a backend with `rules` cannot store where they stand."""
    bad = {i for i, ch in enumerate(key) if ch == ESCAPE}
    if rules.control_chars:
        bad |= {i for i, ch in enumerate(key) if ch in _CONTROL}
    if rules.backslash:
        bad |= {i for i, ch in enumerate(key) if ch == "\\"}
    bad |= _segment_positions(key, rules)
    if rules.trailing_slash and key.endswith("/"):
        bad.add(len(key) - 1)
    if rules.trailing_dot and key.endswith("."):
        bad.add(len(key) - 1)
    if rules.empty_segments:
        bad |= {i for i in range(1, len(key)) if key[i] == "/" and key[i - 1] == "/"}
        if key.startswith("/"):
            bad.add(0)
    return bad


def encode_key(key: str, rules: KeyRules | str) -> str:
    """The key as a target with `rules` (or of that scheme) stores it; unchanged for every key it can
    hold as is. Raises InvalidInput for a scheme without registered rules."""
    bad = _bad_positions(key, _key_rules(rules))
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


def encode_metadata(metadata: Mapping[str, str], rules: MetadataRules | str) -> tuple[dict[str, str], int]:
    """Metadata a target with `rules` (or of that scheme) can store, and how many names had to be
    encoded. Raises InvalidInput for a scheme without registered rules."""
    accepted = _metadata_rules(rules)
    restricted = accepted.name_pattern is not None
    out, encoded = {}, 0
    for name, value in metadata.items():
        if restricted and (not accepted.accepts(name) or name.startswith(_METADATA_PREFIX)):
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
