"""The decisions of a backup run: how its snapshots are labelled, which earlier snapshot is the parent
(and why), what each repository's summary row says, and whether and why the run failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from multicloud.core.backups.retention import SnapshotTime

TAG = "mcops"
#: Failed objects kept in memory for the report (the count is always exact).
FAILURES_KEPT = 100


def snapshot_labels(plan: str) -> tuple[str, list[str]]:
    """(hostname, tags) of a plan's snapshots: restic's default host+paths grouping then gives one
    retention stream per plan, and `--tag plan=<name>` finds them."""
    return f"mcops-{plan}", [TAG, f"plan={plan}"]


@dataclass(frozen=True)
class ParentChoice:
    snapshot: Mapping | None
    reason: str

    @property
    def id(self) -> str | None:
        return self.snapshot["id"] if self.snapshot else None

    @property
    def tree(self) -> str | None:
        return self.snapshot["tree"] if self.snapshot else None


def choose_parent(snapshots: Sequence[Mapping], plan: str, paths: Sequence[str]) -> ParentChoice:
    """The newest snapshot of the plan (tag `plan=<name>`, else restic's rule: same host and paths) among
    `snapshots` (those every repository holds), or none, with why."""
    host, tags = snapshot_labels(plan)
    same_paths = [s for s in snapshots if sorted(s.get("paths") or []) == sorted(paths)]
    tagged = [s for s in same_paths if tags[1] in (s.get("tags") or [])]
    candidates = tagged or [s for s in same_paths if s.get("hostname") == host]
    if not candidates:
        return ParentChoice(None, f"no snapshot of plan {plan} with paths {list(paths)} in every repository: "
                                  "every object is read")
    newest = max(candidates, key=lambda s: SnapshotTime.parse(s["time"]).epoch_ns)
    return ParentChoice(newest, f"parent {newest['id'][:8]} of {newest['time']}: the newest snapshot of plan "
                                f"{plan} in every repository; unchanged objects reuse its content")


@dataclass
class ShardCounts:
    """What the shards of a run read and wrote, summed."""

    objects: int = 0  # objects listed and selected
    read: int = 0  # objects read
    reused: int = 0  # objects unchanged since the parent, not read
    failed: int = 0  # objects that could not be stored
    logical_bytes: int = 0  # bytes of every file in the snapshot

    # The writers' numbers (WriteStats), summed over the shards and the join.
    bytes_read: int = 0  # bytes read from the source
    bytes_new: int = 0  # new bytes (before compression)
    bytes_deduplicated: int = 0  # bytes already in the repository
    bytes_stored: int = 0  # bytes stored in packs
    packs: int = 0  # packs written
    failures: list[dict] = field(default_factory=list)

    def add(self, other: Mapping) -> None:
        for name, value in other.items():
            if name == "failures":
                self.failures += list(value)[:FAILURES_KEPT - len(self.failures)]
            elif hasattr(self, name):
                setattr(self, name, getattr(self, name) + value)

    def fail(self, path: Sequence[str], error: Exception) -> None:
        self.failed += 1
        # Only the first few are kept: the count stays exact whatever the number.
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append({"path": "/".join(path), "error": f"{type(error).__name__}: {error}"})


def progress_text(plan: str, counts: Mapping) -> str:
    return (f"{plan}: {counts.get('objects', 0):,} objects ({counts.get('read', 0):,} read, "
            f"{counts.get('reused', 0):,} unchanged), {counts.get('bytes_read', 0):,} bytes read, "
            f"{counts.get('bytes_new', 0):,} new, {counts.get('bytes_deduplicated', 0):,} deduplicated, "
            f"{counts.get('packs', 0):,} packs")


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


def repository_rows(repositories: Sequence[str], failed: Mapping[str, str], snapshot_id: str | None,
                    counts: ShardCounts, seconds: float) -> list[dict]:
    """One summary row per repository: published with the snapshot id and the run's numbers, or failed
    with why. Dedup ratio: bytes in the snapshot per new byte; compression: new bytes per stored byte."""
    rows = []
    for url in repositories:
        ok = url not in failed and snapshot_id is not None
        rows.append({"repository": url, "status": "published" if ok else "failed",
                     "snapshot": snapshot_id[:8] if ok else "", "objects": counts.objects,
                     "objects read": counts.read, "objects reused": counts.reused,
                     "new bytes": counts.bytes_new, "dedup ratio": _ratio(counts.logical_bytes, counts.bytes_new),
                     "compression ratio": _ratio(counts.bytes_new, counts.bytes_stored),
                     "seconds": round(seconds, 1), "error": failed.get(url, "" if ok else "no snapshot written")})
    return rows


def run_failure(plan: str, rows: Sequence[Mapping], counts: ShardCounts) -> str | None:
    """Why the run failed (the repositories without a snapshot, the objects not stored), or None."""
    reasons = [f"repository {r['repository']} got no snapshot ({r['error']})" for r in rows if r["status"] != "published"]
    if counts.failed:
        reasons.append(f"{counts.failed} object(s) could not be stored: " + "; ".join(
            f"{f['path']}: {f['error']}" for f in counts.failures[:3]))
    return f"backup plan {plan}: " + "; ".join(reasons) if reasons else None


def summary_markdown(plan: str, parent_reason: str, rows: Sequence[Mapping], counts: ShardCounts) -> str:
    lines = [f"# Backup {plan}", "", parent_reason, "",
             f"{counts.objects:,} objects: {counts.read:,} read, {counts.reused:,} unchanged (listing only), "
             f"{counts.failed:,} failed; {counts.bytes_read:,} bytes read, {counts.bytes_new:,} new, "
             f"{counts.bytes_deduplicated:,} deduplicated, {counts.bytes_stored:,} stored in {counts.packs:,} packs.",
             "", "| repository | status | snapshot | error |", "|---|---|---|---|"]
    lines += [f"| {r['repository']} | {r['status']} | {r['snapshot']} | {r['error']} |" for r in rows]
    return "\n".join(lines)


class BackupFailed(Exception):
    """A backup run that left a repository without its snapshot, or objects not stored."""
