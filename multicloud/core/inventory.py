"""Inventory decisions and arithmetic: which connections to read, what an unreadable bucket becomes,
object counts and bytes per bucket, and the summary a person reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Protocol, Sequence, TypeVar

from multicloud.core.errors import InvalidInput, StoreError
from multicloud.core.objects import ObjectMeta


class _Named(Protocol):
    name: str


C = TypeVar("C", bound=_Named)


@dataclass(frozen=True)
class BucketSummary:
    connection: str
    cloud: str
    bucket: str
    objects: int = 0
    bytes: int = 0
    error: str = ""

    def row(self) -> dict:
        return asdict(self)


def choose_connections(connections: Sequence[C], names: Sequence[str] | None) -> list[C]:
    """The connections to inventory, in profile order: all of them when `names` is empty, else the
    named ones. Raises InvalidInput (target "connections") naming every unknown name."""
    if not names:
        return list(connections)
    known = {c.name for c in connections}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInput(f"unknown connection(s) {unknown}; profile has {sorted(known)}", target="connections")
    return [c for c in connections if c.name in names]


def unreadable_bucket(connection: str, cloud: str, bucket: str, error: StoreError) -> BucketSummary | None:
    """What a failed read of one bucket becomes: None when a retry may cure it (the caller re-raises
    so the retry happens), else the bucket's row carrying the error, so one unreadable bucket
    neither hides the others nor passes as empty."""
    if error.retryable:
        return None
    return BucketSummary(connection, cloud, bucket, error=f"{type(error).__name__}: {error}")


def unread_buckets_problem(rows: Iterable[BucketSummary]) -> str | None:
    """Why the run must fail (every bucket that could not be read, named), or None when all were read."""
    failed = [r for r in rows if r.error]
    if not failed:
        return None
    return f"{len(failed)} bucket(s) could not be read: " + ", ".join(f"{r.connection}/{r.bucket}" for r in failed)


def count_objects(metas: Iterable[ObjectMeta]) -> tuple[int, int]:
    """(objects, bytes) of a listing, consumed as a stream."""
    objects = total = 0
    for meta in metas:
        objects += 1
        total += meta.size
    return objects, total


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def summary_markdown(rows: list[BucketSummary]) -> str:
    """A short markdown report: totals per cloud, then any bucket that could not be read."""
    lines = ["# Inventory", "", "| cloud | buckets | objects | bytes |", "|---|---:|---:|---:|"]
    for cloud in sorted({r.cloud for r in rows}):
        mine = [r for r in rows if r.cloud == cloud]
        lines.append(f"| {cloud} | {len(mine)} | {sum(r.objects for r in mine):,} | "
                     f"{human_bytes(sum(r.bytes for r in mine))} |")
    lines.append(f"| **all** | {len(rows)} | {sum(r.objects for r in rows):,} | "
                 f"{human_bytes(sum(r.bytes for r in rows))} |")
    failed = [r for r in rows if r.error]
    if failed:
        lines += ["", f"## {len(failed)} bucket(s) could not be read", ""]
        lines += [f"- `{r.connection}` / `{r.bucket}`: {r.error}" for r in failed]
    return "\n".join(lines) + "\n"
