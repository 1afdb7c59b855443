"""Reading typed configuration files: YAML into a pydantic model, errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from multicloud.core.errors import InvalidInput
from multicloud.core.objects import StoreUrl


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
