"""Reading typed configuration files: YAML into a pydantic model, errors naming the file and the field."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Iterable, Sequence, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, ValidationError

from multicloud.core.errors import InvalidInput
from multicloud.core.objects import StoreUrl
from multicloud.core.redact import redact_url


def load_yaml_model(path: str | Path, model, what: str):
    path = Path(path)
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"{what} file not found", target=str(path)) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{what} file is not valid YAML: {exc}", target=str(path)) from None
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        raise InvalidInput(f"invalid {what}: {_errors(exc)}", target=str(path)) from None


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def store_url(value: str) -> str:
    """A pydantic field check: a store URL any backend accepts, normalised; ValueError otherwise."""
    import multicloud.clouds.registry  # noqa: F401  (fills the scheme table URL parsing reads)

    try:
        return str(StoreUrl.parse(value))
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


def http_url(value: str) -> str:
    """A pydantic field check: an absolute http(s) URL with a host (and a numeric port, if any);
    ValueError, the URL redacted, otherwise."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError(f"not a valid URL: {redact_url(value)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {redact_url(value)}")
    return value


def key_globs(value: list[str]) -> list[str]:
    """A pydantic field check: key globs the sync engine can compile; ValueError naming the bad one."""
    from multicloud.core.replication import glob_to_regex

    for pattern in value:
        try:
            glob_to_regex(pattern)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
    return value


HttpUrlStr = Annotated[str, AfterValidator(http_url)]
StoreUrlStr = Annotated[str, AfterValidator(store_url)]
KeyGlobs = Annotated[list[str], AfterValidator(key_globs)]


Named = TypeVar("Named")


def named(items: Sequence[Named], name: str, what: str, path: str) -> Named:
    """The item of `items` called `name`. Raises InvalidInput naming the file and the names it has."""
    for item in items:
        if item.name == name:
            return item
    raise InvalidInput(f"no {what} named {name!r}; the file has {[i.name for i in items]}", target=path)


def repeated(names: Iterable[str]) -> list[str]:
    """The names that occur more than once, sorted: what a unique-names check reports."""
    return sorted(name for name, count in Counter(names).items() if count > 1)

