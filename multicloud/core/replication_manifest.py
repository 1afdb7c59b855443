"""The target manifest's decisions as values: where a rule's manifest lives, what it must say to be
trusted, whether a plan reads it or lists the target (and why), when a plan from it must be redone
from a full listing, what becomes of it after the plan and after the copies, and its rows. Pure."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Literal

from multicloud.core.names import slug
from multicloud.core.objects import ObjectMeta
from multicloud.core.replication import (
    Decision, DeletePolicy, ShardPlan, ShardReport, SyncOptions, TargetOutcome, age,
)

#: Area of every target (and source) that holds the tool's own state; never planned, copied or deleted.
RESERVED_PREFIX = ".multicloud-state/"
MANIFEST_FORMAT = "multicloud-target-manifest"
MANIFEST_VERSION = 1
STAGED_SUFFIX = ".staged"
DEFAULT_MAX_AGE = timedelta(hours=24)


class ManifestUnusable(ValueError):
    """A manifest that cannot be trusted (corrupt, truncated, unordered, of another format); its text
    is the reason a full listing is made instead."""


@dataclass(frozen=True)
class ManifestSettings:
    """A rule's use of its targets' manifests: its name (the manifests' folder), on or off, and
    the age of the full listing beyond which a manifest is not trusted."""

    rule: str
    enabled: bool = True
    max_age: timedelta = DEFAULT_MAX_AGE


def manifest_key(rule: str, prefix: str) -> str:
    """The manifest of one rule's shard on a target: readable, and unique per shard prefix."""
    digest = hashlib.sha256(prefix.encode("utf-8")).hexdigest()[:12]
    return f"{RESERVED_PREFIX}manifest/{rule}/{slug(prefix) or 'all'}-{digest}.jsonl.zst"


@dataclass(frozen=True)
class ManifestScope:
    """What a manifest describes; one that describes anything else is not used."""

    rule: str
    target: str
    prefix: str
    filters: str  # fingerprint of the key filter and the areas never planned: they decide the entries


def scope_of(rule: str, target: str, prefix: str, options: SyncOptions) -> ManifestScope:
    ignored = options.ignore_target_prefix
    ignored = [ignored] if isinstance(ignored, str) else list(ignored or ())
    spec = json.dumps([list(options.include), list(options.exclude), ignored])
    return ManifestScope(rule, target, prefix, hashlib.sha256(spec.encode()).hexdigest()[:16])


@dataclass(frozen=True)
class ManifestHeader:
    """The first line of a manifest. `listed_at` is when the target was last listed in full: a
    manifest written from another manifest keeps its ancestor's, so its age bounds how long an
    outside change can go unseen. `generation` counts the manifests written since."""

    scope: ManifestScope
    generation: int
    listed_at: datetime
    written_at: datetime

    def to_json(self) -> dict:
        return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "rule": self.scope.rule,
                "target": self.scope.target, "prefix": self.scope.prefix, "filters": self.scope.filters,
                "generation": self.generation, "listed_at": self.listed_at.isoformat(),
                "written_at": self.written_at.isoformat()}

    @classmethod
    def from_json(cls, data: object) -> "ManifestHeader":
        """Raises ManifestUnusable for anything but a header of this format and version."""
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ManifestUnusable("not a target manifest (no header)")
        if data.get("version") != MANIFEST_VERSION:
            raise ManifestUnusable(f"manifest format version {data.get('version')!r}, this version reads "
                                   f"{MANIFEST_VERSION}")
        try:
            scope = ManifestScope(str(data["rule"]), str(data["target"]), str(data["prefix"]), str(data["filters"]))
            return cls(scope, int(data["generation"]), datetime.fromisoformat(data["listed_at"]),
                       datetime.fromisoformat(data["written_at"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestUnusable(f"manifest header is malformed: {exc}") from None


def next_header(previous: ManifestHeader | None, scope: ManifestScope, from_manifest: bool,
                now: datetime) -> ManifestHeader:
    """The header of the manifest a plan writes: one generation on, and the previous full listing's
    time when the plan read a manifest (else `now`, the time of this plan's full listing)."""
    listed = previous.listed_at if from_manifest and previous is not None else now
    return ManifestHeader(scope, (previous.generation + 1) if previous else 1, listed, now)


# ---- reading or listing --------------------------------------------------------------------

@dataclass(frozen=True)
class ListingChoice:
    """Whether a plan takes the target's side from its manifest, and why."""

    from_manifest: bool
    why: str


def choose_listing(enabled: bool, header: ManifestHeader | None, problem: str | None, scope: ManifestScope,
                   now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> ListingChoice:
    """Read the manifest only when it is on, readable, of this very scope, and descends from a full
    listing younger than `max_age`; otherwise list the target in full, saying why."""
    if not enabled:
        return ListingChoice(False, "manifest off for this rule: target listed in full")
    if problem:
        return ListingChoice(False, f"manifest unusable ({problem}): target listed in full")
    if header is None:
        return ListingChoice(False, "no manifest (first run, or the last run did not end cleanly): "
                                    "target listed in full")
    for name in ("rule", "target", "prefix", "filters"):
        if getattr(header.scope, name) != getattr(scope, name):
            return ListingChoice(False, f"manifest of another {name} ({getattr(header.scope, name)!r}): "
                                        "target listed in full")
    since = (now - header.listed_at).total_seconds()
    if since > max_age.total_seconds() or since < 0:
        return ListingChoice(False, f"target last listed in full {age(since)} ago, beyond the manifest's "
                                    f"{age(max_age.total_seconds())}: listed in full")
    return ListingChoice(True, f"target read from manifest generation {header.generation} "
                               f"(last listed in full {age(since)} ago)")


def full_listing_needed(report: ShardReport, policy: DeletePolicy) -> str | None:
    """Why a plan made from a manifest must be made again from a full listing, or None. Deletions
    are only ever decided from the target's own listing, never from a manifest alone."""
    if policy.mode != "never" and report.delete_candidates:
        return (f"{report.delete_candidates:,} target-only object(s) with delete: {policy.mode}: deletions are "
                "decided only from a full listing of the target")
    return None


# ---- after the plan, after the copies ------------------------------------------------------

ManifestStep = Literal["none", "keep", "write", "stage", "remove"]


@dataclass(frozen=True)
class ManifestAction:
    """What a plan does with its shard's manifest: nothing (`none`), leave the one read (`keep`),
    write the new one now (`write`), or stage it for the copies to confirm (`stage`: the current one
    is removed meanwhile); `remove` drops it (manifest off and the target about to change)."""

    step: ManifestStep
    why: str


def after_plan(enabled: bool, from_manifest: bool, report: ShardReport, policy: DeletePolicy,
               dry_run: bool) -> ManifestAction:
    """The manifest step once a shard is planned (its listings succeeded)."""
    changes = report.to_copy or (policy.mode != "never" and report.delete_candidates)
    if dry_run:
        return ManifestAction("none", "dry run: the target does not change, nor does its manifest")
    if not enabled:
        return (ManifestAction("remove", "manifest off and the target changes: a stale manifest is removed")
                if changes else ManifestAction("none", "manifest off"))
    if not changes:
        if from_manifest:
            return ManifestAction("keep", "nothing to change: the manifest read still describes the target")
        return ManifestAction("write", "listed in full and nothing to change: manifest written")
    # Until the copies are known to have succeeded no manifest may claim them; a run that stops
    # half way leaves none, so the next one lists in full.
    return ManifestAction("stage", f"the target changes ({report.to_copy:,} to copy, {report.delete_candidates:,} "
                                   "target-only): manifest staged, committed only if every copy succeeds")


@dataclass(frozen=True)
class ManifestNote:
    """What a shard's plan did about its manifest, carried by its ShardPlan to the run's end."""

    key: str
    from_manifest: bool
    listing: str  # why the target side was read from the manifest or listed
    step: ManifestStep
    why: str

    @property
    def staged(self) -> bool:
        return self.step == "stage"


def staged_manifests(target: str, plans: Iterable[ShardPlan]) -> list[ManifestNote]:
    """The manifests the plans of `target` staged, for the commit after its copies."""
    return [p.manifest for p in plans if p.report.target == target and p.manifest and p.manifest.staged]


def commit_staged(report: ShardReport, outcome: TargetOutcome) -> tuple[bool, str]:
    """Whether a target's staged manifests become current after its copies (and why): only when the
    target is exactly as its plans foresaw, every copy done and nothing removed."""
    if report.failed:
        return False, f"{report.failed:,} object(s) failed: manifest dropped, the next run lists the target in full"
    if report.listing_errors:
        return False, "a listing failed: manifest dropped, the next run lists the target in full"
    if report.changed_since_listed:
        return False, (f"{report.changed_since_listed:,} object(s) changed on the source while copied: manifest "
                       "dropped, the next run lists the target in full")
    if outcome.removal:
        return False, "objects were removed from the target: manifest dropped, the next run lists it in full"
    return True, "every copy succeeded: manifest committed"


# ---- rows ------------------------------------------------------------------------------------

def entry_for(d: Decision) -> ObjectMeta | None:
    """What the target holds for a decision once its plan is carried out: the listed target object
    for a skip or a target-only one; for a copy, the source's size, content hashes (the same bytes,
    SHA-256-checked before commit) and modification time, so a later source change still differs."""
    if d.action == "copy":
        return ObjectMeta(key=d.target_key, size=d.source.size, last_modified=d.source.last_modified,
                          hashes=dict(d.source.hashes))
    return d.target


def entry_row(meta: ObjectMeta) -> list:
    """One manifest line's value: [key, size, last modified (ISO 8601) or None, etag or None, hashes]."""
    when = meta.last_modified.isoformat() if meta.last_modified else None
    return [meta.key, meta.size, when, meta.etag, dict(meta.hashes)]


def entry_meta(row: object, line: int) -> ObjectMeta:
    """The ObjectMeta of one manifest row. Raises ManifestUnusable naming the line."""
    try:
        key, size, when, etag, hashes = row  # type: ignore[misc]
        if not isinstance(key, str) or not isinstance(size, int) or size < 0 or not isinstance(hashes, dict):
            raise ValueError("wrong field types")
        return ObjectMeta(key=key, size=size, last_modified=datetime.fromisoformat(when) if when else None,
                          etag=etag, hashes={str(k): str(v) for k, v in hashes.items()})
    except (TypeError, ValueError) as exc:
        raise ManifestUnusable(f"line {line} is not a manifest entry: {exc}") from None
