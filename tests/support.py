"""Helpers shared by the test modules (tests never import each other)."""

from __future__ import annotations

import uuid
from pathlib import Path

from multicloud.clouds import open_store


def unique_name(prefix: str = "t") -> str:
    """A bucket/container name valid on every cloud: lowercase, digits, dashes, 3-63 chars."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def upload(local: Path, url: str, profile) -> None:
    """Copy every file under the folder `local` to the store at `url`, keys relative to the folder."""
    store = open_store(url, profile=profile)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            store.write(path.relative_to(local).as_posix(), f, size=path.stat().st_size)
