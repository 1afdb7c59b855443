"""What a restore restores: which snapshot a reference names (id or prefix, a time, `latest`),
whether the target may be written, how a tree path becomes the original object key and metadata,
and the report of what was written and verified."""

from __future__ import annotations

import base64
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from multicloud.core.backups.forget import of_plan
from multicloud.core.backups.retention import SnapshotTime
from multicloud.core.backups.tree import (  # noqa: F401 (re-exported: restore reads what the backup wrote)
    XATTR_CACHE_CONTROL, XATTR_CONTENT_TYPE, XATTR_ETAG, XATTR_META_PREFIX, XATTR_SHA256, tree_key,
)
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.replication import KeyFilter

#: Snapshot paths of a PostgreSQL source: restored with pg_restore, not as objects.
POSTGRES_ROOT = "/postgresql/"
_HEX = re.compile(r"^[0-9a-f]{4,64}$")


@dataclass(frozen=True)
class Choice:
    """The snapshot a reference names, and why it is that one."""

    snapshot: Mapping
    why: str


def choose_snapshot(snapshots: Iterable[Mapping], ref: str, plan_name: str | None = None) -> Choice:
    """The snapshot `ref` names among the plan's snapshots (all, when `plan_name` is None): `latest`,
    a full id or a unique id prefix (4+ hex digits), or a time (RFC 3339, or ISO without an offset
    read as UTC): the newest snapshot taken at or before it. Raises NotFound or InvalidInput."""
    pool = list(snapshots) if plan_name is None else of_plan(snapshots, plan_name)
    whose = "the repository" if plan_name is None else f"plan {plan_name}"
    if not pool:
        raise NotFound(f"{whose} has no snapshots", target=ref)
    ref = (ref or "").strip()
    timed = sorted(pool, key=lambda s: SnapshotTime.parse(s["time"]).epoch_ns)
    if ref == "latest":
        return Choice(timed[-1], f"the newest of {len(pool)} snapshot(s) of {whose}")
    if _HEX.match(ref):
        matches = [s for s in pool if str(s.get("id", "")).startswith(ref)]
        if len(matches) > 1:
            raise InvalidInput(f"snapshot id prefix matches {len(matches)} snapshots of {whose}", target=ref)
        if matches:
            return Choice(matches[0], "its id" if matches[0]["id"] == ref else "its id starts with the prefix")
        raise NotFound(f"no snapshot of {whose} has this id", target=ref)
    moment = _parse_moment(ref)
    before = [s for s in timed if SnapshotTime.parse(s["time"]).epoch_ns <= moment]
    if not before:
        raise NotFound(f"{whose} has no snapshot taken at or before this time", target=ref)
    return Choice(before[-1], f"the newest snapshot of {whose} at or before {ref}")


def _parse_moment(ref: str) -> int:
    try:
        return SnapshotTime.parse(ref).epoch_ns
    except InvalidInput:
        pass
    try:
        moment = datetime.fromisoformat(ref)
    except ValueError:
        raise InvalidInput("a snapshot is named by `latest`, an id or id prefix (hex), or a time like "
                           "2026-01-02T03:04:05Z", target=ref) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass(frozen=True)
class TargetDecision:
    """Whether a restore may write to its target, and why."""

    proceed: bool
    why: str


def target_decision(target: str, first_existing: str | None, overwrite: bool) -> TargetDecision:
    """A target that holds anything is refused unless the restore is told to overwrite."""
    if first_existing is None:
        return TargetDecision(True, "the target is empty")
    if overwrite:
        return TargetDecision(True, f"the target is not empty (holds {first_existing!r}); overwrite was asked")
    return TargetDecision(False, f"restore target {target} is not empty (holds {first_existing!r}); "
                                 "restore into an empty place, or set overwrite")


@dataclass(frozen=True)
class RestoreItem:
    """One file of a snapshot as the object it was: its key and the metadata its node carries."""

    path: tuple[str, ...]
    key: str
    size: int
    sha256: str | None = None
    content_type: str | None = None
    cache_control: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


def snapshot_roots(snapshot: Mapping) -> list[tuple[str, ...]]:
    """The tree path of each of the snapshot's paths (`/s3/bucket/prefix` -> ('s3', 'bucket', 'prefix'))."""
    return [tuple(p for p in path.split("/") if p) for path in snapshot.get("paths") or ()]


def is_postgres(snapshot: Mapping) -> bool:
    """A snapshot of a PostgreSQL source: every path under /postgresql/."""
    paths = snapshot.get("paths") or ()
    return bool(paths) and all(p.startswith(POSTGRES_ROOT) for p in paths)


def restore_item(path: Sequence[str], node: Mapping, roots: Sequence[tuple[str, ...]]) -> RestoreItem:
    """The object a file node stands for: its key is the tree path under the longest snapshot root
    holding it, joined by `/` and decoded (the tree's escapes of `//`, `.`, trailing `/` undone);
    content type, cache control, user metadata and SHA-256 come from its extended attributes."""
    path = tuple(path)
    root = max((r for r in roots if path[:len(r)] == r and len(path) > len(r)), key=len, default=())
    attrs = {a["name"]: base64.b64decode(a.get("value") or "").decode("utf-8", "replace")
             for a in node.get("extended_attributes") or ()}
    metadata = {name[len(XATTR_META_PREFIX):]: value for name, value in attrs.items()
                if name.startswith(XATTR_META_PREFIX)}
    return RestoreItem(path, tree_key(path[len(root):]), int(node.get("size") or 0),
                       attrs.get(XATTR_SHA256) or None, attrs.get(XATTR_CONTENT_TYPE) or None,
                       attrs.get(XATTR_CACHE_CONTROL) or None, metadata)


def key_filter(include: Sequence[str]) -> KeyFilter:
    """Keys a restore writes: those matching any include glob (none: every key)."""
    return KeyFilter(include, ())


def drill_sample(keys: Sequence[str], count: int, seed: int) -> list[str]:
    """`count` keys chosen evenly at random (the same for the same seed), in key order."""
    if count >= len(keys):
        return sorted(keys)
    return sorted(random.Random(seed).sample(list(keys), count))


@dataclass
class RestoreReport:
    """What a restore wrote: objects, bytes, how each was verified, and what failed."""

    repository: str
    snapshot: str
    target: str
    objects: int = 0
    bytes: int = 0
    verified_sha256: int = 0
    verified_blobs_only: int = 0
    skipped: int = 0
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def restored(self, item: RestoreItem, sha256: str | None) -> None:
        """Count one written object: verified against the snapshot's SHA-256 when it has one, else by
        its blobs' hashes (restic's own snapshots carry no object SHA-256)."""
        self.objects += 1
        self.bytes += item.size
        if item.sha256 and sha256 == item.sha256:
            self.verified_sha256 += 1
        else:
            self.verified_blobs_only += 1

    def failed(self, item: RestoreItem, error: str) -> None:
        self.failures.append({"key": item.key, "error": error})

    def row(self) -> dict:
        return {"repository": self.repository, "snapshot": self.snapshot[:8], "target": self.target,
                "objects": self.objects, "bytes": self.bytes, "sha256 verified": self.verified_sha256,
                "verified by blob hashes": self.verified_blobs_only, "not selected": self.skipped,
                "failed": len(self.failures), "seconds": round(self.seconds, 3)}


def restore_problem(report: RestoreReport) -> str | None:
    """Why a restore failed, or None when every selected object was written and verified."""
    if report.failures:
        first = report.failures[0]
        return (f"restore of snapshot {report.snapshot[:8]} from {report.repository} to {report.target}: "
                f"{len(report.failures)} object(s) failed; first {first['key']!r}: {first['error']}")
    return None


def drill_problem(plan_name: str, report: RestoreReport, sampled: int) -> str | None:
    """Why a drill failed: a restore problem, or fewer objects verified than sampled."""
    problem = restore_problem(report)
    if problem:
        return f"drill of plan {plan_name} failed: {problem}"
    if report.objects != sampled:
        return f"drill of plan {plan_name} restored {report.objects} of {sampled} sampled object(s)"
    return None


class RestoreFailed(RuntimeError):
    """A restore or a drill that did not write and verify every object it should have."""
