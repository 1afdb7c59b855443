"""The real `restic` binary as an oracle for tests, fixtures and benchmarks: run it on a folder
repository, make snapshots at chosen times, and translate our retention policy into `forget` flags."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

FLAG_OF_FIELD = {
    "keep_last": "--keep-last", "hourly": "--keep-hourly", "daily": "--keep-daily", "weekly": "--keep-weekly",
    "monthly": "--keep-monthly", "yearly": "--keep-yearly", "within": "--keep-within",
    "within_hourly": "--keep-within-hourly", "within_daily": "--keep-within-daily",
    "within_weekly": "--keep-within-weekly", "within_monthly": "--keep-within-monthly",
    "within_yearly": "--keep-within-yearly",
}


def restic_path() -> str | None:
    """Where `restic` is on PATH, or None."""
    return shutil.which("restic")


class Restic:
    """One folder repository driven through the restic CLI, with its own empty cache."""

    def __init__(self, repo: Path, password: str, tz: str = "UTC"):
        self.repo, self.password, self.tz = Path(repo), password, tz
        self._cache = tempfile.mkdtemp(prefix="restic-cache-")

    def run(self, *args: str, tz: str | None = None, check: bool = True, cwd: Path | None = None
            ) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
               "TZ": tz or self.tz, "RESTIC_PASSWORD": self.password, "RESTIC_REPOSITORY": str(self.repo)}
        proc = subprocess.run(["restic", "--cache-dir", self._cache, *args], env=env, cwd=cwd,
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"restic {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def init(self) -> None:
        self.run("init", "--repository-version", "2", "-q")

    def backup(self, source: Path, *, host: str = "h1", time: str | None = None, tz: str | None = None,
               tags: Sequence[str] = ()) -> None:
        """`restic backup` of `source` (relative to its parent, so paths are stable); `time` is local to `tz`."""
        args = ["backup", "-q", "--host", host, *(["--time", time] if time else [])]
        for tag in tags:
            args += ["--tag", tag]
        self.run(*args, source.name, tz=tz, cwd=source.parent)

    def snapshots(self) -> list[dict]:
        return json.loads(self.run("snapshots", "--json", "--no-lock").stdout)

    def forget_dry_run(self, flags: Sequence[str], group_by: str = "host,paths") -> list[dict]:
        out = self.run("forget", "--dry-run", "--no-lock", "--json", "--group-by", group_by, *flags).stdout
        return json.loads(out.strip().splitlines()[-1]) if out.strip() else []

    def close(self) -> None:
        shutil.rmtree(self._cache, ignore_errors=True)


def forget_flags(policy: Mapping) -> list[str]:
    """The `restic forget` flags of a retention policy given as a dict of RetentionPolicy fields."""
    flags: list[str] = []
    for name, flag in FLAG_OF_FIELD.items():
        value = policy.get(name)
        if value:
            flags += [flag, str(value)]
    for tags in policy.get("keep_tags", ()):
        flags += ["--keep-tag", ",".join(tags)]
    return flags
