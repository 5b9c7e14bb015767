"""The hub's SQLite database: connections, pragmas and migrations.

Rules:
1. WAL journal, ``synchronous=FULL``: an accepted changeset is durable before
   the node is told so; the node then never sends it again.
2. One writer. Every write transaction starts with ``BEGIN IMMEDIATE`` on the
   writer connection, under the writer lock; reads use per-thread connections.
3. A migration is applied in the same transaction that records it in
   ``migrations``: a crash leaves either both or neither. A step is a
   statement, or a function of the connection when data must be moved.
4. Only the store modules (``_store.py``, ``_store_mpi.py``) speak SQL to these
   tables, and ``hub.mpi.MasterIndex`` to its own ``mpi_*`` tables, so another
   backend (PostgreSQL) plugs in behind the same storage classes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uuid6

from .mpi import MasterIndex, Registration, create_tables

__all__ = ["MIGRATIONS", "READER_CACHE_KB", "Database", "connect"]

READER_CACHE_KB = 512  # page cache of each reader connection

Step = str | Callable[[sqlite3.Connection], None]


def _index_registrations(conn: sqlite3.Connection) -> None:
    """Put every resident registered before the master index into it, under its master person.

    A resident the deterministic links had left alone gets a master person of its
    own; nothing is matched here (an operator reviews with ``rhip hub mpi``), so
    no node learns of a link it was never sent.
    """
    now = time.time_ns() // 1_000_000
    bodies: dict[str, dict[str, object]] = {}
    for resident_id, field, value in conn.execute("SELECT resident_id, field, value FROM resident_fields"):
        bodies.setdefault(resident_id, {})[field] = None if value is None else json.loads(value)
    masters = dict(conn.execute("SELECT resident_id, master_id FROM residents").fetchall())
    items: list[tuple[str, Registration]] = []
    for resident_id in sorted(bodies):
        master = masters.get(resident_id)
        if master is None:
            master = str(uuid6.uuid7())
            conn.execute("INSERT INTO masters (master_id, created_ms) VALUES (?, ?)", (master, now))
            conn.execute(
                "UPDATE residents SET master_id = ?, linked_by = 'auto' WHERE resident_id = ?",
                (master, resident_id),
            )
        items.append((master, Registration.from_resident(resident_id, bodies[resident_id])))
    MasterIndex(conn).add_many(items)


MIGRATIONS: list[tuple[int, str, list[Step]]] = [
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
    (
        2,
        "master patient index: mpi tables, review queue, audit, referrals, privacy, access log",
        [
            # A master person is no longer keyed by an identity number (the index decides);
            # one that was merged away keeps its row and points at the one it went into.
            """CREATE TABLE masters_v2 (
                master_id TEXT PRIMARY KEY,
                created_ms INTEGER NOT NULL,
                merged_into TEXT,
                merged_ms INTEGER
            )""",
            "INSERT INTO masters_v2 (master_id, created_ms) SELECT master_id, created_ms FROM masters",
            # linked_by: 'auto' (ingest) or 'operator' (a person decided; ingest never moves it again).
            """CREATE TABLE residents_v2 (
                resident_id TEXT PRIMARY KEY,
                node_id TEXT NOT NULL,
                master_id TEXT,
                first_seen_ms INTEGER NOT NULL,
                linked_by TEXT
            )""",
            "INSERT INTO residents_v2 (resident_id, node_id, master_id, first_seen_ms, linked_by) "
            "SELECT resident_id, node_id, master_id, first_seen_ms, "
            "CASE WHEN master_id IS NULL THEN NULL ELSE 'auto' END FROM residents",
            "DROP TABLE residents",
            "DROP TABLE masters",
            "ALTER TABLE masters_v2 RENAME TO masters",
            "ALTER TABLE residents_v2 RENAME TO residents",
            "CREATE INDEX residents_master ON residents (master_id)",
            create_tables,
            """CREATE TABLE mpi_review (
                id INTEGER PRIMARY KEY,
                resident_id TEXT NOT NULL,
                node_id TEXT NOT NULL,
                master_id TEXT NOT NULL,
                decision TEXT NOT NULL,
                reason TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'open',
                created_ms INTEGER NOT NULL,
                decided_ms INTEGER,
                outcome TEXT,
                chosen_master TEXT,
                decided_by TEXT,
                why TEXT
            )""",
            "CREATE INDEX mpi_review_open ON mpi_review (id) WHERE status = 'open'",
            "CREATE INDEX mpi_review_resident ON mpi_review (resident_id)",
            """CREATE TABLE mpi_not_match (
                record_a TEXT NOT NULL,
                record_b TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                actor TEXT NOT NULL,
                review_id INTEGER,
                PRIMARY KEY (record_a, record_b)
            ) WITHOUT ROWID""",
            "CREATE INDEX mpi_not_match_b ON mpi_not_match (record_b)",
            """CREATE TABLE mpi_audit (
                id INTEGER PRIMARY KEY,
                at_ms INTEGER NOT NULL,
                action TEXT NOT NULL,
                actor TEXT NOT NULL,
                reason TEXT NOT NULL,
                resident_id TEXT,
                master_id TEXT,
                other_master_id TEXT,
                review_id INTEGER,
                before TEXT NOT NULL,
                after TEXT NOT NULL,
                undoes INTEGER,
                undone_by INTEGER
            )""",
            "CREATE INDEX mpi_audit_master ON mpi_audit (master_id)",
            "CREATE INDEX mpi_audit_other ON mpi_audit (other_master_id)",
            "CREATE INDEX mpi_audit_resident ON mpi_audit (resident_id)",
            # Nodes a resident was referred to: they hold its shared record from then on.
            """CREATE TABLE referrals (
                resident_id TEXT NOT NULL,
                node_id TEXT NOT NULL,
                record_id TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                PRIMARY KEY (resident_id, node_id)
            ) WITHOUT ROWID""",
            "CREATE INDEX referrals_node ON referrals (node_id)",
            # Which clinics each node's feed has named (directory items), so each is named once.
            """CREATE TABLE announced (
                node_id TEXT NOT NULL,
                about TEXT NOT NULL,
                PRIMARY KEY (node_id, about)
            ) WITHOUT ROWID""",
            # Sensitive categories the operator added to the built-in ones (hub._privacy).
            """CREATE TABLE sensitive (
                value TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                added_ms INTEGER NOT NULL,
                added_by TEXT NOT NULL
            )""",
            # Reads of shared records on demand (summaries, break-glass): who, which node, why.
            """CREATE TABLE access_log (
                id INTEGER PRIMARY KEY,
                at_ms INTEGER NOT NULL,
                node_id TEXT NOT NULL,
                user TEXT NOT NULL,
                action TEXT NOT NULL,
                master_id TEXT,
                resident_id TEXT,
                reason TEXT NOT NULL,
                detail TEXT
            )""",
            "CREATE INDEX access_log_master ON access_log (master_id, at_ms)",
            # A card or identity number read at a desk finds its residents (partial: only these rows).
            "CREATE INDEX resident_fields_id_number ON resident_fields (value) WHERE field = 'id_number'",
            "CREATE INDEX resident_fields_card_number ON resident_fields (value) WHERE field = 'card_number'",
            _index_registrations,
        ],
    ),
    (
        3,
        "the master index's queue: registrations waiting to be matched (hub._linker)",
        [
            """CREATE TABLE mpi_queue (
                resident_id TEXT PRIMARY KEY,
                queued_ms INTEGER NOT NULL
            )""",
            "CREATE INDEX mpi_queue_order ON mpi_queue (queued_ms)",
        ],
    ),
    (
        4,
        "what each node reported waiting in its outbox when it last asked for its head",
        [
            "ALTER TABLE nodes ADD COLUMN waiting INTEGER",
            "ALTER TABLE nodes ADD COLUMN waiting_ms INTEGER",
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
            # One reader per server thread (up to anyio's 40): a small page cache each, so the
            # server's memory does not grow with the threads that have served a request.
            conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KB}")
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
                    if isinstance(statement, str):
                        conn.execute(statement)
                    else:
                        statement(conn)
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
