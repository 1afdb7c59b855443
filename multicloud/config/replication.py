"""Replication rules: what to copy from where to where, how to compare, whether to delete."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from multicloud.config.loading import key_globs, load_yaml_model, named, store_url
from multicloud.core.objects import StoreUrl
from multicloud.core.replication import DeletePolicy, SyncOptions
from multicloud.core.replication_manifest import RESERVED_PREFIX, ManifestSettings
from multicloud.core.replication_spool import DEFAULT_IN_MEMORY, RunSpool, run_spool


class ReplicationRule(BaseModel):
    """One replication rule: what to copy from where to where, how to compare, whether to delete."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Rule name: lowercase, digits, dashes.")
    source: str = Field(description="Source URL: s3://bucket/prefix, az://container/prefix, gs://bucket/prefix.")
    targets: list[str] = Field(min_length=1, description="One or more target URLs, any mix of clouds.")
    include: list[str] = Field(default_factory=list, description="Globs a key must match (none: every key). "
                               "`*` and `?` stay within one '/' segment, `**` crosses them.")
    exclude: list[str] = Field(default_factory=list, description="Globs of keys never copied or deleted.")
    compare: Literal["hash", "size"] = Field(
        default="hash", description="hash: size + SHA-256 we record, else a provider hash both sides share, "
        "else size + modification time. size: size only.")
    delete: Literal["never", "mirror", "tombstone"] = Field(
        default="never", description="never: leave target-only objects. mirror: delete them (guarded). "
        "tombstone: move them under tombstone_prefix, purged after tombstone_days.")
    max_delete: int = Field(default=100, ge=0, description="Refuse all deletions if more than this many.")
    max_delete_percent: float = Field(default=10.0, ge=0, le=100,
                                      description="Refuse all deletions above this share of the target's objects.")
    tombstone_prefix: str = Field(default=".tombstones/", description="Tombstone area under each target's root.")
    tombstone_days: int = Field(default=30, ge=0, description="Tombstones older than this are purged.")
    dry_run: bool = Field(default=False, description="Plan and report only: copy and delete nothing.")
    concurrency: int = Field(default=16, ge=1, le=256, description="Objects copied at once per batch.")
    batch_objects: int = Field(default=1000, ge=1, description="Most objects in one copy task.")
    batch_bytes: int = Field(default=1 << 30, ge=1, description="About this many bytes in one copy task.")
    manifest: bool = Field(default=True, description="Read each target's state from the manifest the last "
                           "clean run wrote on it (under .multicloud-state/) instead of listing the target; deletions "
                           "and the daily verify still list it in full. Off: list the target every run.")
    manifest_max_age_hours: float = Field(default=24.0, gt=0, le=24 * 31, description="List a target in full "
                                          "when its manifest descends from a full listing older than this.")
    spool_after: int = Field(default=DEFAULT_IN_MEMORY, ge=0, description="Objects to copy each shard's plan "
                             "holds in memory; its further copy batches are written to the target under "
                             ".multicloud-state/spool/ while planning and read back by their copy task, so a run's "
                             "memory does not grow with the number of objects (0: spool every batch). Removed when "
                             "the run settles; a stopped run's spool by a later run after two days.")
    shards: list[str] = Field(default_factory=lambda: [""], description="Key prefixes listed and copied in "
                              "parallel; together they must cover every key to replicate, without overlap.")

    @field_validator("source")
    @classmethod
    def _source_url(cls, value: str) -> str:
        return store_url(value)

    @field_validator("targets")
    @classmethod
    def _target_urls(cls, value: list[str]) -> list[str]:
        urls = [store_url(v) for v in value]
        if len(set(urls)) != len(urls):
            raise ValueError("targets repeat a URL")
        return urls

    @field_validator("include", "exclude")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        return key_globs(value)

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one shard prefix ('' for all keys)")
        for a in value:
            for b in value:
                if a != b and b.startswith(a):
                    raise ValueError(f"shard prefixes overlap: {a!r} contains {b!r}")
        if len(set(value)) != len(value):
            raise ValueError("shard prefixes repeat")
        return value

    @property
    def delete_policy(self) -> DeletePolicy:
        """The rule's delete mode and limits as one value (see core.replication.target_outcome)."""
        return DeletePolicy(self.delete, self.max_delete, self.max_delete_percent, self.tombstone_prefix,
                            self.tombstone_days)

    @property
    def sync_options(self) -> SyncOptions:
        """How the rule's passes compare, filter and batch; its tombstone area and the reserved area
        of the tool's own state are never planned."""
        return SyncOptions(self.compare, tuple(self.include), tuple(self.exclude),
                           (self.tombstone_prefix, RESERVED_PREFIX), self.concurrency, self.batch_objects,
                           self.batch_bytes)

    @property
    def manifest_settings(self) -> ManifestSettings:
        """Whether and how long the rule trusts its targets' manifests."""
        return ManifestSettings(self.name, self.manifest, timedelta(hours=self.manifest_max_age_hours))

    def run_spool(self, now: datetime, token: str) -> RunSpool:
        """The copy spool of a run of this rule starting at `now` (`token`: letters and digits)."""
        return run_spool(self.name, now, token, self.spool_after)

    def model_post_init(self, __context) -> None:
        if self.source in self.targets:
            raise ValueError("a target is the source itself")
        src = StoreUrl.parse(self.source)
        for t in self.targets:
            dst = StoreUrl.parse(t)
            if (src.scheme, src.bucket) == (dst.scheme, dst.bucket) and (
                    src.prefix.startswith(dst.prefix) or dst.prefix.startswith(src.prefix)):
                raise ValueError(f"target {t} overlaps the source {self.source}")


class RulesFile(BaseModel):
    rules: list[ReplicationRule]

    def rule(self, name: str, path: str) -> ReplicationRule:
        return named(self.rules, name, "rule", path)


def load_rules(path: str | Path) -> RulesFile:
    """Parse a YAML rules file. Raises InvalidInput naming the file and the field."""
    return load_yaml_model(path, RulesFile, "rules")
