"""The hub's storage: the one class every read and write goes through.

Rules:
1. All SQL lives here and in ``_store_mpi.py`` (the master index's bookkeeping,
   mixed into the same classes); the index itself is ``hub.mpi.MasterIndex`` on
   the same connection (``Writes.index``). Ingest, feeds, enrolment and the API
   speak in domain terms (nodes, changesets, held records, feeds, master
   persons), so a PostgreSQL backend can replace these modules without
   touching them.
2. Writes happen inside ``HubStore.transaction()`` (one ``BEGIN IMMEDIATE``);
   a changeset, its records, its held records and the feed items it routes
   commit together or not at all.
3. Rows are inserted, never updated in place, for anything a node sent:
   changesets and records are history. Only bookkeeping (heads, flags,
   resolution of held records) changes.
4. Time comes from ``clock`` (wall milliseconds) and new ids from ``new_id``,
   both given to the store, so tests can skew them.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uuid6

from sync import COUNTER_BITS, ZERO_HASH, FeedHead, FieldVersion

from ._db import Database
from ._store_mpi import MasterReads, MasterWrites

__all__ = [
    "SILENT_AFTER_MS",
    "ChangesetActivity",
    "FieldState",
    "HeldRecord",
    "HubError",
    "HubStore",
    "NodeInfo",
    "NodeRefused",
    "Quarantined",
    "Reads",
    "TokenInfo",
    "Writes",
    "iso",
]


class HubError(Exception):
    """Base of the hub's own errors. ``reason`` is the machine-readable code sent to nodes."""

    reason = "hub-error"


class NodeRefused(HubError):
    """A node the hub does not know, or whose key an operator revoked."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _uuid7() -> str:
    return str(uuid6.uuid7())


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _unjson(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    clinic: str
    name: str
    public_key: bytes
    enrolled_ms: int
    revoked_ms: int | None
    revoked_reason: str | None
    head: FeedHead
    last_seen_ms: int | None
    skew_ms: int | None
    waiting: int | None = None  # records the node had not yet sent when it last asked for its head
    waiting_ms: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_ms is not None

    @property
    def heard_ms(self) -> int:
        """When the hub last heard from the node (its enrolment, if never since)."""
        return self.last_seen_ms if self.last_seen_ms is not None else self.enrolled_ms

    def silent(self, now_ms: int, after_ms: int) -> bool:
        """Unheard of for longer than ``after_ms``, and not revoked: an alert for the operator."""
        return not self.revoked and now_ms - self.heard_ms > after_ms


@dataclass(frozen=True)
class TokenInfo:
    hash: str
    clinic: str
    expires_ms: int
    used_ms: int | None
    used_by: str | None
    revoked_ms: int | None
    created_ms: int | None = None

    def state(self, now_ms: int) -> str:
        """used, revoked, expired or open."""
        if self.used_ms is not None:
            return "used"
        if self.revoked_ms is not None:
            return "revoked"
        return "expired" if self.expires_ms < now_ms else "open"


@dataclass(frozen=True)
class HeldRecord:
    id: int
    node_id: str
    seq: int
    idx: int
    record_id: str | None
    reason: str
    detail: str
    held_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "reason": self.reason,
            "detail": self.detail,
            "seq": self.seq,
            "held_at": iso(self.held_ms),
        }


@dataclass(frozen=True)
class Quarantined:
    node_id: str
    seq: int
    frame_hash: bytes
    held_hash: bytes
    detail: str
    received_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "offered_hash": self.frame_hash.hex(),
            "held_hash": self.held_hash.hex(),
            "detail": self.detail,
            "received_at": iso(self.received_ms),
        }


@dataclass(frozen=True)
class ChangesetActivity:
    """One accepted changeset as the console charts it: when, how many records, how late."""

    node_id: str
    seq: int
    received_ms: int
    records: int
    skew_ms: int
    oldest_hlc_ms: int | None  # the clinic's clock when its oldest record was written (None: all held)

    @property
    def lag_ms(self) -> int | None:
        """How long the oldest record waited at the clinic before the hub had it (clinic clock)."""
        return None if self.oldest_hlc_ms is None else max(0, self.received_ms - self.oldest_hlc_ms)


@dataclass(frozen=True)
class FieldState:
    version: FieldVersion
    conflict: bool


_NODE_COLUMNS = (
    "node_id, clinic, name, public_key, enrolled_ms, revoked_ms, revoked_reason, "
    "head_seq, head_hash, last_seen_ms, skew_ms, waiting, waiting_ms"
)
_HELD_COLUMNS = "id, node_id, seq, idx, record_id, reason, detail, held_ms"
_TOKEN_COLUMNS = "hash, clinic, expires_ms, used_ms, used_by, revoked_ms, created_ms"  # noqa: S105 - column names
# A node unheard of for longer than this is an alert, unless ``meta`` says otherwise.
SILENT_AFTER_MS = 60 * 60 * 1000
_SILENT_KEY = "silent_after_ms"


def _node(row: tuple[Any, ...]) -> NodeInfo:
    nid, clinic, name, key, enrolled, revoked, why, seq, head_hash, seen, skew, waiting, waiting_ms = row
    head = FeedHead(nid, seq, head_hash)
    return NodeInfo(nid, clinic, name, key, enrolled, revoked, why, head, seen, skew, waiting, waiting_ms)


class Reads(MasterReads):
    """Queries over one connection (a reader, or the writer inside a transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        row = self.conn.execute(sql, args).fetchone()
        return None if row is None else row[0]

    # -- nodes and tokens --------------------------------------------------------

    def node(self, node_id: str) -> NodeInfo | None:
        row = self.conn.execute(f"SELECT {_NODE_COLUMNS} FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
        return None if row is None else _node(row)

    def nodes(self, *, clinic: str | None = None) -> list[NodeInfo]:
        sql = f"SELECT {_NODE_COLUMNS} FROM nodes"
        args: tuple[Any, ...] = ()
        if clinic is not None:
            sql, args = sql + " WHERE clinic = ?", (clinic,)
        return [_node(r) for r in self.conn.execute(sql + " ORDER BY clinic, enrolled_ms", args)]

    def token(self, token_hash: str) -> TokenInfo | None:
        row = self.conn.execute(
            f"SELECT {_TOKEN_COLUMNS} FROM enrol_tokens WHERE hash = ?", (token_hash,)
        ).fetchone()
        return None if row is None else TokenInfo(*row)

    def tokens(self, *, limit: int = 200) -> list[TokenInfo]:
        """Enrolment tokens (hashes only), newest first."""
        return [
            TokenInfo(*r)
            for r in self.conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM enrol_tokens ORDER BY created_ms DESC, hash LIMIT ?", (limit,)
            )
        ]

    def setting(self, key: str) -> str | None:
        """A hub setting kept in the database (``meta``), or None when never set."""
        value: str | None = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return value

    def silent_after_ms(self) -> int:
        """How long a node may go unheard before it is an alert (``rhip hub serve --silent-after``)."""
        value = self.setting(_SILENT_KEY)
        return int(value) if value is not None and value.isdigit() else SILENT_AFTER_MS

    # -- node feeds --------------------------------------------------------------

    def changeset_hash(self, node_id: str, seq: int) -> bytes | None:
        value: bytes | None = self._one(
            "SELECT hash FROM changesets WHERE node_id = ? AND seq = ?", (node_id, seq)
        )
        return value

    def changeset(self, node_id: str, seq: int) -> tuple[bytes, int] | None:
        """The stored frame of an accepted changeset and when it was received."""
        row = self.conn.execute(
            "SELECT frame, received_ms FROM changesets WHERE node_id = ? AND seq = ?", (node_id, seq)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def record_count(self, node_id: str) -> int:
        return int(self._one("SELECT count(*) FROM records WHERE node_id = ?", (node_id,)))

    def record_content(self, record_id: str) -> bytes | None:
        value: bytes | None = self._one("SELECT content FROM records WHERE id = ?", (record_id,))
        return value

    def record_contents(self, record_ids: list[str]) -> dict[str, bytes]:
        """The stored content of those of ``record_ids`` the hub holds (one query per 500 ids)."""
        found: dict[str, bytes] = {}
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for rid, content in self.conn.execute(
                f"SELECT id, content FROM records WHERE id IN ({marks})", chunk
            ):
                found[rid] = content
        return found

    def records_about(self, resident_id: str) -> list[tuple[str, str, int, bytes]]:
        """``(record_id, author, hlc, content)`` of every stored record about a resident, oldest first."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self.conn.execute(
                "SELECT id, author, hlc, content FROM records WHERE resident_id = ? ORDER BY hlc, id",
                (resident_id,),
            )
        ]

    def records_of_type(self, resident_ids: list[str], type_: str) -> list[bytes]:
        """The stored content of every record of one type about these residents, oldest first."""
        if not resident_ids:
            return []
        marks = ",".join("?" * len(resident_ids))
        return [
            r[0]
            for r in self.conn.execute(
                f"SELECT content FROM records WHERE resident_id IN ({marks}) AND type = ? ORDER BY hlc, id",
                [*resident_ids, type_],
            )
        ]

    def routed_among(self, node_id: str, record_ids: list[str]) -> set[str]:
        """Those of ``record_ids`` already in ``node_id``'s feed."""
        found: set[str] = set()
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT record_id FROM routed WHERE node_id = ? AND record_id IN ({marks})",
                    [node_id, *chunk],
                )
            )
        return found

    def held(self, node_id: str | None = None, *, seq: int | None = None) -> list[HeldRecord]:
        """Records held and not yet applied, oldest first."""
        sql = f"SELECT {_HELD_COLUMNS} FROM held WHERE resolved_ms IS NULL"
        args: list[Any] = []
        if node_id is not None:
            sql += " AND node_id = ?"
            args.append(node_id)
        if seq is not None:
            sql += " AND seq = ?"
            args.append(seq)
        return [HeldRecord(*r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def activity(self, *, since_ms: int, node_id: str | None = None) -> list[ChangesetActivity]:
        """Changesets received since ``since_ms`` (oldest first), with their oldest record's stamp."""
        sql = (
            "SELECT c.node_id, c.seq, c.received_ms, c.records, c.skew_ms, "
            "(SELECT min(r.hlc) FROM records r WHERE r.node_id = c.node_id AND r.seq = c.seq) "
            "FROM changesets c WHERE c.received_ms >= ?"
        )
        args: list[Any] = [since_ms]
        if node_id is not None:
            sql += " AND c.node_id = ?"
            args.append(node_id)
        return [
            ChangesetActivity(nid, seq, received, records, skew, None if hlc is None else hlc >> COUNTER_BITS)
            for nid, seq, received, records, skew, hlc in self.conn.execute(
                sql + " ORDER BY c.received_ms, c.node_id, c.seq", args
            )
        ]

    def last_changeset(self, node_id: str, seq: int) -> ChangesetActivity | None:
        """Changeset ``seq`` of a node's feed (its head, say) as the console shows it."""
        row = self.conn.execute(
            "SELECT c.node_id, c.seq, c.received_ms, c.records, c.skew_ms, "
            "(SELECT min(r.hlc) FROM records r WHERE r.node_id = c.node_id AND r.seq = c.seq) "
            "FROM changesets c WHERE c.node_id = ? AND c.seq = ?",
            (node_id, seq),
        ).fetchone()
        if row is None:
            return None
        nid, s, received, records, skew, hlc = row
        return ChangesetActivity(
            nid, s, received, records, skew, None if hlc is None else hlc >> COUNTER_BITS
        )

    def quarantined(self, node_id: str) -> list[Quarantined]:
        return [
            Quarantined(*r)
            for r in self.conn.execute(
                "SELECT node_id, seq, frame_hash, held_hash, detail, received_ms FROM quarantine "
                "WHERE node_id = ? ORDER BY id",
                (node_id,),
            )
        ]

    def alerts(self) -> list[dict[str, Any]]:
        return [
            {"id": aid, "at": iso(at), "kind": kind, "node_id": nid, "detail": detail}
            for aid, at, kind, nid, detail in self.conn.execute(
                "SELECT id, at_ms, kind, node_id, detail FROM alerts ORDER BY id"
            )
        ]

    # -- the hub's outgoing feeds ----------------------------------------------------

    def hub_feed_head(self, node_id: str) -> FeedHead:
        row = self.conn.execute(
            "SELECT seq, hash FROM hub_feeds WHERE node_id = ? ORDER BY seq DESC LIMIT 1", (node_id,)
        ).fetchone()
        feed = f"hub:{node_id}"
        return FeedHead(feed) if row is None else FeedHead(feed, row[0], row[1])

    def hub_frames(self, node_id: str, *, after: int, limit: int) -> list[tuple[int, bytes]]:
        return [
            (r[0], r[1])
            for r in self.conn.execute(
                "SELECT seq, frame FROM hub_feeds WHERE node_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (node_id, after, limit),
            )
        ]

    # -- residents and the master index --------------------------------------------

    def registrations_queued(self) -> int:
        """Registrations waiting to be matched by the master index."""
        return int(self._one("SELECT count(*) FROM mpi_queue"))

    def resident_master(self, resident_id: str) -> str | None:
        value: str | None = self._one("SELECT master_id FROM residents WHERE resident_id = ?", (resident_id,))
        return value

    def master_members(self, master_id: str) -> list[tuple[str, str]]:
        """``(resident_id, node_id)`` of every resident linked to a master person."""
        return [
            (r[0], r[1])
            for r in self.conn.execute(
                "SELECT resident_id, node_id FROM residents WHERE master_id = ? ORDER BY resident_id",
                (master_id,),
            )
        ]

    def nodes_holding(self, resident_id: str) -> set[str]:
        """Nodes that hold the resident: where it and its master person's residents were registered,
        and where any of them was referred."""
        return {
            r[0]
            for r in self.conn.execute(
                "WITH person AS (SELECT resident_id, node_id FROM residents WHERE resident_id = ?1 "
                "OR master_id = (SELECT master_id FROM residents WHERE resident_id = ?1)) "
                "SELECT node_id FROM person UNION SELECT f.node_id FROM referrals f "
                "JOIN person p ON f.resident_id = p.resident_id",
                (resident_id,),
            )
        }

    def review_count(self) -> int:
        return int(self._one("SELECT count(*) FROM mpi_review WHERE status = 'open'"))

    def field_state(self, resident_id: str, field: str) -> FieldState | None:
        row = self.conn.execute(
            "SELECT value, hlc, author, record_id, conflict FROM resident_fields "
            "WHERE resident_id = ? AND field = ?",
            (resident_id, field),
        ).fetchone()
        if row is None:
            return None
        return FieldState(FieldVersion(_unjson(row[0]), row[1], row[2], row[3]), bool(row[4]))

    def field_states(self, resident_id: str) -> dict[str, FieldState]:
        """Every demographic field the hub holds for a resident, by name."""
        return {
            row[0]: FieldState(FieldVersion(_unjson(row[1]), row[2], row[3], row[4]), bool(row[5]))
            for row in self.conn.execute(
                "SELECT field, value, hlc, author, record_id, conflict FROM resident_fields "
                "WHERE resident_id = ?",
                (resident_id,),
            )
        }

    def demographics(self, resident_id: str) -> dict[str, Any]:
        """The hub's current value of every field (with conflict flags) and their whole history."""
        fields = {
            f: {"value": _unjson(v), "hlc": hlc, "author": a, "record_id": rid, "conflict": bool(c)}
            for f, v, hlc, a, rid, c in self.conn.execute(
                "SELECT field, value, hlc, author, record_id, conflict FROM resident_fields "
                "WHERE resident_id = ? ORDER BY field",
                (resident_id,),
            )
        }
        history = [
            {
                "field": f,
                "value": _unjson(v),
                "hlc": hlc,
                "author": a,
                "record_id": rid,
                "outcome": o,
                "conflict": bool(c),
            }
            for f, v, hlc, a, rid, o, c in self.conn.execute(
                "SELECT field, value, hlc, author, record_id, outcome, conflict "
                "FROM resident_field_history WHERE resident_id = ? ORDER BY field, hlc, id",
                (resident_id,),
            )
        ]
        return {"resident_id": resident_id, "fields": fields, "history": history}


class Writes(MasterWrites, Reads):
    """Writes inside one open transaction. Obtain through ``HubStore.transaction``."""

    # -- nodes and tokens --------------------------------------------------------

    def add_token(self, token_hash: str, clinic: str, *, now_ms: int, expires_ms: int) -> None:
        self.conn.execute(
            "INSERT INTO enrol_tokens (hash, clinic, created_ms, expires_ms) VALUES (?,?,?,?)",
            (token_hash, clinic, now_ms, expires_ms),
        )

    def use_token(self, token_hash: str, node_id: str, now_ms: int) -> None:
        self.conn.execute(
            "UPDATE enrol_tokens SET used_ms = ?, used_by = ? WHERE hash = ?", (now_ms, node_id, token_hash)
        )

    def revoke_tokens(self, clinic: str, now_ms: int) -> int:
        cur = self.conn.execute(
            "UPDATE enrol_tokens SET revoked_ms = ? "
            "WHERE clinic = ? AND used_ms IS NULL AND revoked_ms IS NULL",
            (now_ms, clinic),
        )
        return cur.rowcount

    def enrol_node(self, node_id: str, clinic: str, name: str, public_key: bytes, now_ms: int) -> None:
        self.conn.execute(
            "INSERT INTO nodes (node_id, clinic, name, public_key, enrolled_ms, head_hash, last_seen_ms) "
            "VALUES (?1,?2,?3,?4,?5,?6,?5) ON CONFLICT (node_id) DO UPDATE SET "
            "clinic = ?2, name = ?3, last_seen_ms = ?5",
            (node_id, clinic, name, public_key, now_ms, ZERO_HASH),
        )

    def revoke_token(self, token_hash: str, now_ms: int) -> bool:
        """Revoke one unused token; False if it was used, revoked already or never issued."""
        cur = self.conn.execute(
            "UPDATE enrol_tokens SET revoked_ms = ? "
            "WHERE hash = ? AND used_ms IS NULL AND revoked_ms IS NULL",
            (now_ms, token_hash),
        )
        return cur.rowcount == 1

    def set_setting(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def set_silent_after_ms(self, ms: int) -> None:
        self.set_setting(_SILENT_KEY, str(ms))

    def revoke_node(self, node_id: str, reason: str, now_ms: int) -> None:
        self.conn.execute(
            "UPDATE nodes SET revoked_ms = ?, revoked_reason = ? WHERE node_id = ? AND revoked_ms IS NULL",
            (now_ms, reason, node_id),
        )

    def touch_node(self, node_id: str, now_ms: int) -> None:
        self.conn.execute("UPDATE nodes SET last_seen_ms = ? WHERE node_id = ?", (now_ms, node_id))

    def report_waiting(self, node_id: str, waiting: int, now_ms: int) -> None:
        """What the node says it has not sent yet (``?waiting=`` on its head request)."""
        self.conn.execute(
            "UPDATE nodes SET waiting = ?, waiting_ms = ?, last_seen_ms = ? WHERE node_id = ?",
            (waiting, now_ms, now_ms, node_id),
        )

    # -- node feeds --------------------------------------------------------------

    def add_changeset(
        self, node_id: str, seq: int, hash_: bytes, frame: bytes, *, records: int, skew_ms: int, now_ms: int
    ) -> None:
        self.conn.execute(
            "INSERT INTO changesets (node_id, seq, hash, frame, records, skew_ms, received_ms) "
            "VALUES (?,?,?,?,?,?,?)",
            (node_id, seq, hash_, frame, records, skew_ms, now_ms),
        )

    def set_head(self, head: FeedHead, *, skew_ms: int, now_ms: int) -> None:
        self.conn.execute(
            "UPDATE nodes SET head_seq = ?, head_hash = ?, skew_ms = ?, last_seen_ms = ? WHERE node_id = ?",
            (head.seq, head.hash, skew_ms, now_ms, head.feed),
        )

    def add_records(self, rows: list[list[Any]], *, node_id: str, seq: int, now_ms: int) -> None:
        """Store records carried by changeset ``seq`` of ``node_id``'s feed.

        Each row is ``[id, fact_id, type, v, resident_id, author, hlc, content]``.
        """
        self.conn.executemany(
            "INSERT INTO records (id, fact_id, type, v, resident_id, author, hlc, node_id, seq, "
            "received_ms, content) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(*row[:7], node_id, seq, now_ms, row[7]) for row in rows],
        )

    def hold(
        self,
        node_id: str,
        seq: int,
        idx: int,
        *,
        record_id: str | None,
        reason: str,
        detail: str,
        now_ms: int,
    ) -> HeldRecord:
        cur = self.conn.execute(
            "INSERT INTO held (node_id, seq, idx, record_id, reason, detail, held_ms) VALUES (?,?,?,?,?,?,?)",
            (node_id, seq, idx, record_id, reason, detail, now_ms),
        )
        assert cur.lastrowid is not None
        return HeldRecord(cur.lastrowid, node_id, seq, idx, record_id, reason, detail, now_ms)

    def update_held(self, held_id: int, reason: str, detail: str) -> None:
        self.conn.execute("UPDATE held SET reason = ?, detail = ? WHERE id = ?", (reason, detail, held_id))

    def resolve_held(self, held_id: int, now_ms: int) -> None:
        self.conn.execute("UPDATE held SET resolved_ms = ? WHERE id = ?", (now_ms, held_id))

    def quarantine(
        self,
        node_id: str,
        seq: int,
        *,
        frame_hash: bytes,
        held_hash: bytes,
        frame: bytes,
        detail: str,
        now_ms: int,
    ) -> bool:
        """Keep a forked changeset; False if this exact frame was quarantined before."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO quarantine "
            "(node_id, seq, frame_hash, held_hash, frame, detail, received_ms) VALUES (?,?,?,?,?,?,?)",
            (node_id, seq, frame_hash, held_hash, frame, detail, now_ms),
        )
        return cur.rowcount == 1

    def alert(self, kind: str, node_id: str | None, detail: str, now_ms: int) -> None:
        self.conn.execute(
            "INSERT INTO alerts (at_ms, kind, node_id, detail) VALUES (?,?,?,?)",
            (now_ms, kind, node_id, detail),
        )

    # -- residents and the master index --------------------------------------------

    def queue_registration(self, resident_id: str, now_ms: int) -> None:
        """A registration to match (again): its compared demographics may have changed (hub._linker)."""
        self.conn.execute(
            "INSERT INTO mpi_queue (resident_id, queued_ms) VALUES (?, ?) "
            "ON CONFLICT (resident_id) DO NOTHING",
            (resident_id, now_ms),
        )

    def queued_registrations(self, limit: int) -> list[str]:
        """The registrations waiting longest to be matched, oldest first."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT resident_id FROM mpi_queue ORDER BY queued_ms, resident_id LIMIT ?", (limit,)
            )
        ]

    def dequeue_registrations(self, resident_ids: list[str]) -> None:
        self.conn.executemany("DELETE FROM mpi_queue WHERE resident_id = ?", [(r,) for r in resident_ids])

    def ensure_resident(self, resident_id: str, node_id: str, now_ms: int, *, home: bool = False) -> None:
        """Know a resident; ``home`` marks ``node_id`` as where it was registered."""
        on_conflict = "DO UPDATE SET node_id = excluded.node_id" if home else "DO NOTHING"
        self.conn.execute(
            "INSERT INTO residents (resident_id, node_id, first_seen_ms) VALUES (?,?,?) "
            f"ON CONFLICT (resident_id) {on_conflict}",
            (resident_id, node_id, now_ms),
        )

    def set_fields(self, resident_id: str, fields: list[tuple[str, FieldVersion, bool]]) -> None:
        """Make each ``(field, version, conflict)`` the resident's current value of that field."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO resident_fields "
            "(resident_id, field, value, hlc, author, record_id, conflict) VALUES (?,?,?,?,?,?,?)",
            [
                (resident_id, field, _json(v.value), v.hlc, v.author, v.record_id, conflict)
                for field, v, conflict in fields
            ],
        )

    def flag_conflict(self, resident_id: str, field: str) -> None:
        self.conn.execute(
            "UPDATE resident_fields SET conflict = 1 WHERE resident_id = ? AND field = ?",
            (resident_id, field),
        )

    def add_field_history(
        self, resident_id: str, versions: list[tuple[str, FieldVersion, str, bool]], *, now_ms: int
    ) -> None:
        """Keep each ``(field, version, outcome, conflict)`` in the resident's field history."""
        self.conn.executemany(
            "INSERT INTO resident_field_history "
            "(resident_id, field, value, hlc, author, record_id, outcome, conflict, at_ms) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (resident_id, field, _json(v.value), v.hlc, v.author, v.record_id, outcome, conflict, now_ms)
                for field, v, outcome, conflict in versions
            ],
        )

    def supersede_field_history(self, resident_id: str, field: str, *, conflict: bool) -> None:
        self.conn.execute(
            "UPDATE resident_field_history SET outcome = 'superseded', conflict = ? "
            "WHERE resident_id = ? AND field = ? AND outcome = 'current'",
            (conflict, resident_id, field),
        )

    # -- the hub's outgoing feeds ----------------------------------------------------

    def mark_routed(self, node_id: str, record_id: str) -> bool:
        """Note that a record goes to a node's feed; False if it went there before."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO routed (node_id, record_id) VALUES (?, ?)", (node_id, record_id)
        )
        return cur.rowcount == 1

    def add_hub_frame(
        self, node_id: str, seq: int, hash_: bytes, frame: bytes, *, items: int, now_ms: int
    ) -> None:
        self.conn.execute(
            "INSERT INTO hub_feeds (node_id, seq, hash, frame, items, created_ms) VALUES (?,?,?,?,?,?)",
            (node_id, seq, hash_, frame, items, now_ms),
        )


class HubStore:
    """The hub's nodes, feeds, records, demographics and master index on one database."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], int] = _wall_ms,
        new_id: Callable[[], str] = _uuid7,
    ) -> None:
        self.db = db
        self.clock = clock
        self.new_id = new_id

    def now_ms(self) -> int:
        return self.clock()

    @contextmanager
    def transaction(self) -> Iterator[Writes]:
        with self.db.write() as conn:
            yield Writes(conn)

    def reads(self) -> Reads:
        return Reads(self.db.reader())

    def node(self, node_id: str) -> NodeInfo | None:
        return self.reads().node(node_id)

    def held(self, node_id: str | None = None) -> list[HeldRecord]:
        return self.reads().held(node_id)

    def status(self) -> dict[str, Any]:
        """What operators watch: every node's head, records, last contact, skew, forks and held records.

        ``alerts`` holds the stored alerts (forks, break-glass …) and, computed now, one of kind
        ``silent`` (``id`` null) for each node not revoked and unheard of for longer than
        ``silent_after_min``.
        """
        r = self.reads()
        now, silent_after = self.now_ms(), r.silent_after_ms()
        nodes = []
        silent = []
        for n in r.nodes():
            nodes.append(
                {
                    "clinic": n.clinic,
                    "name": n.name,
                    "node_id": n.node_id,
                    "head": n.head.seq,
                    "records": r.record_count(n.node_id),
                    "last_seen": iso(n.last_seen_ms),
                    "pending": n.waiting,
                    "pending_at": iso(n.waiting_ms),
                    "skew_s": None if n.skew_ms is None else round(n.skew_ms / 1000, 1) + 0.0,  # no -0.0
                    "quarantined": [q.as_json() for q in r.quarantined(n.node_id)],
                    "held": [h.as_json() for h in r.held(n.node_id)],
                    "revoked": n.revoked,
                }
            )
            seen = n.heard_ms
            if n.silent(now, silent_after):
                silent.append(
                    {
                        "id": None,
                        "at": iso(seen + silent_after),
                        "kind": "silent",
                        "node_id": n.node_id,
                        "detail": f"node {n.name} of clinic {n.clinic} silent for "
                        f"{(now - seen) // 60_000} min (last seen {iso(seen)}; "
                        f"alert after {silent_after // 60_000} min)",
                    }
                )
        return {
            "nodes": nodes,
            "alerts": [*r.alerts(), *silent],
            "review_open": r.review_count(),
            "mpi_queue": r.registrations_queued(),
            "silent_after_min": silent_after // 60_000,
        }
