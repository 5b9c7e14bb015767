"""The clinic's record store: the one layer every write goes through.

Rules:
1. Every write runs in one ``BEGIN IMMEDIATE`` transaction that stores the
   record *and* appends it to the outbox. A record authored here without its
   outbox entry, or the reverse, cannot exist.
2. Records are never updated in place. A clinical correction is a new version
   (same ``fact_id``, ``supersedes`` the old id); the old row only loses its
   ``is_current`` flag. Demographics change per field; every value a field
   ever had stays in ``resident_field_history``.
3. Ids (UUIDv7), HLC stamps and the calendar come from callables given to the
   store, so tests can pin them.
4. Records written at another clinic (pulled from the hub) are read-only here.
   They enter through ``Writer.apply_remote`` only, with no outbox entry, once
   per record id. A pulled demographic value is merged per field
   (``sync.merge_field``) into the local residents it is linked to, but never
   overwrites a local change the hub has not acknowledged yet.
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

import schemas
from schemas import FieldError, Kind, RecordEnvelope, RecordInvalid, Status
from sync import HybridClock, Stamp

from . import _remote, _search
from ._db import Database
from ._duplicates import DuplicateCandidate, likely_duplicates
from ._rows import RECORD_COLUMNS, NotFound, ReadOnlyRecord, StoreError, dumps, envelope_of

__all__ = ["NodeStore", "NotFound", "ReadOnlyRecord", "Registration", "StoreError", "Writer"]


@dataclass(frozen=True)
class Registration:
    envelope: RecordEnvelope
    duplicates: list[DuplicateCandidate]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _uuid7() -> str:
    return str(uuid6.uuid7())


class NodeStore:
    """A node's records, residents and outbox on one SQLite database."""

    def __init__(
        self,
        db: Database,
        *,
        node_id: str,
        wall_ms: Callable[[], int] = _wall_ms,
        new_id: Callable[[], str] = _uuid7,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.db = db
        self.node_id = node_id
        self._wall_ms = wall_ms
        self._new_id = new_id
        self._today = today or (lambda: dt.datetime.fromtimestamp(wall_ms() / 1000).date())
        last = db.writer.execute("SELECT max(hlc) FROM records WHERE author = ?", (node_id,)).fetchone()[0]
        self.clock = HybridClock(Stamp.unpack(last) if last else None)

    # -- writing ---------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Writer]:
        """Several writes in one transaction (a whole visit, a bulk load)."""
        with self.db.write() as conn:
            yield Writer(self, conn)

    def register_resident(self, data: dict[str, Any], *, user: str) -> Registration:
        with self.transaction() as w:
            return w.register_resident(data, user=user)

    def update_resident(
        self, resident_id: str, changes: dict[str, Any], *, user: str
    ) -> RecordEnvelope | None:
        with self.transaction() as w:
            return w.update_resident(resident_id, changes, user=user)

    def add_record(self, resident_id: str, type_: str, data: dict[str, Any], *, user: str) -> RecordEnvelope:
        with self.transaction() as w:
            return w.add_record(resident_id, type_, data, user=user)

    def correct(self, record_id: str, data: dict[str, Any], *, user: str, reason: str) -> RecordEnvelope:
        with self.transaction() as w:
            return w.correct(record_id, data, user=user, reason=reason)

    def mark_entered_in_error(self, record_id: str, *, user: str, reason: str) -> RecordEnvelope:
        with self.transaction() as w:
            return w.mark_entered_in_error(record_id, user=user, reason=reason)

    # -- reading ---------------------------------------------------------------

    def _read(self) -> sqlite3.Connection:
        return self.db.reader()

    def resident(self, resident_id: str) -> dict[str, Any]:
        row = (
            self._read()
            .execute(
                "SELECT id, data, deceased_on, registered_hlc, updated_hlc FROM residents WHERE id = ?",
                (resident_id,),
            )
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no resident {resident_id} on this node")
        return {
            "id": row[0],
            **json.loads(row[1]),
            "deceased_on": row[2],
            "registered_hlc": row[3],
            "updated_hlc": row[4],
        }

    def resident_summaries(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = (
            self._read()
            .execute(
                "SELECT id, name, sex, birth_date, id_number, card_number, phone, division_code, deceased_on "
                f"FROM residents WHERE id IN ({marks})",
                ids,
            )
            .fetchall()
        )
        by_id = {
            r[0]: {
                "id": r[0],
                "name": r[1],
                "sex": r[2],
                "birth_date": r[3],
                "id_number": r[4],
                "card_number": r[5],
                "phone": r[6],
                "division_code": r[7],
                "deceased_on": r[8],
            }
            for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def search(self, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        hits = _search.find(self._read(), query, limit=limit)
        summaries = {s["id"]: s for s in self.resident_summaries([h.resident_id for h in hits])}
        return [
            {**summaries[h.resident_id], "matched": h.matched, "exact": h.exact}
            for h in hits
            if h.resident_id in summaries
        ]

    def record(self, record_id: str) -> RecordEnvelope:
        row = (
            self._read()
            .execute(f"SELECT {RECORD_COLUMNS} FROM records WHERE id = ?", (record_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no record {record_id} on this node")
        return envelope_of(row)

    def versions(self, fact_id: str) -> list[RecordEnvelope]:
        rows = (
            self._read()
            .execute(f"SELECT {RECORD_COLUMNS} FROM records WHERE fact_id = ? ORDER BY hlc, id", (fact_id,))
            .fetchall()
        )
        return [envelope_of(r) for r in rows]

    def records_of(
        self,
        resident_id: str,
        *,
        types: list[str] | None = None,
        current_only: bool = True,
    ) -> list[RecordEnvelope]:
        # A resident's records include those pulled about the residents linked to it at other clinics.
        # One IN list (not "= ? OR IN"), so SQLite searches records_resident (resident, type) even
        # when types are given, instead of scanning every resident's records of those types.
        sql = (
            f"SELECT {RECORD_COLUMNS} FROM records WHERE resident_id IN "
            "(SELECT ? UNION ALL SELECT remote_resident_id FROM links WHERE resident_id = ?) "
            "AND type != 'resident'"
        )
        args: list[Any] = [resident_id, resident_id]
        if current_only:
            sql += " AND is_current = 1"
        if types is not None:
            sql += f" AND type IN ({','.join('?' * len(types))})"
            args += types
        sql += " ORDER BY effective, hlc"
        return [envelope_of(r) for r in self._read().execute(sql, args)]

    def field_history(self, resident_id: str) -> list[dict[str, Any]]:
        rows = (
            self._read()
            .execute(
                "SELECT h.field, h.value, h.hlc, h.author, h.record_id, h.outcome, r.recorded_by "
                "FROM resident_field_history h JOIN records r ON r.id = h.record_id "
                "WHERE h.resident_id = ? ORDER BY h.field, h.hlc",
                (resident_id,),
            )
            .fetchall()
        )
        return [
            {
                "field": f,
                "value": json.loads(v) if v is not None else None,
                "hlc": hlc,
                "author": a,
                "record_id": rid,
                "outcome": o,
                "recorded_by": by,
            }
            for f, v, hlc, a, rid, o, by in rows
        ]

    def duplicate_flags(self, resident_id: str) -> list[dict[str, Any]]:
        rows = (
            self._read()
            .execute(
                "SELECT other_id, score, reasons, status, flagged_at FROM duplicate_flags "
                "WHERE resident_id = ? ORDER BY score DESC",
                (resident_id,),
            )
            .fetchall()
        )
        return [
            {"other_id": o, "score": s, "reasons": json.loads(r), "status": st, "flagged_at": at}
            for o, s, r, st, at in rows
        ]

    def outbox_pending(self) -> int:
        row = self._read().execute("SELECT count(*) FROM outbox WHERE shipped_seq IS NULL").fetchone()
        return int(row[0])

    def counts(self) -> dict[str, int]:
        conn = self._read()
        return {
            "residents": conn.execute("SELECT count(*) FROM residents").fetchone()[0],
            "records": conn.execute("SELECT count(*) FROM records").fetchone()[0],
            "outbox_pending": self.outbox_pending(),
        }


class Writer:
    """Writes inside one open transaction. Obtain through ``NodeStore.transaction``."""

    def __init__(self, store: NodeStore, conn: sqlite3.Connection) -> None:
        self.store = store
        self.conn = conn

    # -- the one place records enter the database -------------------------------

    def _append(self, env: RecordEnvelope) -> RecordEnvelope:
        self.conn.execute(
            f"INSERT INTO records ({RECORD_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                env.id,
                env.fact_id,
                env.type,
                env.v,
                env.resident_id,
                env.author,
                env.hlc,
                env.effective,
                str(env.status),
                env.supersedes,
                env.recorded_by,
                env.reason,
                dumps(list(env.changed)) if env.changed is not None else None,
                dumps(env.data),
            ),
        )
        if env.supersedes is not None:
            self.conn.execute("UPDATE records SET is_current = 0 WHERE id = ?", (env.supersedes,))
        if env.author == self.store.node_id:
            self.conn.execute("INSERT INTO outbox (record_id) VALUES (?)", (env.id,))
        return env

    def _stamp(self) -> int:
        return self.store.clock.now(self.store._wall_ms()).pack()

    def _new(
        self,
        type_: str,
        resident_id: str | None,
        data: dict[str, Any],
        *,
        user: str,
        fact_id: str | None = None,
        status: Status = Status.FINAL,
        supersedes: str | None = None,
        reason: str | None = None,
        changed: tuple[str, ...] | None = None,
    ) -> RecordEnvelope:
        rt = schemas.record_type(type_)
        rid = self.store._new_id()
        return RecordEnvelope(
            id=rid,
            fact_id=fact_id or rid,
            type=type_,
            v=rt.version,
            resident_id=resident_id or rid,
            author=self.store.node_id,
            hlc=self._stamp(),
            effective=str(data.get(rt.date_field) or self.store._today().isoformat()),
            data=data,
            status=status,
            supersedes=supersedes,
            recorded_by=user,
            reason=reason,
            changed=changed,
        )

    # -- residents -----------------------------------------------------------

    def register_resident(self, data: dict[str, Any], *, user: str) -> Registration:
        body = schemas.validate("resident", data, today=self.store._today())
        self._refuse_taken_identifiers(body, resident_id=None)
        env = self._new("resident", None, body, user=user, changed=tuple(sorted(body)))
        duplicates = likely_duplicates(self.conn, body)
        self._append(env)
        self._write_resident_row(env.id, body, env.hlc, registered=True)
        for field in sorted(body):
            self._track_field(env.id, field, body[field], env)
        _search.index_resident(self.conn, env.id, body)
        now = dt.datetime.fromtimestamp(self.store._wall_ms() / 1000, dt.UTC).isoformat(timespec="seconds")
        for cand in duplicates:
            for a, b in ((env.id, cand.resident_id), (cand.resident_id, env.id)):
                self.conn.execute(
                    "INSERT OR IGNORE INTO duplicate_flags "
                    "(resident_id, other_id, score, reasons, flagged_at) "
                    "VALUES (?,?,?,?,?)",
                    (a, b, cand.score, dumps(list(cand.reasons)), now),
                )
        return Registration(env, duplicates)

    def update_resident(
        self, resident_id: str, changes: dict[str, Any], *, user: str
    ) -> RecordEnvelope | None:
        """Change demographic fields; ``None`` as a value clears a field. Returns None if nothing changed."""
        if not isinstance(changes, dict) or not changes:
            raise RecordInvalid([FieldError("", "give at least one field to change")], record_type="resident")
        row = self.conn.execute("SELECT data FROM residents WHERE id = ?", (resident_id,)).fetchone()
        if row is None:
            raise NotFound(f"no resident {resident_id} on this node")
        current = json.loads(row[0])
        merged = {**current, **changes}
        merged = {k: v for k, v in merged.items() if v is not None}
        body = schemas.validate("resident", merged, today=self.store._today())
        changed = tuple(sorted(f for f in set(body) | set(current) if body.get(f) != current.get(f)))
        if not changed:
            return None
        self._refuse_taken_identifiers(body, resident_id=resident_id)
        previous = self.conn.execute(
            "SELECT id FROM records WHERE fact_id = ? AND is_current = 1", (resident_id,)
        ).fetchone()
        env = self._new(
            "resident",
            resident_id,
            body,
            user=user,
            fact_id=resident_id,
            status=Status.AMENDED,
            supersedes=previous[0] if previous else None,
            changed=changed,
        )
        self._append(env)
        self._write_resident_row(resident_id, body, env.hlc, registered=False)
        for field in changed:
            self._track_field(resident_id, field, body.get(field), env)
        _search.index_resident(self.conn, resident_id, body)
        return env

    def _track_field(
        self,
        resident_id: str,
        field: str,
        value: Any,
        env: RecordEnvelope,
        *,
        stamp: int | None = None,
        replaced: str = "superseded",
    ) -> None:
        """Make ``value`` (set by ``env``) current for ``field``; the value it replaces becomes ``replaced``.

        History keeps the writer's stamp; ``resident_fields`` keeps the stamp merges compare
        (``stamp``: a pulled one clamped to this clock).
        """
        self.conn.execute(
            "UPDATE resident_field_history SET outcome = ? "
            "WHERE resident_id = ? AND field = ? AND outcome = 'current'",
            (replaced, resident_id, field),
        )
        self.conn.execute(
            "INSERT INTO resident_field_history (resident_id, field, value, hlc, author, record_id, outcome) "
            "VALUES (?,?,?,?,?,?, 'current')",
            (resident_id, field, dumps(value) if value is not None else None, env.hlc, env.author, env.id),
        )
        self.conn.execute(
            "INSERT OR REPLACE INTO resident_fields (resident_id, field, hlc, author, record_id) "
            "VALUES (?,?,?,?,?)",
            (resident_id, field, env.hlc if stamp is None else stamp, env.author, env.id),
        )

    def _write_resident_row(
        self, resident_id: str, body: dict[str, Any], hlc: int, *, registered: bool
    ) -> None:
        address = body.get("address") or {}
        family = body.get("family") or {}
        values = (
            body["name"],
            body["sex"],
            body["birth_date"],
            body.get("id_number"),
            body.get("card_number"),
            body.get("phone"),
            address.get("division_code"),
            family.get("household_id"),
            family.get("mother_id"),
            dumps(body),
        )
        if registered:
            self.conn.execute(
                "INSERT INTO residents (name, sex, birth_date, id_number, card_number, phone, division_code, "
                "household_id, mother_id, data, id, registered_hlc, updated_hlc) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*values, resident_id, hlc, hlc),
            )
        else:
            self.conn.execute(
                "UPDATE residents SET name=?, sex=?, birth_date=?, id_number=?, card_number=?, phone=?, "
                "division_code=?, household_id=?, mother_id=?, data=?, updated_hlc=? WHERE id=?",
                (*values, hlc, resident_id),
            )

    def _refuse_taken_identifiers(self, body: dict[str, Any], *, resident_id: str | None) -> None:
        errors = []
        for field in ("id_number", "card_number"):
            value = body.get(field)
            if not value:
                continue
            row = self.conn.execute(
                f"SELECT id, name FROM residents WHERE {field} = ? AND id IS NOT ?", (value, resident_id)
            ).fetchone()
            if row is not None:
                errors.append(FieldError(field, f"{value} is already registered to resident {row[0]}"))
        if errors:
            raise RecordInvalid(errors, record_type="resident")

    # -- clinical facts --------------------------------------------------------

    def add_record(self, resident_id: str, type_: str, data: dict[str, Any], *, user: str) -> RecordEnvelope:
        rt = schemas.record_type(type_)
        if rt.kind is not Kind.CLINICAL:
            raise RecordInvalid(
                [FieldError("type", f"{type_} is demographic: change it through the resident")],
                record_type=type_,
            )
        body = schemas.validate(type_, data, today=self.store._today())
        row = self.conn.execute("SELECT deceased_on FROM residents WHERE id = ?", (resident_id,)).fetchone()
        if row is None:
            raise NotFound(f"no resident {resident_id} on this node")
        if type_ == "death" and row[0] is not None:
            raise RecordInvalid(
                [FieldError("type", f"a death is already recorded for this resident on {row[0]}")],
                record_type=type_,
            )
        env = self._append(self._new(type_, resident_id, body, user=user))
        if type_ == "death":
            self.conn.execute(
                "UPDATE residents SET deceased_on = ? WHERE id = ?", (env.effective[:10], resident_id)
            )
        return env

    def _current_clinical(self, record_id: str) -> RecordEnvelope:
        row = self.conn.execute(
            f"SELECT {RECORD_COLUMNS}, is_current FROM records WHERE id = ?", (record_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no record {record_id} on this node")
        env = envelope_of(row[:-1])
        if env.type == "resident":
            raise ReadOnlyRecord("demographics are changed field by field, not corrected as a record")
        if not row[-1]:
            raise ReadOnlyRecord(f"record {record_id} has been superseded; correct its latest version")
        if env.status is Status.ENTERED_IN_ERROR:
            raise ReadOnlyRecord(f"record {record_id} is marked entered-in-error")
        if env.author != self.store.node_id:
            raise ReadOnlyRecord(
                f"record {record_id} was written at another clinic ({env.author}); correct it there"
            )
        return env

    def correct(self, record_id: str, data: dict[str, Any], *, user: str, reason: str) -> RecordEnvelope:
        old = self._current_clinical(record_id)
        if not reason or not reason.strip():
            raise RecordInvalid(
                [FieldError("reason", "say why the record is corrected")], record_type=old.type
            )
        body = schemas.validate(old.type, data, today=self.store._today())
        env = self._new(
            old.type,
            old.resident_id,
            body,
            user=user,
            fact_id=old.fact_id,
            status=Status.AMENDED,
            supersedes=old.id,
            reason=reason.strip(),
        )
        return self._append(env)

    def mark_entered_in_error(self, record_id: str, *, user: str, reason: str) -> RecordEnvelope:
        old = self._current_clinical(record_id)
        if not reason or not reason.strip():
            raise RecordInvalid(
                [FieldError("reason", "say why the record was entered in error")], record_type=old.type
            )
        env = self._new(
            old.type,
            old.resident_id,
            old.data,
            user=user,
            fact_id=old.fact_id,
            status=Status.ENTERED_IN_ERROR,
            supersedes=old.id,
            reason=reason.strip(),
        )
        self._append(env)
        if old.type == "death":
            self.conn.execute("UPDATE residents SET deceased_on = NULL WHERE id = ?", (old.resident_id,))
        return env

    # -- records pulled from the hub (see _remote) ---------------------------------

    def apply_remote(self, env: RecordEnvelope) -> bool:
        """Store a record written at another clinic; False if already held (see ``_remote``)."""
        return _remote.apply_remote(self, env)

    def apply_link(
        self, resident_id: str, remote: list[tuple[str, str | None]], *, master_id: str | None
    ) -> int:
        """Link a local resident to the same person's residents elsewhere; returns links added."""
        return _remote.apply_link(self, resident_id, remote, master_id=master_id)
