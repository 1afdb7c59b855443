"""What `check` verifies and concludes: which packs this run reads (a rotating subset, like restic's
`--read-data-subset n/N`), how an index entry must agree with its pack header, the findings and the
verdict, and how fresh each plan's newest verified snapshot is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from multicloud.core.backups.format import PackEntry
from multicloud.core.backups.prune import pack_size
from multicloud.core.backups.retention import SnapshotTime

ERROR, NOTE = "error", "note"


def subset_bucket(now: datetime, buckets: int, period_hours: float = 24.0) -> int:
    """This run's bucket n (1..N) of N: it moves on by one every `period_hours`, so N daily runs read
    every pack once."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    periods = int(now.timestamp() // (period_hours * 3600))
    return periods % buckets + 1


def in_subset(pack_id: str, bucket: int, buckets: int) -> bool:
    """restic's rule for `--read-data-subset n/N`: the pack id's first byte modulo N is n-1."""
    return int(pack_id[:2], 16) % buckets == bucket - 1


@dataclass(frozen=True)
class Finding:
    """One thing check found: an error (the repository is damaged) or a note (harmless, like an
    unindexed pack an interrupted backup left)."""

    severity: str
    what: str
    target: str

    def row(self) -> dict:
        return {"severity": self.severity, "finding": self.what, "where": self.target}


def header_findings(pack: str, indexed: Sequence[PackEntry], header: Sequence[PackEntry], size: int
                    ) -> list[Finding]:
    """How a pack's header and size disagree with the index (restic's `checkPack` structure rules)."""
    findings = []
    expected = pack_size(indexed)
    if size != expected:
        findings.append(Finding(ERROR, f"pack is {size} bytes, the index says {expected}", pack))
    by_key = {(e.blob_type, e.blob_id): e for e in header}
    for e in indexed:
        found = by_key.get((e.blob_type, e.blob_id))
        if found is None or (found.offset, found.length, found.raw_length) != (e.offset, e.length, e.raw_length):
            findings.append(Finding(ERROR, f"{e.blob_type} blob {e.blob_id.hex()} is not in the pack header "
                                           "where the index says", pack))
    indexed_keys = {(e.blob_type, e.blob_id) for e in indexed}
    for e in header:
        if (e.blob_type, e.blob_id) not in indexed_keys:
            findings.append(Finding(ERROR, f"{e.blob_type} blob {e.blob_id.hex()} of the pack header is in no index",
                                    pack))
    return findings


@dataclass
class CheckReport:
    """A check of one repository: what it looked at and what it found."""

    repository: str
    plan: str = ""
    snapshots: int = 0
    trees: int = 0
    packs: int = 0
    packs_read: int = 0
    blobs_read: int = 0
    bytes_read: int = 0
    subset: str = ""
    findings: list[Finding] = field(default_factory=list)

    def add(self, severity: str, what: str, target: str) -> None:
        self.findings.append(Finding(severity, what, target))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    def row(self) -> dict:
        return {"plan": self.plan, "repository": self.repository, "snapshots": self.snapshots, "trees": self.trees,
                "packs": self.packs, "packs read": self.packs_read, "subset": self.subset,
                "blobs read": self.blobs_read, "bytes read": self.bytes_read, "errors": len(self.errors),
                "notes": len(self.findings) - len(self.errors)}


def check_problem(reports: Iterable[CheckReport]) -> str | None:
    """Why a check failed, naming each damaged repository, its plan and its first error; or None."""
    bad = [r for r in reports if r.errors]
    if not bad:
        return None
    return "; ".join(f"check of plan {r.plan}: {r.repository}: {len(r.errors)} error(s), first: "
                     f"{r.errors[0].what} [{r.errors[0].target}]" for r in bad)


def freshness_row(plan_name: str, verified: Mapping | None, now: datetime, max_age_hours: float,
                  problem: str | None = None) -> dict:
    """One plan's line of the freshness table: its newest verified snapshot, how old, and whether stale."""
    if verified is None:
        return {"plan": plan_name, "snapshot": "", "time": "", "age hours": None, "max age hours": max_age_hours,
                "state": "stale: no verified snapshot" + (f" ({problem})" if problem else "")}
    age = (int(now.timestamp() * 1e9) - SnapshotTime.parse(verified["time"]).epoch_ns) / 3.6e12
    state = "fresh" if age <= max_age_hours else f"stale: older than {max_age_hours:g} h"
    return {"plan": plan_name, "snapshot": str(verified.get("id", ""))[:8], "time": verified["time"],
            "age hours": round(age, 2), "max age hours": max_age_hours, "state": state}


def freshness_markdown(rows: Sequence[dict]) -> str:
    """The freshness table as markdown, stale plans first."""
    ordered = sorted(rows, key=lambda r: (r["state"] == "fresh", r["plan"]))
    lines = ["| plan | newest verified snapshot | time | age (h) | max age (h) | state |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['plan']} | {r['snapshot'] or '–'} | {r['time'] or '–'} | "
              f"{'–' if r['age hours'] is None else r['age hours']} | {r['max age hours']:g} | {r['state']} |"
              for r in ordered]
    return "\n".join(lines)
