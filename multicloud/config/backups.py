"""Backup configuration: plans (source, repositories, password, retention, drills) and the retention
policy (restic's `forget` rules, named as in our plans)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from multicloud.config.loading import HttpUrlStr, KeyGlobs, StoreUrlStr, load_yaml_model, named, repeated
from multicloud.core.backups.retention import Duration, is_empty
from multicloud.core.errors import InvalidInput
from multicloud.core.objects import StoreUrl

_KEEP_RULES = ("keep_last", "hourly", "daily", "weekly", "monthly", "yearly", "within", "within_hourly",
               "within_daily", "within_weekly", "within_monthly", "within_yearly", "keep_tags")


class RetentionPolicy(BaseModel):
    """Which snapshots of one source to keep; the rules and their meaning are restic's `forget`.

    With no field given, the default is 7 daily, 4 weekly, 12 monthly and 7 yearly snapshots.
    A policy that keeps nothing at all is refused (restic would then keep everything)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep_last: int = Field(default=0, ge=0, description="Keep the newest N snapshots (restic --keep-last).")
    hourly: int = Field(default=0, ge=0, description="Keep the newest snapshot of each of the last N hours "
                        "that have snapshots (--keep-hourly).")
    daily: int = Field(default=7, ge=0, description="Keep the newest snapshot of each of the last N days that "
                       "have snapshots (--keep-daily).")
    weekly: int = Field(default=4, ge=0, description="Keep the newest snapshot of each of the last N ISO weeks "
                        "that have snapshots (--keep-weekly).")
    monthly: int = Field(default=12, ge=0, description="Keep the newest snapshot of each of the last N months "
                         "that have snapshots (--keep-monthly).")
    yearly: int = Field(default=7, ge=0, description="Keep the newest snapshot of each of the last N years that "
                        "have snapshots (--keep-yearly).")
    within: str | None = Field(default=None, description="Keep every snapshot newer than the latest one minus "
                               "this duration, e.g. `1y2m3d4h` (--keep-within).")
    within_hourly: str | None = Field(default=None, description="Keep one snapshot per hour within this duration "
                                      "(--keep-within-hourly).")
    within_daily: str | None = Field(default=None, description="Keep one snapshot per day within this duration "
                                     "(--keep-within-daily).")
    within_weekly: str | None = Field(default=None, description="Keep one snapshot per ISO week within this "
                                      "duration (--keep-within-weekly).")
    within_monthly: str | None = Field(default=None, description="Keep one snapshot per month within this "
                                       "duration (--keep-within-monthly).")
    within_yearly: str | None = Field(default=None, description="Keep one snapshot per year within this duration "
                                      "(--keep-within-yearly).")
    keep_tags: list[list[str]] = Field(default_factory=list, description="Keep snapshots carrying all tags of any "
                                       "one list; `['']` matches untagged snapshots (--keep-tag a,b).")

    @field_validator("within", "within_hourly", "within_daily", "within_weekly", "within_monthly", "within_yearly")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(Duration.parse(value)) or _zero(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _keeps_something(self) -> "RetentionPolicy":
        if is_empty(self):
            raise ValueError("retention has no keep rule: set at least one of " + ", ".join(_KEEP_RULES))
        return self


def _zero(value: str) -> str:
    raise ValueError(f"duration {value!r} is zero")


class KmsWrap(BaseModel):
    """A repository password wrapped by a cloud key: the wrapped bytes live beside each repository's
    folder (`s3://b/backups/db` -> `s3://b/backups/db.password.wrapped`, see engine/passwords) and only
    the key can unwrap them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["aws", "azure", "gcp"] = Field(description="AWS KMS, Azure Key Vault or Google Cloud KMS.")
    key: str = Field(min_length=1, description="AWS: key id or ARN; Azure: key URL "
                     "(https://VAULT.vault.azure.net/keys/NAME[/VERSION]); GCP: projects/P/locations/L/keyRings/R/"
                     "cryptoKeys/K.")
    connection: str | None = Field(default=None, description="Connection name in the profile (default: the "
                                   "provider's first).")
    endpoint: HttpUrlStr | None = Field(default=None, description="KMS API endpoint override (a private endpoint "
                                        "or a local server): AWS KMS endpoint URL, Cloud KMS API endpoint; "
                                        "Azure's vault is in the key URL.")


class PasswordSource(BaseModel):
    """Where a plan's repository password comes from: exactly one of an environment variable, a Prefect
    Secret block, or a password wrapped by a cloud KMS key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, description="Name of an environment variable holding the password.")
    secret: str | None = Field(default=None, description="Name of a Prefect Secret block holding the password.")
    kms: KmsWrap | None = Field(default=None, description="A password wrapped by a cloud KMS key, stored beside "
                                "the repository.")

    @model_validator(mode="after")
    def _exactly_one(self) -> "PasswordSource":
        given = [name for name in ("env", "secret", "kms") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of env, secret, kms (given: {given or 'none'})")
        return self


class BackupSource(BaseModel):
    """What a plan backs up: objects under a store URL (filtered by globs) or one PostgreSQL database."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: StoreUrlStr | None = Field(default=None, description="Store URL: s3://, az://, gs:// or file://.")
    include: KeyGlobs = Field(default_factory=list, description="Globs a key must match (none: every key).")
    exclude: KeyGlobs = Field(default_factory=list, description="Globs of keys never backed up.")
    postgres: str | None = Field(default=None, pattern=r"^postgres(ql)?://", description="A PostgreSQL DSN; "
                                 "the database is dumped with pg_dump and streamed as one file.")
    connection: str | None = Field(default=None, description="Connection name in the profile for the store "
                                   "(default: the cloud's first).")
    shards: list[str] = Field(default_factory=lambda: [""], description="Key prefixes backed up by parallel "
                              "tasks; together they cover every key, without overlap.")

    @model_validator(mode="after")
    def _one_kind(self) -> "BackupSource":
        if (self.url is None) == (self.postgres is None):
            raise ValueError("give exactly one of url, postgres")
        if self.postgres is not None and (self.include or self.exclude or self.shards != [""]):
            raise ValueError("include, exclude and shards apply to a store source only")
        return self


class DrillSettings(BaseModel):
    """How the scheduled drill and check exercise a plan's backups."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_objects: int = Field(default=20, ge=1, description="Objects restored and verified by each drill.")
    read_data_fraction: int = Field(default=10, ge=1, description="Check reads 1/N of the packs per run, "
                                    "rotating, like restic's --read-data-subset n/N.")
    query: str = Field(default="SELECT count(*) FROM pg_catalog.pg_tables",
                       description="Query a database drill runs in the scratch database it restored.")
    max_age_hours: float = Field(default=8.0, gt=0, description="A plan whose newest verified snapshot is older "
                                 "than this is reported as stale.")


class BackupPlan(BaseModel):
    """One backup plan: a source, the repositories it is mirrored to, retention and password."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Plan name: lowercase, digits, dashes.")
    source: BackupSource
    repositories: list[StoreUrlStr] = Field(min_length=1, description="Store URLs of the restic repositories "
                                            "this plan writes to, each a full mirror.")
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    password: PasswordSource
    compression: Literal["auto", "off", "max"] = Field(default="auto", description="restic's --compression: "
                                                       "auto (zstd level 3), max (level 11), off (data uncompressed).")
    concurrency: int = Field(default=4, ge=1, le=64, description="Source objects read at once.")
    drill: DrillSettings = Field(default_factory=DrillSettings)

    @field_validator("repositories")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if repeated(value):
            raise ValueError(f"repositories repeat: {repeated(value)}")
        return value

    @model_validator(mode="after")
    def _no_overlap(self) -> "BackupPlan":
        if self.source.url is None:
            return self
        src = StoreUrl.parse(self.source.url)
        for repo in self.repositories:
            dst = StoreUrl.parse(repo)
            if (src.scheme, src.bucket) == (dst.scheme, dst.bucket) and (
                    src.prefix.startswith(dst.prefix) or dst.prefix.startswith(src.prefix)):
                raise ValueError(f"repository {repo} overlaps the source {self.source.url}")
        return self


class BackupPlansFile(BaseModel):
    plans: list[BackupPlan] = Field(min_length=1)

    @field_validator("plans")
    @classmethod
    def _unique(cls, value: list[BackupPlan]) -> list[BackupPlan]:
        if repeated(p.name for p in value):
            raise ValueError(f"plan names repeat: {repeated(p.name for p in value)}")
        return value

    def plan(self, name: str, path: str) -> BackupPlan:
        return named(self.plans, name, "plan", path)


def load_plans(path: str | Path) -> BackupPlansFile:
    """Parse a YAML backup plans file. Raises InvalidInput naming the file, the plan and the field."""
    return load_yaml_model(path, BackupPlansFile, "backup plans")
