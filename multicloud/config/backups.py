"""Backup configuration: the retention policy (restic's `forget` rules, named as in our plans)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from multicloud.core.backups.retention import Duration, is_empty
from multicloud.core.errors import InvalidInput

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
