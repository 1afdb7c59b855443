"""The retention policy against restic 0.14 itself: golden `forget --dry-run --json` fixtures
(tests/unit/fixtures/restic-forget, made by generate.py there) and a live run where restic is on PATH."""

from __future__ import annotations

import json
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from multicloud.config.backups import RetentionPolicy
from multicloud.core.backups.retention import Duration, SnapshotTime, apply_policy
from multicloud.core.errors import InvalidInput
from multicloud.testing.restic_oracle import Restic, forget_flags, restic_path

FIXTURES = Path(__file__).parent / "fixtures" / "restic-forget"
NO_DEFAULTS = {"daily": 0, "weekly": 0, "monthly": 0, "yearly": 0}


def policy_of(fields: dict) -> RetentionPolicy:
    """A policy with exactly the given rules (the model's 7/4/12/7 defaults switched off)."""
    return RetentionPolicy(**{**NO_DEFAULTS, **fields})


def group_by_of(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)


def assert_agrees_with_restic(snapshots: list[dict], policy: dict, group_by: str, now: datetime,
                              restic_groups: list[dict]) -> None:
    decision = apply_policy(snapshots, policy_of(policy), now, group_by=group_by_of(group_by))
    theirs = sorted(restic_groups, key=lambda g: (g["host"], g["paths"] or [], g["tags"] or []))
    assert len(decision.groups) == len(theirs)
    for ours, group in zip(decision.groups, theirs):
        assert (ours.hostname, list(ours.paths), list(ours.tags)) == (
            group["host"], group["paths"] or [], group["tags"] or [])
        assert [k.snapshot["id"] for k in ours.keep] == [s["id"] for s in group["keep"] or []]
        assert [(list(k.matches), dict(k.counters)) for k in ours.keep] == [
            (r["matches"], r.get("counters") or {}) for r in group["reasons"] or []]
        assert [s["id"] for s in ours.remove] == [s["id"] for s in group["remove"] or []]


FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


def test_fixtures_are_committed():
    assert len(FIXTURE_FILES) >= 20, "golden fixtures missing: run tests/unit/fixtures/restic-forget/generate.py"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_apply_policy_agrees_with_restic_fixture(path: Path):
    fixture = json.loads(path.read_text())
    assert fixture["restic_version"].startswith("restic 0.14")
    now = datetime.fromisoformat(fixture["now"])
    assert_agrees_with_restic(fixture["snapshots"], fixture["policy"], fixture["group_by"], now, fixture["forget"])


def test_offset_fixture_really_mixes_offsets_near_midnight():
    fixture = json.loads((FIXTURES / "offsets-daily-20.json").read_text())
    offsets = {s["time"][19:] for s in fixture["snapshots"]}
    assert {"Z", "+02:00", "-04:00", "+05:30", "+13:00"} <= offsets
    # 01:00+02:00 is 23:00Z, the same UTC day as the older 22:30Z; but restic buckets in the stored
    # offset, so 01:00+02:00 falls on June 1 behind a newer June 1 snapshot and goes, and 22:30Z stays.
    kept = {k["time"] for g in fixture["forget"] for k in g["keep"]}
    removed = {s["time"] for g in fixture["forget"] for s in g["remove"] or []}
    assert "2024-05-31T22:30:00Z" in kept and "2024-06-01T01:00:00+02:00" in removed


def test_default_policy_on_the_reference_calendar():
    fixture = json.loads((FIXTURES / "default-7d-4w-12m-7y.json").read_text())
    decision = apply_policy(fixture["snapshots"], RetentionPolicy(), datetime.fromisoformat(fixture["now"]))
    h1 = next(g for g in decision.groups if g.hostname == "h1" and g.paths[0].endswith("/src"))
    assert h1.keep[0].matches == ("daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot")
    assert h1.keep[-1].counters == {"yearly": 4}  # fewer years with snapshots than the count: all kept


def test_snapshots_in_the_future_are_not_the_latest():
    snaps = [{"id": "a", "time": "2099-01-01T00:00:00Z", "hostname": "h", "paths": ["/p"]},
             {"id": "b", "time": "2024-01-02T00:00:00Z", "hostname": "h", "paths": ["/p"]},
             {"id": "c", "time": "2023-12-30T00:00:00Z", "hostname": "h", "paths": ["/p"]}]
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    decision = apply_policy(snaps, policy_of({"within": "2d"}), now)
    assert [k.snapshot["id"] for k in decision.keep] == ["a", "b"]
    assert [s["id"] for s in decision.remove] == ["c"]
    everything_future = apply_policy(snaps[:1], policy_of({"within": "1d"}), now)
    assert [k.matches for k in everything_future.keep] == [("within 1d",)]


def test_times_keep_nanoseconds_and_offsets():
    t = SnapshotTime.parse("2024-06-01T01:00:00.123456789+02:00")
    assert t.local.utcoffset().total_seconds() == 7200 and t.local.day == 1
    assert t.epoch_ns % 1_000_000_000 == 123456789
    with pytest.raises(InvalidInput, match="RFC 3339"):
        SnapshotTime.parse("2025-01-01T00:00:00")


def test_durations_are_restic_durations():
    assert str(Duration.parse("2d1y")) == "1y2d"
    for bad in ("", "5", "1w", "1d1d", "d"):
        with pytest.raises(InvalidInput, match="duration"):
            Duration.parse(bad)


def test_policy_defaults_are_7_4_12_7():
    policy = RetentionPolicy()
    assert (policy.keep_last, policy.hourly, policy.daily, policy.weekly, policy.monthly, policy.yearly) == (
        0, 0, 7, 4, 12, 7)
    assert forget_flags(policy.model_dump()) == ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "12",
                                                 "--keep-yearly", "7"]


def test_policy_without_keep_rule_is_refused_naming_the_fields():
    with pytest.raises(ValidationError, match="retention has no keep rule.*keep_last, hourly, daily"):
        RetentionPolicy(daily=0, weekly=0, monthly=0, yearly=0)
    with pytest.raises(ValidationError, match="within\n"):
        RetentionPolicy(within="1 day")
    with pytest.raises(ValidationError, match="hourly"):
        RetentionPolicy(hourly=-1)
    with pytest.raises(ValidationError, match="keep_daily"):
        RetentionPolicy(keep_daily=3)


def test_empty_policy_in_core_keeps_everything_like_restic():
    class Nothing:
        keep_last = hourly = daily = weekly = monthly = yearly = 0
        within = within_hourly = within_daily = within_weekly = within_monthly = within_yearly = None
        keep_tags = ()

    snaps = [{"id": "a", "time": "2024-01-01T00:00:00Z", "hostname": "h", "paths": ["/p"]}]
    decision = apply_policy(snaps, Nothing(), datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert [k.matches for k in decision.keep] == [("policy is empty",)] and decision.remove == []


LIVE_SNAPSHOTS = [  # (TZ, local time): offsets around midnight, an ISO week edge and a year edge
    ("UTC", "2024-12-31 23:30:00"), ("Europe/Berlin", "2025-01-01 00:10:00"),
    ("America/New_York", "2024-12-31 19:30:00"), ("Asia/Kolkata", "2025-01-01 05:05:00"),
    ("UTC", "2024-12-29 23:59:00"), ("Europe/Berlin", "2024-12-30 00:30:00"), ("UTC", "2024-12-01 00:00:00"),
    ("Pacific/Auckland", "2024-12-01 10:00:00"),
]
LIVE_POLICIES = [{"daily": 3}, {"weekly": 2}, {"monthly": 2, "yearly": 2}, {"hourly": 4, "keep_last": 1},
                 {"within": "1d", "daily": 1}, {"within_daily": "1m"}, {"daily": 7, "weekly": 4, "monthly": 12,
                                                                       "yearly": 7}]


def test_live_restic_forget_oracle():
    if restic_path() is None:
        warnings.warn("restic is not on PATH: the live `restic forget` oracle did NOT run "
                      "(apt-get install restic)")
        pytest.skip("LIVE ORACLE NOT RUN: restic is not on PATH (apt-get install restic)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        restic = Restic(work / "repo", "oracle")
        try:
            restic.init()
            source = work / "src"
            source.mkdir()
            for tz, time in LIVE_SNAPSHOTS:
                (source / "f").write_text(time)
                restic.backup(source, host="live", time=time, tz=tz)
            snapshots = restic.snapshots()
            assert len({s["time"][19:] for s in snapshots}) >= 4
            for policy in LIVE_POLICIES:
                now = datetime.now(timezone.utc)
                answer = restic.forget_dry_run(forget_flags(policy))
                assert_agrees_with_restic(snapshots, policy, "host,paths", now, answer)
        finally:
            restic.close()
