"""The hub's SQLite database: connections, pragmas and migrations.

Rules:
1. WAL journal, ``synchronous=FULL``: an accepted changeset is durable before
   the node is told so; the node then never sends it again.
2. One writer. Every write transaction starts with ``BEGIN IMMEDIATE`` on the
   writer connection, under the writer lock; reads use per-thread connections.
3. A migration is applied in the same transaction that records it in
   ``migrations``: a crash leaves either both or neither.
4. Only ``_store.py`` speaks SQL to these tables, so another backend
   (PostgreSQL) plugs in behind the same storage class.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MIGRATIONS", "Database", "connect"]

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "nodes, tokens, changesets, records, held, quarantine, demographics, master index, hub feeds",
        [
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE nodes (
                node_id TEXT PRIMARY KEY,
                clinic TEXT NOT NULL,
                name TEXT NOT NULL,
                public_key BLOB NOT NULL,
                enrolled_ms INTEGER NOT NULL,
                revoked_ms INTEGER,
                revoked_reason TEXT,
                head_seq INTEGER NOT NULL DEFAULT 0,
                head_hash BLOB NOT NULL,
                last_seen_ms INTEGER,
                skew_ms INTEGER
            )""",
            "CREATE INDEX nodes_clinic ON nodes (clinic)",
            """CREATE TABLE enrol_tokens (
                hash TEXT PRIMARY KEY,
                clinic TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL,
                used_ms INTEGER,
                used_by TEXT,
                revoked_ms INTEGER
            )""",
            # The exact frames of every accepted changeset: the full history of each feed.
            """CREATE TABLE changesets (
                node_id TEXT NOT NULL REFERENCES nodes (node_id),
                seq INTEGER NOT NULL,
                hash BLOB NOT NULL,
                frame BLOB NOT NULL,
                records INTEGER NOT NULL,
                skew_ms INTEGER NOT NULL,
                received_ms INTEGER NOT NULL,
                PRIMARY KEY (node_id, seq)
            )""",
            """CREATE TABLE records (
                id TEXT PRIMARY KEY,
                fact_id TEXT NOT NULL,
                type TEXT NOT NULL,
                v INTEGER NOT NULL,
                resident_id TEXT NOT NULL,
                author TEXT NOT NULL,
                hlc INTEGER NOT NULL,
                node_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                received_ms INTEGER NOT NULL,
                content BLOB NOT NULL
            )""",
            "CREATE INDEX records_resident ON records (resident_id, hlc)",
            "CREATE INDEX records_node ON records (node_id)",
            # A held record is found in its changeset's frame by position: never re-encoded.
            """CREATE TABLE held (
                id INTEGER PRIMARY KEY,
                node_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                idx INTEGER NOT NULL,
                record_id TEXT,
                reason TEXT NOT NULL,
                detail TEXT NOT NULL,
                held_ms INTEGER NOT NULL,
                resolved_ms INTEGER,
                UNIQUE (node_id, seq, idx)
            )""",
            "CREATE INDEX held_open ON held (node_id, seq, idx) WHERE resolved_ms IS NULL",
            """CREATE TABLE quarantine (
                id INTEGER PRIMARY KEY,
                node_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                frame_hash BLOB NOT NULL,
                held_hash BLOB NOT NULL,
                frame BLOB NOT NULL,
                detail TEXT NOT NULL,
                received_ms INTEGER NOT NULL,
                UNIQUE (node_id, frame_hash)
            )""",
            """CREATE TABLE alerts (
                id INTEGER PRIMARY KEY,
                at_ms INTEGER NOT NULL,
                kind TEXT NOT NULL,
                node_id TEXT,
                detail TEXT NOT NULL
            )""",
            """CREATE TABLE masters (
                master_id TEXT PRIMARY KEY,
                id_number TEXT NOT NULL UNIQUE,
                created_ms INTEGER NOT NULL
            )""",
            """CREATE TABLE residents (
                resident_id TEXT PRIMARY KEY,
                node_id TEXT NOT NULL,
                master_id TEXT REFERENCES masters (master_id),
                first_seen_ms INTEGER NOT NULL
            )""",
            "CREATE INDEX residents_master ON residents (master_id)",
            """CREATE TABLE resident_fields (
                resident_id TEXT NOT NULL,
                field TEXT NOT NULL,
                value TEXT,
                hlc INTEGER NOT NULL,
                author TEXT NOT NULL,
                record_id TEXT NOT NULL,
                conflict INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (resident_id, field)
            ) WITHOUT ROWID""",
            """CREATE TABLE resident_field_history (
                id INTEGER PRIMARY KEY,
                resident_id TEXT NOT NULL,
                field TEXT NOT NULL,
                value TEXT,
                hlc INTEGER NOT NULL,
                author TEXT NOT NULL,
                record_id TEXT NOT NULL,
                outcome TEXT NOT NULL,
                conflict INTEGER NOT NULL DEFAULT 0,
                at_ms INTEGER NOT NULL
            )""",
            "CREATE INDEX field_history_resident ON resident_field_history (resident_id, field, hlc)",
            """CREATE TABLE routed (
                node_id TEXT NOT NULL,
                record_id TEXT NOT NULL,
                PRIMARY KEY (node_id, record_id)
            ) WITHOUT ROWID""",
            """CREATE TABLE hub_feeds (
                node_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                hash BLOB NOT NULL,
                frame BLOB NOT NULL,
                items INTEGER NOT NULL,
                created_ms INTEGER NOT NULL,
                PRIMARY KEY (node_id, seq)
            )""",
        ],
    ),
]


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path),
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,
        timeout=30,
    )
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class Database:
    """The writer connection, per-thread readers, and migrations."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.writer = connect(self.path)
        self.write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self.migrate()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE … COMMIT, or ROLLBACK on error."""
        with self.write_lock:
            conn = self.writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            with self.write_lock:
                self._readers.append(conn)
        return conn

    def applied_migrations(self) -> list[int]:
        return [r[0] for r in self.writer.execute("SELECT version FROM migrations ORDER BY version")]

    def migrate(self) -> list[int]:
        """Apply every migration not yet recorded; returns the versions applied now."""
        applied: list[int] = []
        with self.write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM migrations")}
            for version, name, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO migrations (version, name, applied_at) "
                    "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                    (version, name),
                )
                applied.append(version)
        return applied

    def close(self) -> None:
        with self.write_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self.writer.close()
