"""The alert receiver's durable dedupe: one SQLite row per incident, so a delivery posted once is
never posted again, across threads, processes and restarts."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_SCHEMA = """CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('stored', 'posted')),
    first_seen TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0
)"""


@dataclass
class Claim:
    """One incident's row, held under the write lock until the `with` block ends."""

    conn: sqlite3.Connection
    key: str
    state: str

    @property
    def posted(self) -> bool:
        return self.state == "posted"

    def mark_posted(self) -> None:
        self.conn.execute("UPDATE deliveries SET state = 'posted' WHERE key = ?", (self.key,))
        self.state = "posted"


class DedupeStore:
    """SQLite rows keyed by dedupe key. `claim` holds a thread lock and a `BEGIN IMMEDIATE`
    write lock across the post to Prefect, so concurrent duplicates (threads of this process,
    other receiver processes on the same file) see 'posted' and never post twice."""

    def __init__(self, path: Path, busy_timeout: float = 60.0):
        self.path = path
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def claim(self, key: str, plan: str, now: datetime) -> Iterator[Claim]:
        """Store the delivery (state 'stored' if new, deliveries + 1) and yield its row; commits on exit."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR IGNORE INTO deliveries (key, plan, state, first_seen, deliveries) "
                             "VALUES (?, ?, 'stored', ?, 0)", (key, plan, now.isoformat()))
                conn.execute("UPDATE deliveries SET deliveries = deliveries + 1 WHERE key = ?", (key,))
                (state,) = conn.execute("SELECT state FROM deliveries WHERE key = ?", (key,)).fetchone()
                yield Claim(conn, key, state)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.close()
