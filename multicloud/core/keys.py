"""Reversible encoding of object keys and metadata names a target cannot store, and the decoding
that gives back the original name of whatever a store lists, byte for byte.

A key is stored unchanged when the target's `KeyRules` accept it and it does not read back as another
key; otherwise every character the rules refuse, and every literal escape character, becomes `％XX`
per UTF-8 byte (`％` is U+FF05 FULLWIDTH PERCENT SIGN). Metadata names the target's `MetadataRules`
refuse, or that would read back as another name, become `mcenc_<hex of the UTF-8 name>`. Decoding
is relative to the rules of the store that was listed: a stored name decodes only when it is exactly
how that store would encode the decoded one, so on a store that accepts every key (S3) decoding is
the identity, and a literal `％41` written there by anyone reads back as `％41`."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Mapping

from multicloud.core.schemes import KeyRules, MetadataRules, scheme_rules

ESCAPE = "\uff05"
_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}
_METADATA_PREFIX = "mcenc_"
_ENCODED = re.compile(f"(?:{ESCAPE}[0-9A-F]{{2}})+")
_ANY = KeyRules()


def _escape(text: str) -> str:
    return "".join(f"{ESCAPE}{b:02X}" for b in text.encode("utf-8", "surrogatepass"))


def _key_rules(rules: KeyRules | str) -> KeyRules:
    return scheme_rules(rules).keys if isinstance(rules, str) else rules


def _metadata_rules(rules: MetadataRules | str) -> MetadataRules:
    return scheme_rules(rules).metadata if isinstance(rules, str) else rules


@lru_cache(maxsize=32)
def _refused_chars(rules: KeyRules) -> re.Pattern | None:
    """One pattern for the single characters `rules` refuse anywhere, so most keys cost one scan."""
    chars = (("".join(sorted(_CONTROL)) if rules.control_chars else "") + ("\\" if rules.backslash else ""))
    return re.compile(f"[{re.escape(chars)}]") if chars else None


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
    refused = _refused_chars(rules)
    bad = {m.start() for m in refused.finditer(key)} if refused else set()
    if (rules.dot_segments or rules.dot_keys) and "." in key:
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


def _unescaped(key: str) -> str | None:
    """`key` with every `％XX` run turned back into its characters; None when a run is not UTF-8
    (then no encoder of ours wrote it)."""
    try:
        return _ENCODED.sub(lambda m: bytes.fromhex(m.group().replace(ESCAPE, "")).decode("utf-8"), key)
    except UnicodeDecodeError:
        return None


def _encode(key: str, rules: KeyRules) -> str:
    bad = _bad_positions(key, rules)
    if not bad and not _reads_as_another(key, rules):
        return key
    bad |= {i for i, ch in enumerate(key) if ch == ESCAPE}
    return "".join(_escape(ch) if i in bad else ch for i, ch in enumerate(key))


def _reads_as_another(key: str, rules: KeyRules) -> bool:
    """Whether `key`, stored as it is, would be read back as a different key: it is exactly how
    `rules` encode the key its escapes spell. Recursion ends: the spelled key is shorter."""
    if ESCAPE not in key:
        return False
    original = _unescaped(key)
    return original is not None and original != key and _encode(original, rules) == key


def encode_key(key: str, rules: KeyRules | str) -> str:
    """The key as a target with `rules` (or of that scheme) stores it; unchanged for every key it can
    hold as is and that does not read back as another. Raises InvalidInput for a scheme without
    registered rules."""
    rules = _key_rules(rules)
    if rules == _ANY:
        return key  # a store that holds every key never escapes, so it never needs to decode
    return _encode(key, rules)


def decode_key(key: str, rules: KeyRules | str) -> str:
    """The original key of one a store with `rules` (or of that scheme) lists: the key its escapes
    spell when `key` is exactly that key's encoding, else `key` itself (a key someone else stored
    raw). Exact: `decode_key(encode_key(k, r), r) == k` for every key and rules."""
    if ESCAPE not in key:
        return key
    rules = _key_rules(rules)
    return _unescaped(key) if rules != _ANY and _reads_as_another(key, rules) else key


def is_encoded(key: str, rules: KeyRules | str) -> bool:
    """Whether a store with `rules` lists `key` under another name than its original."""
    return decode_key(key, rules) != key


def escape_key(key: str, rules: KeyRules) -> str:
    """The strict form, for a format of our own that is always decoded by `unescape_key` (snapshot
    trees): every character `rules` refuse and every literal escape character escaped."""
    bad = _bad_positions(key, rules) | {i for i, ch in enumerate(key) if ch == ESCAPE}
    return "".join(_escape(ch) if i in bad else ch for i, ch in enumerate(key))


def unescape_key(key: str) -> str:
    """The inverse of `escape_key` (and of escaping any further characters by hand): every `％XX` run
    turned back into its characters; a run that is not UTF-8 is kept as it is."""
    if ESCAPE not in key:
        return key
    return _ENCODED.sub(lambda m: bytes.fromhex(m.group().replace(ESCAPE, "")).decode("utf-8", "surrogateescape"),
                        key)


def _encode_name(name: str, accepted: MetadataRules) -> str:
    if accepted.accepts(name) and not _name_reads_as_another(name, accepted):
        return name
    return _METADATA_PREFIX + name.encode("utf-8", "surrogatepass").hex()


def _spelled_name(name: str) -> str | None:
    """The name an `mcenc_<hex>` name spells, or None when it is not of that form."""
    if not name.startswith(_METADATA_PREFIX):
        return None
    digits = name[len(_METADATA_PREFIX):]
    if not re.fullmatch(r"(?:[0-9a-f]{2})+", digits):
        return None
    try:
        return bytes.fromhex(digits).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _name_reads_as_another(name: str, accepted: MetadataRules) -> bool:
    original = _spelled_name(name)
    return original is not None and _encode_name(original, accepted) == name


def encode_metadata(metadata: Mapping[str, str], rules: MetadataRules | str) -> tuple[dict[str, str], int]:
    """Metadata a target with `rules` (or of that scheme) can store, and how many names had to be
    encoded. Raises InvalidInput for a scheme without registered rules."""
    accepted = _metadata_rules(rules)
    if accepted.name_pattern is None:
        return dict(metadata), 0
    out, encoded = {}, 0
    for name, value in metadata.items():
        stored = _encode_name(name, accepted)
        encoded += stored != name
        out[stored] = value
    return out, encoded


def decode_metadata(metadata: Mapping[str, str], rules: MetadataRules | str) -> tuple[dict[str, str], int]:
    """The original names of the metadata a store with `rules` (or of that scheme) returned, and
    how many were decoded. A name decodes only when it is exactly that store's encoding of
    another, so names stored raw (even `mcenc_…` ones) come back as they are."""
    accepted = _metadata_rules(rules)
    if accepted.name_pattern is None:
        return dict(metadata), 0
    out, decoded = {}, 0
    for name, value in metadata.items():
        if _name_reads_as_another(name, accepted):
            name, decoded = _spelled_name(name), decoded + 1
        out[name] = value
    return out, decoded
