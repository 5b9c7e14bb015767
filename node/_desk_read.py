"""Reading the desk's records: a visit and its state, the day's queue, numbers, this year's insurance use.

Rules:
1. Every function reads through the connection it is given: the writer's
   inside a write transaction (so a check and the write it guards see the same
   data), a reader's otherwise.
2. A visit's state is never stored: it is ``schemas.fold_visit`` of the
   visit's records, read fresh each time, so what a node shows is what the
   hub would rebuild from the same records.
3. The queue is this node's own: visits authored here, by day and department.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

import schemas
from schemas import RecordEnvelope, VisitState, YearToDate

from ._rows import RECORD_COLUMNS, NotFound, StoreError, envelope_of

__all__ = [
    "DeskConflict",
    "day_visits",
    "exam_worklist",
    "find_card_holder",
    "is_provisional",
    "load_visit",
    "next_queue_number",
    "next_receipt_number",
    "order_visit",
    "queue_entry",
    "resident_visits",
    "visit_records",
    "year_to_date",
]


class DeskConflict(StoreError):
    """A step the visit's state does not allow now (unpaid, dispensed …); ``field`` names the cause."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


def _day_range(day: dt.date) -> tuple[str, str]:
    return day.isoformat(), (day + dt.timedelta(days=1)).isoformat()


def visit_records(conn: sqlite3.Connection, visit_id: str) -> list[RecordEnvelope]:
    """The visit's registration, every record naming it, and the facts its steps name (all versions)."""
    row = conn.execute(
        f"SELECT {RECORD_COLUMNS} FROM records WHERE fact_id = ? AND type = 'visit'", (visit_id,)
    ).fetchall()
    if not row:
        raise NotFound(f"no visit {visit_id} on this node")
    visits = [envelope_of(r) for r in row]
    first = visits[0]
    marks = ",".join("?" * len(schemas.VISIT_TYPES))
    own = [
        envelope_of(r)
        for r in conn.execute(
            f"SELECT {RECORD_COLUMNS} FROM records WHERE resident_id = ? AND type IN ({marks}) "
            "AND effective >= ? AND json_extract(data, '$.visit_id') = ?",
            (first.resident_id, *schemas.VISIT_TYPES, first.effective[:10], visit_id),
        )
    ]
    facts = sorted(schemas.referenced_facts(own))
    named = []
    for i in range(0, len(facts), 500):
        chunk = facts[i : i + 500]
        named += [
            envelope_of(r)
            for r in conn.execute(
                f"SELECT {RECORD_COLUMNS} FROM records WHERE fact_id IN ({','.join('?' * len(chunk))})", chunk
            )
        ]
    return visits + own + named


def load_visit(conn: sqlite3.Connection, visit_id: str) -> VisitState:
    return schemas.fold_visit(visit_records(conn, visit_id))


def order_visit(conn: sqlite3.Connection, order_id: str) -> tuple[RecordEnvelope, str]:
    """An examination order (current version) and the visit it belongs to."""
    row = conn.execute(
        f"SELECT {RECORD_COLUMNS} FROM records WHERE fact_id = ? AND type = 'service_order' "
        "AND is_current = 1",
        (order_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no examination order {order_id} on this node")
    order = envelope_of(row)
    visit_id = order.data.get("visit_id")
    if not visit_id:
        raise DeskConflict("order_id", "this order was not made at a desk visit; record its report directly")
    return order, str(visit_id)


def day_visits(
    conn: sqlite3.Connection, node_id: str, day: dt.date, *, department: str | None = None
) -> list[VisitState]:
    """This node's visits registered on ``day``, by department then queue number."""
    start, end = _day_range(day)
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT fact_id FROM records WHERE type = 'visit' AND author = ? AND effective >= ? "
            "AND effective < ? AND is_current = 1",
            (node_id, start, end),
        )
    ]
    states = [load_visit(conn, vid) for vid in ids]
    if department is not None:
        states = [s for s in states if s.department == department]
    return sorted(states, key=lambda s: (s.department, s.queue_number))


_URGENCY_RANK = {"emergency": 0, "urgent": 1, "routine": 2}


def exam_worklist(
    conn: sqlite3.Connection, node_id: str, since: dt.date, *, kind: str | None = None
) -> list[dict[str, Any]]:
    """Paid examination orders of this node's visits since ``since`` still without a report.

    Emergencies first, then urgent ones, then by day and queue number.
    """
    visit_ids = sorted(
        {
            r[0]
            for r in conn.execute(
                "SELECT json_extract(data, '$.visit_id') FROM records WHERE type = 'service_order' "
                "AND author = ? AND effective >= ? AND is_current = 1",
                (node_id, since.isoformat()),
            )
            if r[0]
        }
    )
    out = []
    for vid in visit_ids:
        state = load_visit(conn, vid)
        for order in state.orders:
            if order.pending and (kind is None or order.kind == kind):
                out.append(
                    {
                        **order.as_json(),
                        "visit_id": vid,
                        "resident_id": state.resident_id,
                        "day": state.day,
                        "queue_number": state.queue_number,
                        "department": state.department,
                    }
                )
    return sorted(out, key=lambda o: (_URGENCY_RANK.get(o["urgency"], 3), o["day"], o["queue_number"]))


def resident_visits(
    conn: sqlite3.Connection, node_id: str, resident_id: str, day: dt.date
) -> list[VisitState]:
    """The resident's visits registered here on ``day``."""
    start, end = _day_range(day)
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT fact_id FROM records WHERE resident_id = ? AND type = 'visit' AND effective >= ? "
            "AND effective < ? AND author = ? AND is_current = 1",
            (resident_id, start, end, node_id),
        )
    ]
    return [load_visit(conn, vid) for vid in ids]


def next_queue_number(conn: sqlite3.Connection, node_id: str, day: dt.date, department: str) -> int:
    start, end = _day_range(day)
    row = conn.execute(
        "SELECT max(json_extract(data, '$.queue_number')) FROM records WHERE type = 'visit' AND author = ? "
        "AND effective >= ? AND effective < ? AND json_extract(data, '$.department') = ?",
        (node_id, start, end, department),
    ).fetchone()
    return int(row[0] or 0) + 1


def next_receipt_number(conn: sqlite3.Connection, node_id: str, clinic: str, day: dt.date) -> str:
    """The clinic's next receipt number of the day (payments and refunds share one sequence)."""
    start, end = _day_range(day)
    row = conn.execute(
        "SELECT count(*) FROM records WHERE type IN ('payment', 'refund') AND author = ? "
        "AND effective >= ? AND effective < ?",
        (node_id, start, end),
    ).fetchone()
    return f"{clinic}-{day.strftime('%Y%m%d')}-{int(row[0]) + 1:05d}"


def _same_person(conn: sqlite3.Connection, resident_id: str) -> list[str]:
    """The resident and the same person's registrations at other clinics (master index links)."""
    linked = [
        r[0]
        for r in conn.execute("SELECT remote_resident_id FROM links WHERE resident_id = ?", (resident_id,))
    ]
    return [resident_id, *linked]


def year_to_date(conn: sqlite3.Connection, resident_id: str, scheme: str, year: int) -> YearToDate:
    """What the resident's settlements under ``scheme`` used in ``year``, as far as this node knows.

    Settlements at other clinics count once they are pulled from the hub; a payment
    reversed by a refund counts for nothing.
    """
    people = _same_person(conn, resident_id)
    marks = ",".join("?" * len(people))
    rows = conn.execute(
        f"SELECT type, fact_id, data FROM records WHERE resident_id IN ({marks}) "
        "AND type IN ('payment', 'refund') AND effective >= ? AND effective < ?",
        (*people, f"{year}-01-01", f"{year + 1}-01-01"),
    ).fetchall()
    reversed_ids = {json.loads(d)["payment_id"] for t, _, d in rows if t == "refund"}
    deductible = insurance = 0
    for t, fact, d in rows:
        if t != "payment" or fact in reversed_ids:
            continue
        s: dict[str, Any] = json.loads(d)["settlement"]
        if s["scheme"] == scheme:
            deductible += s["deductible_fen"]
            insurance += s["insurance_fen"]
    return YearToDate(deductible_met_fen=deductible, insurance_paid_fen=insurance)


def find_card_holder(conn: sqlite3.Connection, id_number: str, card_number: str) -> str | None:
    """The resident holding this identity number, else this card number (both stored upper-case)."""
    for column, value in (("id_number", id_number.upper()), ("card_number", card_number.upper())):
        if not value:
            continue
        row = conn.execute(f"SELECT id FROM residents WHERE {column} = ?", (value,)).fetchone()
        if row is not None:
            return str(row[0])
    return None


def is_provisional(conn: sqlite3.Connection, resident_id: str) -> bool:
    """Registered here from a health card alone and not yet linked by the hub's master index."""
    card = conn.execute(
        "SELECT 1 FROM records WHERE resident_id = ? AND type = 'card_registration' LIMIT 1", (resident_id,)
    ).fetchone()
    if card is None:
        return False
    linked = conn.execute(
        "SELECT 1 FROM links WHERE resident_id = ? AND master_id IS NOT NULL LIMIT 1", (resident_id,)
    ).fetchone()
    return linked is None


def _minutes(since: str, until: dt.datetime) -> int:
    start = dt.datetime.fromisoformat(since).replace(tzinfo=None)
    return max(0, int((until - start).total_seconds() // 60))


def queue_entry(state: VisitState, resident: dict[str, Any] | None, now: dt.datetime) -> dict[str, Any]:
    """One line of a workstation's queue: who, which number, which step, how long."""
    waiting = None
    if state.called_at:
        waiting = _minutes(state.registered_at, dt.datetime.fromisoformat(state.called_at))
    elif state.step.open:
        waiting = _minutes(state.registered_at, now)
    return {
        "visit_id": state.visit_id,
        "queue_number": state.queue_number,
        "department": state.department,
        "step": state.step.value,
        "step_since": state.step_since,
        "registered_at": state.registered_at,
        "called_at": state.called_at,
        "waiting_minutes": waiting,
        "in_step_minutes": _minutes(state.step_since, now) if state.step.open else None,
        "pending": state.pending,
        "due_fen": state.due_fen,
        "resident": resident,
    }
