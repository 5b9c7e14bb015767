"""Records pulled from the hub: stored read-only, linked, and merged into local demographics.

Rules:
1. A pulled record keeps its author and gets no outbox entry: only this
   node's own records are pushed.
2. A record id is stored once; a second copy with other content is a faulty
   writer (``sync.ConflictingCopy``).
3. Pulled demographics of a linked resident merge per field (``sync.merge_field``)
   with stamps clamped to this clock; a local change the hub has not yet
   acknowledged is never overwritten (kept, the other value goes to history).
4. An unlink (the hub's operator separated two registrations) removes the
   link; the records stay (read-only, no longer shown with the resident) and
   every demographic field the other resident had set goes back to the best
   value left, from this clinic or a resident still linked (history keeps all).
5. The hub's directory (node id → clinic code and name) is kept in
   ``sync_state``, so shared records show the clinic they came from.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from typing import TYPE_CHECKING, Any

import schemas
from schemas import RecordEnvelope, RecordInvalid, Status
from sync import ClockDrift, FieldVersion, Stamp, clamp_stamp, merge_field, same_fact

from . import _search
from ._rows import RECORD_COLUMNS, ReadOnlyRecord, dumps, envelope_of

if TYPE_CHECKING:
    from ._store import Writer

__all__ = ["apply_link", "apply_remote", "clinic_directory", "remove_links", "save_directory"]

# How far ahead of this clock a remote stamp may count in a merge.
REMOTE_CLOCK_LIMIT_MS = 5 * 60_000
# Fields that name this clinic's own residents and households: never merged across clinics.
_CLINIC_LOCAL_FIELDS = frozenset({"family"})


def apply_remote(w: Writer, env: RecordEnvelope) -> bool:
    """Store a record written at another clinic; False if this exact record is already held.

    The record keeps its author (read-only here) and gets no outbox entry. A
    second copy with the same id and different content raises
    ``sync.ConflictingCopy``; a type or schema version this software does not
    know raises ``schemas.SchemaError`` (the caller keeps the record to retry).
    """
    row = w.conn.execute(f"SELECT {RECORD_COLUMNS} FROM records WHERE id = ?", (env.id,)).fetchone()
    if row is not None:
        same_fact(envelope_of(row).as_dict(), env.as_dict())
        return False
    if env.author == w.store.node_id:
        raise ReadOnlyRecord(
            f"record {env.id} claims to be written on this node but is not in its database; "
            "this node may have been restored from an old backup"
        )
    schemas.validate(env.type, env.data, version=env.v)
    # A clock running ahead must not drag ours along; its stamps are clamped when merged.
    with contextlib.suppress(ClockDrift):
        w.store.clock.observe(Stamp.unpack(env.hlc), w.store._wall_ms())
    w._append(env)
    superseded_by = w.conn.execute("SELECT 1 FROM records WHERE supersedes = ? LIMIT 1", (env.id,)).fetchone()
    if superseded_by is not None:  # its correction arrived first
        w.conn.execute("UPDATE records SET is_current = 0 WHERE id = ?", (env.id,))
    rows = w.conn.execute("SELECT resident_id FROM links WHERE remote_resident_id = ?", (env.resident_id,))
    linked = [r[0] for r in rows]
    for local_id in linked:
        if env.type == "resident":
            _merge_remote_demographics(w, local_id, env)
        elif env.type == "death":
            # A death recorded at another clinic ends the record here too (and a retraction reopens it).
            died = None if env.status is Status.ENTERED_IN_ERROR else env.effective[:10]
            w.conn.execute("UPDATE residents SET deceased_on = ? WHERE id = ?", (died, local_id))
    return True


def apply_link(
    w: Writer, resident_id: str, remote: list[tuple[str, str | None]], *, master_id: str | None
) -> int:
    """Link a local resident to the same person's residents at other clinics; returns links added.

    Demographics already pulled about a newly linked remote resident are merged now.
    """
    added = 0
    for remote_id, remote_node in remote:
        if remote_id == resident_id:
            continue
        exists = w.conn.execute(
            "SELECT 1 FROM links WHERE resident_id = ? AND remote_resident_id = ?",
            (resident_id, remote_id),
        ).fetchone()
        w.conn.execute(
            "INSERT INTO links (resident_id, master_id, remote_resident_id, remote_node) "
            "VALUES (?,?,?,?) ON CONFLICT (resident_id, remote_resident_id) "
            "DO UPDATE SET master_id = excluded.master_id, "
            "remote_node = coalesce(excluded.remote_node, remote_node)",
            (resident_id, master_id, remote_id, remote_node),
        )
        if exists is not None:
            continue
        added += 1
        rows = w.conn.execute(
            f"SELECT {RECORD_COLUMNS} FROM records WHERE type = 'resident' AND resident_id = ? "
            "ORDER BY hlc, id",
            (remote_id,),
        ).fetchall()
        for r in rows:
            _merge_remote_demographics(w, resident_id, envelope_of(r))
    return added


def _unacknowledged(w: Writer, record_id: str) -> bool:
    """True for a record of this node that the hub has not acknowledged holding."""
    row = w.conn.execute(
        "SELECT shipped_seq, (SELECT CAST(value AS INTEGER) FROM sync_state WHERE key = 'hub_seq') "
        "FROM outbox WHERE record_id = ?",
        (record_id,),
    ).fetchone()
    if row is None:
        return False
    shipped, acked = row
    return shipped is None or shipped > (acked or 0)


def _merge_remote_demographics(w: Writer, local_id: str, env: RecordEnvelope) -> None:
    """Merge a pulled resident version into a linked local resident, field by field."""
    row = w.conn.execute("SELECT data, updated_hlc FROM residents WHERE id = ?", (local_id,)).fetchone()
    if row is None:
        return
    current, updated_hlc = json.loads(row[0]), row[1]
    body = schemas.validate("resident", env.data, version=env.v)
    fields = schemas.fields_set("resident", env.changed, env.data, body)
    hlc = clamp_stamp(env.hlc, w.store._wall_ms(), REMOTE_CLOCK_LIMIT_MS)
    merged = dict(current)
    wins: list[tuple[str, bool]] = []  # (field, the value it replaces was a conflict)
    losses: list[tuple[str, str]] = []  # (field, outcome)
    for field in fields:
        if field in _CLINIC_LOCAL_FIELDS:
            continue
        seen = w.conn.execute(
            "SELECT 1 FROM resident_field_history WHERE resident_id = ? AND field = ? AND record_id = ?",
            (local_id, field, env.id),
        ).fetchone()
        if seen is not None:
            continue  # merged before (a replay after a new link)
        value = body.get(field)
        held = w.conn.execute(
            "SELECT hlc, author, record_id FROM resident_fields WHERE resident_id = ? AND field = ?",
            (local_id, field),
        ).fetchone()
        mine = FieldVersion(current.get(field), *held) if held else None
        incoming = FieldVersion(value, hlc, env.author, env.id, based_on=env.supersedes)
        if mine is not None and _unacknowledged(w, mine.record_id):
            # A local change the hub has not got yet is never overwritten: keep it, log the other.
            losses.append((field, "conflict" if value != mine.value else "superseded"))
            continue
        result = merge_field(mine, incoming)
        if result.changed:
            merged[field] = value
            wins.append((field, result.conflict))
        elif result.loser is not None:
            losses.append((field, "conflict" if result.conflict else "superseded"))
    merged = {k: v for k, v in merged.items() if v is not None}
    if wins:
        try:
            merged = schemas.validate("resident", merged)
            w._refuse_taken_identifiers(merged, resident_id=local_id)
        except RecordInvalid:
            # The merged whole would be invalid (or take another resident's number): keep ours.
            losses += [(field, "conflict") for field, _ in wins]
            wins = []
    for field, outcome in losses:
        _remote_history(w, local_id, field, body.get(field), env, outcome=outcome)
    if not wins:
        return
    for field, conflict in wins:
        replaced = "conflict" if conflict else "superseded"
        w._track_field(local_id, field, body.get(field), env, stamp=hlc, replaced=replaced)
    w._write_resident_row(local_id, merged, max(hlc, updated_hlc), registered=False)
    _search.index_resident(w.conn, local_id, merged)


def _remote_history(
    w: Writer, local_id: str, field: str, value: Any, env: RecordEnvelope, *, outcome: str
) -> None:
    w.conn.execute(
        "INSERT INTO resident_field_history "
        "(resident_id, field, value, hlc, author, record_id, outcome) VALUES (?,?,?,?,?,?,?)",
        (
            local_id,
            field,
            dumps(value) if value is not None else None,
            env.hlc,
            env.author,
            env.id,
            outcome,
        ),
    )


def remove_links(w: Writer, resident_id: str, remote_ids: list[str]) -> int:
    """Unlink a resident from other clinics' residents (rule 4); returns the links removed."""
    gone = [
        r
        for r in remote_ids
        if w.conn.execute(
            "DELETE FROM links WHERE resident_id = ? AND remote_resident_id = ?", (resident_id, r)
        ).rowcount
    ]
    if gone and w.conn.execute("SELECT 1 FROM residents WHERE id = ?", (resident_id,)).fetchone():
        _revert_fields(w, resident_id, gone)
    return len(gone)


def _revert_fields(w: Writer, local_id: str, gone: list[str]) -> None:
    marks = ",".join("?" * len(gone))
    fields = [
        r[0]
        for r in w.conn.execute(
            "SELECT f.field FROM resident_fields f JOIN records r ON r.id = f.record_id "
            f"WHERE f.resident_id = ? AND r.resident_id IN ({marks})",
            [local_id, *gone],
        )
    ]
    if not fields:
        return
    # The best version left of each field: from this clinic or a resident still linked.
    best: dict[str, tuple[int, str | None, int, str, str] | None] = {
        field: w.conn.execute(
            "SELECT h.id, h.value, h.hlc, h.author, h.record_id FROM resident_field_history h "
            "JOIN records r ON r.id = h.record_id "
            f"WHERE h.resident_id = ? AND h.field = ? AND r.resident_id NOT IN ({marks}) "
            "AND h.outcome != 'unlinked' ORDER BY h.hlc DESC, h.author DESC, h.id DESC LIMIT 1",
            [local_id, field, *gone],
        ).fetchone()
        for field in fields
    }
    row = w.conn.execute("SELECT data, updated_hlc FROM residents WHERE id = ?", (local_id,)).fetchone()
    reverted = dict(json.loads(row[0]))
    for field, version in best.items():
        reverted[field] = None if version is None or version[1] is None else json.loads(version[1])
    try:
        body = schemas.validate("resident", {k: v for k, v in reverted.items() if v is not None})
    except RecordInvalid:
        return  # what is left would not make a valid resident: keep what is shown; history has all
    for field, version in best.items():
        w.conn.execute(
            "UPDATE resident_field_history SET outcome = 'unlinked' WHERE resident_id = ? AND field = ? "
            f"AND record_id IN (SELECT id FROM records WHERE resident_id IN ({marks}))",
            [local_id, field, *gone],
        )
        if version is None:
            w.conn.execute(
                "DELETE FROM resident_fields WHERE resident_id = ? AND field = ?", (local_id, field)
            )
            continue
        w.conn.execute("UPDATE resident_field_history SET outcome = 'current' WHERE id = ?", (version[0],))
        w.conn.execute(
            "INSERT OR REPLACE INTO resident_fields (resident_id, field, hlc, author, record_id) "
            "VALUES (?,?,?,?,?)",
            (local_id, field, version[2], version[3], version[4]),
        )
    w._write_resident_row(local_id, body, row[1], registered=False)
    _search.index_resident(w.conn, local_id, body)


_DIRECTORY_KEY = "directory"


def save_directory(conn: sqlite3.Connection, entries: list[dict[str, Any]]) -> None:
    """Keep the clinics the hub named (rule 5): ``{"node_id", "clinic", "name"}`` each."""
    known = clinic_directory(conn)
    for entry in entries:
        node, clinic, name = entry.get("node_id"), entry.get("clinic"), entry.get("name")
        if not (isinstance(node, str) and isinstance(clinic, str) and isinstance(name, str)):
            raise ValueError("a directory entry lacks node_id, clinic or name")
        known[node] = {"clinic": clinic, "name": name}
    conn.execute(
        "INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)", (_DIRECTORY_KEY, dumps(known))
    )


def clinic_directory(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """Node id → ``{"clinic", "name"}`` of every clinic the hub named to this node."""
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (_DIRECTORY_KEY,)).fetchone()
    value: dict[str, dict[str, str]] = json.loads(row[0]) if row and row[0] else {}
    return value
