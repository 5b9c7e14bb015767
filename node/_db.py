"""The node's SQLite database: connections, pragmas and migrations.

Rules:
1. WAL journal, ``synchronous=FULL``: a committed visit survives a power cut,
   which rural clinics see weekly.
2. One writer. Every write transaction starts with ``BEGIN IMMEDIATE`` on the
   writer connection, under the writer lock; reads use per-thread connections.
3. A migration is applied in the same transaction that records it in
   ``migrations``: a crash leaves either both or neither.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

__all__ = ["MIGRATIONS", "Database", "connect"]

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "records, outbox, residents, search, staff, audit",
        [
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE records (
                id TEXT PRIMARY KEY,
                fact_id TEXT NOT NULL,
                type TEXT NOT NULL,
                v INTEGER NOT NULL,
                resident_id TEXT NOT NULL,
                author TEXT NOT NULL,
                hlc INTEGER NOT NULL,
                effective TEXT NOT NULL,
                status TEXT NOT NULL,
                supersedes TEXT,
                is_current INTEGER NOT NULL DEFAULT 1,
                recorded_by TEXT,
                reason TEXT,
                changed TEXT,
                data TEXT NOT NULL
            )""",
            "CREATE INDEX records_resident ON records (resident_id, type, effective)",
            "CREATE INDEX records_fact ON records (fact_id)",
            """CREATE TABLE outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                record_id TEXT NOT NULL UNIQUE REFERENCES records (id),
                shipped_seq INTEGER
            )""",
            "CREATE INDEX outbox_unshipped ON outbox (seq) WHERE shipped_seq IS NULL",
            """CREATE TABLE residents (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                sex TEXT NOT NULL,
                birth_date TEXT NOT NULL,
                id_number TEXT,
                card_number TEXT,
                phone TEXT,
                division_code TEXT,
                household_id TEXT,
                mother_id TEXT,
                deceased_on TEXT,
                registered_hlc INTEGER NOT NULL,
                updated_hlc INTEGER NOT NULL,
                data TEXT NOT NULL
            )""",
            "CREATE INDEX residents_id_number ON residents (id_number)",
            "CREATE INDEX residents_card_number ON residents (card_number)",
            "CREATE INDEX residents_phone ON residents (phone)",
            "CREATE INDEX residents_birth_date ON residents (birth_date)",
            "CREATE INDEX residents_household ON residents (household_id)",
            "CREATE INDEX residents_mother ON residents (mother_id)",
            """CREATE TABLE resident_fields (
                resident_id TEXT NOT NULL,
                field TEXT NOT NULL,
                hlc INTEGER NOT NULL,
                author TEXT NOT NULL,
                record_id TEXT NOT NULL,
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
                outcome TEXT NOT NULL
            )""",
            "CREATE INDEX field_history_resident ON resident_field_history (resident_id, field, hlc)",
            """CREATE TABLE search_keys (
                key TEXT NOT NULL,
                resident_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                PRIMARY KEY (key, resident_id, kind)
            ) WITHOUT ROWID""",
            "CREATE INDEX search_keys_resident ON search_keys (resident_id)",
            """CREATE TABLE duplicate_flags (
                id INTEGER PRIMARY KEY,
                resident_id TEXT NOT NULL,
                other_id TEXT NOT NULL,
                score REAL NOT NULL,
                reasons TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'open',
                flagged_at TEXT NOT NULL,
                UNIQUE (resident_id, other_id)
            )""",
            """CREATE TABLE users (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                display_name TEXT,
                active INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE tokens (
                hash TEXT PRIMARY KEY,
                user TEXT NOT NULL REFERENCES users (name),
                kind TEXT NOT NULL,
                label TEXT,
                created_at TEXT NOT NULL,
                expires_at TEXT,
                last_used_at TEXT
            )""",
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                user TEXT NOT NULL,
                role TEXT NOT NULL,
                action TEXT NOT NULL,
                resident_id TEXT,
                record_id TEXT,
                reason TEXT,
                detail TEXT
            )""",
            "CREATE INDEX audit_resident ON audit (resident_id, at)",
            "CREATE INDEX audit_user ON audit (user, at)",
        ],
    ),
    (
        2,
        "sync: own feed, hub feed as applied, sync state and errors, identity links",
        [
            # Every changeset this node sealed, byte for byte, so a re-send is identical.
            """CREATE TABLE feed (
                seq INTEGER PRIMARY KEY,
                hash BLOB NOT NULL,
                body BLOB NOT NULL,
                signature BLOB NOT NULL,
                record_count INTEGER,
                sealed_at TEXT
            )""",
            "CREATE INDEX outbox_shipped ON outbox (shipped_seq)",
            "CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT)",
            """CREATE TABLE sync_errors (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                reason TEXT NOT NULL,
                message TEXT NOT NULL,
                record_id TEXT
            )""",
            "CREATE INDEX sync_errors_kind ON sync_errors (kind, id)",
            # The hub's feed for this node, as applied: seq and hash of every changeset pulled.
            "CREATE TABLE pulled_feed (seq INTEGER PRIMARY KEY, hash BLOB)",
            # Pulled records this node cannot apply yet (unknown type, newer schema …), kept to retry.
            """CREATE TABLE pulled_held (
                record_id TEXT PRIMARY KEY,
                pulled_seq INTEGER NOT NULL,
                record BLOB NOT NULL,
                reason TEXT NOT NULL,
                message TEXT NOT NULL,
                at TEXT NOT NULL
            )""",
            """CREATE TABLE links (
                resident_id TEXT NOT NULL,
                master_id TEXT,
                remote_resident_id TEXT NOT NULL,
                remote_node TEXT,
                PRIMARY KEY (resident_id, remote_resident_id)
            )""",
            "CREATE INDEX links_remote ON links (remote_resident_id)",
        ],
    ),
    (
        3,
        "desk: today's queue reads records of a type by date",
        ["CREATE INDEX IF NOT EXISTS records_type_effective ON records (type, effective)"],
    ),
]


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"file:{path}?mode=ro" if readonly else str(path),
        uri=readonly,
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,
        timeout=30,
    )
    conn.execute("PRAGMA busy_timeout = 30000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -16000")  # 16 MB page cache per connection
    return conn


class Database:
    """The writer connection, per-thread readers, and migrations."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.writer = connect(self.path)
        self.utils = sqlite_utils.Database(self.writer)
        self.write_lock = threading.RLock()
        self._local = threading.local()
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
        return conn

    def applied_migrations(self) -> list[int]:
        if not self.utils["migrations"].exists():
            return []
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
        self.writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
