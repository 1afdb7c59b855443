"""Where this checkout keeps its local state: the repository root and the local cloud stack's folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

from multicloud.config import LOCAL_DIR_VARIABLE, Profile

REPO_ROOT = Path(__file__).resolve().parents[1]


def local_state_dir() -> Path:
    """The local cloud stack's folder: `MULTICLOUD_LOCAL_DIR`, else `.local/cloud` in the checkout."""
    return Path(os.environ.get(LOCAL_DIR_VARIABLE) or REPO_ROOT / ".local" / "cloud")


def local_profile_path() -> Path:
    return local_state_dir() / "profile.json"


def write_local_profile(profile: Profile) -> Path:
    path = local_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile.model_dump(), indent=2))
    return path
