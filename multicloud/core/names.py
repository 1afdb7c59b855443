"""Names derived from user text for artifact keys and task-run names."""

from __future__ import annotations

import re


def slug(text: str) -> str:
    """`text` as a name fit for artifact keys and task-run names: lowercase letters, digits, dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
