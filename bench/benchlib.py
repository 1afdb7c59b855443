"""What the benchmarks share: generated data and an exact peak-RSS reading."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

MIB = 1 << 20


class Pattern:
    """`size` bytes made on the fly from one random MiB."""

    def __init__(self, size: int):
        self.left = size
        self.block = os.urandom(MIB)

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return (self.block * (n // MIB + 1))[:n]


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and
    exec, so a child's would be at least the parent's RSS when it was spawned."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_result(cmd: list[str], env: dict[str, str], cwd: Path, logfile: Path, mark: str, what: str) -> dict:
    """Run one benchmark child process; its log goes to `logfile`, its result is the JSON after the
    last line starting with `mark`. RuntimeError (naming `what` and the log) when it fails."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    logfile.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    results = [ln[len(mark):] for ln in proc.stdout.splitlines() if ln.startswith(mark)]
    if proc.returncode != 0 or not results:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); see {logfile}:\n"
                           + "\n".join(proc.stderr.splitlines()[-15:]))
    return json.loads(results[-1])
