"""Which snapshots a retention policy keeps and why: a port of restic 0.14's `forget` policy
(`internal/restic/snapshot_policy.go`), so our decisions equal `restic forget --dry-run --json`.

Snapshots are restic snapshot JSON mappings (`time`, `hostname`, `paths`, `tags`, `id`). Buckets are
computed in the UTC offset written in each snapshot's time, as Go does; weeks are ISO weeks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Protocol, Sequence

from multicloud.core.errors import InvalidInput

#: Count rules in restic's evaluation order, with the reason each writes.
COUNT_RULES = (("keep_last", "last snapshot"), ("hourly", "hourly snapshot"), ("daily", "daily snapshot"),
               ("weekly", "weekly snapshot"), ("monthly", "monthly snapshot"), ("yearly", "yearly snapshot"))
#: keep-within-<period> rules, in restic's order.
WITHIN_RULES = (("within_hourly", "hourly"), ("within_daily", "daily"), ("within_weekly", "weekly"),
                ("within_monthly", "monthly"), ("within_yearly", "yearly"))
#: restic's names of the counters in `reasons[].counters`.
COUNTER_NAMES = {"keep_last": "last", "hourly": "hourly", "daily": "daily", "weekly": "weekly",
                 "monthly": "monthly", "yearly": "yearly"}
GROUP_FIELDS = ("host", "paths", "tags")

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_DURATION = re.compile(r"(\d+)([ymdh])")


class RetentionRules(Protocol):
    """What `apply_policy` reads: the fields of `multicloud.config.backups.RetentionPolicy`."""

    keep_last: int
    hourly: int
    daily: int
    weekly: int
    monthly: int
    yearly: int
    within: str | None
    within_hourly: str | None
    within_daily: str | None
    within_weekly: str | None
    within_monthly: str | None
    within_yearly: str | None
    keep_tags: Sequence[Sequence[str]]


@dataclass(frozen=True)
class SnapshotTime:
    """A snapshot time as Go holds it: wall clock in the stored offset, plus exact nanoseconds."""

    local: datetime  # aware, in the snapshot's own offset, microsecond precision
    epoch_ns: int

    @classmethod
    def parse(cls, text: str) -> "SnapshotTime":
        """Parse RFC 3339 with an offset and up to 9 fractional digits; InvalidInput otherwise."""
        m = _TIME.match(text) if isinstance(text, str) else None
        if not m:
            raise InvalidInput("snapshot time is not RFC 3339 with an offset", target=repr(text))
        frac = (m[2] or "").ljust(9, "0")
        offset = "+00:00" if m[3] == "Z" else m[3]
        local = datetime.fromisoformat(f"{m[1]}.{frac[:6]}{offset}")
        return cls(local, _epoch_ns(local) + int(frac[6:]))


@dataclass(frozen=True)
class Duration:
    """restic's `--keep-within` duration: years, months, days, hours (e.g. `1y2m3d4h`)."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    @classmethod
    def parse(cls, text: str) -> "Duration":
        """Parse `NyNmNdNh` (each unit at most once, any present); InvalidInput otherwise."""
        parts = _DURATION.findall(text or "")
        units = [u for _, u in parts]
        if not parts or "".join(n + u for n, u in parts) != text or len(set(units)) != len(units):
            raise InvalidInput("a duration is one or more of <number>y <number>m <number>d <number>h, "
                               "each unit once", target=repr(text))
        values = {u: int(n) for n, u in parts}
        return cls(values.get("y", 0), values.get("m", 0), values.get("d", 0), values.get("h", 0))

    def __str__(self) -> str:
        # Go's Duration.String(): non-zero units in the order y, m, d, h.
        text = "".join(f"{v}{u}" for v, u in ((self.years, "y"), (self.months, "m"), (self.days, "d"),
                                               (self.hours, "h")) if v)
        return text

    def cutoff(self, latest: SnapshotTime) -> int:
        """Epoch ns of `latest.AddDate(-y, -m, -d).Add(-h hours)`."""
        shifted = _go_add_date(latest.local, -self.years, -self.months, -self.days) - timedelta(hours=self.hours)
        return _epoch_ns(shifted) + (latest.epoch_ns - _epoch_ns(latest.local))


@dataclass(frozen=True)
class Kept:
    """A kept snapshot and restic's reasons: the rules it matched and the counts still left after it."""

    snapshot: Mapping
    matches: tuple[str, ...]
    counters: Mapping[str, int]


@dataclass(frozen=True)
class GroupDecision:
    """The decision for one group of snapshots (by default: same host and same paths)."""

    hostname: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    keep: tuple[Kept, ...]
    remove: tuple[Mapping, ...]


@dataclass(frozen=True)
class RetentionDecision:
    """Every group's decision; `keep` and `remove` flatten them."""

    groups: tuple[GroupDecision, ...] = field(default_factory=tuple)

    @property
    def keep(self) -> list[Kept]:
        return [k for g in self.groups for k in g.keep]

    @property
    def remove(self) -> list[Mapping]:
        return [s for g in self.groups for s in g.remove]


def apply_policy(snapshots: Iterable[Mapping], policy: RetentionRules, now: datetime,
                 group_by: Sequence[str] = ("host", "paths")) -> RetentionDecision:
    """Group `snapshots` like `restic forget --group-by` and decide, per group, what to keep and why.

    `now` (aware) only decides which snapshot is the latest for `within` rules: snapshots in the
    future are never the latest. Groups are ordered by host, paths and tags."""
    if now.tzinfo is None:
        raise InvalidInput("now must carry a time zone", target="now")
    unknown = set(group_by) - set(GROUP_FIELDS)
    if unknown:
        raise InvalidInput(f"group_by takes {', '.join(GROUP_FIELDS)}", target=f"group_by={sorted(unknown)}")
    groups: dict[tuple, list[Mapping]] = {}
    for snap in snapshots:
        groups.setdefault(_group_key(snap, group_by), []).append(snap)
    decisions = []
    for key in sorted(groups):
        keep, remove = _decide_group(groups[key], policy, _epoch_ns(now))
        decisions.append(GroupDecision(key[0], key[1], key[2], tuple(keep), tuple(remove)))
    return RetentionDecision(tuple(decisions))


def is_empty(policy: RetentionRules) -> bool:
    """True when the policy has no keep rule at all (restic then keeps everything)."""
    return (not any(getattr(policy, name) for name, _ in COUNT_RULES)
            and not policy.within and not any(getattr(policy, name) for name, _ in WITHIN_RULES)
            and not policy.keep_tags)


def _group_key(snap: Mapping, group_by: Sequence[str]) -> tuple:
    return (snap.get("hostname") or "" if "host" in group_by else "",
            tuple(sorted(snap.get("paths") or ())) if "paths" in group_by else (),
            tuple(sorted(snap.get("tags") or ())) if "tags" in group_by else ())


def _decide_group(snaps: list[Mapping], policy: RetentionRules, now_ns: int) -> tuple[list[Kept], list[Mapping]]:
    times = {id(s): SnapshotTime.parse(s.get("time")) for s in snaps}
    ordered = sorted(snaps, key=lambda s: times[id(s)].epoch_ns, reverse=True)  # stable, as Go's sort.Stable
    if is_empty(policy):
        return [Kept(s, ("policy is empty",), {}) for s in ordered], []
    past = [times[id(s)] for s in ordered if times[id(s)].epoch_ns < now_ns]
    walk = _PolicyWalk(policy, past[0] if past else None)
    keep, remove = [], []
    for position, snap in enumerate(ordered):
        why = walk.reasons(snap, times[id(snap)], position)
        if why:
            keep.append(Kept(snap, tuple(why), walk.counters()))
        else:
            remove.append(snap)
    return keep, remove


class _PolicyWalk:
    """The state of one pass over a group, newest first: counts left and each rule's last bucket."""

    def __init__(self, policy: RetentionRules, latest: SnapshotTime | None):
        self.policy, self.latest = policy, latest
        self.counts = {name: getattr(policy, name) for name, _ in COUNT_RULES if getattr(policy, name) > 0}
        self.last_bucket: dict[str, object] = {}

    def counters(self) -> dict[str, int]:
        return {COUNTER_NAMES[k]: v for k, v in self.counts.items() if v}

    def reasons(self, snap: Mapping, t: SnapshotTime, position: int) -> list[str]:
        policy = self.policy
        why = [f"has tags [{', '.join(tags)}]" for tags in policy.keep_tags if _has_tags(snap, tags)]
        if policy.within and _is_within(t, Duration.parse(policy.within), self.latest):
            why.append(f"within {Duration.parse(policy.within)}")
        return why + self._count_reasons(t, position) + self._within_reasons(t, position)

    def _count_reasons(self, t: SnapshotTime, position: int) -> list[str]:
        why = []
        for name, reason in COUNT_RULES:
            if self.counts.get(name, 0) > 0 and self._new_bucket(name, _bucket(name, t, position)):
                self.counts[name] -= 1
                why.append(reason)
        return why

    def _within_reasons(self, t: SnapshotTime, position: int) -> list[str]:
        why = []
        for name, period in WITHIN_RULES:
            text = getattr(self.policy, name)
            if text and _is_within(t, Duration.parse(text), self.latest) and self._new_bucket(
                    name, _bucket(period, t, position)):
                why.append(f"{period} within {Duration.parse(text)}")
        return why

    def _new_bucket(self, rule: str, bucket: object) -> bool:
        if self.last_bucket.get(rule, _NONE) == bucket:
            return False
        self.last_bucket[rule] = bucket
        return True


_NONE = object()


def _bucket(rule: str, t: SnapshotTime, position: int) -> object:
    d = t.local
    if rule == "keep_last":
        return position
    if rule == "hourly":
        return (d.year, d.month, d.day, d.hour)
    if rule == "daily":
        return (d.year, d.month, d.day)
    if rule == "weekly":
        return tuple(d.isocalendar()[:2])
    if rule == "monthly":
        return (d.year, d.month)
    return d.year


def _is_within(t: SnapshotTime, duration: Duration, latest: SnapshotTime | None) -> bool:
    # With every snapshot in the future, Go's latest is the zero time: nothing is older than the cutoff.
    return latest is None or t.epoch_ns > duration.cutoff(latest)


def _has_tags(snap: Mapping, wanted: Sequence[str]) -> bool:
    tags = snap.get("tags") or []
    for tag in wanted:
        if tag == "" and not tags:
            return True
        if tag not in tags:
            return False
    return True


def _go_add_date(t: datetime, years: int, months: int, days: int) -> datetime:
    """Go's Time.AddDate: overflowing days normalise into the next month (Mar 31 - 1 month = Mar 3)."""
    year, month = t.year + years, t.month + months
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return t.replace(year=year, month=month, day=1) + timedelta(days=t.day - 1 + days)


def _epoch_ns(t: datetime) -> int:
    delta = t - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
