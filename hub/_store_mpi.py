"""The hub's storage for the master index's bookkeeping: master persons, the review queue, the audit,
"not a match" pairs, referrals, directory announcements, sensitive categories and the access log.

Rules:
1. These are mixins of ``_store.Reads`` and ``_store.Writes``: the same
   connection and transaction as every other store call. The index itself
   (registrations, blocking keys, value counts, weights) is
   ``hub.mpi.MasterIndex`` on the same connection (``Writes.index``).
2. Nothing here is deleted. A review item is decided or superseded, an audit
   entry is undone by a later one that names it, a master person merged away
   keeps its row and points at the one it went into.
3. Audit entries keep who, why, and every resident's master person before and
   after, so an unmerge restores exactly what a merge changed.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .mpi import MasterIndex

__all__ = ["AccessEntry", "AuditEntry", "MasterReads", "MasterRow", "MasterWrites", "ReviewItem"]


def _iso(ms: int | None) -> str | None:
    from ._store import iso  # one formatter for the whole hub

    return iso(ms)


@dataclass(frozen=True)
class MasterRow:
    master_id: str
    created_ms: int
    merged_into: str | None
    merged_ms: int | None


@dataclass(frozen=True)
class ReviewItem:
    """A registration the index could not decide: the master person it got for now and the evidence."""

    id: int
    resident_id: str
    node_id: str
    master_id: str
    decision: dict[str, Any]  # hub.mpi.Decision.as_json(): candidates with per-field evidence
    reason: str
    status: str  # open, decided, superseded
    created_ms: int
    decided_ms: int | None
    outcome: str | None  # same, different
    chosen_master: str | None
    decided_by: str | None
    why: str | None

    def candidate_masters(self) -> list[str]:
        return [str(c["master_id"]) for c in self.decision.get("candidates", [])]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resident_id": self.resident_id,
            "node_id": self.node_id,
            "master_id": self.master_id,
            "reason": self.reason,
            "status": self.status,
            "created_at": _iso(self.created_ms),
            "candidates": self.decision.get("candidates", []),
            "decided_at": _iso(self.decided_ms),
            "outcome": self.outcome,
            "chosen_master": self.chosen_master,
            "decided_by": self.decided_by,
            "why": self.why,
        }


@dataclass(frozen=True)
class AuditEntry:
    """One change of the master index made by a person (or moved by ingest): before and after."""

    id: int
    at_ms: int
    action: str  # link, unlink, merge, unmerge, auto-link, decide
    actor: str
    reason: str
    resident_id: str | None
    master_id: str | None
    other_master_id: str | None
    review_id: int | None
    before: dict[str, str | None]  # resident id -> master id
    after: dict[str, str | None]
    undoes: int | None
    undone_by: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at_ms),
            "action": self.action,
            "actor": self.actor,
            "reason": self.reason,
            "resident_id": self.resident_id,
            "master_id": self.master_id,
            "other_master_id": self.other_master_id,
            "review_id": self.review_id,
            "before": self.before,
            "after": self.after,
            "undoes": self.undoes,
            "undone_by": self.undone_by,
        }


@dataclass(frozen=True)
class AccessEntry:
    id: int
    at_ms: int
    node_id: str
    user: str
    action: str
    master_id: str | None
    resident_id: str | None
    reason: str
    detail: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at_ms),
            "node_id": self.node_id,
            "user": self.user,
            "action": self.action,
            "master_id": self.master_id,
            "resident_id": self.resident_id,
            "reason": self.reason,
            "detail": self.detail,
        }


_REVIEW_COLUMNS = (
    "id, resident_id, node_id, master_id, decision, reason, status, created_ms, decided_ms, outcome, "
    "chosen_master, decided_by, why"
)
_AUDIT_COLUMNS = (
    "id, at_ms, action, actor, reason, resident_id, master_id, other_master_id, review_id, before, after, "
    "undoes, undone_by"
)


def _review(row: tuple[Any, ...]) -> ReviewItem:
    values = list(row)
    values[4] = json.loads(values[4])
    return ReviewItem(*values)


def _audit(row: tuple[Any, ...]) -> AuditEntry:
    values = list(row)
    values[9], values[10] = json.loads(values[9]), json.loads(values[10])
    return AuditEntry(*values)


def _marks(values: list[str]) -> str:
    return ",".join("?" * len(values))


class MasterReads:
    """Queries over the master index's bookkeeping (mixed into ``_store.Reads``)."""

    conn: sqlite3.Connection

    # -- master persons -----------------------------------------------------------------------

    def master(self, master_id: str) -> MasterRow | None:
        row = self.conn.execute(
            "SELECT master_id, created_ms, merged_into, merged_ms FROM masters WHERE master_id = ?",
            (master_id,),
        ).fetchone()
        return None if row is None else MasterRow(*row)

    def surviving_master(self, master_id: str) -> str:
        """The master person ``master_id`` went into, following merges (itself if never merged)."""
        seen = {master_id}
        while (row := self.master(master_id)) is not None and row.merged_into is not None:
            if row.merged_into in seen:
                break
            master_id = row.merged_into
            seen.add(master_id)
        return master_id

    def linked_by(self, resident_id: str) -> str | None:
        row = self.conn.execute("SELECT linked_by FROM residents WHERE resident_id = ?", (resident_id,))
        found = row.fetchone()
        return None if found is None else found[0]

    def resident_home(self, resident_id: str) -> str | None:
        row = self.conn.execute("SELECT node_id FROM residents WHERE resident_id = ?", (resident_id,))
        found = row.fetchone()
        return None if found is None else str(found[0])

    def holder_nodes(self, resident_ids: list[str]) -> set[str]:
        """Nodes holding any of these residents: where each was registered, and where it was referred."""
        if not resident_ids:
            return set()
        marks = _marks(resident_ids)
        return {
            r[0]
            for r in self.conn.execute(
                f"SELECT node_id FROM residents WHERE resident_id IN ({marks}) "
                f"UNION SELECT node_id FROM referrals WHERE resident_id IN ({marks})",
                [*resident_ids, *resident_ids],
            )
        }

    def referral_nodes(self, resident_ids: list[str]) -> list[tuple[str, str]]:
        """``(resident_id, node_id)`` of every referral of these residents, in a stable order."""
        if not resident_ids:
            return []
        return [
            (r[0], r[1])
            for r in self.conn.execute(
                f"SELECT resident_id, node_id FROM referrals WHERE resident_id IN ({_marks(resident_ids)}) "
                "ORDER BY resident_id, node_id",
                resident_ids,
            )
        ]

    def residents_with(self, field: str, value: str) -> list[str]:
        """Residents whose current ``id_number`` or ``card_number`` is ``value`` (partial indexes)."""
        if field not in ("id_number", "card_number"):
            raise ValueError(f"no index of resident field {field}")
        sql = f"SELECT resident_id FROM resident_fields WHERE field = '{field}' AND value = ?"
        return [r[0] for r in self.conn.execute(sql, (json.dumps(value, ensure_ascii=False),))]

    def masters_with(self, field: str, value: str) -> list[str]:
        """The master persons (after merges) of the residents whose ``field`` is ``value``."""
        found = {
            self.surviving_master(m) for r in self.residents_with(field, value) if (m := self._master_of(r))
        }
        return sorted(found)

    def _master_of(self, resident_id: str) -> str | None:
        row = self.conn.execute("SELECT master_id FROM residents WHERE resident_id = ?", (resident_id,))
        found = row.fetchone()
        return None if found is None else found[0]

    # -- review queue ---------------------------------------------------------------------------

    def review_items(self, *, status: str | None = "open", limit: int = 200) -> list[ReviewItem]:
        sql = f"SELECT {_REVIEW_COLUMNS} FROM mpi_review"
        args: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            args.append(status)
        return [_review(r) for r in self.conn.execute(sql + " ORDER BY id LIMIT ?", [*args, limit])]

    def review_item(self, review_id: int) -> ReviewItem | None:
        row = self.conn.execute(f"SELECT {_REVIEW_COLUMNS} FROM mpi_review WHERE id = ?", (review_id,))
        found = row.fetchone()
        return None if found is None else _review(found)

    def reviews_of(self, resident_ids: list[str]) -> list[ReviewItem]:
        if not resident_ids:
            return []
        return [
            _review(r)
            for r in self.conn.execute(
                f"SELECT {_REVIEW_COLUMNS} FROM mpi_review WHERE resident_id IN ({_marks(resident_ids)}) "
                "ORDER BY id",
                resident_ids,
            )
        ]

    def not_match_partners(self, record_ids: list[str]) -> set[str]:
        """Registrations a person decided are not the same as any of ``record_ids``."""
        if not record_ids:
            return set()
        marks = _marks(record_ids)
        return {
            r[0]
            for r in self.conn.execute(
                f"SELECT record_b FROM mpi_not_match WHERE record_a IN ({marks}) "
                f"UNION SELECT record_a FROM mpi_not_match WHERE record_b IN ({marks})",
                [*record_ids, *record_ids],
            )
        }

    # -- audit ----------------------------------------------------------------------------------

    def audit_entry(self, audit_id: int) -> AuditEntry | None:
        row = self.conn.execute(f"SELECT {_AUDIT_COLUMNS} FROM mpi_audit WHERE id = ?", (audit_id,))
        found = row.fetchone()
        return None if found is None else _audit(found)

    def audit_of(self, master_ids: list[str], resident_ids: list[str]) -> list[AuditEntry]:
        """Every audit entry naming one of these master persons or residents, oldest first."""
        ms, rs = master_ids or [""], resident_ids or [""]
        return [
            _audit(r)
            for r in self.conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM mpi_audit WHERE master_id IN ({_marks(ms)}) "
                f"OR other_master_id IN ({_marks(ms)}) OR resident_id IN ({_marks(rs)}) ORDER BY id",
                [*ms, *ms, *rs],
            )
        ]

    def last_merge_into(self, absorbed: str) -> AuditEntry | None:
        """The latest merge of ``absorbed`` not undone yet."""
        row = self.conn.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM mpi_audit WHERE action = 'merge' AND other_master_id = ? "
            "AND undone_by IS NULL ORDER BY id DESC LIMIT 1",
            (absorbed,),
        ).fetchone()
        return None if row is None else _audit(row)

    # -- directory, privacy, access ---------------------------------------------------------------

    def announced(self, node_id: str) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT about FROM announced WHERE node_id = ?", (node_id,))}

    def sensitive_rules(self) -> list[tuple[str, str, str]]:
        """``(value, kind, added_by)`` of the sensitive categories an operator added."""
        return [
            (r[0], r[1], r[2])
            for r in self.conn.execute("SELECT value, kind, added_by FROM sensitive ORDER BY kind, value")
        ]

    def access_log(self, *, limit: int = 200) -> list[AccessEntry]:
        rows = self.conn.execute(
            "SELECT id, at_ms, node_id, user, action, master_id, resident_id, reason, detail "
            "FROM access_log ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        out = []
        for row in rows:
            values = list(row)
            values[8] = None if values[8] is None else json.loads(values[8])
            out.append(AccessEntry(*values))
        return out


class MasterWrites(MasterReads):
    """Writes of the master index's bookkeeping (mixed into ``_store.Writes``)."""

    _index: MasterIndex | None = None

    @property
    def index(self) -> MasterIndex:
        """The master index on this transaction's connection (it never commits by itself)."""
        if self._index is None:
            self._index = MasterIndex(self.conn)
        return self._index

    def add_master(self, master_id: str, now_ms: int) -> None:
        self.conn.execute("INSERT INTO masters (master_id, created_ms) VALUES (?, ?)", (master_id, now_ms))

    def set_merged(self, master_id: str, into: str | None, now_ms: int | None) -> None:
        self.conn.execute(
            "UPDATE masters SET merged_into = ?, merged_ms = ? WHERE master_id = ?", (into, now_ms, master_id)
        )

    def link_resident(self, resident_id: str, master_id: str, *, linked_by: str = "auto") -> None:
        self.conn.execute(
            "UPDATE residents SET master_id = ?, linked_by = ? WHERE resident_id = ?",
            (master_id, linked_by, resident_id),
        )

    def add_review(
        self,
        resident_id: str,
        node_id: str,
        master_id: str,
        decision: dict[str, Any],
        *,
        reason: str,
        now_ms: int,
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO mpi_review (resident_id, node_id, master_id, decision, reason, created_ms) "
            "VALUES (?,?,?,?,?,?)",
            (resident_id, node_id, master_id, json.dumps(decision, ensure_ascii=False), reason, now_ms),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def decide_review(
        self,
        review_id: int,
        *,
        outcome: str,
        chosen_master: str | None,
        by: str,
        why: str,
        now_ms: int,
        status: str = "decided",
    ) -> None:
        self.conn.execute(
            "UPDATE mpi_review SET status = ?, outcome = ?, chosen_master = ?, decided_by = ?, why = ?, "
            "decided_ms = ? WHERE id = ? AND status = 'open'",
            (status, outcome, chosen_master, by, why, now_ms, review_id),
        )

    def supersede_reviews(self, resident_id: str, now_ms: int) -> None:
        """Open review items of a registration that changed: kept, no longer open."""
        self.conn.execute(
            "UPDATE mpi_review SET status = 'superseded', decided_ms = ? "
            "WHERE resident_id = ? AND status = 'open'",
            (now_ms, resident_id),
        )

    def add_not_match(self, a: str, b: str, *, actor: str, review_id: int | None, now_ms: int) -> None:
        first, second = sorted((a, b))
        self.conn.execute(
            "INSERT OR IGNORE INTO mpi_not_match (record_a, record_b, created_ms, actor, review_id) "
            "VALUES (?,?,?,?,?)",
            (first, second, now_ms, actor, review_id),
        )

    def add_audit(
        self,
        action: str,
        *,
        actor: str,
        reason: str,
        before: dict[str, str | None],
        after: dict[str, str | None],
        now_ms: int,
        resident_id: str | None = None,
        master_id: str | None = None,
        other_master_id: str | None = None,
        review_id: int | None = None,
        undoes: int | None = None,
    ) -> AuditEntry:
        cur = self.conn.execute(
            "INSERT INTO mpi_audit (at_ms, action, actor, reason, resident_id, master_id, other_master_id, "
            "review_id, before, after, undoes) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                now_ms,
                action,
                actor,
                reason,
                resident_id,
                master_id,
                other_master_id,
                review_id,
                json.dumps(before, sort_keys=True),
                json.dumps(after, sort_keys=True),
                undoes,
            ),
        )
        assert cur.lastrowid is not None
        if undoes is not None:
            self.conn.execute("UPDATE mpi_audit SET undone_by = ? WHERE id = ?", (cur.lastrowid, undoes))
        entry = self.audit_entry(cur.lastrowid)
        assert entry is not None
        return entry

    def add_referral(self, resident_id: str, node_id: str, record_id: str, now_ms: int) -> bool:
        """Note that a resident was referred to a node; False if it was before."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO referrals (resident_id, node_id, record_id, created_ms) VALUES (?,?,?,?)",
            (resident_id, node_id, record_id, now_ms),
        )
        return cur.rowcount == 1

    def announce(self, node_id: str, about: str) -> bool:
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO announced (node_id, about) VALUES (?, ?)", (node_id, about)
        )
        return cur.rowcount == 1

    def add_sensitive(self, value: str, kind: str, *, by: str, now_ms: int) -> bool:
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO sensitive (value, kind, added_ms, added_by) VALUES (?,?,?,?)",
            (value, kind, now_ms, by),
        )
        return cur.rowcount == 1

    def remove_sensitive(self, value: str) -> bool:
        return self.conn.execute("DELETE FROM sensitive WHERE value = ?", (value,)).rowcount == 1

    def log_access(
        self,
        *,
        node_id: str,
        user: str,
        action: str,
        reason: str,
        now_ms: int,
        master_id: str | None = None,
        resident_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO access_log (at_ms, node_id, user, action, master_id, resident_id, reason, detail) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                now_ms,
                node_id,
                user,
                action,
                master_id,
                resident_id,
                reason,
                None if detail is None else json.dumps(detail, ensure_ascii=False, sort_keys=True),
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid
