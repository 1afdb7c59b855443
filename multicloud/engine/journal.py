"""The failover journal in an object store: one write-once object per entry under the
failover id, so a crash loses at most the step in flight and a resumed run sees the rest."""

from __future__ import annotations

import io
import json
from datetime import datetime

from multicloud.core.errors import AlreadyExists
from multicloud.core.failover import JournalEntry
from multicloud.core.objects import ObjectStore


class Journal:
    def __init__(self, store: ObjectStore, failover_id: str):
        self.store, self.failover_id = store, failover_id
        self._prefix = f"{failover_id}/"

    def entries(self) -> list[JournalEntry]:
        out = []
        for meta in self.store.list(self._prefix):
            with self.store.open(meta.key) as f:
                raw = json.loads(f.read())
            out.append(JournalEntry(raw["seq"], raw["step"], raw["outcome"], datetime.fromisoformat(raw["at"]),
                                    raw.get("observed", {}), raw.get("practice", False)))
        return sorted(out, key=lambda e: e.seq)

    def append(self, step: str, outcome: str, at: datetime, observed: dict | None = None,
               practice: bool = False) -> JournalEntry:
        """Write the next entry; conditional create makes each sequence number write-once."""
        seq = max((e.seq for e in self.entries()), default=0) + 1
        entry = JournalEntry(seq, step, outcome, at, observed or {}, practice)
        body = json.dumps({"seq": seq, "step": step, "outcome": outcome, "at": at.isoformat(),
                           "observed": observed or {}, "practice": practice}, default=str).encode()
        try:
            self.store.write(f"{self._prefix}{seq:06d}-{step}-{outcome}.json", io.BytesIO(body), size=len(body),
                             content_type="application/json", if_absent=True)
        except AlreadyExists:  # another writer took this number: re-read and take the next
            return self.append(step, outcome, at, observed, practice)
        return entry
