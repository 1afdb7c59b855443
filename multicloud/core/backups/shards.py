"""How a plan's source splits into shards backed up by parallel tasks: one per configured key prefix,
plus the rest (keys under none of them) when the prefixes do not cover every key, so nothing is dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from multicloud.core.errors import InvalidInput


@dataclass(frozen=True)
class BackupShard:
    """Keys under `prefix` and under none of `excluded` (the other shards' prefixes)."""

    prefix: str
    excluded: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return (self.prefix or "all") + (" (rest)" if self.excluded else "")

    def holds(self, key: str) -> bool:
        return key.startswith(self.prefix) and not any(key.startswith(p) for p in self.excluded)


def plan_shards(prefixes: Sequence[str], where: str) -> list[BackupShard]:
    """The shards of a source's `shards` prefixes. Raises InvalidInput naming `where` when two overlap
    (one is a prefix of the other: a key would be stored twice)."""
    ordered = sorted(set(prefixes))
    if len(ordered) != len(prefixes):
        raise InvalidInput(f"shards repeat a prefix: {list(prefixes)}", target=where)
    for a in ordered:
        for b in ordered:
            if a != b and b.startswith(a) and a != "":
                raise InvalidInput(f"shards {a!r} and {b!r} overlap: every key must be in one shard", target=where)
    if "" in ordered:
        if len(ordered) > 1:
            raise InvalidInput("shard '' holds every key: it cannot be combined with other shards", target=where)
        return [BackupShard("")]
    return [BackupShard(p) for p in ordered] + [BackupShard("", tuple(ordered))]
