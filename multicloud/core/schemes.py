"""What core knows of each store scheme, as values: the URL form, the key rules and the metadata-name
rules. The backend registry (`multicloud.clouds.registry`) fills the table; core never imports a backend."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from multicloud.core.errors import InvalidInput


@dataclass(frozen=True)
class KeyRules:
    """The parts of an object key a backend cannot store where they stand (all False: any key)."""

    control_chars: bool = False  # C0 control characters and DEL
    backslash: bool = False  # Azure turns "\" into "/"
    dot_segments: bool = False  # "." and ".." path segments are normalised away
    dot_keys: bool = False  # a whole key of "." or ".." (a subset of dot_segments)
    trailing_slash: bool = False  # a key ending in "/" names a folder, not an object
    trailing_dot: bool = False  # a trailing "." is dropped
    empty_segments: bool = False  # "//" inside a key, or a leading "/"


@dataclass(frozen=True)
class MetadataRules:
    """Which user-metadata names a backend can hold: those matching `name_pattern` (None: any name)."""

    name_pattern: str | None = None

    @cached_property
    def _compiled(self) -> re.Pattern | None:
        return re.compile(self.name_pattern) if self.name_pattern else None

    def accepts(self, name: str) -> bool:
        return self._compiled is None or bool(self._compiled.fullmatch(name))


@dataclass(frozen=True)
class SchemeRules:
    """One scheme's rules. `url_form` "bucket" is `scheme://bucket/prefix`; "path" is `scheme:///absolute/path`."""

    scheme: str
    url_form: Literal["bucket", "path"] = "bucket"
    keys: KeyRules = field(default_factory=KeyRules)
    metadata: MetadataRules = field(default_factory=MetadataRules)


# Filled once, when the backend registry is imported; a single dict assignment needs no lock.
_TABLE: dict[str, SchemeRules] = {}


def register_scheme(rules: SchemeRules) -> None:
    """Add (or replace) the rules of one scheme; called by the backend registry."""
    _TABLE[rules.scheme] = rules


def unregister_scheme(scheme: str) -> None:
    _TABLE.pop(scheme, None)


def scheme_rules(scheme: str, target: str | None = None) -> SchemeRules:
    """The rules of `scheme`. Raises InvalidInput naming `target` (or the scheme) when none is registered."""
    rules = _TABLE.get(scheme)
    if rules is None:
        known = ", ".join(_TABLE) or "none registered: import multicloud.clouds first"
        raise InvalidInput(f"unknown store scheme {scheme!r}; expected one of {known}", target=target or scheme)
    return rules
