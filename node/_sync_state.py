"""What a node knows about its sync with the hub, kept in its own database.

Rules:
1. ``sync_state`` is a small key/value table: the hub's acknowledged head of
   this node's feed (``hub_seq``, ``hub_hash``), the pull cursor, the time of
   the last successful round, the last error, consecutive failures and the
   scheduler's next attempt. It is written in the same transaction as the
   change it describes (a head with the acknowledgement, a cursor with the
   records it covers).
2. A record is *pending* until the hub has acknowledged the changeset that
   carries it: its outbox row is unsealed (``shipped_seq IS NULL``) or sealed
   beyond the hub's head.
3. Errors are kept (``sync_errors``) with their time and reason; the hub's
   reports of held records replace the previous report. Status shows the
   errors since the last successful round and every record still held.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from ._db import Database

__all__ = ["SyncState", "iso", "outbox_pending", "sync_status"]

_KEEP_ERRORS = 500
_SHOW_ERRORS = 20


def iso(wall_ms: int) -> str:
    return dt.datetime.fromtimestamp(wall_ms / 1000, dt.UTC).isoformat(timespec="seconds")


def _put(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)",
        [(k, None if v is None else str(v)) for k, v in values.items()],
    )


class SyncState:
    """Typed access to ``sync_state`` and ``sync_errors``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> str | None:
        row = self.db.reader().execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def get_int(self, key: str) -> int | None:
        value = self.get(key)
        return None if value is None else int(value)

    @staticmethod
    def put(conn: sqlite3.Connection, **values: Any) -> None:
        """Set keys inside the caller's write transaction."""
        _put(conn, values)

    def hub_head(self) -> tuple[int, bytes] | None:
        seq, digest = self.get_int("hub_seq"), self.get("hub_hash")
        if seq is None or digest is None:
            return None
        return seq, bytes.fromhex(digest)

    @staticmethod
    def set_hub_head(conn: sqlite3.Connection, seq: int, digest: bytes, hub_wall_ms: int) -> None:
        _put(conn, {"hub_seq": seq, "hub_hash": digest.hex(), "hub_wall_ms": hub_wall_ms})

    def failures(self) -> int:
        return self.get_int("failures") or 0

    def next_attempt_ms(self) -> int | None:
        return self.get_int("next_attempt_ms")

    def set_next_attempt(self, wall_ms: int | None) -> None:
        with self.db.write() as conn:
            _put(conn, {"next_attempt_ms": wall_ms})

    def record_success(self, wall_ms: int) -> None:
        with self.db.write() as conn:
            last = conn.execute("SELECT coalesce(max(id), 0) FROM sync_errors").fetchone()[0]
            _put(
                conn,
                {
                    "last_sync": iso(wall_ms),
                    "last_attempt": iso(wall_ms),
                    "last_error": None,
                    "failures": 0,
                    "next_attempt_ms": None,
                    "errors_seen_id": last,
                },
            )

    def record_failure(self, wall_ms: int, reason: str, message: str) -> int:
        """Keep the error; returns the number of consecutive failed rounds."""
        with self.db.write() as conn:
            row = conn.execute("SELECT value FROM sync_state WHERE key = 'failures'").fetchone()
            failures = (int(row[0]) if row and row[0] is not None else 0) + 1
            conn.execute(
                "INSERT INTO sync_errors (at, kind, reason, message) VALUES (?, 'error', ?, ?)",
                (iso(wall_ms), reason, message),
            )
            conn.execute(
                "DELETE FROM sync_errors WHERE kind = 'error' AND id <= "
                "(SELECT max(id) FROM sync_errors) - ?",
                (_KEEP_ERRORS,),
            )
            _put(conn, {"last_attempt": iso(wall_ms), "last_error": message, "failures": failures})
        return failures

    @staticmethod
    def replace_held(conn: sqlite3.Connection, held: list[dict[str, Any]], wall_ms: int) -> None:
        """The hub's current report of this node's held records replaces the previous one."""
        conn.execute("DELETE FROM sync_errors WHERE kind = 'held'")
        add_held(conn, held, wall_ms)


def add_held(conn: sqlite3.Connection, held: list[dict[str, Any]], wall_ms: int) -> None:
    for item in held:
        record_id = str(item.get("record_id") or "")
        reason = str(item.get("reason") or "held")
        conn.execute("DELETE FROM sync_errors WHERE kind = 'held' AND record_id = ?", (record_id,))
        conn.execute(
            "INSERT INTO sync_errors (at, kind, reason, message, record_id) VALUES (?, 'held', ?, ?, ?)",
            (
                iso(wall_ms),
                reason,
                f"the hub holds record {record_id} back ({reason}); it is kept and retried there",
                record_id,
            ),
        )


def _pending(conn: sqlite3.Connection, hub_seq: int | None) -> int:
    """Records not yet on the hub: never sealed, or sealed past the hub's head. Two counts, each over
    its own index (an OR of the two conditions scans the table): every page's sync bar asks this."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM outbox WHERE shipped_seq IS NULL) "
        "+ (SELECT count(*) FROM outbox WHERE shipped_seq > ?)",
        (hub_seq or 0,),
    ).fetchone()
    return int(row[0])


def outbox_pending(db: Database) -> int:
    """``pending`` of :func:`sync_status` alone (what a sync round reports to the hub)."""
    conn = db.reader()
    row = conn.execute("SELECT value FROM sync_state WHERE key = 'hub_seq'").fetchone()
    return _pending(conn, int(row[0]) if row is not None and row[0] is not None else None)


def sync_status(db: Database) -> dict[str, Any]:
    """``{"pending", "last_sync", "hub_head", "errors"}`` as `rhip node status --json` prints it."""
    conn = db.reader()
    state = dict(conn.execute("SELECT key, value FROM sync_state").fetchall())
    hub_seq = int(state["hub_seq"]) if state.get("hub_seq") is not None else None
    pending = _pending(conn, hub_seq)
    seen = int(state.get("errors_seen_id") or 0)
    errors: list[dict[str, Any]] = [
        {"at": at, "kind": kind, "reason": reason, "message": message, "record_id": record_id}
        for at, kind, reason, message, record_id in conn.execute(
            "SELECT at, kind, reason, message, record_id FROM sync_errors "
            "WHERE kind = 'error' AND id > ? ORDER BY id DESC LIMIT ?",
            (seen, _SHOW_ERRORS),
        )
    ]
    errors += [
        {"at": at, "kind": "held", "reason": reason, "message": message, "record_id": record_id}
        for at, reason, message, record_id in conn.execute(
            "SELECT at, reason, message, record_id FROM sync_errors WHERE kind = 'held' ORDER BY id"
        )
    ]
    errors += [
        {"at": at, "kind": "held-here", "reason": reason, "message": message, "record_id": record_id}
        for at, reason, message, record_id in conn.execute(
            "SELECT at, reason, message, record_id FROM pulled_held ORDER BY at, record_id"
        )
    ]
    return {
        "pending": pending,
        "last_sync": state.get("last_sync"),
        "hub_head": hub_seq,
        "errors": errors,
    }
