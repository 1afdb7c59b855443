"""A run journal in an object store, the failover runbook's and rightsizing actions': one write-once
object per entry under the run's id, so a crash loses at most the step in flight and a resumed run
sees the rest."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime

from multicloud.core.errors import AlreadyExists
from multicloud.core.failover import JournalEntry
from multicloud.core.objects import ObjectStore


class Journal:
    """Read once when opened, then kept in step with what this process appends; safe to append
    from several threads (the lease renewer journals a lost lease)."""

    def __init__(self, store: ObjectStore, failover_id: str):
        self.store, self.failover_id = store, failover_id
        self._prefix = f"{failover_id}/"
        self._lock = threading.Lock()
        self._entries = self._read()

    def _read(self) -> list[JournalEntry]:
        out = []
        for meta in self.store.list(self._prefix):
            with self.store.open(meta.key) as f:
                raw = json.loads(f.read())
            out.append(JournalEntry(raw["seq"], raw["step"], raw["outcome"], datetime.fromisoformat(raw["at"]),
                                    raw.get("observed", {}), raw.get("practice", False)))
        return sorted(out, key=lambda e: e.seq)

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)

    def append(self, step: str, outcome: str, at: datetime, observed: dict | None = None,
               practice: bool = False) -> JournalEntry:
        """Write the next entry; conditional create makes each sequence number write-once."""
        body = {"step": step, "outcome": outcome, "at": at.isoformat(), "observed": observed or {},
                "practice": practice}
        with self._lock:
            while True:
                seq = max((e.seq for e in self._entries), default=0) + 1
                data = json.dumps({"seq": seq, **body}, default=str).encode()
                try:
                    self.store.write(f"{self._prefix}{seq:06d}-{step}-{outcome}.json", io.BytesIO(data),
                                     size=len(data), content_type="application/json", if_absent=True)
                except AlreadyExists:  # another writer took this number: catch up and take the next
                    self._entries = self._read()
                    continue
                # Read back through JSON so the entry in memory is what a later run will read.
                entry = JournalEntry(seq, step, outcome, at, json.loads(data)["observed"], practice)
                self._entries.append(entry)
                return entry
