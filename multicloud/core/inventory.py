"""Inventory arithmetic: object counts and bytes per bucket, and the summary a person reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

from multicloud.core.objects import ObjectMeta


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
