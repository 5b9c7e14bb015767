"""Records pulled from the hub: stored read-only, linked, and merged into local demographics.

Rules:
1. A pulled record keeps its author and gets no outbox entry: only this
   node's own records are pushed.
2. A record id is stored once; a second copy with other content is a faulty
   writer (``sync.ConflictingCopy``).
3. Pulled demographics of a linked resident merge per field (``sync.merge_field``)
   with stamps clamped to this clock; a local change the hub has not yet
   acknowledged is never overwritten (kept, the other value goes to history).
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import schemas
from schemas import RecordEnvelope, RecordInvalid, Status
from sync import ClockDrift, FieldVersion, Stamp, clamp_stamp, merge_field, same_fact

from . import _search
from ._rows import RECORD_COLUMNS, ReadOnlyRecord, dumps, envelope_of

if TYPE_CHECKING:
    from ._store import Writer

__all__ = ["apply_link", "apply_remote"]

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
